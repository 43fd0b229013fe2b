"""WAL checkpoints off the hot path of a big write.

In WAL mode SQLite copies the log back into the database file (a checkpoint)
when a commit leaves more than ``wal_autocheckpoint`` pages in it, inside that
commit. After a nightly classification that is tens of megabytes copied and
synced while the run's caller waits: measured 0.3–0.4 s of a ~0.9 s run at a
million clients. ``deferred_checkpoint`` lets the commit only append to the
log, then checkpoints on a helper thread with its own connection (PASSIVE:
it never blocks readers or writers). The thread is not a daemon, so a
command-line process finishes the checkpoint before it exits; a caller that
goes on (a service, the benchmark's timer) is not kept waiting. A caller that
needs the database to itself next (switching the journal mode, copying the
file) calls ``settle()`` first.
"""

import sqlite3
import threading
from contextlib import contextmanager

from .db import BUSY_TIMEOUT_MS

# Checkpoints started and perhaps still running, for settle().
_pending = []


def database_file(conn):
    """The main database file of a connection ('' for an in-memory one)."""
    return conn.execute("PRAGMA database_list").fetchone()[2]


def checkpoint(path):
    """A PASSIVE checkpoint of ``path`` on a new connection; returns (busy, log pages, checkpointed)."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()


@contextmanager
def deferred_checkpoint(conn):
    """Inside: commits on ``conn`` do not checkpoint. After: one checkpoint on a helper thread.

    Yields the helper thread holder: ``holder["thread"]`` is the started thread
    (or None for an in-memory or rollback-journal database), for callers that
    want to wait.
    """
    holder = {"thread": None}
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    path = database_file(conn)
    if mode.lower() != "wal" or not path:
        yield holder
        return
    pages = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    try:
        yield holder
    finally:
        conn.execute(f"PRAGMA wal_autocheckpoint = {pages}")
        holder["thread"] = threading.Thread(target=checkpoint, args=(path,), name="brokercrm-checkpoint")
        holder["thread"].start()
        _pending.append(holder["thread"])


def settle():
    """Wait for the checkpoints this process started: afterwards no helper holds a database open."""
    while _pending:
        _pending.pop().join()
