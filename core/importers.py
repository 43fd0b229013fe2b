"""Validated, all-or-nothing importers (issue 2 §4): the public entry points.

``import_clients`` and ``import_assessments`` live in their own modules; this
module is the stable name other code and the CLI call.
"""

from .import_clients import import_clients  # noqa: F401
from .import_report import ImportResult  # noqa: F401
from .import_assessments import import_assessments  # noqa: F401
