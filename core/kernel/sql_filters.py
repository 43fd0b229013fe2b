"""Optional equality filters for listing queries (--branch, --client, --state …)."""


def where_equal(columns, extra=()):
    """`` WHERE a = ? AND …`` and its parameters for the columns whose value is given.

    ``columns`` maps a column (it may carry a table alias: ``c.branch_id``) to
    a value; None or "" means no filter. ``extra`` adds ``(clause, params)``
    pairs for conditions other than equality. Returns ``("", [])`` when
    nothing filters.
    """
    clauses, params = [], []
    for column, value in columns.items():
        if value not in (None, ""):
            clauses.append(f"{column} = ?")
            params.append(value)
    for clause, values in extra:
        clauses.append(clause)
        params.extend(values)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
