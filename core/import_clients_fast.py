"""The fast path of the client import: checking a batch inside SQLite.

A Python function per row per field costs several times what SQLite needs to
store the row, so at a million rows it cannot meet the speed goal (issue 2
§8). Each batch is therefore loaded as raw text into a TEMP staging table and
checked there with one SQL expression that accepts only the plain, canonical
case: an individual with an 18-digit ID whose GB 11643 check digit and
embedded birth date hold, birth_date blank or equal to it, an 11-digit mobile,
ISO dates (real ones: SQLite's date() alone lets 2021-02-30 through, a
``+0 days`` modifier makes it normalise), plain non-negative decimals, a known branch.

That expression is a *strict prefilter*, never the judge: every row it does
not accept (an institution, a GBK date like 2024/1/5, a bad ID …) is handed to
the Python checks in ``import_clients.check_row``, which either normalise it
or explain exactly what is wrong. So the SQL may be narrower than the Python
rules but must never be wider; ``tests/test_import_clients.py`` runs every
failing input through both paths.
"""

import datetime as dt
import json
import secrets
from operator import itemgetter

from .import_report import chunks
from .validate import ID_CHECK, ID_WEIGHTS

NUMBER_FIELDS = (
    "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "investment_years", "net_assets",
)
TEXT_FIELDS = ("occupation", "education", "legal_representative", "business_scope")
# Raw columns staged, in order (then the extra columns as JSON text).
STAGED = ("client_id", "kind", "name", "id_number", "phone", "birth_date", "branch_id", "opened_at",
          *NUMBER_FIELDS, *TEXT_FIELDS)


FIRST_DAY = "1900-01-01"


def _embedded(col="s.id_number"):
    return f"(substr({col},7,4) || '-' || substr({col},11,2) || '-' || substr({col},13,2))"


def _day(expr, days, today_iso):
    """``expr`` is a real calendar day from FIRST_DAY to today.

    SQLite's date() lets 2021-02-30 through; the ``+0 days`` modifier makes it
    normalise, so a round trip tells a real day. For a large file a lookup in a
    TEMP table of days is cheaper still (``days``).
    """
    if days:
        return f"{expr} IN (SELECT d FROM {days})"
    return f"(date({expr}, '+0 days') = {expr} AND {expr} BETWEEN '{FIRST_DAY}' AND '{today_iso}')"


def _id_ok(days, today_iso, col="s.id_number"):
    weighted = " + ".join(f"substr({col},{i + 1},1) * {w}" for i, w in enumerate(ID_WEIGHTS))
    return (
        f"length({col}) = 18 AND substr({col},1,17) NOT GLOB '*[^0-9]*' AND substr({col},18,1) GLOB '[0-9X]'"
        f" AND {_day(_embedded(col), days, today_iso)}"
        f" AND substr('{ID_CHECK}', ({weighted}) % 11 + 1, 1) = substr({col},18,1)"
    )


def accept_sql(days, today_iso):
    """The strict check: true only for rows the Python checks would accept unchanged."""
    numbers = " || '|' || ".join(f"s.{c}" for c in NUMBER_FIELDS)
    return " AND ".join([
        "s.client_id <> ''",
        "s.kind IN ('individual', '个人')",
        "s.name <> ''",
        _id_ok(days, today_iso),
        f"(s.birth_date = '' OR s.birth_date = {_embedded()})",
        "length(s.phone) = 11 AND s.phone GLOB '1[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'",
        "s.branch_id IN (SELECT code FROM main.branches)",
        f"(s.opened_at = '' OR {_day('s.opened_at', days, today_iso)})",
        # Plain decimals only: digits and at most one dot, not a lone dot (Python's float() says no to it).
        f"({numbers}) NOT GLOB '*[^0-9.|]*'",
        *(f"s.{c} NOT GLOB '*.*.*' AND s.{c} <> '.'" for c in NUMBER_FIELDS),
    ])


# The stored values of an accepted row, in import_clients.FIELDS order (after client_id).
NORMALISED = [
    ("kind", "'individual'"), ("name", "s.name"), ("id_number", "s.id_number"), ("phone", "s.phone"),
    ("birth_date", f"COALESCE(NULLIF(s.birth_date, ''), {_embedded()})"), ("branch_id", "s.branch_id"),
    ("opened_at", "NULLIF(s.opened_at, '')"),
    ("total_assets", None), ("turnover_rate", None), ("avg_holding_days", None), ("annual_income", None),
    ("occupation", None), ("education", None), ("investment_years", None),
    ("legal_representative", None), ("business_scope", None), ("net_assets", None), ("extra", "s.extra"),
]
NORMALISED = [
    (name, sql or (f"CAST(NULLIF(s.{name}, '') AS REAL)" if name in NUMBER_FIELDS else f"NULLIF(s.{name}, '')"))
    for name, sql in NORMALISED
]


class Stage:
    """One batch of raw rows in a TEMP table, checked and normalised by SQLite."""

    def __init__(self, db, today):
        self.db = db
        self.conn = db.conn
        self.table = f"temp.import_stage_{secrets.token_hex(4)}"
        cols = ", ".join(STAGED)
        # No declared types: no affinity, the text stays exactly as read.
        self.conn.execute(f"CREATE TEMP TABLE {self.table.split('.', 1)[1]} (n INTEGER PRIMARY KEY, {cols}, extra)")
        self.today = today
        self.days = None
        self.checked_batches = 0
        self._accept = accept_sql(None, today.isoformat())
        self._insert = f"INSERT INTO {self.table} VALUES ({', '.join('?' * (len(STAGED) + 2))})"
        self._converters = {}

    def _converter(self, keys, known):
        """(getter, extra columns) for rows with this header; cached, a CSV has one header."""
        found = self._converters.get(keys)
        if found is None:
            if all(c in keys for c in STAGED):
                getter = itemgetter(*STAGED)
            else:
                def getter(row):
                    return tuple(row.get(c, "") for c in STAGED)
            extras = tuple(k for k in keys if k and k not in known)
            found = self._converters[keys] = (getter, extras)
        return found

    def load(self, batch, known):
        """Stage ``[(row_number, row)]``; the extra columns go in as sorted JSON text."""
        values = []
        append = values.append
        for n, row in batch:
            getter, extras = self._converter(tuple(row), known)
            extra = None
            if extras:
                found = {k: row[k] for k in extras if row[k] != ""}
                extra = json.dumps(found, ensure_ascii=False, sort_keys=True) if found else None
            append((n, *getter(row), extra))
        self.conn.executemany(self._insert, values)

    def keys(self):
        """SQL giving (key, n) for the duplicate check."""
        return f"SELECT client_id AS key, n FROM {self.table} WHERE client_id <> ''"

    def _use_day_table(self):
        """Past the first batch the file is large: worth a TEMP table of every day since FIRST_DAY."""
        self.days = f"{self.table}_days"
        self.conn.execute(f"CREATE TEMP TABLE {self.days.split('.', 1)[1]} (d TEXT PRIMARY KEY) WITHOUT ROWID")
        first, last = dt.date.fromisoformat(FIRST_DAY).toordinal(), self.today.toordinal()
        self.conn.executemany(f"INSERT INTO {self.days} VALUES (?)",
                              ((dt.date.fromordinal(i).isoformat(),) for i in range(first, last + 1)))
        self._accept = accept_sql(self.days, self.today.isoformat())

    def rejected_by_sql(self):
        """Row numbers the strict SQL check does not accept (Python decides about them)."""
        self.checked_batches += 1
        if self.checked_batches == 2:
            self._use_day_table()
        return {r[0] for r in self.conn.execute(f"SELECT n FROM {self.table} s WHERE NOT ({self._accept})")}

    def discard(self, numbers):
        for chunk in chunks(sorted(numbers), 900):
            self.conn.execute(f"DELETE FROM {self.table} WHERE n IN ({', '.join('?' * len(chunk))})", chunk)

    def existing(self, fields):
        """[(new, old)] dicts for staged rows whose client is already stored."""
        new_cols = ", ".join(f"{sql}" for _, sql in NORMALISED)
        old_cols = ", ".join(f"c.[{f}]" for f in fields)
        width = len(NORMALISED)
        pairs = []
        for row in self.conn.execute(
            f"SELECT s.client_id, {new_cols}, {old_cols} FROM {self.table} s"
            " JOIN main.clients c ON c.client_id = s.client_id"
        ):
            new = dict(zip([name for name, _ in NORMALISED], row[1:1 + width]))
            new["client_id"] = row[0]
            if new["extra"]:
                new["extra"] = json.loads(new["extra"])
            pairs.append((new, dict(zip(fields, row[1 + width:]))))
        return pairs

    def insert_new(self, stamp):
        """Insert every staged row whose client is not stored yet; returns how many."""
        names = ", ".join(name for name, _ in NORMALISED)
        values = ", ".join(sql for _, sql in NORMALISED)
        cursor = self.conn.execute(
            f"INSERT INTO main.clients (client_id, {names}, created_at, updated_at)"
            f" SELECT s.client_id, {values}, ?, ? FROM {self.table} s"
            " WHERE NOT EXISTS (SELECT 1 FROM main.clients c WHERE c.client_id = s.client_id) ORDER BY s.n",
            [stamp, stamp],
        )
        return cursor.rowcount

    def clear(self):
        self.conn.execute(f"DELETE FROM {self.table}")

    def drop(self):
        self.conn.execute(f"DROP TABLE IF EXISTS {self.table}")
        if self.days:
            self.conn.execute(f"DROP TABLE IF EXISTS {self.days}")
