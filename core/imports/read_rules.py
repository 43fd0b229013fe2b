"""The readers' limits and the checks every cell passes, whatever the file type.

Limits keep a hostile or broken file from costing unbounded memory or time;
each is documented in docs/imports.md. A cell that breaks a rule is refused
with its row and column (``BadRow``); a file that breaks a limit is refused
as a whole, with the row where it did.
"""

import re

# Excel's own limit for one cell; a longer "cell" is a broken file, not data.
MAX_CELL_CHARS = 32_767
# A JSON document (not NDJSON) is parsed whole: keep it small enough to stay within the memory budget.
MAX_JSON_BYTES = 10 << 20
# One record is a flat object inside a list, maybe inside one wrapping object: depth 3.
MAX_JSON_DEPTH = 3
# One NDJSON line: a record of a few hundred cells at most.
MAX_NDJSON_LINE = 1 << 20
# Workbooks: total bytes once unzipped, and the largest ratio of unzipped to zipped bytes of one part.
MAX_UNZIPPED_BYTES = 256 << 20
MAX_ZIP_RATIO = 200
# Bytes the process reading a workbook may add to its data segment (calamine holds one whole sheet).
WORKBOOK_MEMORY_BYTES = 160 << 20
# Header search: a title block above the header is at most this many rows.
HEADER_SEARCH_ROWS = 10
MAX_COLUMNS = 1_000

# C0 and C1 control characters and DEL; tab, line feed and carriage return are text.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class BadRow(dict):
    """A row the reader could not take as it is: ``problems`` is [(column, reason)].

    It still maps column -> cell as read, so a rejects file can show it.
    """

    __slots__ = ("problems",)

    def __init__(self, cells, problems):
        super().__init__(cells)
        self.problems = problems


def control_problem(value):
    """The reason a cell with a control character is refused, or None."""
    found = CONTROL.search(value)
    if found is None:
        return None
    code = ord(found.group())
    name = "NUL" if code == 0 else f"U+{code:04X}"
    return f"含控制字符 {name} (contains the control character {name}; the file is damaged or not text)"


def cell_problems(names, cells):
    """[(column, reason)] for the cells of one row that carry control characters or are too long."""
    problems = []
    for i, value in enumerate(cells):
        column = names[i] if i < len(names) and names[i] else f"第{i + 1}列"
        reason = control_problem(value)
        if reason:
            problems.append((column, reason))
        elif len(value) > MAX_CELL_CHARS:
            problems.append((column, f"单元格超过 {MAX_CELL_CHARS:,} 个字符 (cell longer than {MAX_CELL_CHARS:,}"
                                     " characters, Excel's limit)"))
    return problems
