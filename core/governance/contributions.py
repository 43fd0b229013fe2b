"""What governance contributes to the registry: the approvals' schema."""

from ..kernel.registry import Contributions
from . import approvals

CONTRIBUTES = Contributions(migrations=[approvals.migrations])
