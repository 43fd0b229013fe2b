"""The KYC part of ``clients show``: ID type and validity, the three-level verification,
plausibility reasons (live, and the recorded flags) and the callback sample."""

from ..kernel import kyc_fields, rows
from ..trust import authz
from ..kernel.timeutil import today
from ..book import kyc_policy
from . import completeness, plausibility, verification


def id_status(valid_until, on=None):
    if not valid_until:
        return "unknown"
    if valid_until == kyc_fields.LONG_TERM:
        return "long_term"
    day = (on or today()).isoformat()
    if valid_until < day:
        return "expired"
    return "valid"


def section(db, client_id, *, reveal=False, actor):
    row = db.execute("SELECT kind, id_type, id_valid_until FROM clients WHERE client_id = ?", [client_id]).fetchone()
    _, policy = kyc_policy.load(db)
    sample = db.execute("SELECT run_id, sampled, task_id FROM kyc_sampling_population WHERE client_id = ?",
                        [client_id]).fetchone()
    return {"kyc": {
        "id_type": kyc_fields.default_id_type(row[0], row[1]),
        "id_valid_until": row[2],
        "id_status": id_status(row[2]),
        "verification": verification.status(db, client_id)["levels"],
        "plausibility": plausibility.reasons(db, client_id),
        "missing": completeness.missing(db, client_id),
        "flags": plausibility.flags(db, actor, client_id=client_id),
        "callback_sample": ({"run_id": sample[0], "sampled": bool(sample[1]), "task_id": sample[2]}
                            if sample else None),
        "expiry_notice_days": policy["id_documents"]["expiry_notice_days"],
    }}


def status(db, actor, client_id):
    """The KYC section for one client, as its own read (``kyc status``)."""
    authz.require(actor, "client.read", branch=rows.client(db, client_id)["branch_id"])
    return {"client_id": client_id, **section(db, client_id, actor=actor)["kyc"]}
