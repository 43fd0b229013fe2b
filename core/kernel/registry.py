"""The one registry of what feature packages contribute to the kernel.

The kernel runs things the features define — their migration sets, the
validators of their policy files, their event listeners, their sections of a
client's profile — but cannot import them: they stand on it. So each feature
package lists what it contributes in its ``contributions`` module, and
``registry()`` imports those by name, once per process, like Datasette's
``DEFAULT_PLUGINS``. This is the only place brokercrm imports its own code by
name (tests/test_architecture.py checks that, and that every
``contributions`` module is listed here).

It is plain data from brokercrm's own packages, not a pluggy hook: branch
plugins cannot contribute a migration or a policy validator, and so cannot
step around the approval gate.
"""

import importlib
from dataclasses import dataclass, field
from functools import cache

# Packages with a ``contributions`` module. Their migration sets run, and their
# profile sections show, in this order.
FEATURES = ("kernel", "trust", "policy", "staff", "plugins", "imports", "classify", "governance", "service",
            "suitability", "programmes", "kyc", "archive")


@dataclass
class Contributions:
    # sqlite-utils Migrations sets; their names are stored in every database and never change.
    migrations: list = field(default_factory=list)
    # Policy name ([policy] name in the file) -> validate(doc), raising PolicyError naming the key.
    policy_validators: dict = field(default_factory=dict)
    # fn(db, event) called inside the emitter's transaction; fn.batch(db, events), if present, for many.
    event_listeners: list = field(default_factory=list)
    # fn(db, client_id, *, reveal, actor) -> dict merged into `clients show` (its text form is the CLI's).
    client_sections: list = field(default_factory=list)
    # fn(db) -> {role: "branch" | "headoffice"}: roles beyond trust.authz's built-ins (positions).
    role_catalogues: list = field(default_factory=list)
    # fn(db, operator_id, role) -> {"grants": {act: scope}, "unqualified_for": acts}, asked at authentication.
    actor_authorities: list = field(default_factory=list)


@cache
def registry():
    """Every feature's contributions, merged in FEATURES order (resolved once per process)."""
    merged = Contributions()
    for name in FEATURES:
        feature = importlib.import_module(f"brokercrm.{name}.contributions").CONTRIBUTES
        merged.migrations += feature.migrations
        for policy, validate in feature.policy_validators.items():
            if policy in merged.policy_validators:
                raise ValueError(f"policy {policy!r} has two validators (brokercrm.{name} and another feature)")
            merged.policy_validators[policy] = validate
        merged.event_listeners += feature.event_listeners
        merged.client_sections += feature.client_sections
        merged.role_catalogues += feature.role_catalogues
        merged.actor_authorities += feature.actor_authorities
    return merged
