"""What the archive contributes to the registry: the retention schema and the retention policy's validator."""

from ..kernel.registry import Contributions
from . import retention, schema

CONTRIBUTES = Contributions(
    migrations=[schema.migrations],
    policy_validators={"retention": retention.validate},
)
