#!/usr/bin/env python3
"""Core benchmark (issue 2 §8): import and classification against bare SQLite, as ratios in one run.

    .venv/bin/python bench/bench_core.py                 # 1,000,000 clients (and 100,000 for the scaling check)
    .venv/bin/python bench/bench_core.py --clients 200000 --small 20000
    .venv/bin/python bench/bench_core.py --only-import      # the import and its two bare baselines only

For each size it writes a synthetic book (brokercrm.demo.synth; not timed) and runs
every step in a fresh child process, so each step's peak RSS (VmHWM) is its own
(plus the largest worker it forked, if any):

  baseline_import  csv.reader over the same file -> one bare executemany into clients, one transaction
  bare_keyed_import csv.reader -> one executemany into a plain table keyed by client_id, nothing else
                   (issue 16's bare: no schema of ours, no indexes but the key)
  import           brokercrm.imports.import_clients (full validation, events, audit)
  assessments      brokercrm.imports.import_assessments (not a target; the book needs it)
  bare             INSERT INTO bench_grid SELECT client_id, <the policy's grid CASE> FROM clients
                   (three times, each into a fresh table; the median counts)
  bare keyed       the same into a table keyed by client_id (information only)
  classify_first   brokercrm.classify.engine.classify on an empty classifications table
  change           total_assets of 5% of clients ×4 or ×¼ (not timed)
  bare             again, on the changed table
  classify_nightly classify again: only the changed clients are written
  classify_full    classify forced to examine every client (as after a policy change; no target)

Targets: import ≥ 0.5× the bare rows/s; classify first ≤ 4× bare, nightly ≤ 2× bare;
peak RSS of import and classify ≤ 200 MB; cost per client at N within 1.3× of
the cost at the small size. Ratios come from one run, so the machine's load
affects both sides alike.
"""

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

from benchtrust import actor_for
from pathlib import Path

NOW = "2026-06-30T10:00:00+08:00"
BRANCHES = {"TY01": "太原营业部", "BJ01": "北京营业部", "SH01": "上海营业部"}
MB = 1024 * 1024


def vm_hwm():
    """Peak resident set size of this process, in bytes (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def clock():
    """(wall, CPU) now; CPU counts this process and its waited-for children (the importer's worker)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def since(start):
    wall, cpu = clock()
    return {"seconds": wall - start[0], "cpu": cpu - start[1]}


# -- steps, each run in its own child process ---------------------------------

CORE_POLICIES = ("classification.toml", "questionnaire.toml")


def _fresh_db(path, policies=True):
    """A new database with the branches and (only) the core's policies: the bench measures the core."""
    from brokercrm.kernel.db import connect
    from brokercrm.policy.sets import default_policy_dir, publish_defaults

    for p in (path, f"{path}-wal", f"{path}-shm", f"{path}.trust-root", f"{path}.bench.key"):
        if os.path.exists(p):
            os.unlink(p)
    db = connect(path)
    if policies:
        with tempfile.TemporaryDirectory() as tmp:
            for name in CORE_POLICIES:
                shutil.copy(default_policy_dir() / name, tmp)
            publish_defaults(db, actor_for(db, path), directory=tmp)
    for code, name in BRANCHES.items():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, NOW])
    return db


def step_baseline_import(db_path, csv_path):
    """The floor: parse the same CSV and executemany the rows, no checks at all."""
    from brokercrm.demo.synth import CLIENT_COLUMNS

    db = _fresh_db(db_path, policies=False)
    conn = db.conn
    cols = CLIENT_COLUMNS + ["created_at", "updated_at"]
    sql = f"INSERT INTO clients ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    started = clock()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        with conn:
            conn.executemany(sql, (row + [NOW, NOW] for row in reader))
    out = since(started)
    out["rows"] = conn.execute("SELECT count(*) FROM clients").fetchone()[0]
    return out


def step_bare_keyed_import(db_path, csv_path):
    """Issue 16's floor: the same rows into a plain table keyed by client_id, in a database of its own."""
    import sqlite3

    from brokercrm.demo.synth import CLIENT_COLUMNS

    for p in (db_path, f"{db_path}-wal", f"{db_path}-shm"):
        if os.path.exists(p):
            os.unlink(p)
    conn = sqlite3.connect(str(db_path))
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    cols = ", ".join(f"[{c}]" + (" TEXT PRIMARY KEY" if c == "client_id" else "") for c in CLIENT_COLUMNS)
    conn.execute(f"CREATE TABLE bare_clients ({cols})")
    sql = f"INSERT INTO bare_clients VALUES ({', '.join('?' * len(CLIENT_COLUMNS))})"
    started = clock()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        with conn:
            conn.executemany(sql, reader)
    out = since(started)
    out["rows"] = conn.execute("SELECT count(*) FROM bare_clients").fetchone()[0]
    conn.close()
    return out


def step_import(db_path, csv_path):
    from brokercrm.imports import import_clients
    from brokercrm.kernel.registry import registry

    db = _fresh_db(db_path)
    started = clock()
    result = import_clients(db, csv_path, actor=actor_for(db, db_path))
    return {**since(started), "rows": result.inserted, "listeners": [f"{f.__module__}:{f.__name__}" for f in registry().event_listeners]}


def step_assessments(db_path, csv_path):
    from brokercrm.kernel.db import connect
    from brokercrm.imports import import_assessments

    db = connect(db_path)
    actor = actor_for(db, db_path)
    started = clock()
    result = import_assessments(db, csv_path, actor=actor)
    return {**since(started), "rows": result.inserted}


def bare_sql(db):
    """The bare statement: the same grid CASE the classifier compiles from the policy in force."""
    from brokercrm.classify.compile import Compiled
    from brokercrm.policy.sets import current
    from brokercrm.kernel.timeutil import today

    sql, params = Compiled(current(db), today()).class_expr()
    return f"INSERT INTO bench_grid SELECT c.client_id, {sql} FROM clients c", params


def step_bare(db_path, keyed="0", repeats=3):
    """The bare statement, three times into a fresh table each; the median counts.

    ``keyed`` = "1": the table is keyed by client_id, as a current-row table
    must be (information only; the targets use the keyless table).
    """
    from brokercrm.kernel.db import connect

    db = connect(db_path)
    conn = db.conn
    sql, params = bare_sql(db)
    key = " PRIMARY KEY" if keyed == "1" else ""
    times = []
    for _ in range(repeats):
        conn.execute("DROP TABLE IF EXISTS bench_grid")
        conn.execute(f"CREATE TABLE bench_grid (client_id TEXT{key}, class TEXT)")
        conn.commit()
        started = clock()
        with conn:
            conn.execute(sql, params)
        times.append(since(started))
    rows = conn.execute("SELECT count(*) FROM bench_grid").fetchone()[0]
    conn.execute("DROP TABLE bench_grid")
    conn.commit()
    median = sorted(times, key=lambda t: t["seconds"])[len(times) // 2]
    return {**median, "rows": rows, "all": [t["seconds"] for t in times]}


def step_classify(db_path, full="0"):
    import inspect

    from brokercrm.classify.engine import classify
    from brokercrm.kernel.db import connect

    db = connect(db_path)
    kwargs = {"full": True} if full == "1" and "full" in inspect.signature(classify).parameters else {}
    # Authenticating the operator (trust root, certificate, key) is part of every real run.
    started = clock()
    result = classify(db, actor=actor_for(db, db_path), **kwargs)
    return {**since(started), "rows": result.scope, "changed": result.changed,
            "mode": getattr(result, "mode", None), "examined": getattr(result, "examined", None)}


def step_change(db_path):
    """5% of clients' assets move: half ×4, half ×¼ (enough to cross bands)."""
    from brokercrm.kernel.db import connect

    db = connect(db_path)
    with db.conn:
        cur = db.conn.execute(
            "UPDATE clients SET total_assets = total_assets * (CASE WHEN rowid % 40 = 7 THEN 4.0 ELSE 0.25 END),"
            " updated_at = ? WHERE rowid % 20 = 7",
            [NOW],
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"seconds": 0.0, "cpu": 0.0, "rows": cur.rowcount}


STEPS = {
    "baseline_import": step_baseline_import, "bare_keyed_import": step_bare_keyed_import, "import": step_import,
    "assessments": step_assessments,
    "bare": step_bare, "classify": step_classify, "change": step_change,
}


def child_main(args):
    import resource

    out = STEPS[args.step](*args.paths)
    # A step may fork a worker (the importer reads and checks in a second process):
    # count the largest waited-for child on top of this process (shared pages counted twice).
    out["own_rss"] = vm_hwm()
    out["child_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    out["peak_rss"] = out["own_rss"] + out["child_rss"]
    print(json.dumps(out))


# -- the driver ---------------------------------------------------------------

def run_step(name, *paths):
    env = {**os.environ, "BROKERCRM_NOW": NOW}
    proc = subprocess.run([sys.executable, __file__, "--step", name, *map(str, paths)],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"step {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_books(sizes, workdir, seed, log):
    """One generator pass for every size: the book of n is the first n clients of the largest."""
    from brokercrm.demo import synth
    from brokercrm.kernel.timeutil import CST
    import datetime as dt

    today = dt.datetime.fromisoformat(NOW).astimezone(CST).date()
    sizes = sorted(sizes)
    paths, writers = {}, {}
    for n in sizes:
        d = Path(workdir) / f"n{n}"
        d.mkdir(parents=True, exist_ok=True)
        paths[n] = (d / "clients.csv", d / "assessments.csv")
        writers[n] = (synth.ClientWriter(paths[n][0]), synth.AssessmentWriter(paths[n][1]))
    t = time.perf_counter()
    for i, (client, assessment) in enumerate(synth.book(sizes[-1], seed=seed, today=today)):
        for n in sizes:
            if i < n:
                cw, aw = writers[n]
                cw.write(client)
                if assessment is not None:
                    aw.write(assessment)
    for cw, aw in writers.values():
        cw.close()
        aw.close()
    for n in sizes:
        log(f"[{n:,}] {writers[n][0].rows:,} clients, {writers[n][1].rows:,} assessments "
            f"({paths[n][0].stat().st_size / MB:.0f} MB CSV)")
    log(f"generated in {time.perf_counter() - t:.1f}s (not timed)")
    return paths


IMPORT_STEPS = ("baseline_import", "bare_keyed_import", "import")


def measure(n, paths, log, only_import=False):
    clients_csv, assess_csv = paths
    d = clients_csv.parent
    r = {"n": n}
    base_db, keyed_db, db = d / "bare.db", d / "bare_keyed.db", d / "crm.db"
    for key, args in [
        ("baseline_import", ("baseline_import", base_db, clients_csv)),
        ("bare_keyed_import", ("bare_keyed_import", keyed_db, clients_csv)),
        ("import", ("import", db, clients_csv)),
        ("assessments", ("assessments", db, assess_csv)),
        ("bare_first", ("bare", db)),
        ("bare_keyed", ("bare", db, "1")),
        ("classify_first", ("classify", db)),
        ("change", ("change", db)),
        ("bare_nightly", ("bare", db)),
        ("classify_nightly", ("classify", db)),
        ("classify_full", ("classify", db, "1")),
    ]:
        if only_import and key not in IMPORT_STEPS:
            continue
        r[key] = run_step(*args)
        extra = ""
        if r[key].get("mode"):
            extra = f"  {r[key]['mode']}: examined {r[key]['examined']:,}, changed {r[key]['changed']:,}"
        if r[key]["child_rss"]:
            extra += f"  (process {r[key]['own_rss'] / MB:.0f} MB + worker {r[key]['child_rss'] / MB:.0f} MB)"
        log(f"[{n:,}] {key:<17} {r[key]['seconds']:8.2f}s (CPU {r[key]['cpu']:7.2f}s)  rows {r[key]['rows']:>9,}"
            f"  peak RSS {r[key]['peak_rss'] / MB:6.1f} MB{extra}")
    if r["import"].get("listeners"):
        log(f"[{n:,}] note: event listeners active during import: {r['import']['listeners']}")
    for p in (base_db, keyed_db, clients_csv, assess_csv):
        p.unlink(missing_ok=True)
    return r


def report(small, large, only_import=False):
    """The table: wall-clock ratios decide PASS/FAIL (the issue's measure); CPU ratios beside them
    show how much of a miss is the machine's load rather than the code."""
    rows = []

    def ratio(label, num, den, target, ok, per=None):
        wall = num["seconds"] / den["seconds"]
        cpu = num["cpu"] / den["cpu"] if den["cpu"] else float("nan")
        if per:  # cost per client at N over cost per client at the small size
            wall, cpu = wall * per, cpu * per
        rows.append((label, f"{wall:.2f}×", f"{cpu:.2f}×", target, "PASS" if ok(wall) else "FAIL"))

    n, m = large["n"], small["n"]
    bi, im = large["baseline_import"], large["import"]
    ratio(f"import rows/s vs bare executemany ({im['rows'] / im['seconds']:,.0f} vs "
          f"{bi['rows'] / bi['seconds']:,.0f} rows/s)", bi, im, "≥ 0.50×", lambda v: v >= 0.5)
    bk = large["bare_keyed_import"]
    ratio(f"import rows/s vs bare executemany into a table keyed by client_id (issue 16: "
          f"{bk['rows'] / bk['seconds']:,.0f} rows/s)", bk, im, "≥ 0.50×", lambda v: v >= 0.5)
    if only_import:
        peak = max(small["import"]["peak_rss"], large["import"]["peak_rss"]) / MB
        rows.append(("peak RSS import (max of both sizes)", f"{peak:.0f} MB", "", "≤ 200 MB",
                     "PASS" if peak <= 200 else "FAIL"))
        return _table(rows)
    ratio(f"classify first run vs bare INSERT…SELECT ({large['classify_first']['seconds']:.2f}s vs "
          f"{large['bare_first']['seconds']:.2f}s)", large["classify_first"], large["bare_first"], "≤ 4×",
          lambda v: v <= 4)
    ratio(f"classify nightly (5% changed: {large['classify_nightly']['changed']:,} rows) vs bare "
          f"({large['classify_nightly']['seconds']:.2f}s vs {large['bare_nightly']['seconds']:.2f}s)",
          large["classify_nightly"], large["bare_nightly"], "≤ 2×", lambda v: v <= 2)
    ratio(f"classify forced full re-run, nothing changed ({large['classify_full']['seconds']:.2f}s)",
          large["classify_full"], large["bare_nightly"], "(info)", lambda v: True)
    rows[-1] = rows[-1][:4] + ("",)
    ratio(f"classify first run vs bare into a table keyed by client_id ({large['bare_keyed']['seconds']:.2f}s)",
          large["classify_first"], large["bare_keyed"], "(info)", lambda v: True)
    rows[-1] = rows[-1][:4] + ("",)
    for key in ("import", "assessments", "classify_first", "classify_nightly", "classify_full"):
        peak = max(small[key]["peak_rss"], large[key]["peak_rss"]) / MB
        target = "≤ 200 MB" if key != "assessments" else "(info)"
        rows.append((f"peak RSS {key} (max of both sizes)", f"{peak:.0f} MB", "", target,
                     "PASS" if peak <= 200 or key == "assessments" else "FAIL"))
    for key in ("import", "classify_first", "classify_nightly"):
        ratio(f"cost per client {key}: {large[key]['seconds'] / n * 1e6:.1f} µs at {n:,} vs "
              f"{small[key]['seconds'] / m * 1e6:.1f} µs at {m:,}", large[key], small[key], "≤ 1.3×",
              lambda v: v <= 1.3, per=m / n)
    return _table(rows)


def _table(rows):
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':<{width}}  {'wall':>8}  {'CPU':>7}  {'target':<9} result", "-" * (width + 40)]
    lines += [f"{a:<{width}}  {b:>8}  {c:>7}  {d:<9} {e}" for a, b, c, d, e in rows]
    return "\n".join(lines), all(r[4] != "FAIL" for r in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000, help="N clients (default 1,000,000)")
    parser.add_argument("--small", type=int, default=100_000, help="size for the per-client cost check")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workdir", default=None, help="where the temp databases go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--only-import", action="store_true",
                        help="time only the import and its two bare baselines (issue 16 item 2)")
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        return child_main(args)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="brokercrm-bench-"))
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    log(f"brokercrm core benchmark · {platform.python_implementation()} {platform.python_version()} · "
        f"SQLite {__import__('sqlite3').sqlite_version} · {os.cpu_count()} CPUs · workdir {workdir}")
    started = time.perf_counter()
    try:
        paths = write_books({args.small, args.clients}, workdir, args.seed, log)
        small = measure(args.small, paths[args.small], log, args.only_import)
        large = measure(args.clients, paths[args.clients], log, args.only_import)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    table, ok = report(small, large, args.only_import)
    print(table)
    print(f"\n{'ALL PASS' if ok else 'SOME FAIL'} · total {time.perf_counter() - started:.0f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
