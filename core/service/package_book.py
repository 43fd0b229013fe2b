"""Every client's service package at once: one SQL statement over the whole book.

``packages.for_client`` answers for one client; publishing the site needs the
answer for a million, so this module gives the same answer as SQL (the
head-office rules are ``packages``' own CASE, the due dates the same rule:
``every_days`` after the last interaction of the action's kind, at once if
there has been none). Clients whose branch has an approved plugin that may
choose another package (hook ``choose_service_package``) are answered one by
one through ``packages.for_client`` itself, so a plugin's choice is the same
on the site as in ``clients show``. ``tests/site/test_publish_packages.py``
checks the two paths agree client by client.
"""

import json

from .. import plugins as plugins_lib
from . import packages

HEAD_OFFICE = "总部策略 head-office policy"
COLUMNS = ("client_id", "branch_id", "code", "name", "services", "chosen_by", "actions", "next_due")


def _lit(value):
    """A SQL literal of a policy string or number (policy text is ours, but quote it properly)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _by_code(doc, pick):
    """``CASE p.code WHEN … THEN pick(package) … END`` over every package."""
    whens = " ".join(f"WHEN {_lit(p['code'])} THEN {pick(p)}" for p in doc["packages"])
    return f"CASE p.code {whens} END"


def _actions_sql(package, schema, today):
    """(JSON array of the package's actions with last and next due, the earliest due date) as SQL."""
    items, dues = [], []
    for action in package.get("actions", []):
        last = (f"(SELECT max(i.at) FROM {schema}.interactions i"
                f" WHERE i.client_id = p.client_id AND i.kind = {_lit(action['kind'])})")
        due_on = f"COALESCE(date(substr({last}, 1, 10), '+{int(action['every_days'])} days'), {_lit(today)})"
        items.append(f"json_object('title', {_lit(action['title'])}, 'kind', {_lit(action['kind'])},"
                     f" 'every_days', {int(action['every_days'])}, 'last', {last}, 'due_on', {due_on},"
                     f" 'due', json(CASE WHEN {due_on} <= {_lit(today)} THEN 'true' ELSE 'false' END))")
        dues.append(due_on)
    actions = f"json_array({', '.join(items)})" if items else "'[]'"
    next_due = "NULL" if not dues else dues[0] if len(dues) == 1 else f"min({', '.join(dues)})"
    return actions, next_due


def book_query(doc, day, schema="main", exclude_branches=()):
    """(SELECT giving ``COLUMNS`` for every client by head office's rules, params).

    ``schema``: where the working tables are (``src`` when attached);
    ``exclude_branches``: branches answered by ``plugin_rows`` instead. The
    action columns are computed per package (``CASE`` on the code), so only
    the chosen package's look-ups run for a client.
    """
    case, params = packages._case(doc, day)
    today = day.isoformat()
    actions, dues = {}, {}
    for p in doc["packages"]:
        actions[p["code"]], dues[p["code"]] = _actions_sql(p, schema, today)
    sql = (
        f"SELECT p.client_id, p.branch_id, p.code,"
        f" {_by_code(doc, lambda p: _lit(p['name']))} AS name,"
        f" {_by_code(doc, lambda p: _lit(json.dumps(p['services'], ensure_ascii=False)))} AS services,"
        f" {_lit(HEAD_OFFICE)} AS chosen_by,"
        f" {_by_code(doc, lambda p: actions[p['code']])} AS actions,"
        f" {_by_code(doc, lambda p: dues[p['code']])} AS next_due"
        f" FROM (SELECT c.client_id, c.branch_id, {case} AS code"
        f" FROM {schema}.clients c LEFT JOIN {schema}.classifications k ON k.client_key = c.id"
    )
    if exclude_branches:
        sql += f" WHERE c.branch_id NOT IN ({', '.join('?' for _ in exclude_branches)})"
        params = [*params, *sorted(exclude_branches)]
    return sql + ") p", params


def plugin_branches(db):
    """Branches where an approved plugin implements ``choose_service_package``: answered client by client."""
    host = plugins_lib.current()
    out = set()
    for branch in plugins_lib.dispatch.branches_with_plugins(db):
        for info, _ in plugins_lib.approved_for(db, host, branch):
            if "choose_service_package" in host.hooks(info.name):
                out.add(branch)
    return out


def as_row(client_id, branch_id, package):
    """``packages.for_client``'s answer as a row of ``COLUMNS`` (the same JSON as ``book_query``)."""
    actions = [{k: a[k] for k in ("title", "kind", "every_days", "last", "due_on", "due")} for a in package["actions"]]
    return (client_id, branch_id, package["code"], package["name"],
            json.dumps(package["services"], ensure_ascii=False), package["chosen_by"],
            json.dumps(actions, ensure_ascii=False, separators=(",", ":")),
            min((a["due_on"] for a in actions), default=None))


def plugin_rows(db, branches):
    """Rows of ``COLUMNS`` for every client of ``branches``, through ``packages.for_client`` (plugins included)."""
    for branch in sorted(branches):
        for (client_id,) in db.execute("SELECT client_id FROM clients WHERE branch_id = ? ORDER BY client_id",
                                       [branch]).fetchall():
            yield as_row(client_id, branch, packages.for_client(db, client_id))
