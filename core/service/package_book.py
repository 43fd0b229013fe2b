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

Measured at 1M clients: a first version stored each package's name, services
and action titles in every client's row and let SQLite evaluate each look-up
wherever its column was used: 12.4 s of CPU and 450 bytes a client in every
snapshot; hence the layers below and ``package_rows``.
"""

import json

from .. import plugins as plugins_lib
from . import packages

HEAD_OFFICE = "总部策略 head-office policy"
# Per client only what varies: the package, who chose it when not head office, and for
# each of the package's actions [last interaction of its kind, next due date]. What a
# package is (name, services, actions) is one row per package (``package_rows``).
COLUMNS = ("client_id", "branch_id", "code", "chosen_by", "actions", "next_due")
PACKAGE_COLUMNS = ("code", "position", "name", "services", "actions")


def _lit(value):
    """A SQL literal of a policy string or number (policy text is ours, but quote it properly)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _per_package(doc, alias, pick, only=lambda p: True):
    """``CASE alias.code WHEN … THEN pick(package) … END`` over the packages ``only`` keeps."""
    whens = " ".join(f"WHEN {_lit(p['code'])} THEN {pick(p)}" for p in doc["packages"] if only(p))
    return f"CASE {alias}.code {whens} END" if whens else "NULL"


def book_query(doc, day, schema="main", exclude_branches=()):
    """(SELECT giving ``COLUMNS`` for every client by head office's rules, params).

    ``schema``: where the working tables are (``src`` when attached);
    ``exclude_branches``: branches answered by ``plugin_rows`` instead.
    Three layers, each computed once per client (``LIMIT -1 OFFSET 0`` keeps
    SQLite from flattening a layer into the next, which would evaluate its
    look-ups again wherever a column is used): the package; the last
    interaction of each of its actions' kinds; the due dates.
    """
    case, params = packages._case(doc, day)
    today = _lit(day.isoformat())
    width = max((len(p.get("actions", [])) for p in doc["packages"]), default=0)
    inner = (f"SELECT c.client_id, c.branch_id, {case} AS code"
             f" FROM {schema}.clients c LEFT JOIN {schema}.classifications k ON k.client_key = c.id")
    if exclude_branches:
        inner += f" WHERE c.branch_id NOT IN ({', '.join('?' for _ in exclude_branches)})"
        params = [*params, *sorted(exclude_branches)]
    has = lambda i: lambda p: len(p.get("actions", [])) > i  # noqa: E731
    lasts = [
        _per_package(doc, "q", lambda p, i=i: f"(SELECT max(i.at) FROM {schema}.interactions i WHERE"
                     f" i.client_id = q.client_id AND i.kind = {_lit(p['actions'][i]['kind'])})", has(i)) + f" AS last_{i}"
        for i in range(width)]
    everys = [_per_package(doc, "q", lambda p, i=i: str(int(p["actions"][i]["every_days"])), has(i)) + f" AS every_{i}"
              for i in range(width)]
    count = _per_package(doc, "q", lambda p: str(len(p.get("actions", [])))) + " AS n"
    looked_up = f"SELECT q.client_id, q.branch_id, q.code, {', '.join([count, *lasts, *everys])} FROM ({inner}) q LIMIT -1 OFFSET 0"
    # Most clients have had no interaction of the kind: due today, without a date() call.
    dues = [f"CASE WHEN m.last_{i} IS NULL THEN {today}"
            f" ELSE COALESCE(date(substr(m.last_{i}, 1, 10), '+' || m.every_{i} || ' days'), {today}) END AS due_{i}"
            for i in range(width)]
    dated = f"SELECT m.*{''.join(', ' + d for d in dues)} FROM ({looked_up}) m LIMIT -1 OFFSET 0"
    actions = ["'[]'"] + [
        "json_array(" + ", ".join(f"json_array(d.last_{i}, d.due_{i})" for i in range(n)) + ")" for n in range(1, width + 1)]
    next_due = ["NULL"] + ["d.due_0" if n == 1 else "min(" + ", ".join(f"d.due_{i}" for i in range(n)) + ")"
                           for n in range(1, width + 1)]
    by_count = lambda exprs: "CASE d.n " + " ".join(f"WHEN {n} THEN {e}" for n, e in enumerate(exprs)) + " END"  # noqa: E731
    sql = (f"SELECT d.client_id, d.branch_id, d.code, NULL AS chosen_by, {by_count(actions)} AS actions,"
           f" {by_count(next_due)} AS next_due FROM ({dated}) d")
    return sql, params


def package_rows(doc):
    """One row of ``PACKAGE_COLUMNS`` per package of the policy, in its order."""
    return [(p["code"], i, p["name"], json.dumps(p["services"], ensure_ascii=False),
             json.dumps([{k: a[k] for k in ("title", "kind", "every_days")} for a in p.get("actions", [])],
                        ensure_ascii=False))
            for i, p in enumerate(doc["packages"])]


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
    actions = [[a["last"], a["due_on"]] for a in package["actions"]]
    chosen_by = None if package["chosen_by"] == HEAD_OFFICE else package["chosen_by"]
    return (client_id, branch_id, package["code"], chosen_by, json.dumps(actions, separators=(",", ":")),
            min((a["due_on"] for a in package["actions"]), default=None))


def plugin_rows(db, branches):
    """Rows of ``COLUMNS`` for every client of ``branches``, through ``packages.for_client`` (plugins included)."""
    for branch in sorted(branches):
        for (client_id,) in db.execute("SELECT client_id FROM clients WHERE branch_id = ? ORDER BY client_id",
                                       [branch]).fetchall():
            yield as_row(client_id, branch, packages.for_client(db, client_id))
