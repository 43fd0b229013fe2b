#!/usr/bin/env python3
"""What the trust layer costs each command (issue 10): per-act costs, measured in one run.

    .venv/bin/python bench/bench_trust.py            # 1,000,000-client import as the yardstick
    .venv/bin/python bench/bench_trust.py --clients 100000

Measured on a real database and real keys:
  authenticate   load a key file, verify the operator's certificate chain to the trust root
  audit.record   sign one row and append it to the hash chain (inside a transaction)
  gate           verify the signed decisions in force (3 plugins approved) and the chain after them
  verify/row     `audit verify` per row (hash, chain link, signature)
and, as the yardstick, `import clients` of N generated clients in the same run. The import is the
act that pays most for trust relative to its work only if these fixed costs matter: the figure
printed is (authenticate + audit.record) / import, the share of an import that signing costs
(target ≤ 5%).
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchtrust import actor_for

NOW = "2026-06-30T10:00:00+08:00"
BRANCHES = {"TY01": "太原营业部", "BJ01": "北京营业部", "SH01": "上海营业部"}


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    os.environ["BROKERCRM_NOW"] = NOW
    from brokercrm.demo import synth
    from brokercrm.imports import import_clients
    from brokercrm.kernel.db import connect
    from brokercrm.plugins import gate
    from brokercrm.policy.sets import publish_defaults
    from brokercrm.trust import audit, identity, keys
    from brokercrm.trust import root as trust_root

    work = Path(tempfile.mkdtemp(prefix="bench_trust_"))
    path = work / "crm.db"
    db = connect(path)
    actor = actor_for(db, path)
    publish_defaults(db, actor)
    for code, name in BRANCHES.items():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, NOW])
    key = keys.load_private(f"{path}.bench.key")
    root = trust_root.for_db(db)

    auth = timed(lambda: identity.authenticate(db, "bench", keys.load_private(f"{path}.bench.key"), root),
                 args.repeat)

    def one_row():
        with db.atomic():
            audit.record(db, "bench.row", actor=actor, target="x", detail={"n": 1})
    record = timed(one_row, args.repeat)
    gate_s = timed(lambda: gate.in_force(db, root), args.repeat)
    rows = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    verify = timed(lambda: audit.verify(db, root), 5) / rows

    csv_path = work / "clients.csv"
    writer = synth.ClientWriter(csv_path)
    for client in synth.clients(args.clients, today=dt.date.fromisoformat(NOW[:10])):
        writer.write(client)
    writer.close()
    t = time.perf_counter()
    import_clients(db, csv_path, actor=actor)
    imported = time.perf_counter() - t

    share = (auth + record) / imported
    print(f"brokercrm trust costs · {sys.version.split()[0]} · {os.cpu_count()} cores")
    print(f"  authenticate (key file + certificate chain)   {auth * 1000:8.2f} ms")
    print(f"  audit.record (sign + append, one transaction) {record * 1000:8.2f} ms")
    print(f"  gate (decisions in force + chain after them)  {gate_s * 1000:8.2f} ms")
    print(f"  audit verify, per row                        {verify * 1e6:8.1f} µs")
    print(f"  import of {args.clients:,} clients                 {imported:8.2f} s")
    print(f"signing's share of the import: {share:.5%}  (target ≤ 5%)  {'PASS' if share <= 0.05 else 'FAIL'}")
    return 0 if share <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
