"""The service part of `clients show` (contributed through ``brokercrm.kernel.registry``):
interactions newest first, tasks, complaints, retention cases, care moments,
the service package and its due actions, and pending important-data changes."""

from . import care
from . import complaints
from ..book import data_changes
from . import interactions
from . import lifecycle
from . import retention
from . import packages as service_packages
from . import tasks


def section(db, client_id, *, reveal=False, actor):
    """``actor`` is already allowed to read this client (``clients.show`` checked it)."""
    return {
        "status": lifecycle.for_client(db, client_id),
        "interactions": interactions.list_for_client(db, client_id),
        "tasks": [
            {k: t[k] for k in ("id", "kind", "title", "origin", "due_at", "status", "state", "done_at")}
            for t in tasks.list_tasks(db, actor, client_id=client_id)
        ],
        "complaints": [
            {k: c[k] for k in ("id", "state", "summary", "handler", "received_at", "due_at", "flag")}
            for c in complaints.list_complaints(db, actor, client_id=client_id)
        ],
        "retention_cases": [
            {k: r[k] for k in ("id", "request", "state", "outcome", "opened_at", "closed_at")}
            for r in retention.list_cases(db, actor, client_id=client_id)
        ],
        "care_moments": care.moments_for(db, client_id),
        "service_package": service_packages.for_client(db, client_id),
        "pending_changes": [
            {k: c[k] for k in ("id", "field", "old_value", "new_value", "maker", "requested_at")}
            for c in data_changes.changes(db, state="pending", client_id=client_id, reveal=reveal)
        ],
    }
