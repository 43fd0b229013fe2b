"""The client import against its two bare baselines, and against another checkout's importer, alternated.

    .venv/bin/python bench/compare_import.py 1000000 2                       # this code only
    BASE=/path/to/pkgdir .venv/bin/python bench/compare_import.py 1000000 2  # and a base checkout too

BASE is a folder holding ``brokercrm`` (a symlink to another checkout's ``core/``, with
``core/default_policies`` linking its ``policies/``): its importer runs as "import base", the
same book, the same rounds, so a change's cost is measured in one window (docs/benchmarks.md).
"""
import datetime as dt
import json
import os
import subprocess
import sys
import shutil
import tempfile
from pathlib import Path

BENCH = str(Path(__file__).with_name("bench_core.py"))
PY = sys.executable
BASE = os.environ.get("BASE")
n = int(sys.argv[1]); rounds = int(sys.argv[2])
d = Path(tempfile.mkdtemp(prefix="i13cmp"))
os.environ["BROKERCRM_NOW"] = "2026-06-30T10:00:00+08:00"
from brokercrm.demo import synth
csv_path = d / "clients.csv"
with synth.ClientWriter(csv_path) as w:
    for c, _ in synth.book(n, seed=2026, today=dt.date(2026, 6, 30)):
        w.write(c)
print(f"book {n:,} rows, {csv_path.stat().st_size >> 20} MB", flush=True)
def step(name, db, code=None):
    env = {**os.environ}
    if code == "base":
        env["PYTHONPATH"] = BASE
    bench = BENCH
    p = subprocess.run([PY, bench, "--step", name, str(db), str(csv_path)], capture_output=True, text=True, env=env)
    if p.returncode:
        print(p.stderr[-2000:]); sys.exit(1)
    return json.loads(p.stdout.strip().splitlines()[-1])
res = {}
for r in range(rounds):
    steps = [("bare", "baseline_import", None), ("bare_keyed", "bare_keyed_import", None)]
    steps += [("import base", "import", "base")] if BASE else []
    steps += [("import", "import", None)]
    for label, name, code in steps:
        out = step(name, d / f"{label.replace(' ', '_')}.db", code)
        res.setdefault(label, []).append(out)
        print(f"round {r + 1} {label:<15} {out['seconds']:7.2f}s  CPU {out['cpu']:7.2f}s  rows {out['rows']:,}  peak {out['peak_rss'] >> 20} MB"
              f" (worker {out['child_rss'] >> 20} MB)", flush=True)
for label, outs in res.items():
    best = min(outs, key=lambda o: o["seconds"])
    print(f"best {label:<15} {best['seconds']:7.2f}s  CPU {best['cpu']:7.2f}s")
shutil.rmtree(d, ignore_errors=True)
