"""Transfer and closure from request to completion (转销户, seed 001 part 5), tying status to retention.

The order matters and is the rule: a request changes the client's status at
once (through the interaction it is, which opens the retention case); the
reason for leaving is recorded beside it; completion needs only a pending
request. Retention may record attempts, reasons and outcomes, but nothing it
records, or fails to record, stands between the client and the transfer or
closure: completing concludes an open case rather than waiting for it.
"""

from ..kernel import rows
from ..kernel.errors import BrokerCRMError, Conflict
from ..trust import authz
from . import interactions, lifecycle, retention


def request(db, actor, client_id, kind, *, channel, note, reason=None, reason_note=None, at=None):
    """Log the request (an interaction of kind transfer/closure) and, if given, why; one transaction."""
    if kind not in lifecycle.REQUEST_STATUS:
        raise BrokerCRMError(f"申请类型须为 transfer 转户 或 closure 销户 (unknown request {kind!r})")
    rows.client(db, client_id)
    status = lifecycle.current(db, client_id)
    if status in lifecycle.DEPARTED:
        raise Conflict(f"客户 {client_id} 已离开 ({lifecycle.STATUSES[status]}), 不能再申请 (the client has left already)")
    with db.atomic():  # a bad reason rolls the request back with it
        logged = interactions.log(db, actor, client_id, kind=kind, channel=channel, note=note, at=at)
        if reason is not None:
            lifecycle.record_reason(db, actor, client_id, reason, note=reason_note, case_id=logged["retention_case"])
    return {"interaction": logged["id"], "retention_case": logged["retention_case"],
            **lifecycle.for_client(db, client_id)}


def record_reason(db, actor, client_id, reason, *, note=None):
    rows.client(db, client_id)
    with db.atomic():
        lifecycle.record_reason(db, actor, client_id, reason, note=note, case_id=retention.open_case_id(db, client_id))
    return lifecycle.for_client(db, client_id)


def complete(db, actor, client_id, *, note):
    """The transfer or closure is done: closed 已销户 / transferred 已转出. Needs only the pending request."""
    if not note or not note.strip():
        raise BrokerCRMError("须写明办理情况 --note (a note is required)")
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "client.status", branch=branch)
    status = lifecycle.current(db, client_id)
    if status not in lifecycle.REQUESTED:
        raise Conflict(f"客户 {client_id} 当前状态为 {lifecycle.STATUSES[status]} ({status}), 没有待办的转户/销户申请"
                       " (no pending transfer or closure request; log one with `status request`)")
    new = lifecycle.COMPLETED_STATUS[status]
    with db.atomic():
        moved = lifecycle.transition(db, actor, client_id, new, source="complete", allowed_from=lifecycle.REQUESTED)
        retention.conclude(db, actor, client_id, outcome=new, note=note)
    return {**moved, **lifecycle.for_client(db, client_id)}


def withdraw(db, actor, client_id, *, note):
    """The client withdraws the request (or was retained): back to active; an open case closes as retained."""
    if not note or not note.strip():
        raise BrokerCRMError("须写明撤回原因 --note (a note is required)")
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "client.status", branch=branch)
    with db.atomic():
        moved = lifecycle.transition(db, actor, client_id, "active", source="withdraw",
                                     allowed_from=lifecycle.REQUESTED)
        retention.conclude(db, actor, client_id, outcome="retained", note=note)
    return {**moved, **lifecycle.for_client(db, client_id)}
