"""Who may sign in to the read-only site: a users file (or, for the demo, an
environment variable) of ``USER:ROLE:BRANCH:HASH`` lines, and their password hashes.

Both ``serve`` (building the instance) and the site's Datasette plugin
(checking a sign-in) read them from here, so neither imports the other for it.

- ``BROKERCRM_SITE_USERS_FILE``: a file, one user a line, ``#`` comments; the
  site re-reads it when it changes, so removing a line signs that user out at
  their next request, without a restart. ``brokercrm site-password --file``
  adds or replaces a line.
- ``BROKERCRM_SITE_USERS``: the same entries in the environment (separated by
  newlines, ``;`` or spaces) — what ``brokercrm demo`` uses.

ROLE is ``headoffice`` (BRANCH empty) or ``branch``; HASH is salted
PBKDF2-SHA256 in the ``pbkdf2_sha256$iterations$salt$hash`` form
datasette-auth-passwords uses. A bad line is refused with the file, the line,
the field and why; the site then does not start.
"""

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from ..kernel.errors import BrokerCRMError

PLUGIN_NAME = "brokercrm-site"
SESSION_HOURS = 8
ITERATIONS = 200_000
MIN_ITERATIONS = 100_000
ROLES = ("headoffice", "branch")
FILE_ENV = "BROKERCRM_SITE_USERS_FILE"
USERS_ENV = "BROKERCRM_SITE_USERS"
_USER_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_BRANCH_RE = re.compile(r"^[A-Z0-9]{2,16}$")
_HASH_RE = re.compile(r"^pbkdf2_sha256\$(\d+)\$[A-Za-z0-9]+\$[A-Za-z0-9+/=]+$")


def hash_password(password, *, salt=None, iterations=ITERATIONS):
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("ascii"), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def verify_password(password, encoded):
    try:
        algorithm, iterations, salt, _ = encoded.split("$", 3)
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


def parse_entry(entry, where):
    """One ``USER:ROLE:BRANCH:HASH`` entry -> user dict; ``where`` names it in errors."""
    parts = entry.split(":", 3)
    if len(parts) != 4:
        raise BrokerCRMError(f"{where}: 应为 USER:ROLE:BRANCH:HASH 四个字段, 实为 {len(parts)} 个 "
                             "(expected USER:ROLE:BRANCH:HASH)")
    user, role, branch, hashed = parts
    if not _USER_RE.match(user):
        raise BrokerCRMError(f"{where}: 字段 USER {user!r}: 只能用字母、数字、_ . - (letters, digits, _ . - only)")
    if role not in ROLES:
        raise BrokerCRMError(f"{where}: 用户 {user} 字段 ROLE {role!r}: 须为 headoffice 或 branch")
    if (role == "branch") != bool(branch):
        raise BrokerCRMError(f"{where}: 用户 {user} 字段 BRANCH: 营业部用户须指明营业部, 总部用户不得指明 "
                             "(branch users name their branch, head office users none)")
    if branch and not _BRANCH_RE.match(branch):
        raise BrokerCRMError(f"{where}: 用户 {user} 字段 BRANCH {branch!r}: 营业部代码为 2–16 位大写字母或数字")
    m = _HASH_RE.match(hashed)
    if not m:
        raise BrokerCRMError(f"{where}: 用户 {user} 字段 HASH: 不是 pbkdf2_sha256$迭代次数$盐$哈希 "
                             "(not a pbkdf2_sha256 hash; make one with brokercrm site-password)")
    if int(m.group(1)) < MIN_ITERATIONS:
        raise BrokerCRMError(f"{where}: 用户 {user} 字段 HASH: 迭代次数 {m.group(1)} 太少, 至少 {MIN_ITERATIONS:,} "
                             "(too few iterations)")
    return {"id": user, "role": role, "branch": branch or None, "hash": hashed}


def _add(users, user, where, seen):
    if user["id"] in users:
        raise BrokerCRMError(f"{where}: 用户 {user['id']} 重复, 已见于 {seen[user['id']]} (duplicate user)")
    users[user["id"]] = user
    seen[user["id"]] = where


@functools.lru_cache(maxsize=8)
def parse_users(text):
    """Entries from the environment variable -> {user: {"id", "role", "branch", "hash"}}."""
    users, seen = {}, {}
    for i, entry in enumerate((text or "").replace(";", "\n").split(), start=1):
        _add(users, parse_entry(entry, f"{USERS_ENV} 第 {i} 项 (entry {i})"), f"第 {i} 项", seen)
    return users


def parse_file_text(text, name):
    users, seen = {}, {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{name}:{n}"
        _add(users, parse_entry(line, where), where, seen)
    return users


@functools.lru_cache(maxsize=8)
def _read_file(path, mtime_ns, size):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BrokerCRMError(f"{path}: 不是 UTF-8 文本 (not UTF-8 text)") from None
    return parse_file_text(text, path)


def load_file(path):
    """The users in ``path``, re-read only when the file changes."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise BrokerCRMError(f"{path}: 无法读取用户文件 (cannot read the users file): {e.strerror}") from None
    return _read_file(str(path), st.st_mtime_ns, st.st_size)


def source_from_env(environ=None):
    """Where users come from: {"file": path} or {"env": name}; the file wins when both are set."""
    environ = os.environ if environ is None else environ
    path = environ.get(FILE_ENV)
    if path:
        return {"file": str(Path(path).resolve())}
    return {"env": USERS_ENV}


def load(source, environ=None):
    environ = os.environ if environ is None else environ
    if source.get("file"):
        return load_file(source["file"])
    return parse_users(environ.get(source.get("env") or USERS_ENV, ""))


def user_entry(user, role, branch, password):
    return f"{user}:{role}:{branch or ''}:{hash_password(password)}"


def write_entry(path, entry):
    """Add ``entry`` to the users file at ``path``, replacing that user's line; atomic."""
    path = Path(path)
    new = parse_entry(entry, "新用户 (new entry)")
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else [
        "# brokercrm 只读站点用户 (site users): USER:ROLE:BRANCH:HASH, 由 brokercrm site-password --file 维护"]
    out, replaced = [], False
    for line in lines:
        if line.strip() and not line.strip().startswith("#") and line.split(":", 1)[0].strip() == new["id"]:
            if not replaced:
                out.append(entry)
                replaced = True
            continue
        out.append(line)
    if not replaced:
        out.append(entry)
    text = "\n".join(out) + "\n"
    parse_file_text(text, str(path))  # never write a file the site would refuse
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return replaced
