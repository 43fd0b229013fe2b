"""The site's own Datasette plugin: access, sign-in, pages, cells.

Two independent gates, both closed unless a rule opens them:

1. ``asgi_wrapper``: before Datasette sees a request, the path must be on a
   short list for the visitor — anonymous: the sign-in page and static files;
   a branch user: its own branch database, the client pages and exports of
   it; head office: the databases and a few read-only ``/-/`` pages.
   Everything else is 403. Big tables answer only indexed filters and sorts
   (``limits``). Every response gets the security headers (``signin``).
2. ``permission_allowed`` (runs last, so its answer wins): True only for
   viewing the instance, a database in the actor's scope, a published table
   or stored view of such a database; False for every other action
   (downloads, arbitrary SQL and ``_where=``, debug pages, and any action a
   later Datasette adds).

Pages of its own: the dashboard (``/`` and ``/<database>``), 客户360
(``/-/client/<id>``), exports (``/-/export/…``) and the sign-in form; what
they show is built in ``dashboard``, ``client_page``, ``export`` and
``signin``; ``render`` and ``labels`` put every cell in Chinese.
"""

import re
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import quote

import pluggy


from brokercrm.site import auth

from brokercrm.site.specs import SUMMARIES, TABLES

from . import client_page, dashboard, export, labels, limits, render, signin, template_vars

PUBLIC_PATHS = ("/-/login", "/-/logout", "/favicon.ico", "/robots.txt")
PUBLIC_PREFIXES = ("/-/static/", "/-/bc-static/")
HQ_SPECIAL = ("/-/metadata", "/-/databases", "/-/versions", "/-/plugins", "/-/settings", "/-/actor")
BRANCH_SPECIAL = ("/-/actor",)
SIGNED_IN_PAGES = ("/-/client",)
STATIC_DIR = Path(__file__).resolve().parent / "static"

# Datasette's own marker (datasette.hookspecs defines hookimpl exactly so). Made here so
# that importing this module, which brokercrm.site.serve does at the top, does not load
# the web stack on every CLI start; datasette itself is imported where a hook runs,
# by which time Datasette is running anyway.
hookimpl = pluggy.HookimplMarker("datasette")


def _config(datasette):
    # Resolved once per Datasette instance: plugin_config() merges the whole
    # metadata on every call, and permission checks run many times a page.
    cached = getattr(datasette, "_brokercrm_site_config", None)
    if cached is None:
        cached = datasette.plugin_config(auth.PLUGIN_NAME) or {}
        datasette._brokercrm_site_config = cached
    return cached


def _users(config):
    users = config.get("users")
    if isinstance(users, dict):
        return auth.load(users)
    return auth.parse_users(users if isinstance(users, str) else "")


def valid_actor(datasette, actor):
    """The actor as the site knows it, or None: only users still configured count."""
    if not isinstance(actor, dict) or actor.get("site") != "brokercrm":
        return None
    user = _users(_config(datasette)).get(actor.get("id"))
    if not user or user["role"] != actor.get("role") or user["branch"] != actor.get("branch"):
        return None
    return actor


def visible_databases(datasette, actor):
    config = _config(datasette)
    actor = valid_actor(datasette, actor)
    if not actor:
        return []
    dbs = config.get("databases", {})
    if actor["role"] == "headoffice":
        return list(dbs)
    return [name for name, db in dbs.items() if db.get("branch") and db["branch"] == actor.get("branch")]


def home_database(datasette, actor):
    """The snapshot a user reads first: head office's own, or the user's branch."""
    names = visible_databases(datasette, actor)
    hq = _config(datasette).get("hq")
    if hq in names:
        return hq
    return names[0] if names else None


@hookimpl(trylast=True)
def permission_allowed(datasette, actor, action, resource):
    # trylast: Datasette keeps the last non-None answer, so this one decides.
    if action == "view-instance":
        return valid_actor(datasette, actor) is not None
    dbs = _config(datasette).get("databases", {})
    if action == "view-database":
        return resource in visible_databases(datasette, actor)
    if action == "view-table":
        database, table = resource
        return database in visible_databases(datasette, actor) and table in dbs[database]["tables"]
    if action == "view-query":
        database, query = resource
        return database in visible_databases(datasette, actor) and query in dbs[database]["queries"]
    return False


# ---- the path gate ------------------------------------------------------------------------

def _actor_from_scope(datasette, scope):
    from datasette.utils import baseconv
    from datasette.utils.asgi import Request

    request = Request(scope, None)
    cookie = request.cookies.get("ds_actor")
    if not cookie:
        return None
    try:
        decoded = datasette.unsign(cookie, "actor")
    except Exception:
        return None
    if not isinstance(decoded, dict) or "a" not in decoded:
        return None
    if decoded.get("e") and time.time() > int(baseconv.base62.decode(decoded["e"])):
        return None
    return valid_actor(datasette, decoded["a"])


def path_allowed(datasette, actor, path):
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return True
    if not actor:
        return False
    if path in ("/", "/.json"):
        return True
    if path in SIGNED_IN_PAGES or path.startswith("/-/client/"):
        return True  # the client page reads only the user's own snapshot
    if path.startswith("/-/export/"):
        parts = path.split("/")
        return len(parts) == 5 and parts[3] in visible_databases(datasette, actor)
    special = HQ_SPECIAL if actor["role"] == "headoffice" else BRANCH_SPECIAL
    if path.startswith("/-/"):
        return any(path == p or path == p + ".json" for p in special)
    first = path[1:].split("/", 1)[0]
    name = re.sub(r"\.(json|csv|db)$", "", first)
    return name in visible_databases(datasette, actor)


def _big_rules(datasette, path):
    """The big-table rules of the table page at ``path``, None for any other page."""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or path.startswith("/-/"):
        return None
    return limits.big_rules(_config(datasette), parts[0], re.sub(r"\.(json|csv)$", "", parts[1]))


async def _send_html(send, status, body, headers=()):
    body = body.encode("utf-8") if isinstance(body, str) else body
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())] + list(headers)})
    await send({"type": "http.response.body", "body": body})


def _gate_request(scope, receive, actor):
    # The gate runs before Datasette's middleware: give the page what that middleware would.
    from datasette.utils.asgi import Request

    return Request({**scope, "csrftoken": lambda: "", "actor": actor}, receive)


async def message_page(datasette, title, text, *, details="", back=None, request=None):
    return await datasette.render_template(
        "bc_message.html", {"title": title, "text": text, "details": details, "back": back}, request=request)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def gate(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            https = bool(_config(datasette).get("https"))

            async def send_secured(message):
                if message["type"] == "http.response.start":
                    message = {**message, "headers": signin.response_headers(list(message.get("headers", [])), https)}
                await send(message)

            path = scope.get("path", "/")
            actor = _actor_from_scope(datasette, scope)
            if path_allowed(datasette, actor, path):
                query = scope.get("query_string", b"").decode("latin-1")
                parts = path.strip("/").split("/")
                if actor and len(parts) == 2 and parts[1].endswith(".csv") and not path.startswith("/-/"):
                    # Datasette's CSV is one page, without a BOM, with English headers and formula
                    # cells as they are: every CSV link goes to the site's export instead.
                    location = f"/-/export/{quote(parts[0])}/{quote(parts[1][:-4])}.csv" + (f"?{query}" if query else "")
                    await send_secured({"type": "http.response.start", "status": 302,
                                        "headers": [(b"location", location.encode("latin-1")),
                                                    (b"content-length", b"0")]})
                    await send_secured({"type": "http.response.body", "body": b""})
                    return
                # A big table's page: what its indexes answer (limits.check), its filters uncounted.
                rules = _big_rules(datasette, path) if actor and query else None
                verdict = limits.check(rules, query) if rules is not None else None
                if verdict is not None:
                    reason, redirect = verdict
                    if redirect is not None:
                        location = (quote(path) + "?" + redirect).encode("latin-1")
                        await send_secured({"type": "http.response.start", "status": 302,
                                            "headers": [(b"location", location), (b"content-length", b"0")]})
                        await send_secured({"type": "http.response.body", "body": b""})
                        return
                    body = await message_page(
                        datasette, "此表较大, 不能这样筛选 (400)",
                        f"{reason}。大表只能按已建索引的列筛选 (等于或大小比较) 和排序; 分布与统计请看首页的报表。",
                        details="可筛选的列: " + "、".join(rules["filter"]) + "; 可排序的列: " + "、".join(rules["sort"]),
                        back=quote(path), request=_gate_request(scope, receive, actor))
                    return await _send_html(send_secured, 400, body)
                if rules is not None:
                    counted = limits.uncounted(query)
                    if counted is not None:
                        scope = {**scope, "query_string": counted.encode("latin-1")}
                return await app(scope, receive, send_secured)
            if path == "/" and not actor:
                await send_secured({"type": "http.response.start", "status": 302,
                                    "headers": [(b"location", b"/-/login"), (b"content-type", b"text/plain")]})
                await send_secured({"type": "http.response.body", "body": b""})
                return
            text = ("您无权访问此页面。营业部用户只能查看本营业部的客户及记录。" if actor
                    else "请先登录 (please sign in first)。")
            body = await message_page(datasette, "禁止访问 (403)", text, request=_gate_request(scope, receive, actor))
            await _send_html(send_secured, 403, body)

        return gate

    return wrap


# ---- pages --------------------------------------------------------------------------------

async def login(request, datasette):
    return await signin.login(request, datasette, _users, _config(datasette))


def _site_metadata(datasette):
    return {"title": datasette.metadata("title"), "description": datasette.metadata("description")}


async def _dashboard(datasette, actor, name):
    config = _config(datasette)
    counts = {t: v.get("count") for t, v in
              (datasette.inspect_data or {}).get(name, {}).get("tables", {}).items()}
    dash = await dashboard.numbers(datasette, name, config, counts)
    meta = datasette.metadata(database=name, fallback=False) or {}
    dash["title"] = meta.get("title") or name
    dash["database"] = name
    dash["branches"] = await dashboard.branch_rows(datasette, name, config) if name == config.get("hq") else []
    return dash


async def landing(request, datasette):
    """The home page: the user's dashboard, then the reports and tables it may open."""
    from datasette.utils.asgi import Response

    actor = valid_actor(datasette, request.actor)
    if not actor:
        return Response.redirect("/-/login")
    name = home_database(datasette, actor)
    dash = await _dashboard(datasette, actor, name) if name else None
    page = await datasette.render_template(
        "index.html", {"brokercrm_landing": _landing(datasette, actor), "metadata": _site_metadata(datasette),
                       "dash": dash},
        request=request, view_name="index")
    return Response.html(page)


async def database_page(request, datasette):
    """One database's dashboard, reports and tables (Datasette's own page queries every table: too slow)."""
    from datasette.utils.asgi import Response

    name = request.url_vars["database"]
    actor = valid_actor(datasette, request.actor)
    if name not in _config(datasette).get("databases", {}):
        return await _error(datasette, request, 404, "页面不存在 (404)", "没有这个数据库。")
    # ?sql= on a database page is Datasette's arbitrary SQL: off for everyone.
    if name not in visible_databases(datasette, actor) or "sql" in request.args:
        return await _error(datasette, request, 403, "禁止访问 (403)", "您无权访问此页面。")
    dash = await _dashboard(datasette, actor, name)
    page = await datasette.render_template(
        "index.html", {"brokercrm_landing": _landing(datasette, actor, only=name), "database": name,
                       "metadata": _site_metadata(datasette), "dash": dash},
        request=request, view_name="database")
    return Response.html(page)


async def _error(datasette, request, status, title, text):
    from datasette.utils.asgi import Response

    page = await message_page(datasette, title, text, request=request)
    return Response.html(page, status=status)


async def find_client(request, datasette):
    from datasette.utils.asgi import Response

    actor = valid_actor(datasette, request.actor)
    q = (request.args.get("q") or "").strip()
    if q:
        return Response.redirect(render.client_url(q))
    page = await datasette.render_template("bc_find_client.html", {"q": q, "actor": actor}, request=request)
    return Response.html(page)


async def client(request, datasette):
    """客户360 for one client, from the snapshot this user reads (see client_page)."""
    from datasette.utils.asgi import Response

    actor = valid_actor(datasette, request.actor)
    client_id = request.url_vars["client_id"]
    name = home_database(datasette, actor)
    page = await client_page.gather(datasette.get_database(name), client_id,
                                    _config(datasette).get("published_at")) if name else None
    if page is None:
        if actor and actor["role"] == "branch":
            # The same answer whether the client is another branch's or nobody's: no oracle.
            return await _error(datasette, request, 403, "无权查看此客户 (403)",
                                f"本营业部 ({actor['branch']}) 没有客户 {client_id}, 或您无权查看。营业部用户只能查看本营业部的客户。")
        return await _error(datasette, request, 404, "客户不存在 (404)", f"没有客户号为 {client_id} 的客户。")
    html = await datasette.render_template("bc_client.html", {"c": page, "database": name}, request=request)
    return Response.html(html)


async def export_view(request, datasette, send):
    actor = valid_actor(datasette, request.actor)
    database, name, fmt = (request.url_vars[k] for k in ("database", "name", "format"))
    config = _config(datasette)
    db_config = config.get("databases", {}).get(database)
    if db_config is None or database not in visible_databases(datasette, actor):
        return await _error(datasette, request, 403, "禁止访问 (403)", "您无权导出此数据。")
    meta = datasette.metadata(database=database, fallback=False) or {}
    path = datasette.get_database(database).path
    try:
        if name in db_config["tables"]:
            title = (meta.get("tables", {}).get(name) or {}).get("title") or name
            conn = export.open_snapshot(path)
            try:
                sql, params, _ = export.table_query(conn, name, request.query_string,
                                                    limits.big_rules(config, database, name))
            finally:
                conn.close()
            table = name
        elif name in db_config["queries"]:
            query = meta.get("queries", {}).get(name) or {}
            title, sql, params, table = query.get("title") or name, query["sql"], {}, None
        else:
            return await _error(datasette, request, 404, "页面不存在 (404)", "没有这个表或报表。")
        await export.stream(send, path=path, sql=sql, params=params, table=table, columns_hint=None,
                            fmt=fmt, title=title)
    except export.ExportError as e:
        response = await _error(datasette, request, e.status, "无法导出 (export refused)", str(e))
        await response.asgi_send(send)


async def static(request, send):
    from datasette.utils.asgi import Response, asgi_send_file

    name = request.url_vars["path"]
    target = (STATIC_DIR / name).resolve()
    if target.parent != STATIC_DIR or not target.is_file():
        await Response.text("Not found", status=404).asgi_send(send)
        return
    await asgi_send_file(send, str(target), headers={"cache-control": "max-age=3600"})


@hookimpl
def register_routes():
    # Plugin routes are matched before Datasette's own, so these replace the
    # index and the HTML database page; the .json variants stay Datasette's.
    return [
        (r"^/-/login$", login),
        (r"^/$", landing),
        (r"^/-/client$", find_client),
        (r"^/-/client/(?P<client_id>[^/]+)$", client),
        (r"^/-/export/(?P<database>[^/]+)/(?P<name>[^/]+)\.(?P<format>xlsx|csv)$", export_view),
        (r"^/-/bc-static/(?P<path>[A-Za-z0-9_.-]+)$", static),
        (r"^/(?P<database>[^/.]+)$", database_page),
    ]


# ---- reports and tables lists -------------------------------------------------------------

def _table_order(name):
    order = [spec.table for spec in TABLES] + [summary.table for summary in SUMMARIES]
    return order.index(name) if name in order else len(order)


def _landing(datasette, actor, only=None):
    config = _config(datasette)
    names = [n for n in visible_databases(datasette, actor) if only is None or n == only]
    hq = config.get("hq")
    names.sort(key=lambda n: (n != hq, n))
    if only is None:
        # The home page details the user's own snapshot; head office gets each branch's reports compactly.
        names = names[:1] + (names[1:] if actor and actor.get("role") == "headoffice" else [])
    cache = getattr(datasette, "_brokercrm_landing", None)
    if cache is None:
        cache = datasette._brokercrm_landing = {}
    for name in names:
        if name not in cache:
            cache[name] = _database_entry(datasette, config, name)
    compact = only is None and actor and actor.get("role") == "headoffice"
    return [{**cache[name], "compact": bool(compact and name != hq)} for name in names]


def _database_entry(datasette, config, name):
    # fallback=False: this database's own metadata, not the instance's.
    meta = datasette.metadata(database=name, fallback=False) or {}
    tables_meta = meta.get("tables", {})
    db = config["databases"][name]
    inspect = (datasette.inspect_data or {}).get(name, {}).get("tables", {})
    tables, empty = [], []
    for t in sorted(db["tables"], key=_table_order):
        if t == "publish_info" or t.startswith("summary_") or t not in tables_meta:
            continue
        entry = {"name": t, "title": tables_meta[t].get("title") or t,
                 "description": tables_meta[t].get("description", ""),
                 "count": inspect.get(t, {}).get("count"), "url": datasette.urls.table(name, t)}
        (empty if entry["count"] == 0 else tables).append(entry)
    queries = []
    for q in db["queries"]:
        qm = meta.get("queries", {}).get(q, {})
        queries.append({"name": q, "title": qm.get("title") or q, "description": qm.get("description", ""),
                        "url": datasette.urls.table(name, q), "chart": bool(qm.get("bc_chart"))})
    return {"name": name, "title": meta.get("title") or name, "description": meta.get("description", ""),
            "url": datasette.urls.database(name), "tables": tables, "empty_tables": empty, "queries": queries}


# ---- templates and cells ------------------------------------------------------------------

@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    actor = valid_actor(datasette, request.actor if request else None)
    config = _config(datasette)
    return {"brokercrm_actor": actor, "brokercrm_published_at": config.get("published_at"),
            "bc_text": lambda column, value: render_text(column, value),
            "bc_list_url": dashboard.list_url,
            **template_vars.make(datasette, database, table, config)}


def render_text(column, value):
    if value is None or value == "":
        return "—"
    text, _ = labels.display(column, value)
    return text if text is not None else value


@hookimpl
def render_cell(value, column, table, database, datasette):
    return render.cell(column, value)


@hookimpl
def handle_exception(datasette, request, exception):
    """Datasette's error pages, in Chinese and with the site's chrome; never a traceback."""
    from datasette.utils.asgi import Base400, Response
    from datasette.views.base import DatasetteError

    if isinstance(exception, Base400):
        status = exception.status
    elif isinstance(exception, DatasetteError):
        status = exception.status
    else:
        status = 500
        # Where it failed, for the operator; not the message, which may quote a value.
        print(f"brokercrm site: 500 {type(exception).__name__} at {request.path}\n"
              + "".join(traceback.format_tb(exception.__traceback__)), file=sys.stderr, flush=True)
    title = template_vars.error_title(status)
    text = template_vars.error_text(status)
    # A 400's English reason names the filter at fault: shown small, beside the Chinese.
    details = str(exception)[:300] if status == 400 else ""

    async def inner():
        if request.path.split("?")[0].endswith(".json"):
            return Response.json({"ok": False, "status": status, "error": text, "title": title}, status=status)
        page = await message_page(datasette, title, text, details=details, request=request)
        return Response.html(page, status=status)

    return inner


@hookimpl
def menu_links(datasette, actor):
    if valid_actor(datasette, actor):
        return [{"href": "/", "label": "首页 (home)"}]
    return []
