"""What the imports package contributes to the registry: the import policy's validator (header synonyms)."""

from ..kernel.registry import Contributions
from . import policy

CONTRIBUTES = Contributions(policy_validators={"import": policy.validate})
