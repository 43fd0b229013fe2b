"""Branch snapshots, read from the finished head-office snapshot.

Each branch's rows of every scoped table are one indexed ``WHERE branch_id = ?``
away in ``hq.db`` (every scoped row there carries its branch), already masked:
nothing is masked or looked up twice. Shared tables keep only the rows their
spec's ``branch_rows`` allows, and columns listed in ``drop_in_branch`` stay
behind, so nothing firm-wide reaches a branch.

The summaries (``specs.SUMMARIES``) are computed here, from the
branch's own rows: every summary row belongs to one branch, so head office's
summary is the union of the branches' (``head_office.add_summaries``), and the
big sorts behind them run on small tables, on every core.

Branches are built side by side in threads (sqlite3 releases the GIL inside
SQLite), one connection each with a small page cache.
"""

import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor

from .files import attach, finish_snapshot, open_snapshot, readonly_file_uri
from .specs import SUMMARIES
from .tables import Built, create_indexes, from_head_office, index_plan


def summary_params(stamp):
    today = stamp.date()
    return {"now": stamp.isoformat(timespec="seconds"), "today": today.isoformat(),
            "in30": (today + dt.timedelta(days=31)).isoformat()}


def build_summaries(conn, tables, params, in_branch, steps, label):
    """Every summary whose tables are present, computed in ``main``; returns {table: Built}."""
    out = {}
    for summary in SUMMARIES:
        if not all(t in tables for t in summary.requires):
            continue
        t = time.thread_time()
        conn.execute(f"CREATE TABLE main.[{summary.table}] AS {summary.sql}", params).close()
        columns = [(r[1], r[2]) for r in conn.execute(f"PRAGMA main.table_info([{summary.table}])")]
        built = Built(summary.table, "branch", columns, [], [], "branch_id", [], summary=True, spec=summary)
        built.indexes = index_plan(built, summary.indexes)
        create_indexes(conn, built, in_branch=in_branch)
        built.rows = conn.execute(f"SELECT count(*) FROM main.[{summary.table}]").fetchone()[0]
        out[summary.table] = built
        steps[f"{label} {summary.table}"] = time.thread_time() - t
    return out


def build_branch(hq_path, path, code, published, info, params, steps):
    """One branch's snapshot at ``path``; returns (manifest entry, {summary table: Built})."""
    conn = open_snapshot(path)
    try:
        attach(conn, readonly_file_uri(hq_path), "hq")
        conn.execute("BEGIN")
        counts = {}
        for built in published.values():
            t = time.thread_time()
            rows = from_head_office(conn, built, code)
            if rows is None:
                continue
            counts[built.table] = rows
            steps[f"{code} {built.table}: copy, indexes"] = time.thread_time() - t
        summaries = build_summaries(conn, counts, params, True, steps, code)
        counts.update({s.table: s.rows for s in summaries.values()})
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE hq")
        conn.execute("BEGIN")
        t = time.thread_time()
        entry = finish_snapshot(conn, {**info, "scope": code, "branches": code}, counts)
        steps[f"{code} analyze"] = time.thread_time() - t
    finally:
        conn.close()
    return entry, summaries


def build_all(hq_path, build_dir, branches, published, info, params, steps, workers=None):
    """Every branch's snapshot, ``workers`` at a time; returns ({code: entry}, {summary table: Built})."""
    workers = workers or max(1, min(len(branches), os.cpu_count() or 1))
    entries, summaries = {}, {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {code: pool.submit(build_branch, hq_path, build_dir / f"{code}.db", code, published, info,
                                     params, steps) for code in branches}
        for code, future in futures.items():
            entries[code], built = future.result()
            summaries = summaries or built
    return entries, summaries
