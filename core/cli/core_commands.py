"""Registers the core command modules on the group."""

from . import admin, classify_cmd, clients_cmd, import_cmd, demo_cmd, operators_cmd, approvals_cmd, plugins_cmd  # noqa: F401
from . import complaints_cmd, interactions_cmd, service_cmd, tasks_cmd  # noqa: F401,E402  (issue 5: service)
from . import suitability_cmd  # noqa: F401,E402  (issue 4: suitability)
from . import lowest_cmd  # noqa: F401,E402  (issue 11: lowest category by definition)
from . import investor_cmd, ratings_cmd  # noqa: F401,E402  (issue 11: investor status, product ratings)
from . import matching_cmd  # noqa: F401,E402  (issue 11: three-way matching, special care)
from . import publish_cmd  # noqa: F401,E402  (issue 6: publish, serve, site-password)
from . import audit_cmd  # noqa: F401,E402  (issue 10: audit verify)
from . import status_cmd  # noqa: F401,E402  (issue 14: client status through exit)
from . import programmes_cmd  # noqa: F401,E402  (issue 14: callbacks, prospects)
from . import education_cmd  # noqa: F401,E402  (issue 14: investor education, client events)
from . import points_cmd  # noqa: F401,E402  (issue 14: points and membership)
from . import kyc_cmd  # noqa: F401,E402  (issue 11 items 7–8: KYC)
from . import managers_cmd, reports_cmd  # noqa: F401,E402  (issue 14: account managers, daily reports)
from . import evidence_cmd, archive_cmd  # noqa: F401,E402  (issue 11 item 6: evidence and the client archive)
