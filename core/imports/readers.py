"""Reading rows from the files brokerage staff actually have.

CSV in UTF-8 (with or without BOM) or GBK/GB18030 as Chinese Excel writes it,
.xlsx workbooks (first sheet), JSON (a list of objects) and NDJSON. Every
reader streams: rows are yielded one at a time with their row number as a
person would count it (the header is row 1 in CSV and Excel).
"""

import codecs
import csv
import datetime as dt
import json
from pathlib import Path

from ..kernel.errors import BrokerCRMError

def detect_encoding(path, sample_size=1 << 20):
    """UTF-8 if the first megabyte decodes as UTF-8, else GB18030 (a superset of GBK)."""
    with open(path, "rb") as f:
        sample = f.read(sample_size)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        decoder.decode(sample, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"


def normalise_header(name, aliases):
    key = str(name or "").strip().lstrip("\ufeff")
    return aliases.get(key, aliases.get(key.lower(), key.lower() if key.isascii() else key))


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


CSV_SUFFIXES = (".csv", ".txt", ".tsv", "")


def _undecodable(path, error):
    return BrokerCRMError(f"{path}: 文件编码无法识别, 请另存为 UTF-8 或 GBK (cannot decode: {error})")


def _csv_rows(path, aliases):
    # A generator, so the file is opened only once the rows are asked for.
    names, records = csv_table(path, aliases)
    for number, cells in records:
        row = csv_dict(names, cells)
        if any(row.values()):
            yield number, row


def csv_dict(names, cells):
    """A CSV row of ``csv_table`` as ``read_rows`` gives it: {column: stripped text}."""
    return {n: v.strip() for n, v in zip(names, cells)}


def csv_table(path, aliases=None):
    """For a CSV file: ``(column names, iterator of (row_number, [cells]))``; None for other files.

    The fast path for large exports: cells come as read (not stripped) and rows
    as lists, so a caller that checks the common case pays for neither a dict
    nor sixteen strips per row. Rows whose cells are all empty are skipped; a
    row of blanks is the caller's to skip after stripping.
    """
    path = Path(path)
    if path.suffix.lower() not in CSV_SUFFIXES or not path.exists():
        return None
    f = open(path, newline="", encoding=detect_encoding(path))
    try:
        reader = csv.reader(f)
        header = next(reader, None)
    except UnicodeDecodeError as e:
        f.close()
        raise _undecodable(path, e) from None
    except BaseException:
        f.close()
        raise
    if header is None:
        f.close()
        return [], iter(())
    return [normalise_header(h, aliases or {}) for h in header], _csv_records(path, f, reader)


def _csv_records(path, f, reader):
    with f:
        try:
            for number, values in enumerate(reader, start=2):
                if any(values):
                    yield number, values
        except UnicodeDecodeError as e:
            raise _undecodable(path, e) from None


def _xlsx_rows(path, aliases):
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for a broken file
        raise BrokerCRMError(f"{path}: 无法打开 Excel 文件 (cannot open workbook): {e}") from None
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        names = [normalise_header(h, aliases) for h in header]
        for number, values in enumerate(rows, start=2):
            cells = [_cell(v) for v in values]
            if not any(cells):
                continue
            yield number, {n: v for n, v in zip(names, cells) if n}
    finally:
        wb.close()


def _json_obj(path, number, obj, aliases):
    if not isinstance(obj, dict):
        raise BrokerCRMError(f"{path}:{number}: 须为 JSON 对象 (each record must be an object)")
    return {normalise_header(k, aliases): _cell(v) for k, v in obj.items()}


def _json_rows(path, aliases):
    try:
        with open(path, encoding="utf-8-sig") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BrokerCRMError(f"{path}: JSON 格式错误 (invalid JSON): {e}") from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list):
        raise BrokerCRMError(f"{path}: JSON 须为对象数组 (must be a list of objects)")
    for number, obj in enumerate(data, start=1):
        yield number, _json_obj(path, number, obj, aliases)


def _ndjson_rows(path, aliases):
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise BrokerCRMError(f"{path}:{number}: JSON 格式错误 (invalid JSON line): {e}") from None
            yield number, _json_obj(path, number, obj, aliases)


def read_rows(path, aliases=None):
    """Yield ``(row_number, {column: text})`` from a CSV, XLSX, JSON or NDJSON file.

    ``aliases`` maps header spellings (e.g. Chinese 客户号) to column names.
    Values are stripped text; empty cells are "".
    """
    path = Path(path)
    aliases = aliases or {}
    if not path.exists():
        raise BrokerCRMError(f"{path}: 文件不存在 (no such file)")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path, aliases)
    if suffix == ".json":
        return _json_rows(path, aliases)
    if suffix in (".ndjson", ".jsonl"):
        return _ndjson_rows(path, aliases)
    if suffix in CSV_SUFFIXES:
        return _csv_rows(path, aliases)
    raise BrokerCRMError(f"{path}: 不支持的文件类型 {suffix} (use .csv, .xlsx, .json or .ndjson)")
