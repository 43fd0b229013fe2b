#!/usr/bin/env python3
"""Experiment (issue 16 item 1): the head-office snapshot built FROM a ``VACUUM INTO`` copy.

    .venv/bin/python bench/proto_publish_copy.py WORKING.db OUT_DIR

Not the publish: a measurement of the design the issue suggests, on a kept bench
book (``bench_scale.py --keep``). Copy the working database with ``VACUUM INTO``
(rows and index entries copied undecoded), then in the copy: drop triggers,
views, the working indexes and every table not published; mask personal
columns and scrub free text in place (``UPDATE`` of those columns only, with
the same SQL expressions as ``site.tables.column_expr``); give client-scoped
tables their ``branch_id``; build the site's indexes. Prints the CPU of each
stage of this thread, to set beside the present head-office phase and two
``VACUUM INTO`` copies (the bare limit) of the same book.

What it leaves out (a real design would need them): ``clients.id`` (the working
integer key) cannot be dropped, nor the snapshot re-keyed by ``client_id``;
``DROP COLUMN`` of other never-published columns is timed where SQLite allows it.
"""

import json
import sqlite3
import sys
import time
from pathlib import Path

from brokercrm.kernel.masking import register_functions
from brokercrm.site import specs as publish_specs
from brokercrm.site.specs import NEVER
from brokercrm.site.tables import Built, column_expr, create_indexes, index_plan


def main(src, out_dir):
    out = Path(out_dir) / "proto-hq.db"
    out.unlink(missing_ok=True)
    costs = {}

    def stage(name, started):
        costs[name] = costs.get(name, 0.0) + time.thread_time() - started

    source = sqlite3.connect(src)
    t = time.thread_time()
    source.execute("VACUUM INTO ?", [str(out)])
    stage("VACUUM INTO (one copy)", t)
    source.close()

    conn = sqlite3.connect(out, isolation_level=None)
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -12288", "temp_store = FILE",
                   "locking_mode = EXCLUSIVE", "foreign_keys = OFF"):
        conn.execute(f"PRAGMA {pragma}")
    register_functions(conn)
    conn.execute("BEGIN")
    t = time.thread_time()
    for kind, name in conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view', 'index')"
                                   " AND name NOT LIKE 'sqlite_autoindex%'").fetchall():
        conn.execute(f"DROP {kind.upper()} [{name}]")
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    published = {s.table: s for s in publish_specs.TABLES if s.table in present and not s.derived}
    for name in present - set(published) - {"sqlite_sequence", "sqlite_stat1"}:
        conn.execute(f"DROP TABLE [{name}]")
    stage("drop triggers, views, working indexes, unpublished tables", t)

    for spec in published.values():
        info = conn.execute(f"PRAGMA table_info([{spec.table}])").fetchall()
        t = time.thread_time()
        for col in [r[1] for r in info if r[1] in (set(spec.drop) | NEVER) and not r[5]]:
            try:
                conn.execute(f"ALTER TABLE [{spec.table}] DROP COLUMN [{col}]")
            except sqlite3.OperationalError:
                conn.execute(f"UPDATE [{spec.table}] SET [{col}] = NULL")
        stage("drop never-published columns", t)
        info = conn.execute(f"PRAGMA table_info([{spec.table}])").fetchall()
        t = time.thread_time()
        sets, where, every_row = [], [], False
        for r in info:
            expr = column_expr(spec, r[1], r[2])
            if expr == f"s.[{r[1]}]":
                continue
            sets.append(f"[{r[1]}] = {expr}")
            if expr.startswith("CASE WHEN"):
                # Scrubbed free text: only rows whose text holds a long run of digits change.
                where.append(expr[len("CASE WHEN "):expr.index(" THEN ")])
            else:
                every_row = True  # a masked column: every row changes
        if sets:
            cond = "1" if every_row else " OR ".join(where)
            conn.execute(f"UPDATE [{spec.table}] AS s SET {', '.join(sets)} WHERE {cond}")
        stage("mask and scrub in place (UPDATE)", t)
        t = time.thread_time()
        cols = [r[1] for r in info]
        if spec.scope == "client" and "client_id" in cols and "branch_id" not in cols:
            conn.execute(f"ALTER TABLE [{spec.table}] ADD COLUMN branch_id TEXT")
            conn.execute(f"UPDATE [{spec.table}] AS s SET branch_id = "
                         f"(SELECT c.branch_id FROM clients c WHERE c.client_id = s.client_id)")
        stage("branch_id of client-scoped tables (ADD COLUMN, UPDATE)", t)
    t = time.thread_time()
    for spec in published.values():
        info = conn.execute(f"PRAGMA table_info([{spec.table}])").fetchall()
        columns = [(r[1], r[2]) for r in info]
        pk = list(spec.key) or [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        branch_col = "branch_id" if "branch_id" in dict(columns) else ("branch" if "branch" in dict(columns) else None)
        built = Built(spec.table, spec.scope, columns, pk, [], branch_col, [])
        rows = conn.execute(f"SELECT count(*) FROM [{spec.table}]").fetchone()[0]
        facets = spec.facets if rows <= publish_specs.SMALL_TABLE_ROWS else ()
        built.indexes = index_plan(built, spec.indexes, facets + spec.sortable, spec.sort_desc)
        create_indexes(conn, built)
    stage("site indexes", t)
    conn.execute("COMMIT")
    conn.close()
    costs["total"] = sum(costs.values())
    print(json.dumps({k: round(v, 2) for k, v in costs.items()}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main(*sys.argv[1:3])
