"""Head-office policy sets: parse, validate, digest, version and publish them.

- ``sets``: the policy files as one versioned set (``current``, ``publish``,
  ``publish_defaults``); each policy's own validator is contributed by the
  feature that uses it.
- ``questionnaire``: the risk questionnaire policy (questions, scores, levels).

The names below are the public API.
"""

from .sets import PolicyFile as PolicyFile
from .sets import PolicySet as PolicySet
from .sets import current as current
from .sets import default_policy_dir as default_policy_dir
from .sets import load_file as load_file
from .sets import load_version as load_version
from .sets import parse as parse
from .sets import publish as publish
from .sets import publish_defaults as publish_defaults
