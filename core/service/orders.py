"""Order monitoring (委托监控): an abnormal order is flagged for human review.

Flagging records an ``abnormal_order`` event; the service policy's touchpoint
for it opens the review task (10 minutes in the shipped policy), like any
other event.
"""

from ..kernel import events, rows
from ..kernel.timeutil import iso
from ..trust import audit, authz
from . import tasks


def flag(db, actor, client_id, *, note, order_id=None, at=None):
    """Flag an abnormal order of ``client_id``; returns {"event", "tasks": the tasks it opened}."""
    branch_id = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "order.flag", branch=branch_id)
    with db.atomic():
        event = events.emit(db, "abnormal_order", client_id, at=iso(at) if at else None,
                            detail={"note": note, "order_id": order_id, "branch_id": branch_id}, operator=actor.id)
        audit.record(db, "order.flag", actor=actor, target=client_id, detail={"order_id": order_id, "event": event["id"]})
    opened = [t for t in tasks.list_tasks(db, actor, client_id=client_id) if t["event_id"] == event["id"]]
    return {"event": event, "tasks": opened}
