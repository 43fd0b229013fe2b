"""Cooling-off windows and special-care callbacks (issue 11 item 5; 办法 Art. 20).

A confirmed sale under special care (``engine.confirm``) opens a window of the
policy's hours for its product type. Inside the window the sale is not final:
``withdraw`` records the client's signed withdrawal, after which the
confirmation covers nothing (check and scan ignore it). Once the window ends
the sale is final and a withdrawal is refused. ``report`` lists the open windows
and the special-care callbacks still due. Both tables are append-only: the
window and the withdrawal are evidence.
"""

import datetime as dt
import json

from ..kernel import rows
from ..kernel.errors import BrokerCRMError, Conflict, NotFound
from ..kernel.timeutil import iso, now_iso, parse_moment
from ..trust import audit, authz

# SQL: confirmation id ``{x}`` was not withdrawn.
NOT_WITHDRAWN = ("{x} NOT IN (SELECT s.confirmation_id FROM special_care_sales s"
                 " JOIN cooling_off_withdrawals w ON w.sale_id = s.id)")
STATUS_LABELS = {
    "cooling_off": "冷静期内, 交易未最终确定 (in cooling-off: not final)",
    "final": "已确定 (final)",
    "withdrawn": "客户已于冷静期内撤回 (withdrawn in the cooling-off period)",
}


def _status(ends_at, withdrawn_at, now):
    if withdrawn_at:
        return "withdrawn"
    return "cooling_off" if now < ends_at else "final"


def confirmation_status(db, confirmation_id, now=None):
    """{"status", "cooling_off_ends_at"} of a confirmation; one without special care is final at once."""
    row = db.execute(
        "SELECT s.ends_at, w.withdrawn_at FROM special_care_sales s LEFT JOIN cooling_off_withdrawals w"
        " ON w.sale_id = s.id WHERE s.confirmation_id = ?", [confirmation_id]).fetchone()
    if not row:
        return {"status": "final", "cooling_off_ends_at": None}
    return {"status": _status(row[0], row[1], now or now_iso()), "cooling_off_ends_at": row[0]}


def open_window(db, actor, result, confirmation_id, stamp):
    """Record a confirmed special-care sale and its cooling-off window (inside the caller's transaction)."""
    care = result["special_care"]
    hours = care["cooling_off_hours"]
    ends = iso(parse_moment(stamp) + dt.timedelta(hours=hours))
    sale_id = db.execute(
        "INSERT INTO special_care_sales (confirmation_id, check_id, client_id, branch_id, product_code, product_type,"
        " verdict, triggers, notice, callback, cooling_off_hours, opened_at, ends_at, policy_version, recorded_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [confirmation_id, result["id"], result["client_id"], result["branch_id"], result["product_code"],
         result.get("product_type"), result["verdict"], json.dumps(care["triggers"], ensure_ascii=False),
         care["notice"], int(care["callback"]), hours, stamp, ends, result["policy_version"], actor.id],
    ).lastrowid
    audit.record(db, "suitability.special_care", actor=actor, target=f"{result['client_id']}/{result['product_code']}",
                 detail={"sale_id": sale_id, "confirmation_id": confirmation_id, "verdict": result["verdict"],
                         "triggers": [t["name"] for t in care["triggers"]], "cooling_off_hours": hours})
    return {"sale_id": sale_id, "opened_at": stamp, "ends_at": ends, "hours": hours,
            "status": "cooling_off" if hours > 0 else "final"}


def withdraw(db, actor, confirmation_id, *, evidence, reason=None):
    """The client withdraws a sale inside its cooling-off window; refused once the window has ended."""
    row = rows.one(db, "SELECT s.id, s.client_id, s.branch_id, s.product_code, s.ends_at, w.withdrawn_at"
                       " FROM special_care_sales s LEFT JOIN cooling_off_withdrawals w ON w.sale_id = s.id"
                       " WHERE s.confirmation_id = ?", [confirmation_id])
    if row is None:
        if db.execute("SELECT 1 FROM suitability_confirmations WHERE id = ?", [confirmation_id]).fetchone():
            raise Conflict(f"确认 #{confirmation_id} 不适用冷静期, 无可撤回 (no cooling-off applies to this confirmation)")
        raise NotFound(f"确认 #{confirmation_id} 不存在 (no such confirmation)")
    authz.require(actor, "suitability.withdraw", branch=row["branch_id"])
    evidence = (evidence or "").strip()
    if not evidence:
        raise BrokerCRMError("须提供客户签署的撤回申请凭证编号 --evidence REF (the signed withdrawal's reference)")
    if row["withdrawn_at"]:
        raise Conflict(f"确认 #{confirmation_id} 已于 {row['withdrawn_at']} 撤回 (already withdrawn)")
    stamp = now_iso()
    if stamp >= row["ends_at"]:
        raise Conflict(f"确认 #{confirmation_id} 的冷静期已于 {row['ends_at']} 结束, 交易已确定, 不能撤回"
                       " (the cooling-off period has ended: the sale is final)")
    with db.atomic():
        wid = db.execute(
            "INSERT INTO cooling_off_withdrawals (sale_id, evidence, reason, withdrawn_by, withdrawn_at)"
            " VALUES (?, ?, ?, ?, ?)", [row["id"], evidence, (reason or "").strip() or None, actor.id, stamp]).lastrowid
        audit.record(db, "suitability.withdraw", actor=actor, target=f"{row['client_id']}/{row['product_code']}",
                     detail={"withdrawal_id": wid, "sale_id": row["id"], "confirmation_id": confirmation_id})
    return {"withdrawal_id": wid, "confirmation_id": confirmation_id, "client_id": row["client_id"],
            "product_code": row["product_code"], "withdrawn_at": stamp, "status": "withdrawn"}


def report(db, actor, *, branch=None):
    """Open cooling-off windows and special-care callbacks still due (of ``branch``)."""
    branch = authz.branch_filter(actor, "suitability.read", branch)
    stamp = now_iso()
    where, params = "", []
    if branch:
        where, params = " AND s.branch_id = ?", [branch]
    windows = [dict(r) | {"triggers": [t["name"] for t in json.loads(r["triggers"])]} for r in db.query(
        "SELECT s.confirmation_id, s.client_id, s.branch_id, s.product_code, s.verdict, s.triggers,"
        " s.cooling_off_hours, s.opened_at, s.ends_at FROM special_care_sales s"
        " WHERE s.ends_at > ? AND NOT EXISTS (SELECT 1 FROM cooling_off_withdrawals w WHERE w.sale_id = s.id)"
        f"{where} ORDER BY s.ends_at, s.id", [stamp, *params])]
    callbacks = [dict(r) | {"overdue": r["due_at"] < stamp} for r in db.query(
        "SELECT t.id AS task_id, t.client_id, t.branch_id, s.product_code, s.confirmation_id, t.title, t.due_at"
        " FROM tasks t JOIN events e ON e.id = t.event_id AND e.kind = 'high_risk_sale'"
        " JOIN special_care_sales s ON s.confirmation_id = json_extract(e.detail, '$.confirmation_id')"
        f" WHERE t.status = 'open' AND t.kind = 'callback'{where} ORDER BY t.due_at, t.id", params)]
    return {"branch": branch, "as_of": stamp, "open_windows": windows, "callbacks_due": callbacks}
