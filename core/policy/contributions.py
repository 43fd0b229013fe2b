"""What the policy package contributes to the registry: the questionnaire policy's validator."""

from ..kernel.registry import Contributions
from . import questionnaire

CONTRIBUTES = Contributions(policy_validators={"questionnaire": questionnaire.validate})
