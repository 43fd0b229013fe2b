"""Opening the one SQLite file: location, pragmas, schema."""

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from .migrations import apply_all

DEFAULT_DB = "brokercrm.db"
BUSY_TIMEOUT_MS = 5000


def db_path(path=None):
    """The database path: explicit argument, then $BROKERCRM_DB, then ./brokercrm.db."""
    return Path(path or os.environ.get("BROKERCRM_DB") or DEFAULT_DB)


def readonly_uri(path):
    """A URI that opens ``path`` read-only (percent-encoded, so any file name works)."""
    return Path(path).resolve().as_uri() + "?mode=ro"


def connect(path=None, *, migrate=True):
    """Open the database with WAL, foreign keys and a busy timeout.

    With ``migrate`` (the default) pending migrations are applied, so every
    command sees the current schema.
    """
    conn = sqlite3.connect(str(db_path(path)), timeout=BUSY_TIMEOUT_MS / 1000)
    db = sqlite_utils.Database(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA foreign_keys = ON")
    # WAL makes NORMAL durable against application crashes; a power loss may
    # lose the last commit but never corrupts the file.
    db.execute("PRAGMA synchronous = NORMAL")
    if migrate:
        apply_all(db)
    return db
