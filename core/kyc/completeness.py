"""KYC completeness (办法 Art. 6): which of the facts the policy requires per client kind are
missing. A report and a line in `clients show`; never a refusal (books predate the fields)."""

from ..book import kyc_policy
from ..kernel import rows
from ..kernel.sql_filters import where_equal
from ..trust import authz


def _missing_sql(fields):
    # One CASE per field: its name when blank. Field names come from the validated policy.
    return " || ".join(f"(CASE WHEN c.[{f}] IS NULL OR c.[{f}] = '' THEN '{f},' ELSE '' END)" for f in fields)


def missing(db, client_id):
    """The required facts this client lacks, in policy order."""
    _, policy = kyc_policy.load(db)
    kind = rows.client(db, client_id, "kind")["kind"]
    fields = policy["completeness"][kind]
    text = db.execute(f"SELECT {_missing_sql(fields)} FROM clients c WHERE c.client_id = ?", [client_id]).fetchone()[0]
    return [f for f in text.split(",") if f]


def incomplete(db, actor, *, branch=None, limit=None):
    """[{client_id, branch_id, kind, missing}] for clients lacking a required fact."""
    branch = authz.branch_filter(actor, "client.read", branch)
    _, policy = kyc_policy.load(db)
    out = []
    for kind in ("individual", "institution"):
        where, params = where_equal({"c.branch_id": branch, "c.kind": kind})
        sql = (f"SELECT client_id, branch_id, kind, m FROM (SELECT c.client_id, c.branch_id, c.kind,"
               f" {_missing_sql(policy['completeness'][kind])} AS m FROM clients c{where}) WHERE m != ''"
               " ORDER BY client_id")
        out += [{"client_id": c, "branch_id": b, "kind": k, "missing": [f for f in m.split(",") if f]}
                for c, b, k, m in db.execute(sql, params)]
    out.sort(key=lambda r: r["client_id"])
    return out[:limit] if limit else out
