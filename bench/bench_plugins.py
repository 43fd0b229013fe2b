#!/usr/bin/env python3
"""Branch plugins benchmark (issue 3 §6): classify with three approved plugins vs without, in one run.

    .venv/bin/python bench/bench_plugins.py                     # 1,000,000 clients
    .venv/bin/python bench/bench_plugins.py --clients 100000    # a quick look

The book is generated in SQL (not timed): N clients spread over TY01, BJ01 and
SH01 (2% institutions; assets from 0 to 10M; turnover 0–6; holding 0–720 days;
accounts opened 2010–2026), 90% with a valid assessment. Three plugins are
approved, one per branch, through the real request/approve workflow (not
timed): the two example plugins installed in the venv (brokercrm-taiyuan on
TY01, brokercrm-beijing on BJ01) and a third, brokercrm-bench-shanghai,
pip-installed into a temporary directory put on sys.path (SH01: 明日之星 up
one class).

Timed: `brokercrm.classify.engine.classify(db, actor=…, full=True)` — the real
path: operator authentication, plugin discovery, verification of the signed
approvals, the plugins' worker processes and their rules fingerprints — on a
fresh copy of the same book with an empty classifications table (a first,
whole-book run that writes every client), alternately

  without   the book before any approval (no plugin applies)
  with      the book after the three signed approvals (they apply)

`--repeat` times each (default 2); the best of each counts, so neither side
pays alone for a cold cache. Target: with ≤ 1.5 × without. The "with" run must
actually move clients in each of the three branches, or the bench fails.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchtrust import actor_for, copy_trust

NOW = "2026-06-30T10:00:00+08:00"
TODAY = NOW[:10]
BRANCHES = {"TY01": "太原营业部", "BJ01": "北京营业部", "SH01": "上海营业部"}
TARGET = 1.5

THIRD_PLUGIN = '''
from brokercrm.kernel.hookspecs import hookimpl


@hookimpl
def classification_adjustments(branch, policy):
    if branch != "SH01":
        return []
    return [{
        "when": {"all": [
            {"field": "value_segment", "op": "=", "value": "明日之星"},
            {"field": "risk_level", "op": "not in", "value": ["unassessed", "expired"]},
            {"field": "lowest_category", "op": "=", "value": 0},
        ]},
        "shift": 1,
        "reason": "上海营业部: 明日之星 (未来价值高) → 上调一级",
    }]
'''


def install_third(workdir):
    """pip-install the third plugin into its own directory; return that directory."""
    src = workdir / "brokercrm-bench-shanghai"
    (src / "brokercrm_bench_shanghai").mkdir(parents=True)
    (src / "brokercrm_bench_shanghai" / "__init__.py").write_text(THIRD_PLUGIN, encoding="utf-8")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68", "wheel"]\nbuild-backend = "setuptools.build_meta"\n')
    (src / "setup.cfg").write_text(
        "[metadata]\nname = brokercrm-bench-shanghai\nversion = 0.1.0\n\n[options]\n"
        "packages = brokercrm_bench_shanghai\n\n[options.entry_points]\nbrokercrm =\n"
        "    bench_shanghai = brokercrm_bench_shanghai\n")
    target = workdir / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--target", str(target), str(src)], check=True)
    return target


def build(path, n):
    from brokercrm.kernel.db import connect
    from brokercrm.policy.sets import publish_defaults

    db = connect(path)
    publish_defaults(db, actor_for(db, path))
    for code, name in BRANCHES.items():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, NOW])
    conn = db.conn
    with conn:
        conn.execute(
            """WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
            INSERT INTO clients (client_id, kind, name, branch_id, birth_date, opened_at, total_assets,
                                 turnover_rate, avg_holding_days, annual_income, education, investment_years,
                                 created_at, updated_at)
            SELECT printf('C%08d', i), CASE WHEN i % 50 = 0 THEN 'institution' ELSE 'individual' END, '客户',
                   CASE i % 3 WHEN 0 THEN 'TY01' WHEN 1 THEN 'BJ01' ELSE 'SH01' END,
                   date('1945-01-01', '+' || (abs(random()) % 22000) || ' days'),
                   date('2010-01-01', '+' || (abs(random()) % 6000) || ' days'),
                   (abs(random()) % 1000) * (CASE abs(random()) % 4 WHEN 0 THEN 10 WHEN 1 THEN 100
                                              WHEN 2 THEN 1000 ELSE 10000 END),
                   (abs(random()) % 600) / 100.0, abs(random()) % 720, abs(random()) % 600000,
                   CASE abs(random()) % 4 WHEN 0 THEN '本科' WHEN 1 THEN '硕士' WHEN 2 THEN '大专' ELSE '高中' END,
                   abs(random()) % 15, ?, ?
            FROM seq""",
            [n, NOW, NOW],
        )
        conn.execute(
            """INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version,
                                        answered_at, expires_at, imported_at)
            SELECT client_id, '{}', 30, lv, CASE WHEN lv = 'C1' AND abs(random()) % 5 = 0 THEN 1 ELSE 0 END, 1,
                   date(?, '-' || d || ' days'), date(?, '-' || d || ' days', '+24 months'), ?
            FROM (SELECT client_id, 'C' || (1 + abs(random()) % 5) AS lv, abs(random()) % 700 AS d
                  FROM clients WHERE abs(random()) % 100 < 90)""",
            [TODAY, TODAY, NOW],
        )
    db.execute("ANALYZE")
    return db


def approve_all(db, path):
    """Each branch's operator requests its plugin, the root approves: the signed workflow."""
    from brokercrm import plugins
    from brokercrm.governance import approvals
    from brokercrm.trust import identity, operators
    from brokercrm.trust import root as trust_root

    root = actor_for(db, path)
    wanted = {"brokercrm-taiyuan": "TY01", "brokercrm-beijing": "BJ01", "brokercrm-bench-shanghai": "SH01"}
    with plugins.load() as host:
        missing = set(wanted) - {i.name for i in host if not i.error}
        if missing:
            sys.exit(f"not installed: {', '.join(sorted(missing))} (pip install -e plugins/brokercrm-taiyuan "
                     "-e plugins/brokercrm-beijing)")
        for name, branch in wanted.items():
            _, key = operators.add(db, root, f"it_{branch.lower()}", "branch", branch=branch)
            requester = identity.authenticate(db, f"it_{branch.lower()}", key, trust_root.for_db(db))
            row = approvals.request(db, host, requester, name, branch)
            approvals.approve(db, host, root, row["id"])
            print(f"  approved {name} for {branch}: preview moves {row['impact']['moved']:,} clients")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def timed_run(base, work, label):
    from brokercrm.classify.engine import classify
    from brokercrm.kernel.db import connect
    from brokercrm.kernel.wal import settle

    copy = work / f"{label}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, copy)
    copy_trust(base, copy)
    db = connect(copy)
    started, cpu = time.perf_counter(), time.process_time()
    result = classify(db, actor=actor_for(db, copy), full=True)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.close()
    settle()  # the run's checkpoint thread still holds the file (not timed)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    return seconds, cpu, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    os.environ["BROKERCRM_NOW"] = NOW
    os.environ.pop("BROKERCRM_OPERATOR", None)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_plugins_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"brokercrm plugin benchmark · {args.clients:,} clients · {platform.python_version()} · "
          f"SQLite {__import__('sqlite3').sqlite_version} · {os.cpu_count()} cores · {work}")
    try:
        site = install_third(work)
        sys.path.insert(0, str(site))
        os.environ.pop("BROKERCRM_LOAD_PLUGINS", None)
        t = time.perf_counter()
        bases = {"without": work / "without-base.db", "with": work / "base.db"}
        db = build(bases["with"], args.clients)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(bases["with"], bases["without"])   # the same book, before any approval
        copy_trust(bases["with"], bases["without"])
        approve_all(db, bases["with"])
        db.close()
        print(f"  book built and plugins approved in {time.perf_counter() - t:.1f}s (not timed)")
        times = {"without": [], "with": []}
        cpus = {"without": [], "with": []}
        last = {}
        for i in range(args.repeat):
            for label in ("without", "with"):
                seconds, cpu, result = timed_run(bases[label], work, label)
                times[label].append(seconds)
                cpus[label].append(cpu)
                last[label] = result
                print(f"  run {i + 1} {label:<8} {seconds:7.2f}s (CPU {cpu:5.2f}s)  changed {result.changed:,}"
                      f"  plugins applied {len(result.plugins['applied'])}")
        applied = {(a["plugin"], a["branch"]) for a in last["with"].plugins["applied"]}
        assert len(applied) == 3, f"expected three applied plugins, got {applied}"
        assert not last["without"].plugins["applied"], "plugins applied in the run without plugins"
        diff = _moved_by_plugins(bases["with"], work)
        without, with_ = min(times["without"]), min(times["with"])
        ratio = with_ / without
        print(f"\nclients moved by the plugins (vs the grid alone): {diff}")
        print(f"classify, first whole-book run: without plugins {without:.2f}s · with three {with_:.2f}s")
        print(f"by this process's CPU (the plugin workers are other processes, not counted):"
              f" {min(cpus['without']):.2f}s · {min(cpus['with']):.2f}s = {min(cpus['with']) / min(cpus['without']):.2f}")
        print(f"ratio with / without = {ratio:.2f}  (target ≤ {TARGET})  {'PASS' if ratio <= TARGET else 'FAIL'}")
        return 0 if ratio <= TARGET else 1
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def _moved_by_plugins(base, work):
    """Per branch, how many clients the plugins moved: a dry run of each branch with vs without."""
    from brokercrm.governance import approvals
    from brokercrm import plugins
    from brokercrm.kernel.db import connect

    os.environ.pop("BROKERCRM_LOAD_PLUGINS", None)
    db = connect(base)
    out = {}
    with plugins.load() as host:
        for name, branch in (("brokercrm-taiyuan", "TY01"), ("brokercrm-beijing", "BJ01"),
                             ("brokercrm-bench-shanghai", "SH01")):
            out[branch] = approvals.impact(db, host, name, branch)["moved"]
            assert out[branch] > 0, f"plugin {name} moved nobody in {branch}"
    db.close()
    return out


if __name__ == "__main__":
    sys.exit(main())
