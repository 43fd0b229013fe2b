#!/usr/bin/env python3
"""Scaling benchmark (issue 16 §4): every step at 1M and 10M clients, each against its bare baseline.

    .venv/bin/python bench/bench_scale.py                               # 1,000,000 and 10,000,000 clients
    .venv/bin/python bench/bench_scale.py --sizes 100000,1000000        # a quick run
    .venv/bin/python bench/bench_scale.py --sizes 1000000 --only publish,site --keep --workdir bench/out/scale
    .venv/bin/python bench/bench_scale.py --sizes 1000000 --only index_cost --keep --workdir bench/out/scale

For each size, on a book of N clients over 20 branches (not timed: brokercrm.demo.synth
writes the first million, later millions are copies with new client ids and varied
assets; assessments, tasks, interactions, complaints and suitability rows are added
by SQL), every step runs in its own child process so its peak RSS (VmHWM, plus the
largest worker it forked) is its own:

  import            brokercrm.imports.import_clients (every check)
    bare            csv.reader -> one executemany into a plain table keyed by client_id
  classify first    brokercrm.classify.engine.classify with no classifications yet
  classify nightly  classify after 5% of clients' total_assets changed (in process, and as
                    the whole `brokercrm classify` command: process start included)
    bare            INSERT INTO t SELECT client_id, <the policy's grid CASE> FROM clients
                    (median of three, each into a fresh keyless table; re-measured after the change)
  publish           brokercrm.site.publish.publish: head office + one snapshot per branch
    bare            two VACUUM INTO copies of the working database (head office and the
                    branches together hold every row about twice)
  site pages        `brokercrm serve` on the snapshots; as head office and as one branch:
                    home, database pages, every table, every filter and sort a big table
                    offers, every stored view; p95 of --repeat requests (server CPU and wall)

Targets (issue 16): import >= 0.5x bare throughput; classify nightly <= 2x bare; publish
<= 3x its bare limit and peak RSS <= 200 MB; every step's cost per client at the largest
size within 1.2x of the smallest; every page p95 <= 100 ms. The ratios come from one run,
so the machine's load affects both sides alike. Exit status 0 when every target passes.
"""

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchtrust import actor_for
# The same clock, peak memory and bare import as bench_core's: one definition of each floor.
from bench_core import clock, since, step_bare_keyed_import as step_bare_import, vm_hwm

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-06-30T10:00:00+08:00"
MB = 1024 * 1024
SEED_CLIENTS = 1_000_000
# 20 branches: the synthetic book's three cities, each split into several branches.
SPLIT = {"TY": 7, "BJ": 7, "SH": 6}
CITY = {"TY": "太原", "BJ": "北京", "SH": "上海"}
BRANCHES = {f"{city}{i:02d}": f"{CITY[city]}第{i}营业部" for city, k in SPLIT.items() for i in range(1, k + 1)}
CORE_POLICIES = ("classification.toml", "questionnaire.toml")


def log(line):
    print(line, file=sys.stderr, flush=True)


# -- the book (not timed) -----------------------------------------------------------------

def write_seed_csv(path, n):
    """The first ``n`` (≤ 1M) clients from brokercrm.demo.synth, spread over the 20 branches."""
    from brokercrm.demo import synth

    today = dt.datetime.fromisoformat(NOW).date()
    with synth.ClientWriter(path) as w:
        for i, row in enumerate(synth.clients(n, today=today)):
            city = row["branch_id"][:2]
            w.write({**row, "branch_id": f"{city}{i % SPLIT[city] + 1:02d}"})
    return w.rows


def write_csv(seed_path, path, n, seed_rows):
    """N clients: the seed book, then copies of it with new client ids and varied assets."""
    with open(seed_path, newline="", encoding="utf-8") as src, open(path, "w", newline="", encoding="utf-8") as out:
        reader, writer = csv.reader(src), csv.writer(out)
        header = next(reader)
        writer.writerow(header)
        cid, assets = header.index("client_id"), header.index("total_assets")
        rows = 0
        for k in range((n + seed_rows - 1) // seed_rows):
            src.seek(0)
            next(reader)
            for row in reader:
                if rows == n:
                    break
                if k:
                    number = int(row[cid][4:])
                    row[cid] = f"{row[cid][:4]}{k * seed_rows + number:08d}"
                    if row[assets]:
                        row[assets] = f"{float(row[assets]) * (0.5 + (number * 7 + k * 13) % 100 / 100):.2f}"
                writer.writerow(row)
                rows += 1
    return rows


def fresh_db(path, policies=True):
    from brokercrm.kernel.db import connect
    from brokercrm.policy.sets import default_policy_dir, publish_defaults

    for p in (path, f"{path}-wal", f"{path}-shm", f"{path}.trust-root", f"{path}.bench.key"):
        if os.path.exists(p):
            os.unlink(p)
    db = connect(path)
    actor = actor_for(db, path)
    if policies:
        with tempfile.TemporaryDirectory() as tmp:
            for name in CORE_POLICIES:
                shutil.copy(default_policy_dir() / name, tmp)
            publish_defaults(db, actor, directory=tmp)
    for code, name in BRANCHES.items():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, NOW])
    db.conn.commit()
    return db


def step_book(db_path):
    """Assessments for 85% and the service and suitability rows a firm has, by SQL (not timed)."""
    from brokercrm.kernel.db import connect

    db = connect(db_path)
    h = "((c.id * 2654435761) % 1000)"   # a fixed spread: the same book every run
    statements = [
        ("assessments", f"""INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version,
                                                  answered_at, expires_at, imported_at)
            SELECT c.client_id, '{{}}', 20 + {h} % 80, 'C' || (1 + {h} % 5), ({h} % 50 = 0), 1,
                   date('2026-06-30', '-' || ({h} * 7 % 760) || ' days') || ' 10:00:00',
                   date('2026-06-30', '-' || ({h} * 7 % 760) || ' days', '+2 years') || ' 10:00:00', '{NOW}'
            FROM clients c WHERE {h} < 850"""),
        ("tasks", f"""INSERT INTO tasks (client_id, branch_id, kind, title, origin, created_at, due_at, status, done_at)
            SELECT c.client_id, c.branch_id, 'callback', '开户回访', 'touchpoint:account_opened', '{NOW}',
                   datetime('2026-06-30', '-' || ({h} % 60) || ' days', '+08:00'),
                   CASE WHEN {h} % 3 = 0 THEN 'open' ELSE 'done' END,
                   datetime('2026-06-30', '-' || ({h} % 50) || ' days')
            FROM clients c WHERE {h} % 5 = 1"""),
        # Free text with and without numbers in it: the scrubber's work at scale.
        ("interactions", f"""INSERT INTO interactions (client_id, branch_id, kind, channel, note, at, recorded_at, source)
            SELECT c.client_id, c.branch_id, 'call', 'phone',
                   CASE WHEN {h} % 10 = 0 THEN '客户留了新号码 1' || (3 + {h} % 7) || printf('%09d', c.id)
                        ELSE '电话回访, 客户无异议' END, '{NOW}', '{NOW}', 'bench'
            FROM clients c WHERE {h} % 10 < 3"""),
        ("complaints", f"""INSERT INTO complaints (client_id, branch_id, summary, state, received_at, due_at, updated_at)
            SELECT c.client_id, c.branch_id, '对服务不满意',
                   CASE {h} % 4 WHEN 0 THEN 'received' WHEN 1 THEN 'investigating'
                        WHEN 2 THEN 'proposed' ELSE 'resolved' END, '{NOW}', '2026-07-02T10:00:00+08:00', '{NOW}'
            FROM clients c WHERE {h} % 200 = 3"""),
        ("products", """INSERT INTO products (code, name, type, risk_level, risk_rank, level_source, imported_at, updated_at)
            VALUES ('F001', '成长混合', 'flexible', 'R4', 4, 'file', '2026', '2026'),
                   ('F002', '科技股票', 'equity', 'R5', 5, 'file', '2026', '2026')"""),
    ]
    out = {}
    for name, sql in statements:
        with db.conn:
            out[name] = db.conn.execute(sql).rowcount
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return out


def step_book_after_classify(db_path):
    """Suitability exceptions need the classification: 5% of clients hold a product above their level."""
    from brokercrm.kernel.db import connect

    db = connect(db_path)
    with db.conn:
        rows = db.conn.execute(
            """INSERT INTO suitability_exceptions (run_id, client_id, branch_id, product_code, product_risk,
                   client_level, investor_type, verdict, reasons, confirmation_id, amount)
            SELECT 1, c.client_id, c.branch_id, 'F002', 'R5', k.risk_level, 'ordinary',
                   CASE WHEN k.lowest_category THEN 'forbidden' ELSE 'mismatch' END, '["产品风险高于客户等级"]',
                   CASE WHEN c.id % 3 = 0 THEN 1 END, 10000
            FROM clients c JOIN classifications k ON k.client_key = c.id WHERE c.id % 20 = 9""").rowcount
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"suitability_exceptions": rows}


# -- timed steps, each in its own child process ------------------------------------------

def step_import(db_path, csv_path):
    from brokercrm.imports import import_clients

    db = fresh_db(db_path)
    actor = actor_for(db, db_path)
    started = clock()
    result = import_clients(db, csv_path, actor=actor)
    out = {**since(started), "rows": result.inserted}
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return out


def step_bare_classify(db_path, repeats="3"):
    from brokercrm.classify.compile import Compiled
    from brokercrm.kernel.db import connect
    from brokercrm.kernel.timeutil import today
    from brokercrm.policy.sets import current

    db = connect(db_path)
    conn = db.conn
    sql, params = Compiled(current(db), today()).class_expr()
    times = []
    for _ in range(int(repeats)):
        conn.execute("DROP TABLE IF EXISTS bench_grid")
        conn.execute("CREATE TABLE bench_grid (client_id TEXT, class TEXT)")
        conn.commit()
        started = clock()
        with conn:
            conn.execute(f"INSERT INTO bench_grid SELECT c.client_id, {sql} FROM clients c", params)
        times.append(since(started))
    conn.execute("DROP TABLE bench_grid")
    conn.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    median = sorted(times, key=lambda t: t["seconds"])[len(times) // 2]
    return {**median, "all": [round(t["seconds"], 3) for t in times]}


def step_classify(db_path):
    from brokercrm.classify.engine import classify
    from brokercrm.kernel.db import connect
    from brokercrm.plugins import load

    db = connect(db_path)
    actor = actor_for(db, db_path)
    started = clock()
    result = classify(db, actor=actor)
    out = {**since(started), "rows": result.scope, "changed": result.changed, "mode": result.mode,
           "examined": result.examined}
    # Plugin discovery on its own (the lead is rewriting it: measured, not changed here).
    started = clock()
    with load():
        pass
    out["plugin_discovery"] = since(started)["seconds"]
    return out


def step_change(db_path):
    """5% of clients' assets move: half ×4, half ×¼ (enough to cross bands)."""
    from brokercrm.kernel.db import connect

    db = connect(db_path)
    with db.conn:
        n = db.conn.execute(
            "UPDATE clients SET total_assets = total_assets * (CASE WHEN id % 40 = 7 THEN 4.0 ELSE 0.25 END),"
            " updated_at = ? WHERE id % 20 = 7", [NOW]).rowcount
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"rows": n}


def warm(path):
    """Read a file once, untimed: a step and its baseline then start from the same page cache.

    At 10M clients the working database is 6 GB; whichever of the two read it first
    from disk paid for both (a bare limit of 116 s against 69 s warm, same book).
    """
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def step_bare_publish(db_path, out_dir):
    """The bare limit of publishing: SQLite writing two copies of the working database (VACUUM INTO).

    Head office and the branches together hold every row about twice. Each copy
    is timed; the first is deleted before the second (untimed) to spare the disk.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    warm(db_path)
    conn = sqlite3.connect(db_path)
    total = {"seconds": 0.0, "cpu": 0.0}
    target = out_dir / "bare-copy.db"
    for _ in range(2):
        target.unlink(missing_ok=True)
        started = clock()
        conn.execute("VACUUM INTO ?", [str(target)])
        took = since(started)
        total = {k: total[k] + took[k] for k in total}
        size = target.stat().st_size
        target.unlink()
    conn.close()
    return {**total, "bytes": size}


def step_publish(db_path, out_dir):
    from brokercrm.kernel.db import connect
    from brokercrm.site.publish import publish

    db = connect(db_path)
    actor = actor_for(db, db_path)
    db.close()
    warm(db_path)
    started = clock()
    result = publish(db_path, out_dir, actor=actor)
    out = since(started)
    sizes = {name: (Path(out_dir) / e["file"]).stat().st_size for name, e in result.databases.items()}
    return {**out, "rows": result.databases["hq"]["tables"].get("clients", 0), "snapshots": len(result.databases),
            "bytes": sum(sizes.values()), "hq_bytes": sizes.get("hq", 0), "steps": result.steps,
            "phases": result.phases}


def step_index_cost(site_dir, columns):
    """CPU of building each named index (``table.column,…``) as publish does, in every snapshot of the set.

    Each index is dropped and built again with its own SQL, on a connection set up like
    publish's (``files.open_snapshot``: capped cache, sorts spilling to files); the set is
    left as it was.
    """
    from brokercrm.site.files import open_snapshot

    files = sorted((Path(site_dir) / "current").glob("*.db"))
    out = {}
    for wanted in columns.split(","):
        table, column = wanted.split(".")
        cost = {"hq": 0.0, "branches": 0.0, "files": 0}
        for path in files:
            conn = open_snapshot(path, new=False)
            try:
                found = [(name, sql) for name, sql in conn.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                    [table]) if conn.execute(f"PRAGMA index_info([{name}])").fetchone()[2] == column]
                for name, sql in found:
                    conn.execute(f"DROP INDEX [{name}]")
                    t = time.thread_time()
                    conn.execute(sql)
                    cost["hq" if path.stem == "hq" else "branches"] += time.thread_time() - t
                    cost["files"] += 1
            finally:
                conn.close()
        out[wanted] = cost
    return {"seconds": 0.0, "cpu": 0.0, "indexes": out}


STEPS = {
    "index_cost": step_index_cost,
    "book": step_book, "book_after_classify": step_book_after_classify, "bare_import": step_bare_import,
    "import": step_import, "bare_classify": step_bare_classify, "classify": step_classify,
    "change": step_change, "bare_publish": step_bare_publish, "publish": step_publish,
}


def child_main(step, paths):
    import resource

    out = STEPS[step](*paths)
    out["own_rss"] = vm_hwm()
    out["child_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    out["peak_rss"] = out["own_rss"] + out["child_rss"]
    print(json.dumps(out))


def run_step(name, *paths):
    env = {**os.environ, "BROKERCRM_NOW": NOW}
    proc = subprocess.run([sys.executable, __file__, "--step", name, *map(str, paths)],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"step {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cli_classify(db_path):
    """The whole nightly command as an operator's scheduler runs it: process start included."""
    env = {**os.environ, "BROKERCRM_NOW": NOW}
    started = clock()
    command = Path(sys.executable).with_name("brokercrm")
    # The bench's operator (benchtrust) with its key beside the database.
    proc = subprocess.run([str(command), "classify", "--db", str(db_path), "--json", "--as", "bench",
                           "--key", f"{db_path}.bench.key"], capture_output=True, text=True, env=env)
    out = since(started)
    if proc.returncode:
        sys.exit(f"brokercrm classify failed:\n{proc.stderr}")
    result = json.loads(proc.stdout)
    return {**out, "rows": result["clients"], "changed": result["changed"], "mode": result["mode"],
            "inside": result["seconds"]}


def run_cli_start():
    """The fixed cost of any `brokercrm` command: process start, importing the CLI, plugin commands."""
    command = Path(sys.executable).with_name("brokercrm")
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([str(command), "--version"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return sorted(times)[1]


# -- the site's pages -------------------------------------------------------------------

def page_urls(site_dir, database):
    """Every page a user of ``database`` is offered: tables, offered filters and sorts, views."""
    from brokercrm.site.serve import build_metadata

    meta = build_metadata(site_dir)
    db_meta = meta["databases"][database]
    access = meta["plugins"]["brokercrm-site"]["databases"][database]
    urls = [f"/{database}"]
    for table in sorted(db_meta["tables"]):
        urls.append(f"/{database}/{table}")
        big = access.get("big", {}).get(table)
        if big:
            urls += [f"/{database}/{table}?{col}=__FIRST__" for col in big["filter"]]
            urls += [f"/{database}/{table}?_sort_desc={col}" for col in big["sort"]]
            urls += [f"/{database}/{table}?_sort={col}" for col in big["sort"]]
    urls += [f"/{database}/{q}" for q in db_meta["queries"]]
    return urls


def resolve(client, url):
    if "__FIRST__" not in url:
        return url
    from urllib.parse import quote

    path, rest = url.split("?", 1)
    col = rest.split("=", 1)[0]
    data = client.get(f"{path}.json?_size=1&_shape=objects").json()
    value = data["rows"][0][col] if data.get("rows") else ""
    return f"{path}?{col}={quote(str(value))}"


def server_cpu_ns(pid):
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure_site(site_dir, repeat, branch):
    sys.path.insert(0, str(ROOT / "tests"))
    from site_support import Server, sign_in, site_env

    from brokercrm.site import auth

    env = site_env()
    # The bench's own users: head office and one branch.
    env.pop("BROKERCRM_SITE_USERS_FILE", None)
    env["BROKERCRM_SITE_USERS"] = "\n".join([auth.user_entry("hq", "headoffice", None, "bench-pass"),
                                             auth.user_entry("br", "branch", branch, "bench-pass")])
    server = Server(site_dir, env)
    rows = []
    try:
        for user, database in (("hq", "hq"), ("br", branch)):
            client, response = sign_in(server.url, user, "bench-pass")
            if response.status_code != 302:
                sys.exit(f"sign-in as {user} failed: {response.status_code}")
            for url in ["/"] + page_urls(site_dir, database):
                url = resolve(client, url)
                client.get(url)  # warm-up
                walls, cpus, status = [], [], None
                for _ in range(repeat):
                    c0 = server_cpu_ns(server.proc.pid)
                    t = time.perf_counter()
                    r = client.get(url)
                    walls.append((time.perf_counter() - t) * 1000)
                    cpus.append((server_cpu_ns(server.proc.pid) - c0) / 1e6)
                    status = r.status_code
                rows.append({"user": user, "url": url, "status": status, "wall_p95": pct(walls, 0.95),
                             "cpu_p95": pct(cpus, 0.95), "wall_p50": statistics.median(walls)})
            client.close()
    finally:
        server.close()
    return rows


# -- the driver ---------------------------------------------------------------------------

def measure(n, seed_csv, seed_rows, work, only, repeat):
    d = work / f"n{n}"
    d.mkdir(parents=True, exist_ok=True)
    csv_path, bare_db, db, site_dir = d / "clients.csv", d / "bare.db", d / "crm.db", d / "site"
    r = {"n": n}

    def show(key):
        x = r[key]
        extra = f"  peak RSS {x['peak_rss'] / MB:6.1f} MB" if "peak_rss" in x else ""
        if x.get("mode"):
            extra += f"  {x['mode']}: changed {x['changed']:,}"
        log(f"[{n:,}] {key:<18} {x['seconds']:8.2f} s (CPU {x['cpu']:7.2f} s){extra}")

    if "import" in only or not db.exists():
        t = time.perf_counter()
        rows = write_csv(seed_csv, csv_path, n, seed_rows)
        log(f"[{n:,}] wrote {rows:,} clients ({csv_path.stat().st_size / MB:.0f} MB CSV) in "
            f"{time.perf_counter() - t:.0f} s (not timed)")
        r["bare_import"] = run_step("bare_import", bare_db, csv_path)
        show("bare_import")
        bare_db.unlink(missing_ok=True)
        Path(f"{bare_db}-wal").unlink(missing_ok=True)
        r["import"] = run_step("import", db, csv_path)
        show("import")
        csv_path.unlink()
        t = time.perf_counter()
        made = run_step("book", db)
        log(f"[{n:,}] book rows by SQL (not timed, {time.perf_counter() - t:.0f} s): "
            + ", ".join(f"{k} {v:,}" for k, v in made.items() if isinstance(v, int) and k != "own_rss"
                        and not k.endswith("rss")))
    if "classify" in only:
        r["bare_first"] = run_step("bare_classify", db)
        show("bare_first")
        r["classify_first"] = run_step("classify", db)
        show("classify_first")
        run_step("change", db)
        r["bare_nightly"] = run_step("bare_classify", db)
        show("bare_nightly")
        r["classify_nightly"] = run_step("classify", db)
        show("classify_nightly")
        # The same nightly run again as the whole command: change the same share, run the CLI.
        run_step("change", db)
        r["nightly_cli"] = run_cli_classify(db)
        show("nightly_cli")
        r["cli_start"] = run_cli_start()
        log(f"[{n:,}] fixed costs (info): `brokercrm --version` {r['cli_start']:.2f} s (process start, CLI "
            f"imports, plugin commands); plugin discovery {r['classify_nightly'].get('plugin_discovery', 0):.3f} s")
        run_step("book_after_classify", db)
    if "publish" in only:
        r["bare_publish"] = run_step("bare_publish", db, d)
        show("bare_publish")
        r["publish"] = run_step("publish", db, site_dir)
        show("publish")
        per_phase = {}
        for step, seconds in r["publish"]["steps"].items():
            who = "head office" if step.startswith("hq ") else "branches"
            what = step.split(" ", 1)[1].split(":")[0] if who == "head office" else step.split(" ", 1)[1].split(":")[0]
            per_phase[(who, what)] = per_phase.get((who, what), 0) + seconds
        top = sorted(per_phase.items(), key=lambda kv: -kv[1])[:8]
        log(f"[{n:,}] publish CPU by thread work (s): " + ", ".join(f"{w} {t} {v:.1f}" for (w, t), v in top))
        log(f"[{n:,}] publish wall by phase (s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in r["publish"].get("phases", {}).items()))
        log(f"[{n:,}] snapshots {r['publish']['bytes'] / MB:,.0f} MB ({r['publish']['snapshots']} files, "
            f"head office {r['publish']['hq_bytes'] / MB:,.0f} MB); working database "
            f"{r['bare_publish']['bytes'] / MB:,.0f} MB")
    if "index_cost" in only:
        # The indexes that make the staff's filters and sorts offered on big tables (issue 12).
        wanted = "clients.total_assets,clients.occupation,classifications.risk_level,classifications.habit"
        r["index_cost"] = run_step("index_cost", site_dir, wanted)["indexes"]
        for name, cost in r["index_cost"].items():
            log(f"[{n:,}] index {name}: CPU head office {cost['hq']:.2f} s, branches {cost['branches']:.2f} s "
                f"({cost['files']} files)")
    if "site" in only:
        branch = sorted(BRANCHES)[0]
        r["pages"] = measure_site(site_dir, repeat, branch)
        worst = max(r["pages"], key=lambda p: p["cpu_p95"])
        worst_wall = max(r["pages"], key=lambda p: p["wall_p95"])
        bad = [p for p in r["pages"] if p["status"] != 200]
        log(f"[{n:,}] site: {len(r['pages'])} pages; worst server-CPU p95 {worst['cpu_p95']:.1f} ms "
            f"({worst['url']}); worst wall p95 {worst_wall['wall_p95']:.1f} ms ({worst_wall['url']}); "
            f"not 200: {[(p['url'], p['status']) for p in bad]}")
    return r


def report(results):
    """Wall-clock ratios decide PASS/FAIL (the issue's measure); CPU ratios beside them show how
    much of a figure is the shared machine's load rather than the code."""
    small, large = results[0], results[-1]
    rows = []

    def ratio(num, den):
        wall = num["seconds"] / den["seconds"]
        cpu = num["cpu"] / den["cpu"] if den.get("cpu") else float("nan")
        return wall, cpu

    def add(label, value, cpu, target, ok):
        rows.append((label, value, cpu, target, "PASS" if ok else "FAIL"))

    for r in results:
        n = f"{r['n']:,}"
        if "import" in r:
            w, c = ratio(r["bare_import"], r["import"])
            add(f"[{n}] import throughput vs bare ({r['import']['seconds']:.1f} s vs {r['bare_import']['seconds']:.1f} s)",
                f"{w:.2f}×", f"{c:.2f}×", "≥ 0.50×", w >= 0.5)
            add(f"[{n}] import peak RSS", f"{r['import']['peak_rss'] / MB:.0f} MB", "", "≤ 200 MB",
                r["import"]["peak_rss"] <= 200 * MB)
        if "classify_first" in r:
            w, c = ratio(r["classify_first"], r["bare_first"])
            add(f"[{n}] classify first vs bare ({r['classify_first']['seconds']:.2f} s vs "
                f"{r['bare_first']['seconds']:.2f} s)", f"{w:.2f}×", f"{c:.2f}×", "(info)", True)
            w, c = ratio(r["classify_nightly"], r["bare_nightly"])
            add(f"[{n}] classify nightly vs bare ({r['classify_nightly']['seconds']:.2f} s vs "
                f"{r['bare_nightly']['seconds']:.2f} s)", f"{w:.2f}×", f"{c:.2f}×", "≤ 2×", w <= 2)
            w, c = ratio(r["nightly_cli"], r["bare_nightly"])
            add(f"[{n}] `brokercrm classify` nightly, whole process, vs bare ({r['nightly_cli']['seconds']:.2f} s; "
                f"run itself {r['nightly_cli']['inside']:.2f} s)", f"{w:.2f}×", f"{c:.2f}×", "(info)", True)
            peak = max(r[k]["peak_rss"] for k in ("classify_first", "classify_nightly"))
            add(f"[{n}] classify peak RSS", f"{peak / MB:.0f} MB", "", "≤ 200 MB", peak <= 200 * MB)
        if "publish" in r:
            w, c = ratio(r["publish"], r["bare_publish"])
            add(f"[{n}] publish vs bare limit ({r['publish']['seconds']:.1f} s vs {r['bare_publish']['seconds']:.1f} s)",
                f"{w:.2f}×", f"{c:.2f}×", "≤ 3×", w <= 3)
            add(f"[{n}] publish peak RSS", f"{r['publish']['peak_rss'] / MB:.0f} MB", "", "≤ 200 MB",
                r["publish"]["peak_rss"] <= 200 * MB)
        if "pages" in r:
            worst = max(p["cpu_p95"] for p in r["pages"])
            worst_wall = max(p["wall_p95"] for p in r["pages"])
            ok = all(p["status"] == 200 for p in r["pages"])
            add(f"[{n}] site: {len(r['pages'])} pages, worst p95 server CPU / wall",
                f"{worst:.0f} / {worst_wall:.0f} ms", "", "≤ 100 ms", ok and worst <= 100)
    if len(results) > 1:
        scale = small["n"] / large["n"]
        for key, bare in (("import", "bare_import"), ("classify_first", "bare_first"),
                          ("classify_nightly", "bare_nightly"), ("publish", "bare_publish")):
            if key in small and key in large:
                w, c = ratio(large[key], small[key])
                add(f"cost per client {key}: {large['n']:,} over {small['n']:,}", f"{w * scale:.2f}×",
                    f"{c * scale:.2f}×", "≤ 1.2×", w * scale <= 1.2)
                w, c = ratio(large[bare], small[bare])
                add(f"  (info) the same for its bare baseline", f"{w * scale:.2f}×", f"{c * scale:.2f}×", "", True)
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':<{width}}  {'wall':>12}  {'CPU':>7}  {'target':<9} result", "-" * (width + 45)]
    lines += [f"{a:<{width}}  {b:>12}  {c:>7}  {d:<9} {e}" for a, b, c, d, e in rows]
    return "\n".join(lines), all(r[4] != "FAIL" for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000", help="client counts, comma-separated")
    ap.add_argument("--only", default="import,classify,publish,site",
                    help="steps to run (import,classify,publish,index_cost,site); later steps reuse a kept book")
    ap.add_argument("--repeat", type=int, default=20, help="requests per page")
    ap.add_argument("--workdir", default=None, help="where the databases go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the databases and snapshots")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the raw results here")
    ap.add_argument("--step", default=None, help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        return child_main(args.step, args.paths)
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    only = set(args.only.split(","))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="brokercrm-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["BROKERCRM_NOW"] = NOW
    log(f"brokercrm scale benchmark · {platform.python_implementation()} {platform.python_version()} · "
        f"SQLite {sqlite3.sqlite_version} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f} · "
        f"sizes {', '.join(f'{n:,}' for n in sizes)} · workdir {work}")
    started = time.perf_counter()
    results = []
    try:
        seed_rows = min(max(sizes), SEED_CLIENTS)
        seed_csv = work / f"seed-{seed_rows}.csv"
        if "import" in only and not seed_csv.exists():
            t = time.perf_counter()
            write_seed_csv(seed_csv, seed_rows)
            log(f"synthetic seed book: {seed_rows:,} clients in {time.perf_counter() - t:.0f} s (not timed)")
        for n in sizes:
            results.append(measure(n, seed_csv, seed_rows, work, only, args.repeat))
            if not args.keep and n != sizes[-1]:
                shutil.rmtree(work / f"n{n}", ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    table, ok = report(results)
    print(table)
    print(f"\n{'ALL PASS' if ok else 'SOME FAIL'} · load {os.getloadavg()[0]:.1f} · total "
          f"{time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
