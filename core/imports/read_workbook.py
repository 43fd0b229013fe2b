"""Workbooks as branches have them: .xlsx, .xlsm, .xls, .ods, read with python-calamine.

``--sheet NAME|N`` picks a sheet (N counts from 1; the first sheet by default);
the header may sit below a title block (``tables.build``). Cells become the
text a person sees: whole numbers without ".0", dates as YYYY-MM-DD. A number
Excel could not hold exactly (16 digits or more: an ID or bank card number
typed into a number-formatted column) is refused with that explanation
instead of a misleading check-digit error.

Defences, since one hostile file must not take the importer down:

* a zipped workbook (.xlsx, .ods) is unzipped once as a stream before anything
  parses it, and refused when its parts add up to more than
  ``MAX_UNZIPPED_BYTES`` or one part inflates more than ``MAX_ZIP_RATIO``
  times (a zip bomb);
* calamine holds a whole sheet in memory, so the sheet is read in a worker
  process whose data segment may grow by ``WORKBOOK_MEMORY_BYTES`` at most
  (``import_pipeline``); a sheet that needs more is refused, the importer
  itself is untouched.
"""

import datetime as dt
import zipfile
from decimal import Decimal

from python_calamine import CalamineWorkbook

from . import pipeline as import_pipeline
from ..kernel.errors import BrokerCRMError, ValidationFailed
from .read_rules import MAX_UNZIPPED_BYTES, MAX_ZIP_RATIO, WORKBOOK_MEMORY_BYTES
from .tables import LostDigits, build

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
ZIPPED = (".xlsx", ".xlsm", ".ods")
BATCH = 1000
# Excel keeps 15 significant digits; a whole number from 10^15 up may have lost some.
EXACT_BELOW = 10 ** 15


def check_zip(path):
    """Refuse a zipped workbook that inflates beyond the limits, measuring what really comes out."""
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                part = 0
                with z.open(info) as f:
                    while block := f.read(1 << 20):
                        part += len(block)
                        total += len(block)
                        if total > MAX_UNZIPPED_BYTES:
                            raise BrokerCRMError(
                                f"{path}: 解压后超过 {MAX_UNZIPPED_BYTES >> 20} MB, 拒绝读取 (unzips to more than "
                                f"{MAX_UNZIPPED_BYTES >> 20} MB: a zip bomb, or a workbook to save as CSV)")
                        if part > (1 << 20) and part > MAX_ZIP_RATIO * max(info.compress_size, 1):
                            raise BrokerCRMError(
                                f"{path}: {info.filename} 压缩比超过 {MAX_ZIP_RATIO}:1, 拒绝读取 (a part inflates more"
                                f" than {MAX_ZIP_RATIO} times: a zip bomb)")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as e:
        raise BrokerCRMError(f"{path}: 不是有效的工作簿文件 (not a readable workbook: {e})") from None
    except ValueError as e:  # zipfile's own checks (bad sizes, bad CRC framing)
        raise BrokerCRMError(f"{path}: 不是有效的工作簿文件 (not a readable workbook: {e})") from None


def cell_text(value):
    """The text a person sees in a cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return LostDigits(str(value)) if abs(value) >= EXACT_BELOW else str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if abs(value) >= EXACT_BELOW:
            return LostDigits(f"{value:.0f}")
        text = f"{value:.15g}"
        return format(Decimal(text), "f") if "e" in text else text
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _pick(names, sheet):
    if sheet is None:
        return 0
    if sheet in names:
        return names.index(sheet)
    if str(sheet).isdigit() and 1 <= int(sheet) <= len(names):
        return int(sheet) - 1
    raise BrokerCRMError(f"工作表 {sheet!r} 不存在; 本工作簿的工作表 (sheets): "
                         + ", ".join(f"{i} {n}" for i, n in enumerate(names, start=1)) + " (no such sheet)")


def _sheet_rows(path, sheet):
    """Producer, run in the worker: first ("sheets", names, chosen), then batches of (row_number, [text])."""
    try:
        workbook = CalamineWorkbook.from_path(path)
    except Exception as e:  # calamine raises its own types for broken, encrypted or mislabelled files
        raise BrokerCRMError(f"{path}: 无法打开工作簿 (cannot open the workbook: {type(e).__name__}: {e})") from None
    with workbook:
        names = list(workbook.sheet_names)
        index = _pick(names, sheet)
        yield ("sheets", names, names[index])
        try:
            data = workbook.get_sheet_by_index(index)
        except Exception as e:
            raise BrokerCRMError(f"{path}: 无法读取工作表 {names[index]!r} (cannot read the sheet: {e})") from None
        first = (data.start or (0, 0))[0] + 1
        batch = []
        for offset, row in enumerate(data.iter_rows()):
            batch.append((first + offset, [cell_text(v) for v in row]))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def open_workbook(path, spec, sheet=None, header_row=None):
    """A ``tables.Table`` over one sheet of a workbook."""
    if path.suffix.lower() in ZIPPED:
        check_zip(path)
    payloads = import_pipeline.run(_sheet_rows, (str(path), sheet), size=path.stat().st_size,
                                   memory=WORKBOOK_MEMORY_BYTES)
    _, names, chosen = next(payloads)
    rows = (row for batch in payloads for row in batch)
    source = f"{path}[{chosen}]" if len(names) > 1 else str(path)
    try:
        return build(source, spec, rows, header_row=header_row, workbook=True)
    except ValidationFailed as e:
        payloads.close()
        if sheet is None and len(names) > 1:
            raise ValidationFailed(
                f"{e} · 本工作簿有 {len(names)} 个工作表, 读的是第一个 {chosen!r}; 用 --sheet NAME|N 选择 (sheets: "
                + ", ".join(f"{i} {n}" for i, n in enumerate(names, start=1)) + ")", e.problems, e.total) from None
        raise
