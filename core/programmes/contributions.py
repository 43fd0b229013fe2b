"""What the programmes contribute to the registry: their schema, the programmes policy's validator,
and their part of `clients show`."""

from ..kernel.registry import Contributions
from . import policy, schema, view

CONTRIBUTES = Contributions(migrations=[schema.migrations], policy_validators={"programmes": policy.validate},
                            client_sections=[view.section])
