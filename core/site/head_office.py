"""The head-office snapshot: every published table, masked, copied by SQLite on two cores.

SQLite writes a file from one connection at a time, so the head-office tables
are built in two files side by side: ``hq.db`` itself and a scratch part file,
each by its own connection and thread (sqlite3 releases the GIL inside SQLite).
Both connections start their read of the working database while a third holds
its write lock for a moment: they see the same moment of the book, whatever is
committed while they copy. The part's tables are then moved into ``hq.db`` by
``INSERT INTO t SELECT * FROM part.t`` into an identical empty table with
identical indexes: SQLite's transfer optimisation copies the rows and index
entries as they are, without decoding or sorting them.

Summaries are computed in each branch snapshot from its own rows
(``branches``); head office gets their union (``add_summaries``).
"""

import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path

from ..kernel.db import readonly_uri
from . import derived, specs as publish_specs
from .files import open_snapshot, readonly_file_uri
from .tables import Built, create_indexes, from_source, index_plan

PART = ".part.db"
MAX_ATTACHED = 8   # SQLite attaches at most 10 databases; the union reads the branches 8 at a time


def pin_readers(src, paths, at_moment=None):
    """A connection writing each of ``paths``, the source attached, all reading the same moment of it.

    Returns (connections, ``at_moment(lock connection)``: what else must be read at that moment).
    """
    lock = sqlite3.connect(str(src), timeout=30, isolation_level=None)
    conns = []
    try:
        # No commit can land while the lock is held: every reader starts at the same moment.
        lock.execute("BEGIN IMMEDIATE")
        seen = at_moment(lock) if at_moment else None
        for path in paths:
            conn = open_snapshot(path)
            conns.append(conn)
            conn.execute("ATTACH DATABASE ? AS src", [readonly_uri(src)])
            conn.execute(f"PRAGMA src.cache_size = {conn.execute('PRAGMA main.cache_size').fetchone()[0]}")
            conn.execute("BEGIN")
            # The first read starts the read transaction: from here on the connection
            # sees the source as it is now, whatever is committed meanwhile (WAL).
            conn.execute("SELECT count(*) FROM src.sqlite_master").fetchone()
    except BaseException:
        for conn in conns:
            conn.close()
        raise
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    return conns, seen


def plan_groups(conn):
    """Split the published tables into two groups of about equal work.

    Returns ([specs written in hq.db, specs written in the part], skipped tables,
    names of every published table). Work is estimated from the source's rows
    and columns (masked personal columns count double); the part also pays for
    the move into ``hq.db``. A ``via`` table goes with its parent (it reads the
    parent's branch from the snapshot being written); the computed tables
    (``derived``) go together, weighed by the clients they are computed for.
    """
    present = {r[0]: r[1] or "" for r in conn.execute("SELECT name, sql FROM src.sqlite_master WHERE type = 'table'")}
    specs = [s for s in publish_specs.TABLES if s.table in present and not s.derived]
    computed = [s for s in publish_specs.TABLES if s.derived and all(t in present for t in s.derived)]
    skipped = [s.table for s in publish_specs.TABLES if s.table not in present and s not in computed]
    cost = {}
    for spec in specs:
        columns = conn.execute(f"PRAGMA src.table_info([{spec.table}])").fetchall()
        cost[spec.table] = _rows(conn, spec.table, present) * _row_cost(spec, [c[1] for c in columns])
    units = [[s] for s in specs]
    if computed:
        units.append(computed)
        clients = publish_specs.BY_NAME["clients"]
        columns = [c[1] for c in conn.execute("PRAGMA src.table_info([clients])")]
        cost[computed[0].table] = _rows(conn, "clients", present) * COMPUTED_SHARE * _row_cost(clients, columns)
    groups, load, group_of = ([], []), [0, 0], {}
    for unit in sorted(units, key=lambda u: -cost[u[0].table]):
        spec = unit[0]
        if spec.scope == "via" and spec.via[0] in group_of:
            g = group_of[spec.via[0]]
        else:
            # The main thread moves the part's tables into hq.db once both are done.
            g = 0 if _wall(load[0] + cost[spec.table], load[1]) <= _wall(load[0], load[1] + cost[spec.table]) else 1
        groups[g].extend(unit)
        group_of.update((s.table, g) for s in unit)
        load[g] += cost[spec.table]
    order = {s.table: i for i, s in enumerate(publish_specs.TABLES)}
    return [sorted(g, key=lambda s: order[s.table]) for g in groups], skipped, set(group_of)


# Work of the computed tables (service packages) per client, as a share of the clients'
# copy (measured at 1M clients: 8.0 s of CPU against 11.4 s).
COMPUTED_SHARE = 0.7
# The move of a part's table into hq.db, as a share of its copy and indexes (measured at
# 1M clients: classifications 2.9 s against 9.0 s, assessments 1.7 s against 5.0 s).
MOVE_SHARE = 0.33


def _wall(in_place, part):
    """The head-office phase's length, in work units, for these loads of the two threads."""
    return max(in_place, part) + MOVE_SHARE * part


def _row_cost(spec, columns):
    """Work per row, in about microseconds of one core (measured at 1M clients, 16 KiB pages)."""
    masked = sum(1 for c in columns if c in spec.mask or c in ("name", "id_number", "phone", "birth_date"))
    indexes = 1 + len(spec.indexes) + len(spec.sortable) + bool(spec.sort_desc) + (spec.scope != "shared") \
        + ("client_id" in columns)
    lookup = spec.scope in ("client", "via")
    return 1.0 + 0.05 * len(columns) + 0.3 * masked + 0.9 * indexes + 1.0 * lookup


def _rows(conn, table, present):
    if table not in present or "WITHOUT ROWID" in present[table].upper():
        return 0
    return conn.execute(f"SELECT max(rowid) FROM src.[{table}]").fetchone()[0] or 0


def build_group(conn, specs, names, src, day, steps, label):
    """Copy (or compute) and index ``specs`` from ``src`` into the connection's file; returns {table: Built}."""
    built_here = {}
    # Computed tables (service packages) read the pinned source like the copies.
    for built in derived.build(conn, [s for s in specs if s.derived], src, day, steps).values():
        create_indexes(conn, built)
        built_here[built.table] = built
    for spec in specs:
        if spec.derived:
            continue
        t = time.thread_time()
        built = from_source(conn, spec, names, built_here)
        t1 = time.thread_time()
        create_indexes(conn, built)
        built_here[spec.table] = built
        steps[f"hq {spec.table}: copy, mask [{label}]"] = t1 - t
        steps[f"hq {spec.table}: indexes [{label}]"] = time.thread_time() - t1
    return built_here


def move_part(conn, part_path, built, steps):
    """Move the part's tables into ``hq.db`` (``main``): twins, filled by the transfer optimisation."""
    conn.execute("ATTACH DATABASE ? AS part", [readonly_file_uri(part_path)])
    for b in built.values():
        t = time.thread_time()
        conn.execute(b.create_sql())
        create_indexes(conn, b)
        # Exactly ``SELECT *`` into an empty twin with the same indexes: anything
        # more (a column list, a WHERE) and SQLite copies and sorts row by row.
        conn.execute(f"INSERT INTO main.[{b.table}] SELECT * FROM part.[{b.table}]")
        steps[f"hq {b.table}: move"] = time.thread_time() - t


def build(src, build_dir, steps, phases=None, at_moment=None, day=None):
    """Build ``hq.db`` in ``build_dir``.

    Returns (published {table: Built} in spec order, skipped, branch codes,
    ``at_moment``'s answer read at the moment the snapshot shows).
    """
    hq_path, part_path = Path(build_dir) / "hq.db", Path(build_dir) / PART
    (main, part), seen = pin_readers(src, [hq_path, part_path], at_moment)
    try:
        groups, skipped, names = plan_groups(main)
        branches = [r[0] for r in main.execute("SELECT code FROM src.branches ORDER BY code")] \
            if "branches" in names else []
        results, errors = [{}, {}], []

        def run(i, conn):
            try:
                results[i] = build_group(conn, groups[i], names, src, day or dt.date.today(), steps,
                                         "part" if i else "in place")
                if i:
                    conn.execute("COMMIT")
            except BaseException as e:  # raised again in the caller's thread
                errors.append(e)

        helper = threading.Thread(target=run, args=(1, part), name="publish-hq-part")
        helper.start()
        run(0, main)
        helper.join()
        if errors:
            raise errors[0]
        part.close()
        # The source stays pinned until the move is committed: nothing more is read from it.
        t = time.perf_counter()
        move_part(main, part_path, results[1], steps)
        if phases is not None:
            phases["head office: move of the part"] = time.perf_counter() - t
        main.execute("COMMIT")
    finally:
        part.close()
        main.close()
        part_path.unlink(missing_ok=True)
    order = {s.table: i for i, s in enumerate(publish_specs.TABLES)}
    published = dict(sorted({**results[0], **results[1]}.items(), key=lambda kv: order[kv[0]]))
    return published, skipped, branches, seen


def add_summaries(conn, summaries, branch_files, steps):
    """Fill head office's summary tables with the union of the branches' (``conn``: hq.db, in a transaction).

    ``summaries``: {table: Built} as a branch made them; ``branch_files``: {code: path}.
    Returns {table: Built} for head office (indexed with its branch column first).
    """
    t = time.thread_time()
    out = {}
    for built in summaries.values():
        hq_built = Built(built.table, "branch", built.columns, [], [], "branch_id", [], summary=True, spec=built.spec)
        hq_built.indexes = index_plan(hq_built, built.spec.indexes)
        conn.execute(hq_built.create_sql())
        out[built.table] = hq_built
    files = list(branch_files.values())
    for start in range(0, len(files), MAX_ATTACHED):
        batch = files[start:start + MAX_ATTACHED]
        conn.execute("COMMIT")  # ATTACH and DETACH happen outside a transaction
        for i, path in enumerate(batch):
            conn.execute(f"ATTACH DATABASE ? AS b{i}", [readonly_file_uri(path)])
        conn.execute("BEGIN")
        for built in out.values():
            for i in range(len(batch)):
                conn.execute(f"INSERT INTO main.[{built.table}] SELECT * FROM b{i}.[{built.table}]")
        conn.execute("COMMIT")
        for i in range(len(batch)):
            conn.execute(f"DETACH DATABASE b{i}")
        conn.execute("BEGIN")
    for built in out.values():
        create_indexes(conn, built)
        built.rows = conn.execute(f"SELECT count(*) FROM main.[{built.table}]").fetchone()[0]
    steps["hq summaries: union of the branches"] = time.thread_time() - t
    return out
