#!/usr/bin/env python3
"""Client archive benchmark (issue 11 item 6): `clients archive` vs a bare hand-written copy, in one run.

    .venv/bin/python bench/bench_archive.py                     # 1,000,000 clients
    .venv/bin/python bench/bench_archive.py --clients 100000    # a quick look

The book is generated in SQL (not timed): N clients, one assessment each, two
events, two tasks and one interaction each, and one audit row per client
(target = the client) on a consistent hash chain — so the audit log, tasks
and events are as long as a real book's.

Timed for the same 20 clients, the best of each:

  bare     for each table with a client_id column, one SELECT by client_id,
           the rows dumped as JSON to a file and its SHA-256 taken — the least
           an archive can do
  archive  brokercrm.archive.writer.archive(db, actor, client, dir): schema
           discovery, the same tables plus linked and audit rows, CSV + JSON per
           table, README, manifest, Ed25519 signature, the audit row

What it shows: an archive costs the same on a 1M book as on a 100k one (every
table is read through an index; the test for that is the plan check in
catalogue.discover), and its ratio to the bare copy.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchtrust import actor_for

NOW = "2026-06-30T10:00:00+08:00"


def build(path, n):
    from brokercrm.kernel.db import connect
    from brokercrm.policy.sets import publish_defaults

    for p in (path, f"{path}-wal", f"{path}-shm", f"{path}.trust-root", f"{path}.bench.key"):
        if os.path.exists(p):
            os.unlink(p)
    db = connect(path)
    publish_defaults(db, actor_for(db, path))
    db.execute("INSERT INTO branches (code, name, created_at) VALUES ('TY01', '太原营业部', ?)", [NOW])
    conn = db.conn
    seq = "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)"
    with conn:
        conn.execute(f"""{seq} INSERT INTO clients (client_id, kind, name, branch_id, birth_date, total_assets,
                     created_at, updated_at)
                     SELECT printf('C%08d', i), 'individual', '客户', 'TY01', '1980-01-01', 100000, ?, ? FROM seq""",
                     [n, NOW, NOW])
        conn.execute("""INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version,
                        answered_at, expires_at, imported_at)
                        SELECT client_id, '{}', 30, 'C3', 0, 1, '2026-01-05', '2028-01-05', ? FROM clients""", [NOW])
        for k in range(2):
            conn.execute("INSERT INTO events (kind, client_id, at, detail, operator)"
                         " SELECT 'client_imported', client_id, ?, '{}', 'bench' FROM clients", [NOW])
            conn.execute("""INSERT INTO tasks (client_id, branch_id, kind, title, origin, dedupe_key, created_at, due_at)
                            SELECT client_id, 'TY01', 'callback', '回访', 'bench', client_id || ':' || ?, ?, ?
                            FROM clients""", [k, NOW, NOW])
        conn.execute("""INSERT INTO interactions (client_id, branch_id, kind, channel, note, operator, at, recorded_at)
                        SELECT client_id, 'TY01', 'call', 'phone', '回访', 'bench', ?, ? FROM clients""", [NOW, NOW])
        # One audit row per client on a consistent chain (fake hashes: the bench never verifies the log).
        start, head = db.execute("SELECT COALESCE(max(id), 0) + 1, (SELECT row_hash FROM audit_log ORDER BY id DESC"
                                 " LIMIT 1) FROM audit_log").fetchone()
        conn.execute(f"""{seq} INSERT INTO audit_log (id, at, operator, action, target, detail, digest,
                         key_fingerprint, prev_hash, row_hash, signature)
                         SELECT ? + i - 1, ?, 'bench', 'client.reveal', printf('C%08d', i), NULL, NULL, 'x',
                                CASE WHEN i = 1 THEN ? ELSE printf('%064d', ? + i - 2) END,
                                printf('%064d', ? + i - 1), 'x' FROM seq""", [n, start, NOW, head, start, start])
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def bare(db, client_id, out):
    """The least an archive does: each client_id table's rows by index, as JSON, digested."""
    out.mkdir()
    tables = [r[0] for r in db.execute("SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS"
                                       " (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'client_id')")]
    digests = {}
    for t in tables + ["audit_log"]:
        col = "target" if t == "audit_log" else "client_id"
        cur = db.execute(f"SELECT * FROM [{t}] WHERE [{col}] = ?", [client_id])
        names = [d[0] for d in cur.description]
        data = json.dumps([dict(zip(names, r)) for r in cur], ensure_ascii=False).encode("utf-8")
        (out / f"{t}.json").write_bytes(data)
        digests[t] = hashlib.sha256(data).hexdigest()
    return digests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    os.environ["BROKERCRM_NOW"] = NOW
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from brokercrm.archive import writer

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_archive_"))
    path = workdir / "archive.db"
    print(f"python {platform.python_version()} · sqlite {__import__('sqlite3').sqlite_version} · "
          f"{platform.machine()} · {os.cpu_count()} cpus")
    started = time.perf_counter()
    db = build(path, args.clients)
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("clients", "events", "tasks", "interactions", "audit_log")}
    print(f"book built in {time.perf_counter() - started:.1f}s (not timed): "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    actor = actor_for(db, path)
    step = max(args.clients // args.samples, 1)
    clients = [f"C{i:08d}" for i in range(1, args.clients + 1, step)][:args.samples]
    times = {"bare": [], "archive": []}
    for i, cid in enumerate(clients):
        t0 = time.perf_counter()
        bare(db, cid, workdir / f"bare{i}")
        times["bare"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = writer.archive(db, actor, cid, workdir / f"arch{i}")
        times["archive"].append(time.perf_counter() - t0)
    records = sum(t["rows"] for t in result["tables"])
    best = {k: min(v) for k, v in times.items()}
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    print(f"per client ({len(clients)} clients, last one {records} records in {len(result['tables'])} tables):")
    for k in ("bare", "archive"):
        print(f"  {k:<8} best {best[k] * 1000:7.1f} ms · median {med[k] * 1000:7.1f} ms")
    print(f"  ratio archive / bare: best {best['archive'] / best['bare']:.2f}x · median "
          f"{med['archive'] / med['bare']:.2f}x")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
