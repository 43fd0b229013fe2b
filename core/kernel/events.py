"""Domain events: something happened to a client that may need follow-up.

``emit`` records the event and hands it to every listener the features
contribute (``brokercrm.kernel.registry``: the task engine turns events into tasks with due times; the interaction
hooks let approved branch plugins add their own follow-ups). Kinds in use:
``account_opened``, ``abnormal_order``, ``complaint_received``,
``high_risk_sale``, ``behaviour_alert``, ``interaction_logged``,
``retention_requested``.
"""

import json

from .registry import registry
from .timeutil import now_iso

# An account opened longer ago than this is history being loaded (a branch's
# existing book), not news: importing it records the date on the client but
# emits no account_opened event, so no follow-up is due for it.
OPENING_NEWS_DAYS = 30


def emit(db, kind, client_id, *, at=None, detail=None, operator=None):
    """Record an event and let every listener react; returns the event dict."""
    at = at or now_iso()
    event_id = db.execute(
        "INSERT INTO events (kind, client_id, at, detail, operator) VALUES (?, ?, ?, ?, ?)",
        [kind, client_id, at, json.dumps(detail or {}, ensure_ascii=False), operator],
    ).lastrowid
    event = {"id": event_id, "kind": kind, "client_id": client_id, "at": at,
             "detail": detail or {}, "operator": operator}
    for listener in registry().event_listeners:
        listener(db, event)
    return event
