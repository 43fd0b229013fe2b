"""The plugin-facing name of the hook specs: plugins write
``from brokercrm.hookspecs import hookimpl``. The specs live in ``brokercrm.kernel.hookspecs``."""

from .kernel.hookspecs import *  # noqa: F401,F403  (every spec, for pluggy's add_hookspecs)
from .kernel.hookspecs import FAMILIES as FAMILIES
from .kernel.hookspecs import PROJECT as PROJECT
from .kernel.hookspecs import hookimpl as hookimpl
from .kernel.hookspecs import hookspec as hookspec
