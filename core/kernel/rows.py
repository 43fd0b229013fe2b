"""Rows as dicts, and the look-ups every feature repeats.

sqlite-utils' ``db.query`` yields each row as a dict; ``one`` takes the
first. ``client`` is the one check that a named client exists. Raw
``execute`` with tuples stays on the measured hot paths (imports,
classification, publishing the site).
"""

from .errors import NO_SUCH_CLIENT, NotFound



def one(db, sql, params=()):
    """The first row of ``sql`` as a dict, or None."""
    return next(iter(db.query(sql, params)), None)


def client(db, client_id, columns="branch_id"):
    """``columns`` (SQL) of the client as a dict; NotFound if there is no such client."""
    row = one(db, f"SELECT {columns} FROM clients WHERE client_id = ?", [client_id])
    if row is None:
        raise NotFound(NO_SUCH_CLIENT.format(client_id))
    return row


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
