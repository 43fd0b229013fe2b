"""Plausibility rules (seed 000: "年收入50万 … 兼职网约车, 月均不到8000元"): head office's
conditions over the client that FLAG a reason for an account manager to verify. They never
block an import, a change or a sale.

``reasons`` evaluates the rules for one client live (``clients show``); ``run`` evaluates
them over the book in one statement per rule and records a flag per (client, rule) until an
operator clears it with a note (``clear``); ``flags`` is the report.
"""

from ..book import kyc_policy
from ..kernel import rows, rules
from ..kernel.errors import BrokerCRMError, Conflict
from ..kernel.sql_filters import where_equal
from ..kernel.timeutil import iso, now
from ..trust import audit, authz


def _compiled(policy):
    fields = kyc_policy.plausibility_fields(policy)
    for i, rule in enumerate(policy.get("plausibility", {}).get("rules", [])):
        sql, params = rules.compile_condition(rule["when"], fields, f"plausibility.rules[{i}].when")
        yield rule, sql, params


def reasons(db, client_id):
    """[{rule, reason, source}] of the rules the client's current data trips."""
    _, policy = kyc_policy.load(db)
    out = []
    for rule, sql, params in _compiled(policy):
        if db.execute(f"SELECT 1 FROM clients c WHERE c.client_id = ? AND ({sql})", [client_id, *params]).fetchone():
            out.append({"rule": rule["id"], "reason": rule["reason"], "source": rule["source"]})
    return out


def run(db, actor, *, branch=None):
    """Flag every client the rules trip (an open flag per client and rule is not repeated)."""
    branch = authz.branch_filter(actor, "kyc.plausibility", branch)
    version, policy = kyc_policy.load(db)
    at = iso(now())
    counts = {}
    with db.atomic():
        for rule, sql, params in _compiled(policy):
            scope = " AND c.branch_id = ?" if branch else ""
            cursor = db.execute(
                "INSERT INTO kyc_flags (client_id, rule_id, reason, policy_version, flagged_at)"
                f" SELECT c.client_id, ?, ?, ?, ? FROM clients c WHERE ({sql}){scope}"
                " AND NOT EXISTS (SELECT 1 FROM kyc_flags f WHERE f.client_id = c.client_id AND f.rule_id = ?"
                " AND f.state = 'open')",
                [rule["id"], rule["reason"], version, at, *params, *([branch] if branch else []), rule["id"]])
            counts[rule["id"]] = cursor.rowcount
        audit.record(db, "kyc.plausibility", actor=actor, target=branch or "*",
                     detail={"new_flags": counts, "policy_version": version})
    return {"branch": branch, "policy_version": version, "new_flags": counts,
            "open": flags(db, actor, branch=branch)}


def flags(db, actor, *, branch=None, client_id=None, state="open"):
    """The report: flags with their reasons, oldest first (no personal data in it)."""
    if client_id is not None:
        authz.require(actor, "client.read", branch=rows.client(db, client_id)["branch_id"])
    branch = authz.branch_filter(actor, "client.read", branch)
    where, params = where_equal({"c.branch_id": branch, "f.client_id": client_id, "f.state": state})
    cols = ("id", "client_id", "branch_id", "rule_id", "reason", "policy_version", "flagged_at", "state",
            "cleared_by", "cleared_at", "note")
    return [dict(zip(cols, r)) for r in db.execute(
        "SELECT f.id, f.client_id, c.branch_id, f.rule_id, f.reason, f.policy_version, f.flagged_at, f.state,"
        " f.cleared_by, f.cleared_at, f.note FROM kyc_flags f JOIN clients c ON c.client_id = f.client_id"
        + where + " ORDER BY f.id", params)]


def clear(db, actor, flag_id, *, note):
    """An operator verified the flagged facts: the flag is cleared with what was found."""
    if not (note or "").strip():
        raise BrokerCRMError("解除标记须写明核实结果 --note (what the verification found)")
    flag = rows.one(db, "SELECT f.*, c.branch_id FROM kyc_flags f JOIN clients c USING (client_id) WHERE f.id = ?",
                    [flag_id], missing=f"合理性标记 #{flag_id} 不存在 (no such flag)")
    authz.require(actor, "kyc.flag.clear", branch=flag["branch_id"])
    if flag["state"] != "open":
        raise Conflict(f"合理性标记 #{flag_id} 已于 {flag['cleared_at']} 解除 (already cleared)")
    at = iso(now())
    with db.atomic():
        db.execute("UPDATE kyc_flags SET state = 'cleared', cleared_by = ?, cleared_at = ?, note = ? WHERE id = ?",
                   [actor.id, at, note, flag_id])
        audit.record(db, "kyc.flag.clear", actor=actor, target=flag["client_id"],
                     detail={"flag": flag_id, "rule": flag["rule_id"]})
    return flags(db, actor, client_id=flag["client_id"], state="cleared")[-1]
