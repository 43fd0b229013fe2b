"""Identity documents near or past their 有效期 (办法 Art. 7: keep the client's information
current). A scan opens one renewal task per client and 有效期 for IDs ending within the
policy's notice period, and lists the IDs already expired.
"""

import datetime as dt

from ..book import kyc_policy
from ..kernel import kyc_fields
from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import iso, now, today
from ..service import tasks
from ..trust import audit, authz

TASK = "id_renewal"


def scan(db, actor, *, branch=None, days=None, on=None):
    """{"expiring": [...], "expired": [...], "tasks_opened": n}; expiring IDs get a task once."""
    branch = authz.branch_filter(actor, "kyc.id_expiry", branch)
    _, policy = kyc_policy.load(db)
    ids = policy["id_documents"]
    days = ids["expiry_notice_days"] if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise BrokerCRMError(f"--days 须为非负整数 (a whole number of days ≥ 0), got {days!r}")
    day = on or today()
    start, end = day.isoformat(), (day + dt.timedelta(days=days)).isoformat()
    scope = " AND branch_id = ?" if branch else ""
    extra = [branch] if branch else []
    cols = ("client_id", "branch_id", "kind", "id_type", "id_valid_until")

    def select(condition, params):
        # 长期 and other non-dates sort after every ISO date: "9999" > "长期" is false, so compare as dates only.
        return [dict(zip(cols, r)) for r in db.execute(
            "SELECT client_id, branch_id, kind, id_type, id_valid_until FROM clients"
            f" WHERE id_valid_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND {condition}{scope}"
            " ORDER BY id_valid_until, client_id", params + extra)]

    expiring = select("id_valid_until BETWEEN ? AND ?", [start, end])
    expired = select("id_valid_until < ?", [start])
    for row in expiring + expired:
        row["id_type"] = kyc_fields.default_id_type(row["kind"], row["id_type"])
        del row["kind"]
    opened = 0
    due = now() + dt.timedelta(days=ids["renew_within_days"])
    with db.atomic():
        for row in expiring:
            if db.execute("SELECT 1 FROM kyc_id_notices WHERE client_id = ? AND valid_until = ?",
                          [row["client_id"], row["id_valid_until"]]).fetchone():
                continue
            task_id = tasks.create(db, row["client_id"], kind=TASK,
                                   title=f"证件将于 {row['id_valid_until']} 到期, 请客户更新证件 (ID expiring: renew)",
                                   origin="kyc:id_expiry", due_at=due,
                                   dedupe_key=f"id_renewal:{row['client_id']}:{row['id_valid_until']}")
            db.execute("INSERT INTO kyc_id_notices (client_id, valid_until, task_id, noticed_at) VALUES (?, ?, ?, ?)",
                       [row["client_id"], row["id_valid_until"], task_id, iso(now())])
            row["task_id"] = task_id
            opened += 1
        audit.record(db, "kyc.id_expiry", actor=actor, target=branch or "*",
                     detail={"days": days, "expiring": len(expiring), "expired": len(expired), "tasks_opened": opened})
    return {"on": start, "until": end, "days": days, "expiring": expiring, "expired": expired, "tasks_opened": opened}
