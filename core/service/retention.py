"""Retention (转销户挽留, seed 001 part 2): a transfer or closure request opens a
case; the manager records retention attempts; the case closes with an outcome
(retained 挽留成功, transferred 已转户, closed 已销户) and, whatever the outcome,
a follow-up callback is due (the ``retention_closed`` touchpoint).

Retention never blocks or delays the request itself: the client's status moves
to 转户/销户申请中 (``lifecycle.request_exit``) before anything here is looked at,
and completing the transfer or closure (``exits.complete``) needs no attempt,
no reason and no outcome from retention; it concludes an open case instead.
"""

from ..trust import audit, authz
from ..kernel import events, rows
from . import lifecycle, tasks
from ..kernel.errors import BrokerCRMError, Conflict
from ..kernel.timeutil import iso, now
from ..kernel.sql_filters import where_equal

OUTCOMES = {"retained": "挽留成功", "transferred": "已转户", "closed": "已销户"}
REQUESTS = {"transfer": "转户", "closure": "销户"}


def _row(db, case_id):
    return rows.one(db, "SELECT * FROM retention_cases WHERE id = ?", [case_id],
                    missing=f"挽留案例 #{case_id} 不存在 (no such retention case)")


def get(db, case_id):
    case = _row(db, case_id)
    case["attempts"] = [
        {"at": r[0], "operator": r[1], "note": r[2]}
        for r in db.execute("SELECT at, operator, note FROM retention_attempts WHERE case_id = ? ORDER BY id",
                            [case_id])
    ]
    return case


def open_case(db, actor, client_id, *, request, interaction_id=None, at=None):
    """Open a case for a request (inside the caller's transaction); an open case is reused."""
    if request not in REQUESTS:
        raise BrokerCRMError(f"未知申请 {request!r} (request must be transfer or closure)")
    branch_id = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "retention.handle", branch=branch_id)
    # The request takes effect first, whatever retention holds for this client.
    lifecycle.request_exit(db, actor, client_id, request, at=at)
    existing = db.execute("SELECT id FROM retention_cases WHERE client_id = ? AND state = 'open'",
                          [client_id]).fetchone()
    if existing:
        return _row(db, existing[0])
    at_iso = iso(at or now())
    case_id = db.execute(
        "INSERT INTO retention_cases (client_id, branch_id, request, interaction_id, opened_at) VALUES (?, ?, ?, ?, ?)",
        [client_id, branch_id, request, interaction_id, at_iso],
    ).lastrowid
    audit.record(db, "retention.open", actor=actor, target=client_id,
                 detail={"case": case_id, "request": request})
    events.emit(db, "retention_requested", client_id, at=at_iso,
                detail={"case_id": case_id, "request": request, "branch_id": branch_id}, operator=actor.id)
    return _row(db, case_id)


def attempt(db, actor, case_id, *, note):
    """Record a retention attempt; the first one answers the retention task."""
    if not note or not note.strip():
        raise BrokerCRMError("须写明挽留过程 --note (a note is required)")
    case = _row(db, case_id)
    authz.require(actor, "retention.handle", branch=case["branch_id"])
    if case["state"] != "open":
        raise Conflict(f"挽留案例 #{case_id} 已结案 (case already closed)")
    at = iso(now())
    with db.atomic():
        db.execute("INSERT INTO retention_attempts (case_id, at, operator, note) VALUES (?, ?, ?, ?)",
                   [case_id, at, actor.id, note])
        audit.record(db, "retention.attempt", actor=actor, target=case["client_id"], detail={"case": case_id})
        tasks.close_open(db, actor, case["client_id"], "retention", note=f"挽留案例 #{case_id}: {note}",
                         origin_prefix="touchpoint:retention_requested")
    return get(db, case_id)


def close(db, actor, case_id, *, outcome, note=None):
    """Close with an outcome; a follow-up callback task opens through the ``retention_closed`` touchpoint."""
    if outcome not in OUTCOMES:
        raise BrokerCRMError(f"结果须为 {', '.join(f'{k} {v}' for k, v in OUTCOMES.items())} (unknown outcome {outcome!r})")
    case = _row(db, case_id)
    authz.require(actor, "retention.handle", branch=case["branch_id"])
    if case["state"] != "open":
        raise Conflict(f"挽留案例 #{case_id} 已结案 (case already closed)")
    if not db.execute("SELECT 1 FROM retention_attempts WHERE case_id = ?", [case_id]).fetchone():
        raise Conflict(
            f"挽留案例 #{case_id} 尚无挽留记录, 请先 `retention attempt` (record a retention attempt before closing)"
        )
    at = iso(now())
    with db.atomic():
        db.execute(
            "UPDATE retention_cases SET state = 'closed', outcome = ?, closed_at = ?, closed_by = ?, note = ? WHERE id = ?",
            [outcome, at, actor.id, note, case_id],
        )
        audit.record(db, "retention.close", actor=actor, target=case["client_id"],
                     detail={"case": case_id, "outcome": outcome})
        events.emit(db, "retention_closed", case["client_id"], at=at,
                    detail={"case_id": case_id, "outcome": outcome, "branch_id": case["branch_id"]},
                    operator=actor.id)
        _status_from_outcome(db, actor, case["client_id"], outcome)
    return get(db, case_id)


def _status_from_outcome(db, actor, client_id, outcome):
    """The outcome is a fact about the account: retained withdraws the request, the others complete it."""
    status = lifecycle.current(db, client_id)
    if status in lifecycle.DEPARTED:
        return
    if outcome == "retained":
        if status in lifecycle.REQUESTED:
            lifecycle.transition(db, actor, client_id, "active", source="withdraw")
        return
    lifecycle.transition(db, actor, client_id, "closed" if outcome == "closed" else "transferred", source="complete")


def conclude(db, actor, client_id, *, outcome, note):
    """Close the client's open case, if any, without the attempt ``close`` asks for (inside the caller's
    transaction): the transfer or closure went ahead, and retention does not hold it up. The open
    retention task is answered and the follow-up callback opens, as for any closed case."""
    if outcome not in OUTCOMES:
        raise BrokerCRMError(f"未知结果 {outcome!r} (unknown outcome)")
    row = db.execute("SELECT id, branch_id FROM retention_cases WHERE client_id = ? AND state = 'open'",
                     [client_id]).fetchone()
    if row is None:
        return None
    case_id, branch_id = row
    authz.require(actor, "retention.handle", branch=branch_id)
    at = iso(now())
    db.execute("UPDATE retention_cases SET state = 'closed', outcome = ?, closed_at = ?, closed_by = ?, note = ?"
               " WHERE id = ?", [outcome, at, actor.id, note, case_id])
    audit.record(db, "retention.close", actor=actor, target=client_id,
                 detail={"case": case_id, "outcome": outcome, "concluded": True})
    tasks.close_open(db, actor, client_id, "retention", note=f"挽留案例 #{case_id} 随申请办结 (request completed): {note}",
                     origin_prefix="touchpoint:retention_requested")
    events.emit(db, "retention_closed", client_id, at=at,
                detail={"case_id": case_id, "outcome": outcome, "branch_id": branch_id}, operator=actor.id)
    return case_id


def open_case_id(db, client_id):
    row = db.execute("SELECT id FROM retention_cases WHERE client_id = ? ORDER BY state = 'open' DESC, id DESC"
                     " LIMIT 1", [client_id]).fetchone()
    return row[0] if row else None


def list_cases(db, actor, *, branch=None, state=None, client_id=None):
    branch = authz.branch_filter(actor, "retention.read", branch)
    where, params = where_equal({"client_id": client_id, "branch_id": branch, "state": state})
    return list(db.query("SELECT * FROM retention_cases" + where + " ORDER BY id", params))


def summary(db, actor):
    """Per branch: cases open, and outcomes of the closed ones (a branch operator: their own)."""
    branch = authz.branch_filter(actor, "retention.read")
    return [row for row in _summary(db) if branch is None or row["branch_id"] == branch]


def _summary(db):
    return [
        {"branch_id": b, "open": o, "retained": r, "transferred": t, "closed": c}
        for b, o, r, t, c in db.execute(
            "SELECT branch_id, sum(state = 'open'), sum(outcome = 'retained'), sum(outcome = 'transferred'),"
            " sum(outcome = 'closed') FROM retention_cases GROUP BY branch_id ORDER BY branch_id"
        )
    ]
