"""Writers wait their turn, within a stated bound, then fail with a clear message.

Two imports and an interaction being logged may all want to write at once.
SQLite lets one writer in at a time and makes the others wait up to the busy
timeout (``BROKERCRM_BUSY_TIMEOUT`` seconds, default 60). One trap remains:
a transaction that starts by reading (``BEGIN`` is deferred) and writes later
must *upgrade* its lock; if another writer committed in between, SQLite
refuses the upgrade at once with "database is locked", whatever the timeout
(issue 13 saw it 1.1 s into a 5 s timeout). So every transaction here takes
the write lock when it begins (``BEGIN IMMEDIATE``): it waits for the lock,
never fails on an upgrade. Python's implicit transactions are made IMMEDIATE
too.

Waiting longer than the bound ends in ``Busy``, which names the bound and the
setting, never in a raw ``sqlite3.OperationalError``.
"""

import contextlib
import os
import sqlite3

import sqlite_utils

from .errors import BrokerCRMError, Busy

BUSY_TIMEOUT_ENV = "BROKERCRM_BUSY_TIMEOUT"
DEFAULT_BUSY_SECONDS = 60.0


def busy_timeout_seconds():
    """The busy timeout in seconds, from $BROKERCRM_BUSY_TIMEOUT (a number ≥ 0) or the default."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_BUSY_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise BrokerCRMError(f"环境变量 {BUSY_TIMEOUT_ENV}={raw!r} 须为 0–86400 的秒数 "
                             f"(must be a number of seconds, 0–86400)")
    return value


def is_busy(error):
    return isinstance(error, sqlite3.OperationalError) and (
        "database is locked" in str(error) or "database is busy" in str(error) or "database table is locked"
        in str(error))


def busy(error=None):
    seconds = busy_timeout_seconds()
    return Busy(f"数据库正被其他操作写入, 已等待 {seconds:g} 秒仍未轮到, 未做任何修改; 请稍后重试, 或调大 "
                f"{BUSY_TIMEOUT_ENV} (the database stayed locked by another writer for more than {seconds:g} s;"
                " nothing was changed, try again)")


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose transactions take the write lock when they begin."""

    @contextlib.contextmanager
    def atomic(self):
        if self.conn.in_transaction:  # nested: a savepoint, as sqlite-utils does
            with super().atomic():
                yield self
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if is_busy(e):
                raise busy(e) from None
            raise
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise


