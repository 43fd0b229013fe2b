"""Registers the core command modules on the group."""

from . import admin, classify_cmd, clients_cmd, import_cmd, demo_cmd, operators_cmd, approvals_cmd, plugins_cmd  # noqa: F401
from . import complaints_cmd, interactions_cmd, service_cmd, tasks_cmd  # noqa: F401,E402  (issue 5: service)
from . import suitability_cmd  # noqa: F401,E402  (issue 4: suitability)
from . import lowest_cmd  # noqa: F401,E402  (issue 11: lowest category by definition)
from . import publish_cmd  # noqa: F401,E402  (issue 6: publish, serve, site-password)
from . import audit_cmd  # noqa: F401,E402  (issue 10: audit verify)
from . import evidence_cmd, archive_cmd  # noqa: F401,E402  (issue 11 item 6: evidence and the client archive)
