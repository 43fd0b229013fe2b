"""Declarative conditions compiled to SQL.

Head-office value rules and branch plugin adjustments are written as data:

    {"field": "total_assets", "op": ">=", "value": 1_000_000}
    {"any": [cond, …]}   {"all": [cond, …]}   {"not": cond}

``compile_condition`` turns such a tree into a SQL expression with ``?``
parameters, so a rule runs as one statement over a whole batch of clients
instead of one Python call per client.
"""

from .errors import PolicyError

COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _cost(sql):
    """Rough evaluation cost of a compiled condition: the number of function calls in it."""
    return sql.count("(")


def compile_condition(cond, fields, where="condition"):
    """Return ``(sql, params)`` for ``cond``; ``fields`` maps names to SQL expressions.

    ``where`` names the place in the policy file, for error messages.
    """
    if not isinstance(cond, dict):
        raise PolicyError(f"{where}: must be a table (dict), got {type(cond).__name__}")
    combinators = [k for k in ("any", "all", "not") if k in cond]
    if len(combinators) > 1:
        raise PolicyError(f"{where}: use one of any/all/not per condition, not {combinators}")
    if combinators:
        key = combinators[0]
        if key == "not":
            sql, params = compile_condition(cond["not"], fields, f"{where}.not")
            return f"NOT ({sql})", params
        parts = cond[key]
        if not isinstance(parts, list) or not parts:
            raise PolicyError(f"{where}.{key}: must be a non-empty list of conditions")
        compiled = [compile_condition(part, fields, f"{where}.{key}[{i}]") for i, part in enumerate(parts)]
        # SQLite evaluates AND/OR left to right and stops early: test plain
        # columns before derived expressions (age is several string operations).
        compiled.sort(key=lambda sp: _cost(sp[0]))
        return (" OR " if key == "any" else " AND ").join(f"({sql})" for sql, _ in compiled), [
            p for _, ps in compiled for p in ps
        ]

    field = cond.get("field")
    if field not in fields:
        raise PolicyError(
            f"{where}.field: unknown field {field!r}; known: {', '.join(sorted(fields))}"
        )
    expr = fields[field]
    op = cond.get("op")
    value = cond.get("value")
    if op in COMPARISONS:
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise PolicyError(f"{where}.value: {op} needs a number or a text value")
        # A field may know a cheaper equivalent form (age: one date compare).
        cheaper = getattr(expr, "compare", None)
        found = cheaper(op, value) if cheaper else None
        return found or (f"{expr} {COMPARISONS[op]} ?", [value])
    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise PolicyError(f"{where}.value: {op!r} needs a non-empty list")
        marks = ", ".join("?" for _ in value)
        return f"{expr} {'NOT IN' if op == 'not in' else 'IN'} ({marks})", list(value)
    if op in ("is null", "is not null"):
        return f"{expr} {op.upper()}", []
    raise PolicyError(
        f"{where}.op: unknown operator {op!r}; use one of "
        + ", ".join(list(COMPARISONS) + ["in", "not in", "is null", "is not null"])
    )
