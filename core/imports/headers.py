"""The header row of a table file: where it is, what its names mean, what is wrong with it.

A branch's export may carry a title block above the header ("客户信息表
2026年6月", a blank line); the header is the first of the first
``HEADER_SEARCH_ROWS`` rows in which at least two cells name columns this
import knows (or ``--header-row N`` says which row it is). Names are mapped to
the import's columns through the built-in spellings and the head-office
synonyms (``import_policy``). Everything wrong with the header — a column twice,
a required column missing, a column the import does not know (where it keeps
no extra columns) — is reported once, up front, as ``file:row:column: reason``,
instead of as a "required" problem on every row.
"""

import unicodedata
from dataclasses import dataclass, field

from ..kernel.errors import ValidationFailed
from .read_rules import HEADER_SEARCH_ROWS

# Names in ``names`` lists: a real column, "" for a header cell left empty, None for an ignored column.
EMPTY = ""


@dataclass(frozen=True)
class ColumnSpec:
    """What one import reads: spellings -> columns, the columns it knows and needs, what it does with others."""

    aliases: dict = field(default_factory=dict)   # spelling -> column
    known: frozenset = frozenset()                # columns the import understands
    required: tuple = ()                          # columns every file must have
    unknown: str = "keep"                         # "keep" (as extra data) or "refuse"
    ignore: frozenset = frozenset()               # spellings dropped without a word (policy)

    def spellings(self, column, limit=6):
        """A few headers a person may use for ``column`` (for messages)."""
        found = [column] + [k for k, v in self.aliases.items() if v == column and k != column]
        return ", ".join(found[:limit])


def header_key(name):
    return unicodedata.normalize("NFKC", str(name if name is not None else "")).replace("\ufeff", "").strip()


def normalise_header(name, aliases):
    """The column a header cell names: an alias's column, else the name itself (ASCII names lower-cased)."""
    key = header_key(name)
    found = aliases.get(key) or aliases.get(key.lower())
    if found:
        return found
    raw = str(name if name is not None else "").replace("\ufeff", "").strip()
    return raw.lower() if raw.isascii() else raw


def column_name(name, spec):
    """The column for one header cell under ``spec``: a name, EMPTY, or None (ignored)."""
    key = header_key(name)
    if not key:
        return EMPTY
    if key in spec.ignore or key.lower() in spec.ignore:
        return None
    return normalise_header(name, spec.aliases)


def known_count(cells, spec):
    """How many cells of a row name columns the import knows (a header has several)."""
    return sum(1 for c in cells if isinstance(c, str) and column_name(c, spec) in spec.known)


def find_header(rows, spec, source, header_row=None):
    """Pick the header among the first rows: ``rows`` is [(row_number, cells)]; returns its index in ``rows``.

    Raises ValidationFailed naming the rows looked at when none qualifies.
    """
    if header_row is not None:
        for i, (number, _) in enumerate(rows):
            if number == header_row:
                return i
        raise ValidationFailed(
            f"{source}: 第 {header_row} 行不在文件开头 {HEADER_SEARCH_ROWS} 行之内或文件没有这么多行 "
            f"(--header-row {header_row}: no such row among the first {HEADER_SEARCH_ROWS})",
            [f"{source}:{header_row}: 找不到表头行 (header row not found)"])
    need = 2 if len(spec.known) > 1 else 1
    for i, (number, cells) in enumerate(rows):
        if known_count(cells, spec) >= need:
            return i
    first = next((n for n, cells in rows if any(str(c).strip() for c in cells)), None)
    if first is None:
        raise ValidationFailed(f"{source}: 文件没有内容 (the file has no rows)",
                               [f"{source}: 文件为空 (the file is empty)"])
    expected = "; ".join(spec.spellings(c, 3) for c in spec.required) or ", ".join(sorted(spec.known)[:8])
    raise ValidationFailed(
        f"{source}: 前 {HEADER_SEARCH_ROWS} 行中找不到表头 (no header row among the first {HEADER_SEARCH_ROWS}"
        f" rows); 应有的列 (expected columns): {expected}; 表头在别处时用 --header-row N",
        [f"{source}:{first}: 不是表头, 未识别出列名 (not a header: no known column names)"])


def header_names(raw, spec, source, number):
    """Column names for the header cells ``raw`` at row ``number``; every header problem raised at once."""
    names = [column_name(c, spec) for c in raw]
    while names and names[-1] == EMPTY:  # trailing empty header cells: Excel's stray formatted columns
        names.pop()
    problems = []
    first_at = {}
    for i, name in enumerate(names):
        if not name:
            continue
        if name in first_at:
            j = first_at[name]
            problems.append((name, f"第 {j + 1} 列 {str(raw[j]).strip()!r} 与第 {i + 1} 列 {str(raw[i]).strip()!r}"
                                   f" 是同一列, 只能有一列 (two columns mean {name}; keep one)"))
        else:
            first_at[name] = i
    for column in spec.required:
        if column not in first_at:
            problems.append((column, f"缺少必填列, 可用的表头 (missing required column; accepted headers): "
                                     f"{spec.spellings(column)}"))
    if spec.unknown == "refuse":
        for i, name in enumerate(names):
            if name and name not in spec.known:
                problems.append((str(raw[i]).strip(), "未知列, 请核对表头或在总部导入策略中加同义词或 ignore "
                                                      "(unknown column: check the header, or add a synonym or an"
                                                      " ignore entry to the import policy)"))
    if problems:
        raise ValidationFailed(
            f"{source}: 表头有误, 未导入任何数据 (the header has {len(problems)} problem(s); nothing was imported)",
            [f"{source}:{number}:{column}: {reason}" for column, reason in problems])
    return names
