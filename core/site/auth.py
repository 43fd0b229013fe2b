"""Who may sign in to the read-only site: user entries and password hashes.

``BROKERCRM_SITE_USERS`` holds entries ``USER:ROLE:BRANCH:HASH``; HASH is
PBKDF2-SHA256 in the ``pbkdf2_sha256$iterations$salt$hash`` form
datasette-auth-passwords uses. Both ``serve`` (building the instance) and the
site's Datasette plugin (checking a sign-in) read them from here, so neither
imports the other for it.
"""

import base64
import functools
import hashlib
import hmac
import secrets

from ..kernel.errors import BrokerCRMError

PLUGIN_NAME = "brokercrm-site"
ITERATIONS = 200_000
SESSION_HOURS = 8
ROLES = ("headoffice", "branch")


def hash_password(password, *, salt=None, iterations=ITERATIONS):
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("ascii"), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def verify_password(password, encoded):
    try:
        algorithm, iterations, salt, expected = encoded.split("$", 3)
        iterations = int(iterations)
    except (AttributeError, ValueError):
        return False
    if algorithm != "pbkdf2_sha256":
        return False
    return hmac.compare_digest(hash_password(password, salt=salt, iterations=iterations), encoded)


_DUMMY_HASH = None


def dummy_hash():
    """A hash to check unknown users against, so their answer takes as long as a known user's."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(8))
    return _DUMMY_HASH


@functools.lru_cache(maxsize=8)
def parse_users(text):
    """``USER:ROLE:BRANCH:HASH`` entries -> {user: {"id", "role", "branch", "hash"}}."""
    users = {}
    for entry in (text or "").replace(";", "\n").split():
        parts = entry.split(":", 3)
        if len(parts) != 4:
            raise BrokerCRMError(
                f"BROKERCRM_SITE_USERS: {entry.split(':')[0]!r} 应为 USER:ROLE:BRANCH:HASH (expected USER:ROLE:BRANCH:HASH)")
        user, role, branch, hashed = parts
        if role not in ROLES:
            raise BrokerCRMError(f"BROKERCRM_SITE_USERS: {user} 的角色 {role!r} 须为 headoffice 或 branch")
        if (role == "branch") != bool(branch):
            raise BrokerCRMError(f"BROKERCRM_SITE_USERS: {user}: 营业部用户须指明营业部, 总部用户不得指明 "
                                 "(branch users name their branch, head office users none)")
        users[user] = {"id": user, "role": role, "branch": branch or None, "hash": hashed}
    return users


def user_entry(user, role, branch, password):
    return f"{user}:{role}:{branch or ''}:{hash_password(password)}"
