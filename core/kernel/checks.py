"""Small validators for policy documents; each raises PolicyError naming the key."""

from .errors import PolicyError


def number(doc, key, where, *, minimum=0):
    value = doc.get(key) if isinstance(doc, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PolicyError(f"{where}.{key}: 须为数字 (must be a number), got {value!r}")
    if minimum is not None and value < minimum:
        raise PolicyError(f"{where}.{key}: 须 ≥ {minimum} (must be ≥ {minimum}), got {value!r}")
    return value


def text(doc, key, where):
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}.{key}: 须为非空文本 (must be non-empty text), got {value!r}")
    return value


def table(doc, key, where):
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, dict):
        raise PolicyError(f"{where}{'.' if where else ''}{key}: 缺少或不是表 (missing, or not a table)")
    return value


def array(doc, key, where, *, nonempty=True):
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, list) or (nonempty and not value):
        raise PolicyError(f"{where}{'.' if where else ''}{key}: 须为非空列表 (must be a non-empty list)")
    return value


def unique_text(doc, key, where, seen, what):
    """``text(doc, key, where)``, refused when ``seen`` has it already (then added to ``seen``).

    ``what`` is (Chinese, English) for the message, e.g. ("题号", "question id").
    """
    value = text(doc, key, where)
    if value in seen:
        raise PolicyError(f"{where}.{key}: 重复的{what[0]} {value!r} (duplicate {what[1]})")
    seen.add(value)
    return value
