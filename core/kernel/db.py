"""Opening the one SQLite file: location, pragmas, schema."""

import os
import sqlite3
from pathlib import Path

from .errors import BrokerCRMError, NotFound
from .locking import Database, busy, busy_timeout_seconds, is_busy
from .migrations import apply_all

DEFAULT_DB = "brokercrm.db"
BUSY_TIMEOUT_MS = 5000  # read-only side connections; writers use locking.busy_timeout_seconds()


class NotADatabase(BrokerCRMError):
    """The file at --db is not a SQLite database (or is damaged)."""

    code = "not_a_database"


def db_path(path=None):
    """The database path: explicit argument, then $BROKERCRM_DB, then ./brokercrm.db."""
    return Path(path or os.environ.get("BROKERCRM_DB") or DEFAULT_DB)


def readonly_uri(path):
    """A URI that opens ``path`` read-only (percent-encoded, so any file name works)."""
    return Path(path).resolve().as_uri() + "?mode=ro"


def connect(path=None, *, migrate=True, create=True):
    """Open the database with WAL, foreign keys and a busy timeout.

    With ``migrate`` (the default) pending migrations are applied, so every
    command sees the current schema. ``create=False`` refuses a path where no
    database file exists yet (only ``brokercrm init`` creates one). A file that
    is not SQLite, a folder that does not exist, or a lock held past the busy
    timeout give a BrokerCRMError, never a raw sqlite3 error.
    """
    target = db_path(path)
    if not create and not target.is_file():
        raise NotFound(f"{target}: 数据库不存在; 新建数据库请用 `brokercrm init --db {target}` "
                       f"(no database here; only `brokercrm init` creates one)")
    if create and not target.parent.is_dir():
        raise NotFound(f"{target}: 目录 {target.parent} 不存在 (the folder does not exist)")
    seconds = busy_timeout_seconds()
    try:
        conn = sqlite3.connect(str(target), timeout=seconds, isolation_level="IMMEDIATE")
        db = Database(conn)
        db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA foreign_keys = ON")
        # WAL makes NORMAL durable against application crashes; a power loss may
        # lose the last commit but never corrupts the file.
        db.execute("PRAGMA synchronous = NORMAL")
        if migrate:
            apply_all(db)
    except sqlite3.DatabaseError as e:
        if is_busy(e):
            raise busy(e) from None
        if "unable to open" in str(e) or "readonly" in str(e):
            raise BrokerCRMError(f"{target}: 无法打开数据库 (cannot open the database: {e})") from None
        if "not a database" in str(e) or "malformed" in str(e) or "encrypted" in str(e):
            raise NotADatabase(f"{target}: 不是 SQLite 数据库, 或已损坏 (not a SQLite database, or damaged: {e})") \
                from None
        raise
    return db
