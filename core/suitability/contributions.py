"""What suitability contributes to the registry: its schema, its policy's validator,
and its part of `clients show`."""

from ..kernel.registry import Contributions
from . import evidence, evidence_policy, evidence_schema, policy, schema, view

CONTRIBUTES = Contributions(
    migrations=[schema.migrations, evidence_schema.migrations],
    policy_validators={"suitability": policy.validate, "evidence": evidence_policy.validate},
    client_sections=[view.client_section, evidence.client_section],
)
