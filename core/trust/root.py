"""The trust root: head office's root public key, kept outside the database.

Everything signed in the database (operator certificates, approval
decisions, audit rows) is trusted only through a chain that ends at this
key, and the key is read from a file, never from the database: whoever can
write the database file cannot make the engine trust a key of their own.
The file's path comes from configuration (``BROKERCRM_TRUST_ROOT``); by
default it sits beside the database as ``<db>.trust-root``. In production
it belongs on a path the database's writers cannot write (see
docs/security.md). ``init`` writes it once and prints its fingerprint so
head office can record it elsewhere too.
"""

import os
from pathlib import Path

from ..kernel.errors import BrokerCRMError
from . import keys

ENV_ROOT = "BROKERCRM_TRUST_ROOT"
HEADER = "# brokercrm trust root: head office's root public key (Ed25519, base64). Do not edit.\n"


class TrustRootError(BrokerCRMError):
    """No trust root, or one that is unreadable or not the database's."""


def root_path(db_path, env=None):
    env = os.environ if env is None else env
    configured = env.get(ENV_ROOT)
    if configured:
        return Path(configured)
    return Path(f"{db_path}.trust-root")


def write_root(path, pub_b64):
    """Create the trust-root file; an existing one is never replaced."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        raise TrustRootError(
            f"信任根文件已存在, 不覆盖 (trust root exists, not replaced): {path}") from None
    except OSError as e:
        raise TrustRootError(f"无法写入信任根 (cannot write trust root) {path}: {e.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(HEADER + pub_b64 + "\n")
    return path


def read_root(path):
    """The root public key (base64) in ``path``."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise TrustRootError(
            f"找不到信任根文件 {path} (no trust root): 请用 brokercrm init 创建, 或设置 {ENV_ROOT}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TrustRootError(f"无法读取信任根 (cannot read trust root) {path}: {e}") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1:
        raise TrustRootError(f"{path}: 信任根文件格式错误 (malformed trust root)")
    try:
        return keys.parse_public(lines[0], str(path))
    except keys.KeyFileError as e:
        raise TrustRootError(str(e)) from None


def db_file(db):
    """The file behind a connection (sqlite-utils Database or sqlite3 connection)."""
    conn = getattr(db, "conn", db)
    for _, name, path in conn.execute("PRAGMA database_list"):
        if name == "main":
            return path or None
    return None


def for_db(db, env=None):
    """The trust root configured for the database ``db`` is a connection to."""
    path = db_file(db)
    if not path:
        raise TrustRootError("内存数据库没有信任根 (an in-memory database has no trust root)")
    return read_root(root_path(path, env))
