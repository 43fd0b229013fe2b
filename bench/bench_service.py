#!/usr/bin/env python3
"""Service benchmark (issue 5, no target in the issue): what the task engine and the care
calendar cost, as ratios measured in one run.

    .venv/bin/python bench/bench_service.py                    # 200,000 clients
    .venv/bin/python bench/bench_service.py --clients 50000

  import_plain     brokercrm.imports.import_clients with no events listener
  import_tasks     the same file with the task engine listening (account_opened → callback tasks,
                   handed over in batches); the synthetic book's openings are spread over years,
                   so most are historic (ignore_after) and open no task
  care_first       care generate --days 30 over the book (opens the birthday tasks)
  care_rerun       the same again (idempotent: nothing new)
  bare_scan        SELECT count(*) of the clients whose month-day falls in the window

Prints listener overhead (import_tasks / import_plain) and care / bare_scan ratios.
"""

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

NOW = "2026-06-30T10:00:00+08:00"
os.environ["BROKERCRM_NOW"] = NOW
sys.path.insert(0, str(Path(__file__).resolve().parent))


def fresh(path):
    from bench_core import _fresh_db

    return _fresh_db(str(path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from brokercrm.service import care
    from brokercrm.kernel.registry import registry
    from brokercrm.demo import synth
    from brokercrm.imports import import_clients
    from brokercrm import plugins
    from benchtrust import actor_for

    plugins.use(plugins.load(path=[]))  # the engine alone, no installed plugins
    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    clients_csv, assess_csv = work / "clients.csv", work / "assessments.csv"
    synth.write_book(clients_csv, assess_csv, args.clients, seed=args.seed, today=dt.date(2026, 6, 30))

    contributed = registry()
    saved = contributed.event_listeners
    contributed.event_listeners = []
    db = fresh(work / "plain.db")
    actor = actor_for(db, work / "plain.db")
    started = time.perf_counter()
    import_clients(db, clients_csv, actor=actor)
    plain = time.perf_counter() - started
    db.close()

    contributed.event_listeners = saved
    db = fresh(work / "tasks.db")
    actor = actor_for(db, work / "tasks.db")
    started = time.perf_counter()
    import_clients(db, clients_csv, actor=actor)
    with_tasks = time.perf_counter() - started
    opened = db.execute("SELECT count(*) FROM tasks").fetchone()[0]

    started = time.perf_counter()
    first = care.generate(db, actor, days=30)
    care_first = time.perf_counter() - started
    started = time.perf_counter()
    again = care.generate(db, actor, days=30)
    care_rerun = time.perf_counter() - started
    started = time.perf_counter()
    db.execute("SELECT count(*) FROM clients WHERE kind = 'individual'"
               " AND substr(birth_date, 6, 5) BETWEEN '06-30' AND '07-30'").fetchone()
    bare = time.perf_counter() - started

    print(f"clients {args.clients:,}  callback tasks opened {opened:,}  birthday tasks {first['created']['birthday']:,}"
          f" (re-run {again['total']})")
    print(f"import_plain {plain:.2f}s  import_tasks {with_tasks:.2f}s  ratio {with_tasks / plain:.2f}×")
    print(f"care_first {care_first:.2f}s  care_rerun {care_rerun:.2f}s  bare_scan {bare:.3f}s"
          f"  ratios {care_first / bare:.1f}× / {care_rerun / bare:.1f}×")


if __name__ == "__main__":
    main()
