#!/usr/bin/env python3
"""What account managers add (issue 14 item 2), measured in one run against bare baselines.

    .venv/bin/python bench/bench_managers.py [N]

1. The client import of N rows with an ``account_manager`` column (checked against the branch's
   operators, recorded in manager_assignments, the opening callbacks moved to the manager) against
   the same file without the column, alternating, three rounds each; medians and their ratio.
2. The task engine: N ``account_opened`` events handed to ``tasks.on_events`` with the trigger that
   gives each task to the client's manager, against the same with the trigger dropped.
3. ``managers report`` and ``tasks list --mine`` at N clients (one manager holds N/10).
"""
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["BROKERCRM_NOW"] = "2026-06-30T10:00:00+08:00"
from brokercrm.imports import import_clients  # noqa: E402
from brokercrm.kernel.db import connect  # noqa: E402
from brokercrm.kernel.validate import id_check_char  # noqa: E402
from brokercrm.plugins import use as use_plugins  # noqa: E402
from brokercrm.policy.sets import publish_defaults  # noqa: E402
from brokercrm.service import manager_report, tasks  # noqa: E402
from brokercrm.trust import keys, operators, root  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
MANAGERS = [f"am{i}" for i in range(10)]
base = Path(tempfile.mkdtemp())


def rid(i):
    first17 = f"140105{1960 + i % 40}0101{i % 1000:03d}"
    return first17 + id_check_char(first17)


def write(path, with_manager):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["client_id", "kind", "name", "id_number", "phone", "branch_id", "opened_at", "total_assets",
                    "turnover_rate"] + (["account_manager"] if with_manager else []))
        for i in range(N):
            w.writerow([f"C{i:08d}", "individual", "张三", rid(i), "13800000000", "TY01", "2026-06-29",
                        str(10_000 + i), "1.5"] + ([MANAGERS[i % len(MANAGERS)]] if with_manager else []))
    return path


def fresh(name):
    path = base / name
    db = connect(path)
    admin = operators.bootstrap(db, "admin", root.root_path(path), keys.generate())
    publish_defaults(db, admin)
    db.execute("INSERT INTO branches (code, name, created_at) VALUES ('TY01', 't', 'x')")
    for m in MANAGERS:
        operators.add(db, admin, m, "account_manager", branch="TY01")
    return db, admin


use_plugins(None)
plain, managed = write(base / "plain.csv", False), write(base / "managed.csv", True)
times = {"plain": [], "managed": []}
for r in range(3):
    for label, path in (("plain", plain), ("managed", managed)):
        db, admin = fresh(f"{label}{r}.db")
        t = time.perf_counter()
        import_clients(db, path, actor=admin)
        times[label].append(time.perf_counter() - t)
        if label == "managed" and r == 2:
            kept = (db, admin)
        else:
            db.close()
p, m = statistics.median(times["plain"]), statistics.median(times["managed"])
print(f"import {N:,} clients: without account_manager {p:.2f} s, with it {m:.2f} s, ratio {m / p:.2f}")

db, admin = kept
assert db.execute("SELECT count(*) FROM clients WHERE account_manager IS NOT NULL").fetchone()[0] == N
assert db.execute("SELECT count(*) FROM tasks WHERE assignee IS NULL").fetchone()[0] == 0

events = [{"id": i, "kind": "account_opened", "client_id": f"C{i:08d}", "at": "2026-06-30T09:00:00+08:00",
           "detail": {"branch_id": "TY01"}} for i in range(N)]
engine = {"trigger": [], "bare": []}
sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'tasks_default_assignee'").fetchone()[0]
for r in range(3):
    for label in ("trigger", "bare"):
        db.execute("DELETE FROM tasks")
        if label == "bare":
            db.execute("DROP TRIGGER tasks_default_assignee")
        t = time.perf_counter()
        with db.atomic():
            tasks.on_events(db, [{**e, "id": e["id"] + r * 10 * N + (N if label == "bare" else 0)} for e in events])
        engine[label].append(time.perf_counter() - t)
        if label == "bare":
            db.execute(sql)
tr, ba = statistics.median(engine["trigger"]), statistics.median(engine["bare"])
print(f"task engine, {N:,} account_opened: bare {ba:.2f} s, with the owner trigger {tr:.2f} s, ratio {tr / ba:.2f}")

t = time.perf_counter()
report = manager_report.report(db, admin, branch="TY01")
print(f"managers report at {N:,} clients: {(time.perf_counter() - t) * 1000:.0f} ms "
      f"({len(report['managers'])} managers)")


class Am0:
    id, role, branch, fingerprint = "am0", "account_manager", "TY01", "x"
    grants = {"task.read": "own"}
    unqualified_for = frozenset()


t = time.perf_counter()
mine = tasks.list_tasks(db, Am0(), mine_only=True, limit=100)
print(f"tasks list --mine (first 100 of {N // len(MANAGERS):,}): {(time.perf_counter() - t) * 1000:.0f} ms")
