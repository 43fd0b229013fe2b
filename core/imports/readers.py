"""Reading rows from the files brokerage staff actually have: one door for every file type.

CSV/TSV text in UTF-8, GBK or UTF-16 (``read_csv``), workbooks .xlsx .xlsm
.xls .ods (``read_workbook``), JSON and NDJSON (``read_json``). Each reader
refuses what it cannot read exactly; docs/imports.md lists the rules and
limits. Rows come one at a time with their row number as a person counts
them (the spreadsheet's row, the CSV record, the JSON record or NDJSON line):
a readable row as cells, an unreadable one as a ``BadRow`` naming its
problems, which the importers report like any other bad row.
"""

from pathlib import Path

from ..kernel.errors import BrokerCRMError, NotFound
from .headers import ColumnSpec, normalise_header  # noqa: F401  (normalise_header: re-exported)
from .read_csv import SUFFIXES as CSV_SUFFIXES
from .read_csv import open_csv
from .read_json import json_rows, ndjson_rows
from .read_rules import BadRow  # noqa: F401  (re-exported for the importers)
from .read_workbook import SUFFIXES as WORKBOOK_SUFFIXES
from .read_workbook import open_workbook

JSON_SUFFIXES = (".json",)
NDJSON_SUFFIXES = (".ndjson", ".jsonl")


def as_spec(spec):
    """A ColumnSpec from a spec or a plain {spelling: column} dict (every column then optional, extras kept)."""
    if isinstance(spec, ColumnSpec):
        return spec
    aliases = dict(spec or {})
    return ColumnSpec(aliases=aliases, known=frozenset(aliases.values()))


def check_file(path):
    """The path as a Path, or a BrokerCRMError when it is not a readable file of a known type."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"{path}: 文件不存在 (no such file)")
    if not path.is_file():
        raise BrokerCRMError(f"{path}: 不是文件 (not a file)")
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + WORKBOOK_SUFFIXES + JSON_SUFFIXES + NDJSON_SUFFIXES:
        raise BrokerCRMError(f"{path}: 不支持的文件类型 {suffix} (use .csv, .tsv, .txt, .xlsx, .xls, .ods, .json or"
                             " .ndjson)")
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise BrokerCRMError(f"{path}: 无法读取 (cannot read: {e.strerror})") from None
    return path


def table(path, spec, *, sheet=None, header_row=None):
    """For CSV and workbooks: a ``tables.Table`` (names, records of cell lists); None for JSON files."""
    path = check_file(path)
    spec = as_spec(spec)
    suffix = path.suffix.lower()
    if sheet is not None and suffix not in WORKBOOK_SUFFIXES:
        raise BrokerCRMError(f"{path}: --sheet 只适用于工作簿 (--sheet applies to workbooks only)")
    if suffix in WORKBOOK_SUFFIXES:
        return open_workbook(path, spec, sheet=sheet, header_row=header_row)
    if suffix in CSV_SUFFIXES:
        return open_csv(path, spec, header_row=header_row)
    if header_row is not None:
        raise BrokerCRMError(f"{path}: --header-row 不适用于 JSON (--header-row does not apply to JSON)")
    return None


def row_dict(names, cells):
    """A row of a Table as {column: stripped text} (ignored and header-less columns left out)."""
    return {n: v.strip() for n, v in zip(names, cells) if n}


def read_rows(path, spec=None, *, sheet=None, header_row=None):
    """Yield ``(row_number, {column: text})`` (or a BadRow) from any supported file.

    ``spec`` is a ColumnSpec, or a {spelling: column} dict. Values are stripped
    text; empty cells are "". Header problems are raised before the first row.
    """
    spec = as_spec(spec)
    found = table(path, spec, sheet=sheet, header_row=header_row)
    if found is not None:
        return _dicts(found)
    path = Path(path)
    if path.suffix.lower() in NDJSON_SUFFIXES:
        return _stripped(ndjson_rows(path, spec))
    return _stripped(json_rows(path, spec))


def _dicts(found):
    names = found.names
    for number, cells in found.records:
        if type(cells) is BadRow:
            yield number, cells
            continue
        row = row_dict(names, cells)
        if any(row.values()):  # a row of blanks is no row
            yield number, row


def _stripped(rows):
    for number, row in rows:
        if type(row) is BadRow:
            yield number, row
        else:
            yield number, {k: v.strip() for k, v in row.items()}
