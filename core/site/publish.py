"""Publishing read-only snapshots for the Datasette site.

``publish`` copies the working database into one snapshot for head office
(``hq.db``: every branch) and one per branch (``<CODE>.db``: only that
branch's clients and their records). Personal data is masked inside the
snapshot, so nothing the site serves can reveal it, whatever the URL.

Built with SQL only: the source is ATTACHed read-only and each table is
copied by one ``INSERT … SELECT`` whose masking is SQL (free text goes
through a registered function). Every snapshot pins its read transaction on
the source while publish holds the write lock for a moment, so all snapshots
of a publish show the same moment; then they are built side by side in
threads (sqlite3 releases the GIL inside SQLite). Each file is written under a
temporary name and moved into place with ``os.replace``: a reader sees the
old file or the new one, never half of one.

What is published is declared in ``specs``; tables not listed there
are never published, tables listed but not yet created are skipped.
"""

import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..kernel import masking
from ..kernel.db import connect, db_path as resolve_db_path, readonly_uri
from ..kernel.errors import BrokerCRMError
from .specs import NEVER, SMALL_TABLE_ROWS, SUMMARIES, TABLES
from ..kernel.timeutil import now
from ..trust import audit, authz

HQ = "hq"
MANIFEST = "manifest.json"
INSPECT = "inspect-data.json"

_ID_RE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def scrub(value):
    """Mask ID numbers and mobile numbers that appear inside free text."""
    if not isinstance(value, str) or not value:
        return value
    value = _ID_RE.sub(lambda m: masking.mask_id(m.group(0)), value)
    return _MOBILE_RE.sub(lambda m: masking.mask_phone(m.group(0)), value)


def mask_field(field_name, value):
    """Mask an old/new value by the field it belongs to; other fields are scrubbed."""
    if field_name in masking.PERSONAL:
        return masking.mask_field(field_name, value)
    return scrub(value)


_STAR_RUN = "*" * 24


def _stars(n_sql):
    # n asterisks, none for n <= 0. Short runs (IDs, phones, names) come from a
    # constant; zeroblob(n) is n zero bytes and hex() makes each one "00".
    return (f"CASE WHEN {n_sql} <= {len(_STAR_RUN)} THEN substr('{_STAR_RUN}', 1, {n_sql})"
            f" ELSE replace(hex(zeroblob({n_sql})), '00', '*') END")


# The maskers of brokercrm.kernel.masking written in SQL: no Python call per value, so a
# million clients mask in about a second. tests/site/test_publish.py checks they agree.
SQL_MASKERS = {
    "id": lambda x: (f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} WHEN length({x}) <= 10 THEN {_stars(f'length({x})')}"
                     f" ELSE substr({x}, 1, 6) || {_stars(f'length({x}) - 10')} || substr({x}, -4) END"),
    "phone": lambda x: (f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} WHEN length({x}) < 7 THEN {_stars(f'length({x})')}"
                        f" ELSE substr({x}, 1, 3) || {_stars(f'length({x}) - 7')} || substr({x}, -4) END"),
    "name": lambda x: (f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} WHEN length({x}) = 1 THEN '*'"
                       f" ELSE substr({x}, 1, 1) || {_stars(f'length({x}) - 1')} END"),
    "birth": lambda x: f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} ELSE substr({x}, 1, 4) || '-**-**' END",
    "account": lambda x: (f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} WHEN length({x}) <= 8 THEN {_stars(f'length({x})')}"
                          f" ELSE substr({x}, 1, 4) || {_stars(f'length({x}) - 8')} || substr({x}, -4) END"),
}


def register_functions(conn):
    for kind, fn in masking.KINDS.items():
        conn.create_function(f"bcrm_mask_{kind}", 1, fn, deterministic=True)
    conn.create_function("bcrm_mask_field", 2, mask_field, deterministic=True)
    conn.create_function("bcrm_scrub", 1, scrub, deterministic=True)


@dataclass
class Built:
    """One published table as built in the head-office snapshot."""

    table: str
    scope: str                 # branch | shared | hq (client/via resolve to branch)
    columns: list              # [(name, declared type)]
    pk: list
    fks: list                  # [(column, other table, other column)]
    branch_col: str | None
    indexes: list
    drop_in_branch: tuple = ()
    rows: int = 0
    summary: bool = False
    spec: object = None

    def create_sql(self, columns=None):
        columns = columns or self.columns
        names = {c for c, _ in columns}
        parts = [f"[{c}] {t}".rstrip() for c, t in columns]
        if self.pk and all(p in names for p in self.pk):
            parts.append("PRIMARY KEY (" + ", ".join(f"[{p}]" for p in self.pk) + ")")
        for col, other, other_col in self.fks:
            if col in names:
                parts.append(f"FOREIGN KEY ([{col}]) REFERENCES [{other}]([{other_col}])")
        return f"CREATE TABLE [{self.table}] (\n  " + ",\n  ".join(parts) + "\n)"


@dataclass
class PublishResult:
    out_dir: Path
    published_at: str
    databases: dict = field(default_factory=dict)   # name -> {"file", "scope", "tables": {t: rows}}
    skipped: list = field(default_factory=list)     # spec tables not in the source yet
    seconds: float = 0.0
    steps: dict = field(default_factory=dict)       # step -> CPU seconds of its thread
    audit_head: dict | None = None                  # the audit chain head the snapshots show

    def as_dict(self):
        return {"out_dir": str(self.out_dir), "published_at": self.published_at,
                "databases": self.databases, "skipped": self.skipped, "seconds": round(self.seconds, 3),
                "steps": {k: round(v, 3) for k, v in self.steps.items()}, "audit_head": self.audit_head}


def default_out_dir():
    return Path(os.environ.get("BROKERCRM_SITE_DIR") or "site")


def _is_text(decl):
    decl = (decl or "").upper()
    return decl == "" or any(k in decl for k in ("CHAR", "CLOB", "TEXT"))


def _fast_pragmas(conn):
    # The snapshot is rebuilt from scratch on failure, so durability while
    # building buys nothing; the final os.replace is what makes it visible.
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -262144",
                   "temp_store = MEMORY"):
        conn.execute(f"PRAGMA {pragma}")


def _source_tables(conn, schema="src"):
    return {r[0] for r in conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")}


def _column_expr(spec, col, decl):
    kind = spec.mask.get(col) or (masking.PERSONAL.get(col) if col not in spec.not_personal else None)
    if kind:
        # Values are cast to text first, as the Python maskers do with str().
        return SQL_MASKERS[kind](f"CAST(s.[{col}] AS TEXT)")
    if col in spec.field_mask:
        return f"bcrm_mask_field(s.[{spec.field_mask[col]}], s.[{col}])"
    if _is_text(decl) and "*" not in spec.trusted and col not in spec.trusted:
        # Only text with 11 digits in a row can hold a mobile or an ID number:
        # GLOB (in C) spares the Python call for every other value.
        return (f"CASE WHEN s.[{col}] GLOB '*{'[0-9]' * 11}*' THEN bcrm_scrub(s.[{col}])"
                f" ELSE s.[{col}] END")
    return f"s.[{col}]"


def _build_table(conn, spec, published, code=None):
    """Copy one table from ``src`` into the snapshot; ``code``: only that branch's rows.

    Returns the Built table, or None when the table does not belong in this snapshot.
    """
    info = conn.execute(f"PRAGMA src.table_info([{spec.table}])").fetchall()
    src_cols = {r[1]: r[2] for r in info}
    pk = list(spec.key) or [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    drop = set(spec.drop) | NEVER | (set(spec.drop_in_branch) if code else set())
    columns = [(r[1], r[2]) for r in info if r[1] not in drop]
    exprs = [_column_expr(spec, c, t) for c, t in columns]
    # Branch codes are [A-Z0-9]{2,16} (brokercrm.branches), safe as an SQL literal.
    literal = f"'{code}'" if code else None

    scope, branch_col, branch_expr, where, params = spec.scope, None, None, "", []
    if scope == "branch":
        branch_col = "branch_id" if "branch_id" in src_cols else ("branch" if "branch" in src_cols else None)
        if branch_col is None:
            scope = "client"
        elif code:
            where, params = f" WHERE s.[{branch_col}] = ?", [code]
    if scope == "client":
        if "client_id" in src_cols and "clients" in published:
            branch_expr = literal or "(SELECT c.branch_id FROM src.clients c WHERE c.client_id = s.client_id)"
            if code:
                # temp.branch_clients: this branch's client ids, made once per snapshot (_build_snapshot).
                where = " WHERE s.client_id IN (SELECT client_id FROM temp.branch_clients)"
        else:
            scope = "hq"
    if scope == "via":
        parent, fk, key = spec.via
        if parent in published and fk in src_cols and published[parent].branch_col:
            branch_expr = literal or \
                f"(SELECT p.[{published[parent].branch_col}] FROM main.[{parent}] p WHERE p.[{key}] = s.[{fk}])"
            if code:
                where = f" WHERE s.[{fk}] IN (SELECT p.[{key}] FROM main.[{parent}] p)"
        else:
            scope = "hq"
    if scope == "hq" and code:
        return None
    if branch_expr:
        if "branch_id" in src_cols:
            # A scoped table with its own (possibly empty) branch column: the client's branch wins.
            exprs[[c for c, _ in columns].index("branch_id")] = f"COALESCE({branch_expr}, s.[branch_id])"
        else:
            columns.append(("branch_id", "TEXT"))
            exprs.append(branch_expr)
        branch_col = "branch_id"
        scope = "branch"

    fks = [
        (r[3], r[2], r[4]) for r in conn.execute(f"PRAGMA src.foreign_key_list([{spec.table}])")
        if r[2] in published and r[4]
    ]
    built = Built(spec.table, scope, columns, pk, fks, branch_col, [], spec.drop_in_branch, spec=spec)
    conn.execute(built.create_sql())
    names = ", ".join(f"[{c}]" for c, _ in columns)
    rows = conn.execute(
        f"INSERT INTO main.[{spec.table}] ({names}) SELECT {', '.join(exprs)} FROM src.[{spec.table}] s{where}",
        params).rowcount
    # Facets are offered on small tables only (brokercrm.site.serve), so only they need facet indexes.
    facets = spec.facets if rows <= SMALL_TABLE_ROWS else ()
    built.indexes = _index_plan(built, spec.indexes, facets + spec.sortable, spec.sort_desc)
    return built


def _index_plan(built, extra=(), facets=(), sort_desc=""):
    names = {c for c, _ in built.columns}
    plans = []
    if built.branch_col:
        plans.append((built.branch_col,))
    if "client_id" in names and built.pk != ["client_id"]:
        plans.append(("client_id",))
    plans += [tuple(i) for i in extra] + [(f,) for f in facets]
    if sort_desc:
        plans.append((sort_desc,))
    # Datasette pages order by the primary key after any filter or sort; an
    # index ending in the key answers "WHERE col = ? ORDER BY key LIMIT 51"
    # without sorting. (Rowid tables get that for free: every index ends in rowid.)
    types = dict(built.columns)
    rowid_pk = not built.pk or (len(built.pk) == 1 and (types.get(built.pk[0]) or "").upper() == "INTEGER")
    out = []
    for cols in plans:
        if not all(c in names for c in cols) or list(cols) == built.pk:
            continue
        if not rowid_pk:
            cols = tuple(cols) + tuple(p for p in built.pk if p not in cols)
        if any(o[:len(cols)] == cols for o in out):
            continue
        out = [o for o in out if cols[:len(o)] != o]
        out.append(cols)
    return out


def _create_indexes(conn, built, skip_leading=None):
    for cols in built.indexes:
        if skip_leading and cols[0] == skip_leading:
            continue
        name = f"{built.table}__{'_'.join(cols)}"
        conn.execute(f"CREATE INDEX IF NOT EXISTS [{name}] ON [{built.table}] ({', '.join(f'[{c}]' for c in cols)})")


def _build_summary(conn, summary, published, params):
    cursor = conn.execute(f"CREATE TABLE main.[{summary.table}] AS {summary.sql}", params)
    cursor.close()
    columns = [(r[1], r[2]) for r in conn.execute(f"PRAGMA main.table_info([{summary.table}])")]
    built = Built(summary.table, "branch", columns, [], [], "branch_id", [], summary=True, spec=summary)
    built.indexes = _index_plan(built, summary.indexes)
    return built


def _write_info(conn, info):
    conn.execute("CREATE TABLE publish_info (key TEXT PRIMARY KEY, value TEXT)")
    conn.executemany("INSERT INTO publish_info VALUES (?, ?)", [(k, str(v)) for k, v in info.items()])


def _leading_index_columns(conn):
    """{table: sorted first columns of its indexes}: what a filter or sort can use in this file."""
    out = {}
    for table, index in conn.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"):
        first = conn.execute(f"PRAGMA index_info([{index}])").fetchone()
        if first and first[2]:
            out.setdefault(table, set()).add(first[2])
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in conn.execute(f"PRAGMA table_info([{table}])"):
            if row[5] == 1:
                out.setdefault(table, set()).add(row[1])  # the key (or rowid alias) orders itself
    return {t: sorted(cols) for t, cols in out.items()}


def _counts(conn, tables):
    return {t: conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}


def _finish(conn):
    # A small sample is enough for the planner to choose between the indexes.
    conn.execute("PRAGMA analysis_limit = 400")
    conn.execute("ANALYZE")


def _open_snapshot(src_path, tmp):
    """A connection writing ``tmp`` with the source attached and its read snapshot pinned."""
    Path(tmp).unlink(missing_ok=True)
    conn = sqlite3.connect(f"file:{tmp}", uri=True, isolation_level=None, check_same_thread=False)
    _fast_pragmas(conn)
    register_functions(conn)
    conn.execute("ATTACH DATABASE ? AS src", [readonly_uri(src_path)])
    conn.execute("BEGIN")
    # The first read starts the read transaction: from here on this connection
    # sees the source as it is now, whatever is committed meanwhile (WAL).
    conn.execute("SELECT count(*) FROM src.sqlite_master").fetchone()
    return conn


def _build_snapshot(conn, code, stamp, steps):
    """Fill one snapshot (head office when ``code`` is None) and close its connection."""
    label = code or HQ
    try:
        present = _source_tables(conn)
        if code and "clients" in present:
            conn.execute("CREATE TEMP TABLE branch_clients (client_id TEXT PRIMARY KEY) WITHOUT ROWID")
            conn.execute("INSERT INTO temp.branch_clients SELECT client_id FROM src.clients WHERE branch_id = ?",
                         [code])
        published, skipped = {}, []
        for spec in TABLES:
            if spec.table not in present:
                skipped.append(spec.table)
                continue
            t = time.thread_time()
            built = _build_table(conn, spec, published, code)
            if built is None:
                continue
            t1 = time.thread_time()
            # One branch per file: an index led by the branch column would hold one value.
            _create_indexes(conn, built, skip_leading=built.branch_col if code else None)
            published[spec.table] = built
            steps[f"{label} {spec.table}: copy, mask"] = t1 - t
            steps[f"{label} {spec.table}: indexes"] = time.thread_time() - t1
        branches = [r[0] for r in conn.execute("SELECT code FROM main.branches ORDER BY code")] \
            if "branches" in published else []
        today = stamp.date()
        params = {"now": stamp.isoformat(timespec="seconds"), "today": today.isoformat(),
                  "in30": (today + dt.timedelta(days=31)).isoformat()}
        for summary in SUMMARIES:
            if all(t in published for t in summary.requires):
                t = time.thread_time()
                built = _build_summary(conn, summary, published, params)
                _create_indexes(conn, built, skip_leading="branch_id" if code else None)
                published[summary.table] = built
                steps[f"{label} {summary.table}"] = time.thread_time() - t
        policy = conn.execute("SELECT max(version) FROM main.policy_versions").fetchone()[0] \
            if "policy_versions" in published else None
        _write_info(conn, {"scope": label, "published_at": params["now"], "policy_version": policy or "",
                           "branches": code or ",".join(branches)})
        for built in published.values():
            built.rows = conn.execute(f"SELECT count(*) FROM main.[{built.table}]").fetchone()[0]
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE src")
        t = time.thread_time()
        _finish(conn)
        steps[f"{label} analyze"] = time.thread_time() - t
    finally:
        conn.close()
    return published, skipped, branches


def _inspect_entry(path, final_path, tables_rows, published_at):
    # Datasette uses the hash only for hashed URLs and download ETags, both off
    # here; a digest of what identifies the snapshot saves reading a gigabyte.
    size = os.path.getsize(path)
    ident = json.dumps([final_path.name, published_at, size, tables_rows], sort_keys=True)
    return {"hash": hashlib.sha256(ident.encode("utf-8")).hexdigest(), "size": size, "file": str(final_path),
            "tables": {t: {"count": n} for t, n in tables_rows.items()}}


def _write_json_atomic(path, data):
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(out_dir):
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        raise BrokerCRMError(f"{out_dir} 中没有已发布的快照, 请先运行 brokercrm publish (no snapshots: run publish first)")
    return json.loads(path.read_text(encoding="utf-8"))


def publish(db_path=None, out_dir=None, *, actor):
    """Write the head-office and branch snapshots into ``out_dir``; return a PublishResult.

    The manifest carries the audit chain head at the moment the snapshots
    show, so a later truncation of the log shows against any published copy.
    """
    authz.require(actor, "publish.run")
    started = time.perf_counter()
    src = resolve_db_path(db_path)
    if not src.exists():
        raise BrokerCRMError(f"数据库 {src} 不存在 (no such database)")
    # Bring the schema up to date (and check the file is ours) before reading it.
    connect(src).close()
    out = Path(out_dir) if out_dir else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    stamp = now()
    pid = os.getpid()
    tmps = []
    try:
        # Pin every snapshot's view of the source while holding the write lock:
        # no commit can land between them, so all snapshots show the same moment.
        lock = sqlite3.connect(str(src), timeout=30, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            branches = [r[0] for r in lock.execute("SELECT code FROM branches ORDER BY code")]
            audit_head = audit.head(lock)
            files, conns = {}, {}
            try:
                for name in [HQ, *branches]:
                    files[name] = out / f".{name}.db.tmp-{pid}"
                    tmps.append(files[name])
                    conns[name] = _open_snapshot(src, files[name])
            except BaseException:
                for conn in conns.values():
                    conn.close()
                raise
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        # Each snapshot reads the source itself, head office and branches side
        # by side: sqlite3 releases the GIL while a statement runs.
        result = PublishResult(out, stamp.isoformat(timespec="seconds"))
        workers = max(1, min(len(conns), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {name: pool.submit(_build_snapshot, conn, None if name == HQ else name, stamp,
                                         result.steps)
                       for name, conn in conns.items()}
            outcomes = {name: f.result() for name, f in futures.items()}
        published, result.skipped, _ = outcomes[HQ]
        inspect, manifest_dbs = {}, {}
        tables_meta = {
            b.table: {"scope": b.scope, "summary": b.summary, "branch_col": b.branch_col, "pk": b.pk,
                      "indexed": sorted({c for cols in b.indexes for c in cols[:1]} | set(b.pk[:1])),
                      "columns": [c for c, _ in b.columns], "drop_in_branch": list(b.drop_in_branch)}
            for b in published.values()
        }
        for name, tmp in files.items():
            conn = sqlite3.connect(readonly_uri(tmp), uri=True)
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            rows = _counts(conn, tables)
            indexed = _leading_index_columns(conn)
            conn.close()
            final = out / f"{name}.db"
            inspect[name] = _inspect_entry(tmp, final.resolve(), rows, result.published_at)
            manifest_dbs[name] = {"file": final.name, "scope": name, "tables": rows,
                                  "indexed": {t: indexed.get(t, []) for t in tables}}
        # Everything is built: now swap the files in, the manifest last.
        old = {}
        if (out / MANIFEST).exists():
            old = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("databases", {})
        for name, tmp in files.items():
            os.replace(tmp, out / f"{name}.db")
        for name, entry in old.items():
            if name not in files and entry.get("file"):
                (out / entry["file"]).unlink(missing_ok=True)
        _write_json_atomic(out / INSPECT, inspect)
        _write_json_atomic(out / MANIFEST, {
            "published_at": result.published_at, "source": str(src.resolve()), "hq": HQ,
            "branches": branches, "databases": manifest_dbs, "tables": tables_meta, "audit_head": audit_head,
        })
        result.audit_head = audit_head
        log = connect(src)
        try:
            with log.atomic():
                audit.record(log, "publish.run", actor=actor, target=str(out.name),
                             detail={"published_at": result.published_at, "audit_head": audit_head,
                                     "branches": len(branches)})
        finally:
            log.close()
        result.databases = manifest_dbs
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - started
    return result
