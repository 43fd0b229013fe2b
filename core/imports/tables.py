"""Rows of cells under a header: what CSV files and workbooks have in common.

``build`` takes numbered raw rows (lists of text cells), finds the header
(``headers.find_header``), checks it once, and yields the data rows: a
row as a list of cells when it can be read exactly, a ``BadRow`` naming its
problems when not (too many or too few cells, a control character, a cell
Excel stored as a number and so lost digits of). Blank rows are skipped; a
file with no data row is refused.
"""

from dataclasses import dataclass
from typing import Iterator

from ..kernel.errors import ValidationFailed
from .headers import EMPTY, find_header, header_names
from .read_rules import CONTROL, HEADER_SEARCH_ROWS, MAX_COLUMNS, BadRow, cell_problems


class LostDigits(str):
    """A workbook cell that held a number too long for Excel's 15 digits: the text is what is left of it."""


LOST_DIGITS = ("Excel 把它存成了数字, 超过 15 位的数字已丢失 (如身份证号、银行卡号); 请把该列设为文本格式后重新录入"
               " (Excel stored this as a number and lost every digit past the 15th, as with an ID number;"
               " format the column as text and enter it again)")


@dataclass
class Table:
    """A table file's columns and its data rows: (row_number, [cells]) or (row_number, BadRow)."""

    names: list
    records: Iterator
    header_row: int


def _cells_dict(names, cells):
    out = {}
    for i, value in enumerate(cells):
        name = names[i] if i < len(names) else None
        if name:
            out[name] = value
        elif value:
            out[f"第{i + 1}列"] = value
    return out


def row_problems(names, cells):
    """[(column, reason)] for one data row, [] when it can be read exactly."""
    problems = []
    width = len(names)
    if len(cells) > width and any(cells[width:]):
        problems.append((f"第{width + 1}列", f"本行有 {len(cells)} 个单元格, 表头只有 {width} 列 (the row has"
                                            f" {len(cells)} cells, the header {width} columns)"))
    elif len(cells) < width:
        problems.append((names[len(cells)] or f"第{len(cells) + 1}列",
                         f"本行只有 {len(cells)} 个单元格, 表头有 {width} 列 (the row has {len(cells)} cells,"
                         f" the header {width} columns; a broken line?)"))
    for i, name in enumerate(names[:len(cells)]):
        if name == EMPTY and cells[i].strip():
            problems.append((f"第{i + 1}列", "该列没有表头, 却有数据 (a cell under a column with no header)"))
        elif type(cells[i]) is LostDigits:
            problems.append((name or f"第{i + 1}列", LOST_DIGITS))
    problems += cell_problems(names, cells)
    return problems


def build(source, spec, rows, *, header_row=None, workbook=False, errors=(), on_error=None, no_control=False):
    """A Table over ``rows`` (an iterator of (row_number, [text cells])); header problems raised here.

    ``errors``: exception types the row source may raise mid-file (csv.Error); ``on_error(exc,
    row_number)`` turns one into the exception to raise. The CSV reader passes ``enumerate(reader)``
    straight in: a generator layer per row would cost a tenth of the import's reading time.
    ``no_control``: the reader checked the whole file for control characters and found none, so
    the rows skip that search.
    """
    rows = iter(rows)
    limit = HEADER_SEARCH_ROWS if header_row is None else max(header_row, HEADER_SEARCH_ROWS)
    head = []
    try:
        for item in rows:
            head.append(item)
            if len(head) >= limit:
                break
    except errors as e:
        raise on_error(e, head[-1][0] + 1 if head else 1) from None
    index = find_header(head, spec, source, header_row)
    number, raw = head[index]
    if len(raw) > MAX_COLUMNS:
        raise ValidationFailed(f"{source}: 表头超过 {MAX_COLUMNS} 列 (more than {MAX_COLUMNS} columns)",
                               [f"{source}:{number}: 列太多 (too many columns)"])
    names = header_names(raw, spec, source, number)
    return Table(names, _records(source, names, head[index + 1:], rows, workbook, errors, on_error, no_control), number)


def _records(source, names, buffered, rows, workbook, errors, on_error, no_control):
    width = len(names)
    always = EMPTY in names or workbook  # rows that must always get the full look
    search, join = CONTROL.search, ",".join
    look = not no_control
    data = 0
    number = head_end = buffered[-1][0] if buffered else 0
    try:
        for chunk in (buffered, rows):
            for number, cells in chunk:
                if not any(cells):
                    continue
                data += 1
                if always or len(cells) != width or (look and search(join(cells))):
                    problems = row_problems(names, cells)
                    if problems:
                        yield number, BadRow(_cells_dict(names, cells), problems)
                        continue
                    if len(cells) > width:
                        cells = cells[:width]  # trailing empty cells past the header
                yield number, cells
    except errors as e:
        raise on_error(e, max(number, head_end) + 1) from None
    if not data:
        raise ValidationFailed(f"{source}: 表头下没有数据行, 未导入任何数据 (no data rows below the header)",
                               [f"{source}: 没有数据行 (no data rows)"])
