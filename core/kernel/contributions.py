"""What the kernel contributes to the registry: the core schema."""

from .migrations import core
from .registry import Contributions

CONTRIBUTES = Contributions(migrations=[core])
