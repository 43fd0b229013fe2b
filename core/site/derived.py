"""Published tables that are computed, not copied: the answer of the library that owns the rule.

A spec with ``derived`` (the working tables it reads) is built here, in the
head-office snapshot, while the working database is attached as ``src`` at the
publish's pinned moment; branch snapshots then copy their rows like any other
table's (every row carries ``branch_id``).

- ``service_packages``: the packages of the policy in force (name, services,
  actions with their kind and period), one row each;
- ``client_service_packages``: each client's package, who chose it when not
  head office, and for each of its actions the last interaction of that kind
  and the next due date, by ``brokercrm.service.package_book`` (head office's
  rules as one SQL statement; branches with an approved plugin that chooses
  packages client by client through ``packages.for_client``). Codes, dates
  and policy text: nothing personal passes through either.
"""

import time

from ..kernel.db import connect
from ..service import package_book, packages
from .specs import SMALL_TABLE_ROWS
from .tables import Built, index_plan

CHUNK = 1000  # rows per executemany of the plugin path: bounded memory whatever the branch's size


def service_packages(conn, spec, src, day, steps):
    """Build ``client_service_packages`` in ``main`` from ``src``; returns its Built."""
    t = time.thread_time()
    db = connect(src, migrate=False, create=False)
    try:
        doc, _ = packages.load(db)
        by_plugin = package_book.plugin_branches(db)
        built = Built(spec.table, "branch", [(c, "TEXT") for c in package_book.COLUMNS], ["client_id"], [],
                      "branch_id", [], spec=spec)
        built.fks = [("code", "service_packages", "code")]
        conn.execute(built.create_sql())
        select, params = package_book.book_query(doc, day, schema="src", exclude_branches=by_plugin)
        columns = ", ".join(f"[{c}]" for c in package_book.COLUMNS)
        built.rows = conn.execute(f"INSERT INTO main.[{spec.table}] ({columns}) {select}", params).rowcount
        insert = f"INSERT INTO main.[{spec.table}] ({columns}) VALUES ({', '.join('?' for _ in package_book.COLUMNS)})"
        chunk = []
        for row in package_book.plugin_rows(db, by_plugin):
            chunk.append(row)
            if len(chunk) >= CHUNK:
                conn.executemany(insert, chunk)
                built.rows += len(chunk)
                chunk = []
        conn.executemany(insert, chunk)
        built.rows += len(chunk)
    finally:
        db.close()
    facets = spec.facets if built.rows <= SMALL_TABLE_ROWS else ()
    built.indexes = index_plan(built, spec.indexes, facets, spec.sort_desc, spec.sortable)
    steps[f"hq {spec.table}: computed"] = time.thread_time() - t
    return built


def package_definitions(conn, spec, src, day, steps):
    """``service_packages``: each package of the policy in force (name, services, actions), a few rows."""
    db = connect(src, migrate=False, create=False)
    try:
        doc, _ = packages.load(db)
    finally:
        db.close()
    types = {"position": "INTEGER"}
    built = Built(spec.table, "shared", [(c, types.get(c, "TEXT")) for c in package_book.PACKAGE_COLUMNS], ["code"],
                  [], None, [], spec=spec)
    conn.execute(built.create_sql())
    rows = package_book.package_rows(doc)
    conn.executemany(f"INSERT INTO main.[{spec.table}] VALUES ({', '.join('?' for _ in package_book.PACKAGE_COLUMNS)})",
                     rows)
    built.rows = len(rows)
    return built


BUILDERS = {"service_packages": package_definitions, "client_service_packages": service_packages}


def build(conn, specs, src, day, steps):
    """Every spec of ``specs`` (their working tables present: ``head_office.plan_groups``); returns {table: Built}.

    Indexes are not yet built.
    """
    return {s.table: BUILDERS[s.table](conn, s, src, day, steps) for s in specs}
