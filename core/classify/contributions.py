"""What classification contributes to the registry: the classification policy's validator."""

from ..kernel.registry import Contributions
from . import compile

CONTRIBUTES = Contributions(policy_validators={"classification": compile.validate})
