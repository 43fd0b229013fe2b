"""What suitability contributes to the registry: its schema, its policy's validator,
and its part of `clients show`."""

from ..kernel.registry import Contributions
from . import policy, schema, view
from . import schema_evidence  # noqa: F401  (registers its migrations in schema.migrations, after schema's)

CONTRIBUTES = Contributions(
    migrations=[schema.migrations],
    policy_validators={"suitability": policy.validate},
    client_sections=[view.client_section],
)
