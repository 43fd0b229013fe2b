"""CSV and tab-separated text, as Excel, WPS and trading systems write them.

The encoding is decided once for the whole file (``text_files.detect``);
Excel's "Unicode 文本" (UTF-16 with BOM, tab-separated) reads like any other.
The delimiter is a tab for ``.tsv`` files and for files whose first lines
hold more tabs than commas, else a comma. Quoting is strict: a quote in the
wrong place is refused with its row rather than guessed at, and a cell longer
than Excel's 32,767 characters (a lost closing quote swallowing the file,
say) stops the import at its row.
"""

import csv
from itertools import chain, islice

from ..kernel.errors import ValidationFailed
from .read_rules import HEADER_SEARCH_ROWS, MAX_CELL_CHARS
from .tables import build
from .text_files import detect

SUFFIXES = (".csv", ".txt", ".tsv", "")

# The csv module's own limit is per process; ours is Excel's cell limit (its default is 131,072).
csv.field_size_limit(MAX_CELL_CHARS)


def _delimiter(path, f):
    if path.suffix.lower() == ".tsv":
        return "\t"
    head = "".join(islice(f, HEADER_SEARCH_ROWS))
    f.seek(0)
    return "\t" if head.count("\t") > head.count(",") else ","


def _csv_error(path):
    def error(e, at):
        if "field larger" in str(e):
            reason = (f"单元格超过 {MAX_CELL_CHARS:,} 个字符, 可能缺了一个右引号 (a cell longer than"
                      f" {MAX_CELL_CHARS:,} characters: a missing closing quote?)")
        else:
            reason = f"CSV 格式错误, 多半是引号不配对 (malformed CSV, probably a stray quote): {e}"
        return ValidationFailed(f"{path}:{at}: {reason}", [f"{path}:{at}: {reason}"])

    return error


def open_csv(path, spec, header_row=None):
    """A ``tables.Table`` over a CSV/TSV file; the file is closed once its rows are read."""
    encoding = detect(path)
    f = open(path, newline="", encoding=encoding.codec)
    try:
        reader = csv.reader(f, delimiter=_delimiter(path, f), strict=True)
        table = build(str(path), spec, enumerate(reader, start=1), header_row=header_row, errors=(csv.Error,),
                      on_error=_csv_error(path), no_control=encoding.no_control)
    except BaseException:
        f.close()
        raise
    # The file closes when its last row has been read (or the rows are dropped unread):
    # chain() adds no Python frame per row, as a generator around the rows would.
    table.records = chain(table.records, _close(f))
    return table


def _close(f):
    f.close()
    return
    yield  # a generator: runs (and closes the file) only once the rows before it are done
