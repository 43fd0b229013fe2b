"""A read query on a second connection, run on the other core while this one writes.

Python's sqlite3 releases the GIL while SQLite works, so a thread with its own
connection really runs in parallel. In WAL mode that reader sees the last
commit. Start it only once this connection holds the write lock (after its
transaction's first write): no other writer can commit in between, so the
reader sees exactly the data this transaction started from.

A database without a file (``:memory:``) has no second connection; the query
then runs on the caller's connection when its result is asked for.
"""

import sqlite3
import threading

from .db import BUSY_TIMEOUT_MS, readonly_uri


def main_file(db):
    """The path of the connection's main database file, or None when it has none."""
    for _, name, path in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or None
    return None


class SideQuery:
    """``SideQuery(db, sql, params)`` starts the query; ``rows()`` waits for its rows."""

    def __init__(self, db, sql, params=()):
        if not db.conn.in_transaction:
            raise RuntimeError("SideQuery needs the caller to hold the write lock (an open write transaction)")
        self.db, self.sql, self.params = db, sql, list(params)
        self._rows = self._error = None
        path = main_file(db)
        self._thread = None
        if path is not None:
            self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
            self._thread.start()

    def _run(self, path):
        try:
            conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                self._rows = conn.execute(self.sql, self.params).fetchall()
            finally:
                conn.close()
        except Exception as e:  # reported to the caller, who falls back
            self._error = e

    def rows(self):
        """The query's rows; on its own connection if it ran, else (or if it failed) on the caller's."""
        if self._thread is not None:
            self._thread.join()
            if self._error is None:
                return self._rows
        return self.db.execute(self.sql, self.params).fetchall()
