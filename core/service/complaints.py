"""Complaint handling (投诉处理): a state machine with no shortcuts.

received 已受理 → investigating 调查中 → proposed 已提方案 → approved 已批准 →
resolved 已处理 → informed 已告知客户. One step at a time; the handler is whoever
takes up the investigation; the proposal is approved by a supervisor who is
neither the handler nor the proposer (a rejected proposal goes back to
investigating). Each step is timestamped in ``complaint_steps`` (append-only)
and in the audit log. The deadline is the ``complaint_received`` touchpoint
(seed 000: a solution to the client within 48 hours); a complaint not yet
``informed`` past it, or informed after it, is flagged.
"""

from ..trust import audit, authz
from ..kernel import events, rows
from . import tasks
from . import policy as sp
from ..kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound
from ..kernel.timeutil import iso, now, parse_moment

STATES = ["received", "investigating", "proposed", "approved", "resolved", "informed"]
LABELS = {
    "received": "已受理", "investigating": "调查中", "proposed": "已提方案",
    "approved": "已批准", "resolved": "已处理", "informed": "已告知客户",
}
DEFAULT_WITHIN = "48h"


def _get_row(db, complaint_id):
    complaint = rows.one(db, "SELECT * FROM complaints WHERE id = ?", [complaint_id])
    if complaint is None:
        raise NotFound(f"投诉 #{complaint_id} 不存在 (no such complaint)")
    return complaint


def _flag(c, moment):
    if c["state"] == "informed":
        c["overdue"] = c["informed_at"] > c["due_at"]
        c["flag"] = "late 超时告知" if c["overdue"] else None
    else:
        c["overdue"] = moment > c["due_at"]
        c["flag"] = "OVERDUE 已超时" if c["overdue"] else None
    return c


def get(db, complaint_id):
    c = _flag(_get_row(db, complaint_id), iso(now()))
    c["steps"] = [
        {"from": r[0], "to": r[1], "at": r[2], "operator": r[3], "note": r[4]}
        for r in db.execute(
            "SELECT from_state, to_state, at, operator, note FROM complaint_steps WHERE complaint_id = ? ORDER BY id",
            [complaint_id],
        )
    ]
    return c


def show(db, actor, complaint_id):
    c = get(db, complaint_id)
    authz.require(actor, "complaint.read", branch=c["branch_id"])
    return c


def list_complaints(db, actor, *, branch=None, state=None, overdue=False, client_id=None):
    branch = authz.branch_filter(actor, "complaint.read", branch)
    moment = iso(now())
    where, params = [], []
    for column, value in (("branch_id", branch), ("state", state), ("client_id", client_id)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if overdue:
        where.append("((state != 'informed' AND due_at < ?) OR (state = 'informed' AND informed_at > due_at))")
        params.append(moment)
    return [_flag(c, moment) for c in db.query(
        "SELECT * FROM complaints" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY due_at, id",
        params,
    )]


def _step(db, complaint_id, from_state, to_state, actor, note, at):
    db.execute(
        "INSERT INTO complaint_steps (complaint_id, from_state, to_state, at, operator, note) VALUES (?, ?, ?, ?, ?, ?)",
        [complaint_id, from_state, to_state, at, actor.id, note],
    )
    audit.record(db, f"complaint.{to_state}", actor=actor, target=f"complaint {complaint_id}",
                 detail={"from": from_state, "to": to_state, "at": at})


def open_case(db, actor, client_id, *, summary, interaction_id=None, at=None):
    """A received complaint; emits ``complaint_received`` so the deadline task opens. Call inside a transaction."""
    branch_id = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "complaint.handle", branch=branch_id)
    moment = parse_moment(at or now())
    at_iso = iso(moment)
    policy = sp.load(db)
    within = next((tp["within"] for tp in policy.touchpoints("complaint_received")), DEFAULT_WITHIN)
    due = iso(policy.due(moment, within))
    complaint_id = db.execute(
        "INSERT INTO complaints (client_id, branch_id, interaction_id, summary, state, received_at, due_at,"
        " updated_at) VALUES (?, ?, ?, ?, 'received', ?, ?, ?)",
        [client_id, branch_id, interaction_id, summary, at_iso, due, at_iso],
    ).lastrowid
    _step(db, complaint_id, None, "received", actor, None, at_iso)
    event = events.emit(db, "complaint_received", client_id, at=at_iso,
                        detail={"complaint_id": complaint_id, "branch_id": branch_id}, operator=actor.id)
    task = db.execute(
        "SELECT id FROM tasks WHERE event_id = ? AND origin = 'touchpoint:complaint_received' ORDER BY id LIMIT 1",
        [event["id"]],
    ).fetchone()
    if task:
        db.execute("UPDATE complaints SET task_id = ? WHERE id = ?", [task[0], complaint_id])
    return _get_row(db, complaint_id)


def _advance(db, actor, complaint_id, to_state, note, *, updates=None, check=None):
    c = _get_row(db, complaint_id)
    authz.require(actor, "complaint.handle", branch=c["branch_id"])
    expected_from = STATES[STATES.index(to_state) - 1]
    if c["state"] != expected_from:
        if c["state"] == "informed":
            raise Conflict(f"投诉 #{complaint_id} 已办结 (already closed: client informed)")
        raise Conflict(
            f"投诉 #{complaint_id} 当前为 {LABELS[c['state']]} {c['state']}, 不能跳到 {LABELS[to_state]} {to_state};"
            f" 下一步应为 {STATES[STATES.index(c['state']) + 1]} (no skipping: the next step is"
            f" {STATES[STATES.index(c['state']) + 1]})"
        )
    if check:
        check(c)
    at = iso(now())
    with db.atomic():
        sets = {"state": to_state, "updated_at": at, **(updates or {})}
        db.execute(
            "UPDATE complaints SET " + ", ".join(f"{k} = ?" for k in sets) + " WHERE id = ?",
            [*sets.values(), complaint_id],
        )
        _step(db, complaint_id, c["state"], to_state, actor, note, at)
        if to_state == "informed" and c["task_id"]:
            task = tasks.get(db, c["task_id"])
            if task["status"] == "open":
                tasks.done(db, actor, c["task_id"], note=f"投诉 #{complaint_id} 方案已告知客户: {note}")
    return get(db, complaint_id)


def investigate(db, actor, complaint_id, *, note=None):
    """The operator takes up the complaint and becomes its handler."""
    # getattr: the updates are built before _advance authorises, and anything but an Actor
    # must meet the refusal there, not an AttributeError here.
    return _advance(db, actor, complaint_id, "investigating", note, updates={"handler": getattr(actor, "id", None)})


def propose(db, actor, complaint_id, *, solution):
    if not solution or not solution.strip():
        raise BrokerCRMError("须写明解决方案 --solution (a proposed solution is required)")
    return _advance(db, actor, complaint_id, "proposed", solution, updates={"proposal": solution})


def approve(db, actor, complaint_id, *, note=None):
    """A supervisor who neither handled the complaint nor wrote the proposal approves it."""

    def not_self(c):
        proposer = db.execute(
            "SELECT operator FROM complaint_steps WHERE complaint_id = ? AND to_state = 'proposed'"
            " ORDER BY id DESC LIMIT 1", [complaint_id],
        ).fetchone()
        if actor.id == c["handler"] or (proposer and actor.id == proposer[0]):
            raise Forbidden(
                f"{actor.id} 是投诉 #{complaint_id} 的经办人, 不能批准自己的方案"
                " (the handler cannot approve their own proposal; a supervisor must)"
            )

    return _advance(db, actor, complaint_id, "approved", note, updates={"approved_by": getattr(actor, "id", None)},
                    check=not_self)


def reject(db, actor, complaint_id, *, reason):
    """The supervisor sends the proposal back: proposed → investigating (not a skip)."""
    if not reason or not reason.strip():
        raise BrokerCRMError("退回方案须说明理由 --reason (a reason is required)")
    c = _get_row(db, complaint_id)
    if c["state"] != "proposed":
        raise Conflict(f"投诉 #{complaint_id} 当前为 {c['state']}, 只有已提方案可退回 (only a proposal can be sent back)")
    authz.require(actor, "complaint.handle", branch=c["branch_id"])
    if actor.id == c["handler"]:
        raise Forbidden("退回方案须由经办人以外的主管操作 (only a supervisor other than the handler may send it back)")
    at = iso(now())
    with db.atomic():
        db.execute("UPDATE complaints SET state = 'investigating', proposal = NULL, updated_at = ? WHERE id = ?",
                   [at, complaint_id])
        _step(db, complaint_id, "proposed", "investigating", actor, f"退回 rejected: {reason}", at)
    return get(db, complaint_id)


def resolve(db, actor, complaint_id, *, note):
    if not note or not note.strip():
        raise BrokerCRMError("须写明处理结果 --note (a note on what was done is required)")
    return _advance(db, actor, complaint_id, "resolved", note)


def inform(db, actor, complaint_id, *, note):
    """The client has been told the solution: the complaint closes and its deadline task is done."""
    if not note or not note.strip():
        raise BrokerCRMError("须写明告知方式与客户反馈 --note (how the client was informed)")
    result = _advance(db, actor, complaint_id, "informed", note, updates={"informed_at": iso(now())})
    return result
