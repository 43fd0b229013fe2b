"""JSON (a list of flat objects, or one object wrapping such a list) and NDJSON (one object a line).

Every value must be a single value — text, a number, true/false or null — and
numbers keep the digits the file wrote (``1.10`` stays "1.10", a 18-digit ID
written as a number keeps all 18). A key twice in one object, an object or a
list as a value, NaN/Infinity, and columns the import refuses are each a
problem of that record. A JSON document is parsed whole, so it may be at most
``MAX_JSON_BYTES`` and nest ``MAX_JSON_DEPTH`` deep; NDJSON streams, one line
of at most ``MAX_NDJSON_LINE`` bytes at a time, so it has no size limit.
Row numbers are the record's position (JSON) or its line (NDJSON).
"""

import json
import re

from ..kernel.errors import ValidationFailed
from .headers import column_name
from .read_rules import MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_NDJSON_LINE, BadRow, cell_problems
from .text_files import detect

_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}\n]")


class _Pairs(list):
    """An object's (key, value) pairs as written, duplicates kept, so they can be reported."""


class _Constant(ValueError):
    pass


def _constant(name):
    raise _Constant(name)


def _loads(text):
    return json.loads(text, object_pairs_hook=_Pairs, parse_float=str, parse_int=str,
                      parse_constant=_constant)


def _fail(path, where, reason):
    line = f"{path}:{where}: {reason}" if where else f"{path}: {reason}"
    raise ValidationFailed(line, [line])


def _depth_line(text):
    """The line where nesting first exceeds MAX_JSON_DEPTH, or None (strings are skipped)."""
    depth, line = 0, 1
    for m in _BRACKETS.finditer(_STRINGS.sub('""', text)):
        ch = m.group()
        if ch == "\n":
            line += 1
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return line
        else:
            depth -= 1
    return None


def _value(value):
    """(text, problem) for one JSON value."""
    if value is None:
        return "", None
    if value is True or value is False:
        return ("true" if value else "false"), None
    if isinstance(value, str):
        return value, None
    return "", "须为单个值, 不能是对象或数组 (must be a single value, not an object or a list)"


def record(pairs, spec):
    """One object's pairs as {column: text}, or a BadRow naming what is wrong with it."""
    if not isinstance(pairs, _Pairs):
        return BadRow({}, [("(记录 record)", "须为 JSON 对象 (each record must be an object)")])
    row, problems, raw = {}, [], {}
    for key, value in pairs:
        column = column_name(key, spec)
        if column is None:  # a key the import policy ignores
            continue
        name = column or "(空键 empty key)"
        text, problem = _value(value)
        if problem:
            problems.append((name, problem))
        if name in raw:
            problems.append((name, f"键 {key!r} 与 {raw[name]!r} 是同一列 (the key appears twice)"))
            continue
        raw[name] = key
        if not column and text:
            problems.append((name, "键为空, 却有值 (a value under an empty key)"))
        elif column and spec.unknown == "refuse" and column not in spec.known:
            problems.append((name, "未知列 (unknown column)"))
        row[name] = text
    problems += cell_problems(list(row), list(row.values()))
    return BadRow(row, problems) if problems else row


def json_rows(path, spec):
    """(record number, row) for every record of a JSON document."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        _fail(path, None, f"JSON 文件超过 {MAX_JSON_BYTES >> 20} MB, 请改用 NDJSON 或 CSV (a JSON document over "
                          f"{MAX_JSON_BYTES >> 20} MB: use NDJSON, one record a line, or CSV)")
    with open(path, encoding=detect(path, unicode_only=True).codec) as f:
        text = f.read()
    deep = _depth_line(text)
    if deep is not None:
        _fail(path, deep, f"嵌套超过 {MAX_JSON_DEPTH} 层 (nested deeper than {MAX_JSON_DEPTH} levels)")
    try:
        data = _loads(text)
    except _Constant as e:
        _fail(path, None, f"{e} 不是有效的 JSON 值 (not a JSON value)")
    except (json.JSONDecodeError, RecursionError) as e:
        where = getattr(e, "lineno", None)
        _fail(path, where, f"JSON 格式错误 (invalid JSON): {getattr(e, 'msg', e)}")
    if isinstance(data, _Pairs):
        lists = [v for _, v in data if isinstance(v, list)]
        if len(lists) != 1:
            _fail(path, None, "JSON 须为对象数组, 或只含一个数组的对象 (must be a list of objects, or an object"
                              " holding exactly one such list)")
        data = lists[0]
    if not isinstance(data, list):
        _fail(path, None, "JSON 须为对象数组 (must be a list of objects)")
    if not data:
        _fail(path, None, "没有记录, 未导入任何数据 (no records)")
    for number, obj in enumerate(data, start=1):
        yield number, record(obj, spec)


def ndjson_rows(path, spec):
    """(line number, row) for every non-blank line of an NDJSON file."""
    seen = 0
    with open(path, encoding=detect(path, unicode_only=True).codec, newline="") as f:
        number = 0
        while True:
            line = f.readline(MAX_NDJSON_LINE + 1)
            if not line:
                break
            number += 1
            if len(line) > MAX_NDJSON_LINE:
                _fail(path, number, f"一行超过 {MAX_NDJSON_LINE >> 20} MB (a line longer than "
                                    f"{MAX_NDJSON_LINE >> 20} MB)")
            if not line.strip():
                continue
            try:
                obj = _loads(line)
            except _Constant as e:
                yield number, BadRow({}, [("(记录 record)", f"{e} 不是有效的 JSON 值 (not a JSON value)")])
                continue
            except (json.JSONDecodeError, RecursionError) as e:
                _fail(path, number, f"JSON 格式错误 (invalid JSON line): {getattr(e, 'msg', e)}")
            seen += 1
            yield number, record(obj, spec)
    if not seen:
        _fail(path, None, "没有记录, 未导入任何数据 (no records)")
