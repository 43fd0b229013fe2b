"""Issue 13 §3 with real processes: no process left behind, writers wait their turn.

- kill -9 the importing process: its forked worker dies with it (PR_SET_PDEATHSIG), whether it was
  blocked sending a batch or busy reading; no orphan holds the database open.
- kill -9 the worker: the importer fails with a clear message, nothing is imported, no hang.
- two importers and interaction logging at once, as separate processes: no failure, no lost write.
- a lock held past the busy timeout: a clear error naming the bound, never a raw "database is locked".
- a transaction that reads before it writes never fails on the lock upgrade (BEGIN IMMEDIATE).

Waiting below is bounded polling for a state (a process gone, a child born), never a measure of speed.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from brokercrm.demo import synth
from brokercrm.kernel.db import connect

NOW = "2026-06-30T10:00:00+08:00"

# The importer, slowed so the test can act while it runs: its writer sleeps per batch (so the worker
# fills the pipe and blocks sending), or its producer sleeps (so the worker is busy, not sending).
SCRIPT = textwrap.dedent("""
    import sys, time
    from brokercrm.cli import cli
    from brokercrm.imports import clients as import_clients
    from brokercrm.imports import clients_fast as import_clients_fast
    from brokercrm.imports import pipeline as import_pipeline

    import_pipeline.PARALLEL_MIN_BYTES = 0
    import_clients_fast.BATCH_SIZE = 20
    mode = sys.argv[1]
    if mode == "slow-writer":
        write = import_clients._ClientWriter.write
        def slow(self, rows, numbers):
            time.sleep(0.2)
            return write(self, rows, numbers)
        import_clients._ClientWriter.write = slow
    else:
        produce = import_clients_fast.produce
        def sleepy(*args):
            for i, payload in enumerate(produce(*args)):
                if i == 1:
                    time.sleep(120)
                yield payload
        import_clients.produce = sleepy
    cli.main(["import", "clients", sys.argv[2], "--db", sys.argv[3], "--as", "admin", "--key", sys.argv[4]])
""")


def env():
    return {**os.environ, "BROKERCRM_NOW": NOW}


def book(path, n, start=0):
    import datetime as dt

    with synth.ClientWriter(path) as w:
        for i, (client, _) in enumerate(synth.book(start + n, seed=3, today=dt.date(2026, 6, 30))):
            if i >= start:
                w.write(client)
    return path


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def start_import(tmp_path, db_path, actors, mode, rows=2000):
    script = tmp_path / "slow_import.py"
    script.write_text(SCRIPT)
    csv_path = book(tmp_path / "book.csv", rows)
    proc = subprocess.Popen([sys.executable, str(script), mode, str(csv_path), str(db_path),
                             str(actors.key_file("admin"))], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: children(proc.pid)), "the importer never forked its worker"
    return proc, children(proc.pid)[0]


def clients(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT count(*) FROM clients").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["slow-writer", "busy-worker"])
def test_killing_the_importer_takes_its_worker(tmp_path, db_path, actors, mode):
    proc, worker = start_import(tmp_path, db_path, actors, mode)
    time.sleep(0.5)  # let batches flow: the worker is mid-file
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert wait_for(lambda: not alive(worker)), f"worker {worker} outlived its parent"
    assert clients(db_path) == 0
    connect(db_path).close()  # the database opens cleanly afterwards


def test_killing_the_worker_fails_the_import_cleanly(tmp_path, db_path, actors):
    proc, worker = start_import(tmp_path, db_path, actors, "busy-worker")
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "import worker died" in err and "Traceback" not in err
    assert clients(db_path) == 0


LOGGER = textwrap.dedent("""
    import sys
    from brokercrm.cli import cli
    from click.testing import CliRunner
    failures = 0
    for i in range(int(sys.argv[2])):
        r = CliRunner().invoke(cli, ["interactions", "log", "L1", "--kind", "call", "--channel", "phone",
                                     "--note", f"n{i}", "--db", sys.argv[1], "--as", "admin", "--key", sys.argv[3]])
        if r.exit_code != 0:
            failures += 1
            print(r.output, file=sys.stderr)
    sys.exit(1 if failures else 0)
""")


def test_two_importers_and_interaction_logging_at_once(tmp_path, db_path, actors):
    from conftest import add_client

    db = connect(db_path)
    add_client(db, "L1")
    db.close()
    files = [book(tmp_path / f"part{i}.csv", 1500, start=i * 1500) for i in range(4)]
    logger = tmp_path / "logger.py"
    logger.write_text(LOGGER)
    key = actors.key_file("admin")
    procs = [subprocess.Popen([sys.executable, str(logger), str(db_path), "120", str(key)], env=env(),
                              stderr=subprocess.PIPE, text=True)]
    for pair in (files[:2], files[2:]):
        cmd = " && ".join(f"{sys.executable} -m brokercrm.cli import clients {f} --db {db_path} --as admin --key {key}"
                          for f in pair)
        procs.append(subprocess.Popen(["sh", "-c", cmd], env=env(), stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM clients").fetchone()[0] == 1 + 4 * 1500
    assert conn.execute("SELECT count(*) FROM interactions").fetchone()[0] == 120
    conn.close()


def test_a_lock_held_past_the_bound_is_a_clear_error(tmp_path, db_path, actors):
    from conftest import add_client

    db = connect(db_path)
    add_client(db, "L1")
    db.conn.execute("BEGIN IMMEDIATE")  # another writer, holding the lock
    try:
        result = subprocess.run(
            [sys.executable, "-m", "brokercrm.cli", "interactions", "log", "L1", "--kind", "call",
             "--channel", "phone", "--note", "x", "--db", str(db_path), "--json", "--as", "admin", "--key",
             str(actors.key_file("admin"))],
            env={**env(), "BROKERCRM_BUSY_TIMEOUT": "0.5"}, capture_output=True, text=True, timeout=120)
    finally:
        db.conn.rollback()
        db.close()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    import json

    error = json.loads(result.stderr)["error"]
    assert error["code"] == "busy" and "BROKERCRM_BUSY_TIMEOUT" in error["message"] and "0.5" in error["message"]


def test_read_then_write_waits_instead_of_failing_the_upgrade(db_path):
    a = connect(db_path)
    done = []

    def other_writer():
        b = connect(db_path)
        b.execute("INSERT INTO branches (code, name, created_at) VALUES ('ZZ01', 'b', ?)", [NOW])
        b.conn.commit()
        b.close()
        done.append(True)

    with a.atomic():
        a.execute("SELECT count(*) FROM branches").fetchone()  # a deferred BEGIN would take a snapshot here
        writer = threading.Thread(target=other_writer)
        writer.start()
        writer.join(0.5)  # with BEGIN IMMEDIATE the other writer waits for us; deferred, it commits now
        a.execute("INSERT INTO branches (code, name, created_at) VALUES ('YY01', 'a', ?)", [NOW])
    writer.join(30)
    assert done == [True]
    assert {r[0] for r in a.execute("SELECT code FROM branches WHERE code IN ('YY01', 'ZZ01')")} == {"YY01", "ZZ01"}
    a.close()
