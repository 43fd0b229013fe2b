"""The plugin-facing name of the impact preview (``docs/plugins.md``:
``from brokercrm.approvals import impact``); the workflow lives in ``brokercrm.governance.approvals``."""

from .governance.approvals import impact as impact
