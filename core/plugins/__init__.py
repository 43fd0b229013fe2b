"""Branch plugins: finding them, the approval gate, and calling them.

- ``manager``: discovery of installed plugins (entry point group ``brokercrm``),
  code digests, the ``Plugins`` class around a pluggy manager.
- ``gate``: whether a plugin's exact code is approved for a branch (reads the
  ``approvals`` table; the workflow that writes it is ``brokercrm.governance``).
- ``dispatch``: calling the approved plugins' hooks for a branch.
- ``process``: this process's plugins, discovered once (``current``) or handed over (``use``).

The names below are the public API (``docs/plugins.md`` tells plugin authors
to use ``brokercrm.plugins.Plugins``).
"""

from .dispatch import call_for_branch as call_for_branch
from .dispatch import follow_ups as follow_ups
from .dispatch import row_enrichers as row_enrichers
from .dispatch import row_validators as row_validators
from .dispatch import with_client_checks as with_client_checks
from .gate import approved_for as approved_for
from .manager import ENV_LOAD as ENV_LOAD
from .manager import GROUP as GROUP
from .manager import PluginError as PluginError
from .manager import PluginInfo as PluginInfo
from .manager import Plugins as Plugins
from .manager import distribution_digest as distribution_digest
from .manager import load as load
from .manager import new_manager as new_manager
from .process import current as current
from .process import use as use
