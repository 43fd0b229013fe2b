"""Cells as people read them: client ids link to the client page, enumerated
values in Chinese, amounts in 元/万元 (right-aligned), dates in Chinese.

Datasette calls ``cell`` (through the site plugin's ``render_cell``) for every
cell of every table, row and stored-view page; what it returns is HTML.
"""

from urllib.parse import quote

from markupsafe import Markup, escape

from . import labels


def client_url(client_id):
    return "/-/client/" + quote(str(client_id), safe="")


def client_link(client_id):
    return Markup(f'<a class="bc-client" href="{escape(client_url(client_id))}">{escape(client_id)}</a>')


def cell(column, value):
    """HTML for one cell, or None to let Datasette render it (plain values)."""
    if value is None or isinstance(value, bytes):
        return None
    if column in labels.CLIENT_ID_COLUMNS and value != "":
        return client_link(value)
    text, kind = labels.display(column, value)
    if text is None:
        return None
    if kind == "amount":
        return Markup(f'<span class="bc-num" title="{escape(value)}">{escape(text)}</span>')
    return Markup(f'<span class="bc-{kind}" title="{escape(value)}">{escape(text)}</span>')
