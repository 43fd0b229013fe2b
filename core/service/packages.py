"""Service packages (服务包, policies/packages.toml): client type → services and
recurring actions.

The first package whose condition matches wins, evaluated in SQL over the
client and its classification (so a whole branch is one statement); an
approved branch plugin may then pick another of head office's packages for a
client (hook ``choose_service_package``). An action is due ``every_days`` after
the last interaction of its kind, at once if there has been none. A client who
has left (closed, transferred out) has no package and is counted in none.
"""

import datetime as dt

from .. import plugins as plugins_lib
from ..book import clients as clients_lib
from . import lifecycle
from . import policy as sp
from .interactions import KINDS
from ..kernel.masking import mask_record
from ..kernel import rows
from ..trust import authz
from ..kernel.checks import array, number, text, unique_text
from ..classify.engine import CURRENT_ROW_SQL
from ..classify.compile import DIMENSIONS
from ..kernel.client_fields import client_fields
from ..kernel.errors import NO_SUCH_CLIENT, NotFound, PolicyError
from ..kernel.rules import compile_condition
from ..kernel.timeutil import today

# The classification values package rules may name (lowest_category is a flag the rules do not use).
CLASSIFIED_FIELDS = tuple(d for d in DIMENSIONS if d != "lowest_category")


def fields(day):
    f = client_fields(day)
    f.update({name: f"k.[{name}]" for name in CLASSIFIED_FIELDS})
    return f


def validate(doc):
    packages = array(doc, "packages", "")
    codes = set()
    probe = fields(dt.date(2000, 1, 1))
    for i, p in enumerate(packages):
        where = f"packages[{i}]"
        unique_text(p, "code", where, codes, ("服务包代码", "package code"))
        text(p, "name", where)
        services = array(p, "services", where)
        if not all(isinstance(s, str) and s for s in services):
            raise PolicyError(f"{where}.services: 须为文本列表 (must be a list of text)")
        if "when" in p:
            compile_condition(p["when"], probe, f"{where}.when")
        elif i != len(packages) - 1:
            raise PolicyError(f"{where}.when: 只有最后一个服务包可以不设条件 (only the last package may omit `when`)")
        for j, action in enumerate(p.get("actions", [])):
            aw = f"{where}.actions[{j}]"
            text(action, "title", aw)
            if text(action, "kind", aw) not in KINDS:
                raise PolicyError(f"{aw}.kind: 未知接触类型 {action['kind']!r} (unknown interaction kind; use {', '.join(KINDS)})")
            number(action, "every_days", aw, minimum=1)
    if "when" in packages[-1]:
        raise PolicyError(f"packages[{len(packages) - 1}].when: 最后一个服务包须无条件, 兜底所有客户"
                          " (the last package must have no `when`: it catches everyone else)")


def load(db):
    doc, source = sp.load_named(db, "packages", "packages.toml")
    return doc, source


def _case(doc, day):
    """(SQL CASE giving the package code, params)."""
    whens, params = [], []
    f = fields(day)
    for i, p in enumerate(doc["packages"][:-1]):
        sql, p_params = compile_condition(p["when"], f, f"packages[{i}].when")
        whens.append(f"WHEN {sql} THEN ?")
        params += p_params + [p["code"]]
    return f"CASE {' '.join(whens)} ELSE ? END", params + [doc["packages"][-1]["code"]]


FROM = " FROM clients c LEFT JOIN classifications k ON k.client_key = c.id"


def package_code(db, client_id, doc=None):
    doc = doc or load(db)[0]
    case, params = _case(doc, today())
    row = db.execute(f"SELECT {case}{FROM} WHERE c.client_id = ?", [*params, client_id]).fetchone()
    if row is None:
        raise NotFound(NO_SUCH_CLIENT.format(client_id))
    return row[0]


def _plugin_choice(db, client_id, codes, current):
    """An approved plugin of the client's branch may pick another head-office package."""
    client = mask_record(clients_lib.get(db, client_id))
    if client["branch_id"] not in plugins_lib.dispatch.branches_with_plugins(db, [client["branch_id"]]):
        return None
    found = rows.one(db, CURRENT_ROW_SQL, [client_id])
    if found:
        client.update({k: v for k, v in found.items() if k in CLASSIFIED_FIELDS})
    client["package"] = current
    client.pop("extra", None)
    host = plugins_lib.current()
    for info, choice in plugins_lib.call_for_branch(db, host, client["branch_id"], "choose_service_package",
                                                    client=client, packages=list(codes)):
        if choice is None:
            continue
        if choice not in codes:
            raise plugins_lib.PluginError(info.name, client["branch_id"],
                                          f"choose_service_package 返回未知服务包 (unknown package) {choice!r:.50}")
        return choice, info.name
    return None


def show(db, actor, client_id):
    """The client's package, for someone allowed to read the client."""
    authz.require(actor, "package.read", branch=clients_lib.get(db, client_id)["branch_id"])
    return for_client(db, client_id)


def for_client(db, client_id):
    """The client's package with its services and each action's last and next due date."""
    doc, source = load(db)
    status = lifecycle.current(db, client_id)
    if status in lifecycle.DEPARTED:
        return {"code": None, "name": f"无 (客户{lifecycle.STATUSES[status]}, left: no package)", "services": [],
                "actions": [], "chosen_by": f"客户状态 client status {status}", "policy": source}
    by_code = {p["code"]: p for p in doc["packages"]}
    code = package_code(db, client_id, doc)
    chosen_by = "总部策略 head-office policy"
    choice = _plugin_choice(db, client_id, by_code, code)
    if choice:
        code, plugin = choice
        chosen_by = f"插件 plugin {plugin}"
    package = by_code[code]
    day = today()
    actions = []
    for action in package.get("actions", []):
        last = db.execute("SELECT max(at) FROM interactions WHERE client_id = ? AND kind = ?",
                          [client_id, action["kind"]]).fetchone()[0]
        due_on = (dt.date.fromisoformat(last[:10]) + dt.timedelta(days=action["every_days"])) if last else day
        actions.append({"title": action["title"], "kind": action["kind"], "every_days": action["every_days"],
                        "last": last, "due_on": due_on.isoformat(), "due": due_on <= day})
    return {"code": code, "name": package["name"], "services": package["services"], "actions": actions,
            "chosen_by": chosen_by, "policy": source}


def distribution(db, actor, *, branch=None):
    """How many clients of each branch fall in each package (head-office rules, one statement)."""
    branch = authz.branch_filter(actor, "package.read", branch)
    doc, source = load(db)
    case, params = _case(doc, today())
    sql = f"SELECT c.branch_id, {case} AS package, count(*){FROM} WHERE NOT c.{lifecycle.DEPARTED_SQL}"
    if branch:
        sql += " AND c.branch_id = ?"
        params = params + [branch]
    sql += " GROUP BY c.branch_id, package ORDER BY c.branch_id, package"
    return {"policy": source,
            "rows": [{"branch_id": b, "package": p, "clients": n} for b, p, n in db.execute(sql, params)]}
