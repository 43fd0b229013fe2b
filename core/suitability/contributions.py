"""What suitability contributes to the registry: its schema, its policy's validator,
and its part of `clients show`."""

from ..kernel.registry import Contributions
import datetime as dt

from . import care_rules, evidence, evidence_policy, evidence_schema, policy, profile, schema, view
from . import schema_evidence  # noqa: F401  (registers its migrations in schema.migrations, after schema's)


def validate_policy(doc):
    """The suitability policy: the core sections, then issue 11's three-way and special-care ones."""
    policy.validate(doc)
    profile.validate(doc)
    care_rules.validate(doc, policy.pair_fields(dt.date(2000, 1, 1)))


CONTRIBUTES = Contributions(
    migrations=[schema.migrations, evidence_schema.migrations],
    policy_validators={"suitability": validate_policy, "evidence": evidence_policy.validate},
    client_sections=[view.client_section, evidence.client_section],
)
