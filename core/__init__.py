"""brokercrm: a plugin-based CRM framework for securities brokerages.

The import name is ``brokercrm``; the source lives in ``core/``, one package per
feature (kernel, trust, policy, plugins, imports, classify, book, suitability,
service, governance, site, demo, cli). docs/design.md maps them, says which may
import which, and where to make a given change.
"""

__version__ = "0.1.0"
