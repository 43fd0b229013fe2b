"""Branch plugins: found without running them, gated by signed approvals, run apart.

- ``snapshot``: a plugin distribution's code read as bytes, its digest, and
  the importer that executes exactly those bytes;
- ``host``: discovery (``discover``, ``BROKERCRM_LOAD_PLUGINS``) and the
  ``Host`` of one command, which runs each plugin in its own process;
- ``isolation`` / ``worker``: that process, bounded in time, output and memory;
- ``gate``: whether head office's signed decision stands for a plugin's
  exact code, rules and branch;
- ``dispatch``: calling the approved plugins' hooks for a branch.
- ``process``: this process's plugins, discovered once (``current``) or handed over (``use``).

The names below are the public API.
"""

from .dispatch import call_for_branch as call_for_branch
from .dispatch import follow_ups as follow_ups
from .dispatch import row_enrichers as row_enrichers
from .dispatch import row_validators as row_validators
from .dispatch import with_client_checks as with_client_checks
from .gate import approved_for as approved_for
from .host import ENV_LOAD as ENV_LOAD
from .host import GROUP as GROUP
from .host import Host as Host
from .host import Installed as Installed
from .host import discover as discover
from .host import normalize as normalize
from .isolation import Limits as Limits
from .isolation import PluginError as PluginError
from .process import current as current
from .process import load as load
from .process import use as use
