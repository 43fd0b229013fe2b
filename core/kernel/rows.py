"""Rows as dicts, and the look-ups every feature repeats.

sqlite-utils' ``db.query`` yields each row as a dict; ``one`` takes the
first. ``client`` is the one check that a named client exists. Raw
``execute`` with tuples stays on the measured hot paths (imports,
classification, publishing the site).
"""

from .errors import NO_SUCH_CLIENT, NotFound


def one(db, sql, params=(), *, missing=None):
    """The first row of ``sql`` as a dict; None if there is none, or NotFound(``missing``) if that is given."""
    row = next(iter(db.query(sql, params)), None)
    if row is None and missing is not None:
        raise NotFound(missing)
    return row


def client(db, client_id, columns="branch_id"):
    """``columns`` (SQL) of the client as a dict; NotFound if there is no such client."""
    return one(db, f"SELECT {columns} FROM clients WHERE client_id = ?", [client_id],
               missing=NO_SUCH_CLIENT.format(client_id))


def chunks(items, size):
    """``items`` (a list) in slices of ``size``: one IN (…) query per slice stays under SQLite's parameter limit."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def existing(db, table, column, values):
    """The subset of ``values`` present in ``table.column`` (looked up in chunks)."""
    found = set()
    values = list({v for v in values if v})
    for chunk in chunks(values, 500):
        found.update(r[0] for r in db.execute(
            f"SELECT [{column}] FROM [{table}] WHERE [{column}] IN ({', '.join('?' * len(chunk))})", chunk))
    return found
