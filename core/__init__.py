"""brokercrm: a plugin-based CRM framework for securities brokerages.

The import name is ``brokercrm``; the source lives in ``core/``.
"""

__version__ = "0.1.0"
