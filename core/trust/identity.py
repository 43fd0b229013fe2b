"""Who is acting: an operator who has proved possession of their certified key.

``authenticate`` is the only way to obtain an ``Actor``. It verifies the
operator's certificate chain to the trust root and that the private key
given belongs to the certified public key. Every library function that
changes data, decides something or reveals personal data takes an
``Actor`` and signs what it records with it.
"""

import re
from dataclasses import dataclass, field

from ..kernel.errors import BrokerCRMError
from ..kernel.registry import registry
from . import certs, keys

# Printable, no spaces or control characters, bounded: ids land in audit rows and terminals.
OPERATOR_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class AuthenticationError(BrokerCRMError):
    """The operator could not prove who they are."""


def check_operator_id(operator_id):
    if not isinstance(operator_id, str) or not OPERATOR_ID.fullmatch(operator_id):
        raise BrokerCRMError(
            f"操作员 ID {operator_id!r} 无效: 只可用字母、数字和 _ . @ -, 最长 64 (invalid operator id)")
    return operator_id


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    branch: str | None
    fingerprint: str
    root: str  # the trust root this actor was verified against (base64 public key)
    _key: object = field(repr=False, compare=False)
    # From the positions policy when the actor authenticated (brokercrm.staff): the acts the
    # actor's position grants {act: scope}, and the acts refused for lack of a valid qualification.
    grants: dict = field(default_factory=dict, repr=False, compare=False)
    unqualified_for: frozenset = field(default_factory=frozenset, repr=False, compare=False)

    def sign(self, data):
        return keys.sign(self._key, data)

    @property
    def public_key(self):
        return keys.public_b64(self._key)


def authenticate(db, operator_id, private_key, root_pub):
    """The ``Actor`` for ``operator_id`` holding ``private_key``, or a refusal saying why."""
    if not operator_id:
        raise AuthenticationError("须指明操作员: --as ID 或 BROKERCRM_OPERATOR (an operator is required)")
    check_operator_id(operator_id)
    if private_key is None:
        raise AuthenticationError(
            f"操作员 {operator_id} 须提供其私钥: --key FILE 或 BROKERCRM_KEY (naming an operator needs their key)")
    try:
        op = certs.verify_operator(db, operator_id, root_pub)
    except certs.Untrusted as e:
        raise AuthenticationError(f"拒绝 (refused): {e}") from None
    if keys.public_b64(private_key) != op.public_key:
        raise AuthenticationError(
            f"所给私钥不属于操作员 {operator_id} (the key given is not {operator_id}'s key; refused)")
    grants, unqualified = {}, set()
    # The policy is resolved per authentication: a command sees the positions and qualification in force.
    for resolve in registry().actor_authorities:
        found = resolve(db, op.id, op.role)
        grants.update(found["grants"])
        unqualified |= found["unqualified_for"]
    return Actor(op.id, op.role, op.branch, op.fingerprint, root_pub, private_key, grants, frozenset(unqualified))
