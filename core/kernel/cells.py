"""Cells written for people to open in Excel or WPS: never a formula.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which Excel skips before looking for one) is run as a formula when
the file is opened: ``=HYPERLINK(…)`` in a client's name would be a live link
in a rejects file (CSV injection, OWASP). ``neutralise`` puts an apostrophe
in front, which Excel shows as text and does not store. Every file the project
writes for people goes through it: the import rejects file now, the site's
exports and the archive next. The database keeps values exactly as imported.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """``value`` as a cell Excel will show as text: a leading apostrophe before a formula-like start."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_row(values):
    return [neutralise(v) for v in values]
