"""Complaint handling (投诉处理): a state machine with no shortcuts.

received 已受理 → investigating 调查中 → proposed 已提方案 → approved 已批准 →
informed 方案已告知客户 → resolved 已实施 → closed 已办结. One step at a time; the
handler is whoever takes up the investigation; the proposal is approved by a
supervisor who is neither the handler nor the proposer ("报领导审批", seed 001; a
rejected proposal goes back to investigating). Each step is timestamped in
``complaint_steps`` (append-only) and in the audit log.

The clock (seed 000: "投诉问题48小时内给出解决方案") is the ``complaint_received``
touchpoint, and it stops when the approved solution is GIVEN TO THE CLIENT
(``inform``, ``informed_at``), not when the work is done (``resolve``): a complaint
not informed past its deadline is OVERDUE, one informed after it is late. Its task
goes to the queue the touchpoint names (投诉组, ``complaints_group``).

Then the client's opinion is asked and recorded (seed 001: "将处理结果及时反馈给客户,
并征询客户意见"; ``opinion``, in ``complaint_opinions``): satisfied closes the
complaint; not satisfied reopens it for another round — back to investigating, a
new proposal approved again by a supervisor, and a new deadline counted from the
opinion, with a new task in the same queue.
"""

from ..trust import audit, authz
from ..kernel import events, rows
from . import tasks
from . import policy as sp
from ..kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound
from ..kernel.timeutil import iso, now, parse_moment

STATES = ["received", "investigating", "proposed", "approved", "informed", "resolved", "closed"]
LABELS = {
    "received": "已受理", "investigating": "调查中", "proposed": "已提方案", "approved": "已批准",
    "informed": "方案已告知客户", "resolved": "已实施", "closed": "已办结",
}
DEFAULT_WITHIN = "48h"


def _get_row(db, complaint_id):
    complaint = rows.one(db, "SELECT * FROM complaints WHERE id = ?", [complaint_id])
    if complaint is None:
        raise NotFound(f"投诉 #{complaint_id} 不存在 (no such complaint)")
    return complaint


def _flag(c, moment):
    """The deadline is kept by giving the solution to the client (informed_at), whatever came after."""
    if c["informed_at"]:
        c["overdue"] = c["informed_at"] > c["due_at"]
        c["flag"] = "late 超时告知" if c["overdue"] else None
    else:
        c["overdue"] = moment > c["due_at"]
        c["flag"] = "OVERDUE 已超时" if c["overdue"] else None
    return c


def get(db, complaint_id):
    c = _flag(_get_row(db, complaint_id), iso(now()))
    c["opinions"] = list(db.query(
        "SELECT round, satisfied, note, at, operator FROM complaint_opinions WHERE complaint_id = ? ORDER BY id",
        [complaint_id]))
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
        where.append("((informed_at IS NULL AND due_at < ?) OR informed_at > due_at)")
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


def _expected_from(c, to_state):
    """The states ``to_state`` may follow (a complaint worked on before this order existed may still be told)."""
    allowed = {STATES[STATES.index(to_state) - 1]}
    if to_state == "informed" and c["state"] == "resolved" and not c["informed_at"]:
        allowed.add("resolved")
    return allowed


def _advance(db, actor, complaint_id, to_state, note, *, updates=None, check=None):
    c = _get_row(db, complaint_id)
    authz.require(actor, "complaint.handle", branch=c["branch_id"])
    if c["state"] not in _expected_from(c, to_state):
        if c["state"] == "closed":
            raise Conflict(f"投诉 #{complaint_id} 已办结 (already closed: the client was satisfied)")
        following = STATES[STATES.index(c["state"]) + 1]
        raise Conflict(
            f"投诉 #{complaint_id} 当前为 {LABELS[c['state']]} {c['state']}, 不能跳到 {LABELS[to_state]} {to_state};"
            f" 下一步应为 {following} (no skipping: the next step is {following})"
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
            # The solution is with the client: the deadline task is done (seed 000's clock stops here).
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


def inform(db, actor, complaint_id, *, note):
    """The approved solution has been given to the client: the 48-hour clock stops, its task is done."""
    if not note or not note.strip():
        raise BrokerCRMError("须写明告知方式 --note (how the client was told the solution)")
    return _advance(db, actor, complaint_id, "informed", note, updates={"informed_at": iso(now())})


def resolve(db, actor, complaint_id, *, note):
    """The solution the client was told has been carried out (after the clock: it no longer counts)."""
    if not note or not note.strip():
        raise BrokerCRMError("须写明处理结果 --note (a note on what was done is required)")
    return _advance(db, actor, complaint_id, "resolved", note, updates={"resolved_at": iso(now())})


def opinion(db, actor, complaint_id, *, satisfied, note):
    """The client's opinion of the solution (seed 001: 征询客户意见), recorded.

    Satisfied, once the work is done (``resolved``): the complaint is closed.
    Not satisfied, once told (``informed``) or after the work (``resolved``): it
    reopens — back to investigating for a new round, a new deadline counted from
    now and a new task in the touchpoint's queue.
    """
    if not note or not str(note).strip():
        raise BrokerCRMError("须记录客户意见 --note (the client's words are required)")
    if not isinstance(satisfied, bool):
        raise BrokerCRMError("须说明客户是否满意 --satisfied 或 --not-satisfied (satisfied or not)")
    c = _get_row(db, complaint_id)
    authz.require(actor, "complaint.handle", branch=c["branch_id"])
    allowed = ("resolved",) if satisfied else ("informed", "resolved")
    if c["state"] not in allowed:
        if c["state"] == "closed":
            raise Conflict(f"投诉 #{complaint_id} 已办结 (already closed: the client was satisfied)")
        if satisfied and c["state"] == "informed":
            raise Conflict(f"投诉 #{complaint_id} 方案尚未实施, 先 resolve 再征询满意 "
                           "(the solution is not carried out yet: resolve first, then ask)")
        raise Conflict(f"投诉 #{complaint_id} 当前为 {LABELS[c['state']]} {c['state']}, 方案尚未告知客户, 不能征询意见"
                       " (the client has not been told a solution yet)")
    at = iso(now())
    with db.atomic():
        db.execute("INSERT INTO complaint_opinions (complaint_id, round, satisfied, note, at, operator)"
                   " VALUES (?, ?, ?, ?, ?, ?)", [complaint_id, c["round"], int(satisfied), note.strip(), at, actor.id])
        if satisfied:
            db.execute("UPDATE complaints SET state = 'closed', closed_at = ?, updated_at = ? WHERE id = ?",
                       [at, at, complaint_id])
            _step(db, complaint_id, c["state"], "closed", actor, f"客户满意 satisfied: {note.strip()}", at)
        else:
            _reopen(db, actor, c, note.strip(), at)
    return get(db, complaint_id)


def _reopen(db, actor, c, note, at):
    """Not satisfied: a new round — investigating again, a new deadline and task in the same queue."""
    policy = sp.load(db)
    touchpoint = next(iter(policy.touchpoints("complaint_received")), {})
    due = iso(policy.due(parse_moment(at), touchpoint.get("within", DEFAULT_WITHIN)))
    complaint_id = c["id"]
    task_id = tasks.create(
        db, c["client_id"], kind=touchpoint.get("task", "solution"),
        title=f"投诉 #{complaint_id} 客户不满意, 第 {c['round'] + 1} 轮方案 (reopened: a new solution)",
        origin="complaint_reopened", due_at=parse_moment(due), dedupe_key=f"complaint:{complaint_id}:round:{c['round'] + 1}",
        branch_id=c["branch_id"], queue=touchpoint.get("queue"))
    db.execute(
        "UPDATE complaints SET state = 'investigating', round = round + 1, proposal = NULL, approved_by = NULL,"
        " informed_at = NULL, resolved_at = NULL, due_at = ?, task_id = COALESCE(?, task_id), updated_at = ?"
        " WHERE id = ?", [due, task_id, at, complaint_id])
    _step(db, complaint_id, c["state"], "investigating", actor, f"客户不满意, 重新处理 reopened: {note}", at)
    events.emit(db, "complaint_reopened", c["client_id"], at=at,
                detail={"complaint_id": complaint_id, "branch_id": c["branch_id"], "round": c["round"] + 1},
                operator=actor.id)
