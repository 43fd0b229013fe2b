#!/usr/bin/env python3
"""Status and programmes benchmark (issue 14 items 3 and 5, no target in the issue): the nightly
set-based runs against a bare statement over the same book, as ratios measured in one run.

    .venv/bin/python bench/bench_programmes.py                    # 200,000 clients
    .venv/bin/python bench/bench_programmes.py --clients 50000

  status_first   status refresh on a book with no trade and no contact: every client opened
                 before the window falls dormant (the worst case: a history row, an event and
                 the listeners' batch per client)
  status_rerun   the same again (nothing moves)
  bare_status    SELECT count(*) of the clients with neither a behaviour day nor an interaction
                 in the window (the query the refresh answers, without writing)
  vip_first      vip refresh (every level entered), vip_rerun (nothing moves)
  bare_vip       SELECT count(*) of the clients the shipped levels' entry conditions select
  points_first   points accrue (asset points for the month; the account_opened events)
  bare_points    SELECT count(*) of the clients with ≥ 10,000 yuan
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


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from bench_core import _fresh_db
    from benchtrust import actor_for
    from brokercrm import plugins
    from brokercrm.classify.engine import classify
    from brokercrm.demo import synth
    from brokercrm.imports import import_clients
    from brokercrm.programmes import points, vip
    from brokercrm.service import lifecycle

    plugins.use(plugins.load(path=[]))
    work = Path(tempfile.mkdtemp(prefix="bench-programmes-"))
    clients_csv, assess_csv = work / "clients.csv", work / "assessments.csv"
    synth.write_book(clients_csv, assess_csv, args.clients, seed=args.seed, today=dt.date(2026, 6, 30))
    path = work / "book.db"
    db = _fresh_db(str(path))
    actor = actor_for(db, path)
    import_clients(db, clients_csv, actor=actor)
    classify(db, actor=actor)
    db.execute("DELETE FROM tasks")  # the account-opening callbacks are not what is measured

    cutoff = "2025-12-30"
    t_bare_status, dormant_expected = timed(lambda: db.execute(
        "SELECT count(*) FROM clients c WHERE substr(COALESCE(c.opened_at, c.created_at), 1, 10) < ?"
        " AND NOT EXISTS (SELECT 1 FROM behaviour_daily b WHERE b.client_id = c.client_id AND b.date >= ?)"
        " AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.client_id = c.client_id AND i.at >= ?)",
        [cutoff, cutoff, cutoff]).fetchone()[0])
    t_status_first, first = timed(lambda: lifecycle.refresh(db, actor))
    t_status_rerun, rerun = timed(lambda: lifecycle.refresh(db, actor))
    assert first["dormant"] == dormant_expected and rerun["dormant"] == rerun["reactivated"] == 0

    t_bare_vip, vips_expected = timed(lambda: db.execute(
        "SELECT count(*) FROM clients c LEFT JOIN classifications k ON k.client_key = c.id"
        " WHERE c.total_assets >= 1000000 OR k.class IN ('A+', 'A')").fetchone()[0])
    t_vip_first, vfirst = timed(lambda: vip.refresh(db, actor))
    t_vip_rerun, vrerun = timed(lambda: vip.refresh(db, actor))
    assert vfirst["entered"] == vips_expected and vrerun["entered"] == vrerun["lost"] == 0

    t_bare_points, _ = timed(lambda: db.execute(
        "SELECT count(*) FROM clients WHERE total_assets >= 10000").fetchone()[0])
    t_points, pfirst = timed(lambda: points.accrue(db, actor))
    db.close()

    print(f"clients {args.clients:,}  dormant {first['dormant']:,}  VIPs {vfirst['entered']:,}"
          f"  points rows {sum(pfirst['rows'].values()):,}")
    for name, t, bare in [("status_first", t_status_first, t_bare_status), ("status_rerun", t_status_rerun, t_bare_status),
                          ("vip_first", t_vip_first, t_bare_vip), ("vip_rerun", t_vip_rerun, t_bare_vip),
                          ("points_first", t_points, t_bare_points)]:
        print(f"{name:<13} {t:7.2f}s   bare {bare:6.3f}s   ratio {t / bare:6.1f}×")


if __name__ == "__main__":
    main()
