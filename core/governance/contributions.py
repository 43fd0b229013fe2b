"""What governance contributes to the registry: the approvals' schema."""

from ..kernel.registry import Contributions
from . import schema

CONTRIBUTES = Contributions(migrations=[schema.migrations])
