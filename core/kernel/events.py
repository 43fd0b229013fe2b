"""Domain events: something happened to a client that may need follow-up.

``emit`` records the event and hands it to every listener in ``LISTENERS``
(the task engine turns events into tasks with due times; the interaction
hooks let approved branch plugins add their own follow-ups). Kinds in use:
``account_opened``, ``abnormal_order``, ``complaint_received``,
``high_risk_sale``, ``behaviour_alert``, ``interaction_logged``,
``retention_requested``.
"""

import importlib
import json

from .timeutil import now_iso

# "module:function" listeners called as fn(db, event_dict) inside the caller's transaction.
LISTENERS = [
    "brokercrm.service.tasks:on_event",
]


# An account opened longer ago than this is history being loaded (a branch's
# existing book), not news: importing it records the date on the client but
# emits no account_opened event, so no follow-up is due for it.
OPENING_NEWS_DAYS = 30

def _listeners():
    for ref in LISTENERS:
        module, _, attr = ref.partition(":")
        yield getattr(importlib.import_module(module), attr)


def emit(db, kind, client_id, *, at=None, detail=None, operator=None):
    """Record an event and let every listener react; returns the event dict."""
    at = at or now_iso()
    event_id = db.execute(
        "INSERT INTO events (kind, client_id, at, detail, operator) VALUES (?, ?, ?, ?, ?)",
        [kind, client_id, at, json.dumps(detail or {}, ensure_ascii=False), operator],
    ).lastrowid
    event = {"id": event_id, "kind": kind, "client_id": client_id, "at": at,
             "detail": detail or {}, "operator": operator}
    for listener in _listeners():
        listener(db, event)
    return event
