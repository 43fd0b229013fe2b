"""What client service contributes to the registry.

Its schema; the service and packages policies' validators; the task engine,
which listens to every event; and its part of `clients show`.
"""

from ..kernel.registry import Contributions
from . import lifecycle, lifecycle_schema, packages, policy, questionnaire_prompt, schema, tasks, view

CONTRIBUTES = Contributions(
    migrations=[schema.service, lifecycle_schema.lifecycle],
    policy_validators={"service": policy.validate, "packages": packages.validate,
                       "lifecycle": lifecycle.validate},
    event_listeners=[tasks.on_event, lifecycle.on_event, questionnaire_prompt.on_event],
    client_sections=[view.section],
)
