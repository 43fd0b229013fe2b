#!/usr/bin/env python3
"""The client import against issue 16's bare baseline, alternated, with where the time goes.

    .venv/bin/python bench/bench_import.py --sizes 100000,1000000 --rounds 2
    .venv/bin/python bench/bench_import.py --sizes 1000000 --profile     # cProfile of each side

The same book and the same two steps as ``bench_scale.py``'s import step (its ``step_bare_import``
and ``step_import``, each in its own child process), alternated ``--rounds`` times so both see
the same load on a shared machine. The import's CPU is split into the importer process
(writing) and its forked worker (reading and checking); the figures that decide are CPU ratios
(process + children) against the bare baseline's CPU of the same round, wall beside them.

``--profile``: one more import in this process with cProfile on the writer, and the producer
(reader + checks) run alone under cProfile, top functions printed (not timed against bare).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

import bench_scale as scale

MB = 1024 * 1024


def step_import_split(db_path, csv_path):
    """bench_scale's import step, the CPU split into this process (writer) and its worker (reader)."""
    from brokercrm.imports import import_clients

    db = scale.fresh_db(db_path)
    actor = scale.actor_for(db, db_path)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = scale.clock()
    result = import_clients(db, csv_path, actor=actor)
    out = {**scale.since(started), "rows": result.inserted}
    me2, kids2 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    out["writer_cpu"] = me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime
    out["reader_cpu"] = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
    out["events"] = db.execute("SELECT count(*) FROM events").fetchone()[0]
    out["tasks"] = db.execute("SELECT count(*) FROM tasks").fetchone()[0]
    return out


def child(step, paths):
    fn = {"bare": scale.step_bare_import, "import": step_import_split}[step]
    out = fn(*paths)
    out["own_rss"] = scale.vm_hwm()
    out["child_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    out["peak_rss"] = out["own_rss"] + out["child_rss"]
    print(json.dumps(out))


def run(step, *paths):
    env = {**os.environ, "BROKERCRM_NOW": scale.NOW}
    proc = subprocess.run([sys.executable, __file__, "--step", step, *map(str, paths)],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"step {step} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def top(profile, n=18):
    s = io.StringIO()
    pstats.Stats(profile, stream=s).sort_stats("tottime").print_stats(n)
    return s.getvalue()


def profile(db_path, csv_path):
    """cProfile of the producer alone, then of the writer fed by an in-process producer."""
    os.environ["BROKERCRM_NOW"] = scale.NOW
    from brokercrm.imports import clients, clients_fast, pipeline
    from brokercrm.kernel.timeutil import today

    db = scale.fresh_db(db_path)
    actor = scale.actor_for(db, db_path)
    branches = {r[0] for r in db.execute("SELECT code FROM branches")}
    spec = clients.import_policy.spec(db, "clients", extra_aliases=clients.ALIASES)
    p = cProfile.Profile()
    t = time.process_time()
    p.enable()
    payloads = list(clients_fast.produce(Path(csv_path), spec, clients.Branches(branches), today(), False))
    p.disable()
    reader = time.process_time() - t
    print(f"reader+checks alone: {reader:.2f} s CPU (profiled)\n" + top(p))
    import pickle
    t = time.process_time()
    blobs = [pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL) for x in payloads]
    dump = time.process_time() - t
    t = time.process_time()
    for b in blobs:
        pickle.loads(b)
    load = time.process_time() - t
    print(f"pickling the payloads: dumps {dump:.2f} s, loads {load:.2f} s, {sum(map(len, blobs)) / MB:.0f} MB")
    del blobs
    original = pipeline.run
    pipeline.run = lambda producer, args, size, memory=None: (x for x in payloads)
    p = cProfile.Profile()
    t = time.process_time()
    p.enable()
    clients.import_clients(db, csv_path, actor=actor)
    p.disable()
    pipeline.run = original
    print(f"writer alone: {time.process_time() - t:.2f} s CPU (profiled)\n" + top(p))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workdir", default="bench/out/import")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--step", nargs="+")
    args = ap.parse_args()
    if args.step:
        return child(args.step[0], args.step[1:])
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    os.environ["BROKERCRM_NOW"] = scale.NOW
    sizes = [int(s) for s in args.sizes.split(",")]
    seed = work / "seed.csv"
    if not seed.exists():
        scale.write_seed_csv(seed, min(max(sizes), scale.SEED_CLIENTS))
    seed_rows = sum(1 for _ in open(seed, encoding="utf-8")) - 1
    for n in sizes:
        csv_path = work / f"clients{n}.csv"
        if not csv_path.exists():
            scale.write_csv(seed, csv_path, n, seed_rows)
        if args.profile:
            profile(work / "profile.db", csv_path)
            continue
        results = {"bare": [], "import": []}
        for r in range(args.rounds):
            for step in ("bare", "import"):
                db = work / f"{step}.db"
                out = run(step, db, csv_path)
                results[step].append(out)
                for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                    p.unlink(missing_ok=True)
                extra = (f"  writer {out['writer_cpu']:.2f} s + reader {out['reader_cpu']:.2f} s CPU,"
                         f" events {out['events']:,}, tasks {out['tasks']:,}") if step == "import" else ""
                print(f"[{n:,}] round {r + 1} {step:<7} {out['seconds']:7.2f} s wall, CPU {out['cpu']:7.2f} s,"
                      f" peak {out['peak_rss'] / MB:5.0f} MB{extra}", flush=True)
        for r, (b, i) in enumerate(zip(results["bare"], results["import"])):
            print(f"[{n:,}] round {r + 1}: throughput vs bare, CPU {b['cpu'] / i['cpu']:.2f}x,"
                  f" wall {b['seconds'] / i['seconds']:.2f}x", flush=True)
        bb = min(x["cpu"] for x in results["bare"])
        ib = min(x["cpu"] for x in results["import"])
        print(f"[{n:,}] best CPU: bare {bb:.2f} s, import {ib:.2f} s = {bb / ib:.2f}x;"
              f" best wall {min(x['seconds'] for x in results['bare']) / min(x['seconds'] for x in results['import']):.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
