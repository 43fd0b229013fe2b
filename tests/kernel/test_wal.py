"""brokercrm.kernel.wal: a big commit appends to the log; the checkpoint runs after, off the caller's path."""

import sqlite3
import threading

from brokercrm.classify import engine as classify_lib
from brokercrm.kernel import wal


def _wal_db(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # Checkpoint at every commit: the cost deferred_checkpoint takes off the commit.
    conn.execute("PRAGMA wal_autocheckpoint = 1")
    return conn


def _write(conn):
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 2000)
    conn.execute("COMMIT")


def test_a_plain_commit_checkpoints(tmp_path):
    conn = _wal_db(tmp_path / "a.db")
    before = (tmp_path / "a.db").stat().st_size
    _write(conn)
    assert (tmp_path / "a.db").stat().st_size > before       # the commit copied the pages back


def test_commits_inside_append_only_and_one_checkpoint_follows(tmp_path):
    conn = _wal_db(tmp_path / "b.db")
    before = (tmp_path / "b.db").stat().st_size
    with wal.deferred_checkpoint(conn) as holder:
        _write(conn)
        assert (tmp_path / "b.db").stat().st_size == before  # only the log grew
    holder["thread"].join(timeout=30)
    assert (tmp_path / "b.db").stat().st_size > before
    # The connection's own setting is back, and the data is all there.
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2000


def test_no_thread_for_a_database_without_a_log(tmp_path):
    conn = sqlite3.connect(tmp_path / "c.db")
    with wal.deferred_checkpoint(conn) as holder:
        conn.execute("CREATE TABLE t (x)")
    assert holder["thread"] is None


def test_classify_defers_its_checkpoint(db, admin, monkeypatch):
    from conftest import add_client

    add_client(db, "TY01000001", assets=2_000_000)
    db.conn.commit()
    started = []
    real = wal.checkpoint

    def spy(path):
        started.append(threading.current_thread().name)
        return real(path)

    monkeypatch.setattr(wal, "checkpoint", spy)
    threads = []
    real_deferred = classify_lib.deferred_checkpoint

    def watching(conn):
        ctx = real_deferred(conn)
        holder = ctx.__enter__()

        class Wrap:
            def __enter__(self):
                return holder

            def __exit__(self, *exc):
                result = ctx.__exit__(*exc)
                threads.append(holder["thread"])
                return result

        return Wrap()

    monkeypatch.setattr(classify_lib, "deferred_checkpoint", watching)
    result = classify_lib.classify(db, actor=admin)
    assert result.changed == 1
    assert threads and threads[0] is not None
    threads[0].join(timeout=30)
    assert started == ["brokercrm-checkpoint"]


def test_settle_waits_for_the_checkpoint_so_the_file_can_change_journal_mode(tmp_path):
    conn = _wal_db(tmp_path / "d.db")
    with wal.deferred_checkpoint(conn):
        _write(conn)
    wal.settle()
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
