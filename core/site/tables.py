"""How one table of a snapshot is built: its columns, masking, scope and indexes.

Two builders, both single SQL statements (no Python per row, except the
scrubber on free text that holds a digit):

- ``from_source``: the head-office snapshot's copy of a working table. The
  source is ATTACHed as ``src``; every text column is masked, scrubbed or
  declared safe (``specs``: allow-list); every scoped row gets the
  ``branch_id`` of its client or parent, so a branch's rows are one indexed
  ``WHERE branch_id = ?`` away.
- ``from_head_office``: a branch snapshot's copy, read from the finished
  head-office snapshot (ATTACHed as ``hq``): already masked, so a branch costs
  one indexed range read per table and nothing is masked twice.
"""

from dataclasses import dataclass

from ..kernel.masking import PERSONAL, SCRUB_PREFILTER, SQL_MASKERS
from .specs import NEVER, SMALL_TABLE_ROWS


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
    branch_rows: str = ""      # shared tables: the rows a branch snapshot keeps (SQL, :code)
    rows: int = 0
    summary: bool = False
    spec: object = None

    def create_sql(self, columns=None, schema="main"):
        columns = columns or self.columns
        names = {c for c, _ in columns}
        parts = [f"[{c}] {t}".rstrip() for c, t in columns]
        if self.pk and all(p in names for p in self.pk):
            parts.append("PRIMARY KEY (" + ", ".join(f"[{p}]" for p in self.pk) + ")")
        for col, other, other_col in self.fks:
            if col in names:
                parts.append(f"FOREIGN KEY ([{col}]) REFERENCES [{other}]([{other_col}])")
        return f"CREATE TABLE {schema}.[{self.table}] (\n  " + ",\n  ".join(parts) + "\n)"

    def branch_columns(self):
        return [(c, t) for c, t in self.columns if c not in self.drop_in_branch]


def is_text(decl):
    decl = (decl or "").upper()
    return decl == "" or any(k in decl for k in ("CHAR", "CLOB", "TEXT"))


def column_expr(spec, col, decl):
    """The SQL that publishes ``s.col``: masked, scrubbed, or as it is when declared safe.

    Allow-list: a text column is published as stored only when the spec names
    it in ``safe`` (codes, enums, dates, digests the system itself writes).
    Every other text column, including any column a later migration adds, goes
    through the scrubber.
    """
    value = f"s.[{col}]"
    kind = spec.mask.get(col) or (PERSONAL.get(col) if col not in spec.not_personal else None)
    if kind == "json":
        return f"bcrm_clean_json({value})"
    if kind:
        # The Python maskers work on str(value); a TEXT column already holds text.
        return SQL_MASKERS[kind](value if is_text(decl) and decl else f"CAST({value} AS TEXT)")
    if col in spec.field_mask:
        return f"bcrm_mask_field(s.[{spec.field_mask[col]}], {value})"
    if is_text(decl) and col not in spec.safe:
        return f"CASE WHEN {SCRUB_PREFILTER.format(x=value)} THEN bcrm_scrub({value}) ELSE {value} END"
    return value


def _branch_order(spec, scope, branch_col, branch_expr, pk, columns):
    """``ORDER BY`` for a table worth copying in branch order, else "".

    A table with its own branch column and two or more indexes led by it (e.g.
    classifications: (branch_id, client_id) and (branch_id, class, client_id))
    is copied sorted by branch and key: those indexes are then built from
    sorted keys, and each branch's later copy reads one run of pages. Measured
    at 1M clients: classifications 9.5 s -> 6.3 s of CPU over head office and
    branches; tables whose branch comes from a look-up, or with one such index,
    paid more for the sort than they saved.
    """
    led = 1 + sum(1 for cols in spec.indexes if cols and cols[0] == branch_col)
    if scope != "branch" or branch_expr or led < 2:
        return ""
    names = dict(columns)
    key = [c for c in pk if c in names] or (["client_id"] if "client_id" in names else [])
    return " ORDER BY " + ", ".join(f"s.[{c}]" for c in [branch_col, *key])


def from_source(conn, spec, names, parents):
    """Copy one working table from ``src`` into the head-office snapshot (``main``).

    ``names``: every table this publish writes (foreign keys to others are
    left out); ``parents``: the tables already built on this connection, where
    a ``via`` table finds its parent's branch.
    """
    info = conn.execute(f"PRAGMA src.table_info([{spec.table}])").fetchall()
    src_cols = {r[1]: r[2] for r in info}
    pk = list(spec.key) or [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
    drop = set(spec.drop) | NEVER
    columns = [(r[1], r[2]) for r in info if r[1] not in drop]
    exprs = [column_expr(spec, c, t) for c, t in columns]

    scope, branch_col, branch_expr = spec.scope, None, None
    if scope == "branch":
        branch_col = "branch_id" if "branch_id" in src_cols else ("branch" if "branch" in src_cols else None)
        if branch_col is None:
            scope = "client"
    if scope == "client":
        if "client_id" in src_cols and "clients" in names:
            branch_expr = "(SELECT c.branch_id FROM src.clients c WHERE c.client_id = s.client_id)"
        else:
            scope = "hq"
    if scope == "via":
        parent, fk, key = spec.via
        if parent in parents and fk in src_cols and parents[parent].branch_col:
            branch_expr = f"(SELECT p.[{parents[parent].branch_col}] FROM main.[{parent}] p WHERE p.[{key}] = s.[{fk}])"
        else:
            scope = "hq"
    if branch_expr:
        if "branch_id" in src_cols and "branch_id" not in drop:
            # A scoped table with its own (possibly empty) branch column: the client's branch wins.
            exprs[[c for c, _ in columns].index("branch_id")] = f"COALESCE({branch_expr}, s.[branch_id])"
        else:
            columns.append(("branch_id", "TEXT"))
            exprs.append(branch_expr)
        branch_col = "branch_id"
        scope = "branch"

    fks = [
        (r[3], r[2], r[4]) for r in conn.execute(f"PRAGMA src.foreign_key_list([{spec.table}])")
        if r[2] in names and r[4]
    ]
    drop_in_branch = tuple(c for c in spec.drop_in_branch if c != branch_col)
    built = Built(spec.table, scope, columns, pk, fks, branch_col, [], drop_in_branch,
                  branch_rows=spec.branch_rows, spec=spec)
    conn.execute(built.create_sql())
    names = ", ".join(f"[{c}]" for c, _ in columns)
    built.rows = conn.execute(
        f"INSERT INTO main.[{spec.table}] ({names}) SELECT {', '.join(exprs)} FROM src.[{spec.table}] s"
        f"{_branch_order(spec, scope, branch_col, branch_expr, pk, columns)}").rowcount
    # Facets are offered on small tables only (brokercrm.serve), so only they need facet indexes.
    facets = spec.facets if built.rows <= SMALL_TABLE_ROWS else ()
    built.indexes = index_plan(built, spec.indexes, facets, spec.sort_desc, spec.sortable)
    return built


# A branch table up to this many rows gets its indexes before its rows: their
# b-trees stay in the page cache, and keeping them as rows arrive measured ~20%
# cheaper than sorting afterwards. Bigger tables are indexed after the copy.
INDEX_FIRST_ROWS = 200_000


def from_head_office(conn, built, code):
    """Copy a branch's rows of one head-office table, with its indexes, into the branch snapshot; returns rows.

    Head office only tables are not copied (None). Shared tables keep the rows
    ``branch_rows`` allows (all when empty): nothing firm-wide reaches a branch.
    """
    if built.scope == "hq":
        return None
    columns = built.branch_columns()
    conn.execute(built.create_sql(columns))
    names = ", ".join(f"[{c}]" for c, _ in columns)
    if built.branch_col and built.scope == "branch":
        where, params = f"WHERE [{built.branch_col}] = :code", {"code": code}
    elif built.branch_rows:
        where, params = f"WHERE {built.branch_rows}", {"code": code}
    else:
        where, params = "", {}
    rows = conn.execute(f"SELECT count(*) FROM hq.[{built.table}] {where}", params).fetchone()[0]
    index_first = rows <= INDEX_FIRST_ROWS
    if index_first:
        create_indexes(conn, built, in_branch=True)
    conn.execute(f"INSERT INTO main.[{built.table}] ({names}) SELECT {names} FROM hq.[{built.table}] {where}", params)
    if not index_first:
        create_indexes(conn, built, in_branch=True)
    return rows


def index_plan(built, extra=(), facets=(), sort_desc="", sortable=()):
    """The indexes of one snapshot table: [columns], each answering a filter the site offers in page order.

    A table page filtered on one column is ordered by the table's default sort
    (``sort_desc``), then its key; an index on (column, sort, key) hands it the
    first 51 rows without sorting every match. (A rowid table's indexes end in
    the rowid, so the key is implied there.)
    """
    names = {c for c, _ in built.columns}
    single = []
    if built.branch_col:
        single.append(built.branch_col)
    if "client_id" in names and built.pk != ["client_id"]:
        single.append("client_id")
    # A filter on the leading column of a wider index is offered too: it gets its own.
    single += list(facets) + [cols[0] for cols in extra if len(cols) > 1]
    types = dict(built.columns)
    rowid_pk = not built.pk or (len(built.pk) == 1 and (types.get(built.pk[0]) or "").upper() == "INTEGER")
    order = (sort_desc,) if sort_desc and not (rowid_pk and [sort_desc] == built.pk) else ()
    plans = [(c, *(o for o in order if o != c)) for c in single] + [tuple(i) for i in extra] \
        + [(c,) for c in sortable] + [order]
    # The rowid ends every index of a rowid table: (a) and (a, b) answer different
    # orders there, so neither stands in for the other.
    tail = ("rowid",) if rowid_pk else ()
    out = []
    for cols in plans:
        if not cols or not all(c in names for c in cols) or list(cols) == built.pk:
            continue
        if not rowid_pk:
            cols = tuple(cols) + tuple(p for p in built.pk if p not in cols)
            if list(cols) == built.pk:
                continue   # the key's own index
        full = tuple(cols) + tail
        if any(o[:len(full)] == full for o in out):
            continue
        out = [o for o in out if full[:len(o)] != o]
        out.append(full)
    return [o[:len(o) - len(tail)] for o in out]


def create_indexes(conn, built, in_branch=False):
    """The planned indexes; a branch snapshot skips those led by the branch column (one value there)."""
    columns = {c for c, _ in (built.branch_columns() if in_branch else built.columns)}
    for cols in built.indexes:
        if in_branch and cols[0] == built.branch_col or not set(cols) <= columns:
            continue
        name = f"{built.table}__{'_'.join(cols)}"
        conn.execute(f"CREATE INDEX IF NOT EXISTS main.[{name}] ON [{built.table}] ({', '.join(f'[{c}]' for c in cols)})")
