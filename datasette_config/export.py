"""Excel-ready exports of every table and report: ``.xlsx`` or UTF-8 CSV with a BOM.

``/-/export/<database>/<table or report>.xlsx?<the page's filters>`` writes
every row the page's filters and sort select — not the page, all of them —
with the page's Chinese column headers and enumerated values. The snapshot is
already masked, so the export is masked exactly like the page. Cells that a
spreadsheet would run as a formula (starting ``= + - @``, tab or CR) are
neutralised with a leading apostrophe, and xlsx cells are typed as text so
Excel never evaluates them.

Rows are read on a connection of their own (the snapshot is immutable) in a
worker thread: a CSV goes out in chunks as it is read; an xlsx is written to
a temporary file by XlsxWriter's constant-memory mode (flat memory) and then
sent.
"""

import asyncio
import csv
import datetime as dt
import io
import os
import sqlite3
import tempfile
from urllib.parse import parse_qsl, quote

from . import labels, limits

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXCEL_MAX_ROWS = 1_048_576
CHUNK_ROWS = 2000
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportError(Exception):
    """A request the export refuses: the message says why, in Chinese."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def neutralise(value):
    """Text a spreadsheet would run as a formula, made inert: ``=cmd|…`` -> ``'=cmd|…``.

    Numbers are left alone (a negative amount stays a number).
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _iso_text(value):
    # "2026-06-30T10:00:00+08:00" -> "2026-06-30 10:00:00": readable, and sorts as it did.
    if isinstance(value, str) and len(value) >= 19 and value[10] == "T" and value[4] == "-":
        return value[:10] + " " + value[11:19]
    return value


def cell_value(column, value):
    return neutralise(_iso_text(labels.export_value(column, value)))


def header(table, column):
    label = labels.column_label(table, column) if table else column
    if column in labels.AMOUNTS and "元" not in label:
        label += " (元)"
    return neutralise(label)


def table_query(conn, table, query_string, big):
    """(sql, params, columns) selecting every row the table page would list, in its order."""
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
    pks = [r[1] for r in sorted(conn.execute(f"PRAGMA table_info([{table}])"), key=lambda r: r[5]) if r[5]]
    if big is not None:
        verdict = limits.check(big, query_string)
        if verdict is not None:
            reason, redirect = verdict
            if redirect is None:
                raise ExportError(reason)
            query_string = redirect
    from datasette.filters import Filters

    pairs, sort, sort_desc = [], None, None
    for key, value in parse_qsl(query_string or "", keep_blank_values=True):
        if key == "_sort":
            sort = value
        elif key == "_sort_desc":
            sort_desc = value
        elif not key.startswith("_"):
            if key.split("__", 1)[0] not in columns:
                raise ExportError(f"没有此列 (no such column): {key.split('__', 1)[0]}")
            pairs.append((key, value))
    where, params = Filters(sorted(pairs)).build_where_clauses(table)
    order = []
    for col, direction in ((sort, "ASC"), (sort_desc, "DESC")):
        if col:
            if col not in columns:
                raise ExportError(f"不能按此列排序 (no such column): {col}")
            order.append(f"[{col}] {direction}")
    order += [f"[{p}]" for p in pks] or ["rowid"]
    sql = (f"SELECT {', '.join(f'[{c}]' for c in columns)} FROM [{table}]"
           + (f" WHERE {' AND '.join(where)}" if where else "") + f" ORDER BY {', '.join(order)}")
    return sql, params, columns


def open_snapshot(path):
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only = 1")
    return conn


def csv_chunks(cursor, table, columns):
    """Bytes of the CSV: BOM and header first, then CHUNK_ROWS rows at a time."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([header(table, c) for c in columns])
    yield ("\ufeff" + buf.getvalue()).encode("utf-8")
    while True:
        rows = cursor.fetchmany(CHUNK_ROWS)
        if not rows:
            return
        buf.seek(0)
        buf.truncate()
        for row in rows:
            writer.writerow([cell_value(c, v) for c, v in zip(columns, row)])
        yield buf.getvalue().encode("utf-8")


def write_xlsx(cursor, table, columns, path, title):
    """Write every row of ``cursor`` to ``path``; returns the row count.

    XlsxWriter in constant-memory mode: rows go to disk as they come (flat
    memory), 1.75× faster than openpyxl's write-only mode here (6,800 against
    3,900 rows/s of CPU for a 25-column client table), and with
    ``strings_to_formulas`` off no text is ever stored as a formula.
    """
    import xlsxwriter

    wb = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                    "strings_to_numbers": False, "strings_to_urls": False})
    try:
        ws = wb.add_worksheet(_sheet_title(title))
        bold = wb.add_format({"bold": True})
        money = wb.add_format({"num_format": "#,##0.00"})
        for i, c in enumerate(columns):
            ws.set_column(i, i, 14, money if c in labels.AMOUNTS else None)
        ws.write_row(0, 0, [header(table, c) for c in columns], bold)
        ws.freeze_panes(1, 0)
        n = 0
        while True:
            rows = cursor.fetchmany(CHUNK_ROWS)
            if not rows:
                break
            for row in rows:
                n += 1
                if n >= EXCEL_MAX_ROWS:
                    raise ExportError(f"超过 Excel 的行数上限 {EXCEL_MAX_ROWS - 1:,} 行, 请加筛选条件或导出 CSV "
                                      "(more rows than Excel holds: filter, or export CSV)")
                values = [cell_value(c, v) for c, v in zip(columns, row)]
                for i, v in enumerate(values):
                    if isinstance(v, str):
                        ws.write_string(n, i, _xml_safe(v))
                    elif v is not None:
                        ws.write_number(n, i, v)
    finally:
        wb.close()
    return n


def _xml_safe(text):
    # Control characters other than tab/newline are not allowed in XML: drop them.
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 32)


def _sheet_title(title):
    bad = set('[]:*?/\\')
    return "".join("_" if ch in bad else ch for ch in (title or "数据"))[:31] or "数据"


def disposition(title, fmt):
    stamp = dt.date.today().strftime("%Y%m%d")
    name = f"{title}-{stamp}.{fmt}"
    ascii_name = f"export-{stamp}.{fmt}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def stream(send, *, path, sql, params, table, columns_hint, fmt, title):
    """Run ``sql`` on the snapshot at ``path`` and send the file over ASGI ``send``."""
    loop = asyncio.get_running_loop()

    def start():
        conn = open_snapshot(path)
        cursor = conn.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return conn, cursor, columns

    conn, cursor, columns = await loop.run_in_executor(None, start)
    headers = [(b"content-disposition", disposition(title, fmt).encode("latin-1")),
               (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]
    try:
        if fmt == "csv":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", CSV_TYPE.encode())] + headers})
            chunks = csv_chunks(cursor, table, columns)
            while True:
                chunk = await loop.run_in_executor(None, next, chunks, None)
                if chunk is None:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        fd, tmp = tempfile.mkstemp(suffix=".xlsx", prefix="brokercrm-export-")
        os.close(fd)
        try:
            await loop.run_in_executor(None, write_xlsx, cursor, table, columns, tmp, title)
            size = os.path.getsize(tmp)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", XLSX_TYPE.encode()),
                                    (b"content-length", str(size).encode())] + headers})
            with open(tmp, "rb") as f:
                while True:
                    block = f.read(1 << 20)
                    if not block:
                        break
                    await send({"type": "http.response.body", "body": block, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            os.unlink(tmp)
    finally:
        conn.close()
