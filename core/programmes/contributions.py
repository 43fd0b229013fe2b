"""What the programmes contribute to the registry: their schema and the programmes policy's validator."""

from ..kernel.registry import Contributions
from . import policy, schema

CONTRIBUTES = Contributions(migrations=[schema.migrations], policy_validators={"programmes": policy.validate})
