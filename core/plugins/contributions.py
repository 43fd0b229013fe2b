"""What the plugins package contributes to the registry: where plugin failures are kept."""

from ..kernel.registry import Contributions
from . import schema

CONTRIBUTES = Contributions(migrations=[schema.migrations])
