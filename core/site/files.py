"""Snapshot files as publish writes them: opened with bounded memory, finished with statistics.

Every snapshot file is written by one connection with durability off (a
publish that fails is thrown away whole, see ``switch``), 16 KiB pages
(bulk copies, index builds and the site's look-ups all measured faster than
with 4 KiB), a capped page cache per attached schema, and sorts that spill
to temporary files rather than grow in memory: a publish's memory does not
depend on the size of the book.
"""

import sqlite3
from pathlib import Path

from ..kernel.masking import register_functions

PAGE_SIZE = 16384
# Page cache per connection and schema, KiB. SQLite's sorter may use as much again
# before it spills to a temporary file.
CACHE_KIB = 12 * 1024


def open_snapshot(path, *, cache_kib=CACHE_KIB, new=True):
    """A connection writing the snapshot at ``path`` (a new file unless ``new`` is false)."""
    if new:
        Path(path).unlink(missing_ok=True)
    conn = sqlite3.connect(f"file:{path}", uri=True, isolation_level=None, check_same_thread=False)
    pragmas = [f"page_size = {PAGE_SIZE}"] if new else []
    pragmas += ["journal_mode = OFF", "synchronous = OFF", f"cache_size = -{cache_kib}", "temp_store = FILE",
                "main.locking_mode = EXCLUSIVE"]
    for pragma in pragmas:
        conn.execute(f"PRAGMA {pragma}")
    register_functions(conn)
    return conn


def readonly_file_uri(path):
    """A finished snapshot, read-only and immutable: no locks, no change checks."""
    return Path(path).resolve().as_uri() + "?mode=ro&immutable=1"


def attach(conn, uri, schema, cache_kib=CACHE_KIB):
    conn.execute(f"ATTACH DATABASE ? AS {schema}", [uri])
    conn.execute(f"PRAGMA {schema}.cache_size = -{cache_kib}")


def leading_index_columns(conn):
    """{table: sorted first columns of its indexes}: what a filter or sort can use in this file."""
    out = {}
    for table, index in conn.execute("SELECT tbl_name, name FROM main.sqlite_master WHERE type = 'index'"):
        first = conn.execute(f"PRAGMA main.index_info([{index}])").fetchone()
        if first and first[2]:
            out.setdefault(table, set()).add(first[2])
    for (table,) in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'"):
        for row in conn.execute(f"PRAGMA main.table_info([{table}])"):
            if row[5] == 1:
                out.setdefault(table, set()).add(row[1])  # the key (or rowid alias) orders itself
    return {t: sorted(cols) for t, cols in out.items()}


def finish_snapshot(conn, info, counts):
    """Write publish_info, commit, gather statistics; returns the file's manifest entry.

    ``counts``: {table: rows} as built (a table missing from it is counted here).
    """
    conn.execute("CREATE TABLE main.publish_info (key TEXT PRIMARY KEY, value TEXT)")
    conn.executemany("INSERT INTO main.publish_info VALUES (?, ?)", [(k, str(v)) for k, v in info.items()])
    conn.execute("COMMIT")
    # A small sample is enough for the planner to choose between the indexes.
    conn.execute("PRAGMA analysis_limit = 400")
    conn.execute("ANALYZE main")
    tables = sorted(t for (t,) in conn.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
    rows = {t: counts[t] if t in counts else conn.execute(f"SELECT count(*) FROM main.[{t}]").fetchone()[0]
            for t in tables}
    indexed = leading_index_columns(conn)
    return {"tables": rows, "indexed": {t: indexed.get(t, []) for t in tables}}
