"""What trust contributes to the registry: the operators' schema and the trust schema (certified
operators, the hash-chained audit log)."""

from ..kernel.registry import Contributions
from . import schema

CONTRIBUTES = Contributions(migrations=[schema.operators, schema.migrations])
