"""What trust contributes to the registry: the operators' schema."""

from ..kernel.registry import Contributions
from . import operators

CONTRIBUTES = Contributions(migrations=[operators.migrations])
