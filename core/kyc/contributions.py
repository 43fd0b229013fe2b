"""What KYC contributes to the registry: its schema, the KYC policy's validator, and its
part of `clients show`."""

from ..book import kyc_policy
from ..kernel.registry import Contributions
from . import schema, view

CONTRIBUTES = Contributions(
    migrations=[schema.migrations],
    policy_validators={"kyc": kyc_policy.validate},
    client_sections=[view.section],
)
