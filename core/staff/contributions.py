"""What staff contributes to the registry: the qualifications schema, the positions policy's
validator, and the positions and authority the authorisation table asks for."""

from ..kernel.registry import Contributions
from . import client_notes, positions, schema

CONTRIBUTES = Contributions(migrations=[schema.migrations], policy_validators={"positions": positions.validate},
                            role_catalogues=[positions.roles], actor_authorities=[positions.authority],
                            client_sections=[client_notes.section])
