"""One client's rows from every table the catalogue finds, read in one transaction."""

import base64
from dataclasses import dataclass, field

from . import catalogue


@dataclass
class TableRows:
    table: str
    section: str
    label: str
    how: str
    declared: bool
    retained: bool
    columns: list
    key_columns: list
    rows: list = field(default_factory=list)   # lists of values, in ``columns`` order

    def keys(self):
        """Each row's identity: its primary key (a value, or a list for a composite key)."""
        idx = [self.columns.index(c) for c in self.key_columns]
        if len(idx) == 1:
            return [r[idx[0]] for r in self.rows]
        return [[r[i] for i in idx] for r in self.rows]


def _plain(value):
    """A value JSON and CSV can carry unchanged; bytes become base64 (none of our tables holds any)."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def _key_columns(db, table):
    info = list(db.execute(f"PRAGMA table_info([{table}])"))
    pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
    return pk


def collect(db, client_id):
    """[TableRows] for the client, in section order; each table's rows in key order."""
    found = catalogue.discover(db)
    out = []
    own = not db.conn.in_transaction
    if own:
        db.execute("BEGIN")   # one read snapshot: the files agree with each other
    try:
        for t, f in found.items():
            cols = catalogue.columns(db, t)
            keys = _key_columns(db, t)
            order = ", ".join(f"[{k}]" for k in keys) if keys else "rowid"
            if not keys:
                cols = ["rowid", *cols]
                keys = ["rowid"]
            select = ", ".join("rowid" if c == "rowid" else f"[{c}]" for c in cols)
            rows = [[_plain(v) for v in r] for r in db.execute(
                f"SELECT {select} FROM [{t}] WHERE {f.where} ORDER BY {order}", {"cid": client_id})]
            entry = f.entry
            out.append(TableRows(
                t, entry.section if entry else "99_undeclared",
                entry.label if entry else "未登记的表: 请在 brokercrm/archive/catalogue.py 中登记 (undeclared table)",
                f.how, entry is not None, bool(entry and entry.retained), cols, keys, rows))
    finally:
        if own:
            db.execute("COMMIT")
    out.sort(key=lambda tr: (tr.section, tr.table))
    return out
