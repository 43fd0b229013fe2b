"""The plugin-facing name of the rule language (``docs/plugins.md``); it lives in ``brokercrm.kernel.rules``."""

from .kernel.rules import COMPARISONS as COMPARISONS
from .kernel.rules import compile_condition as compile_condition
