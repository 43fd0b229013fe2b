"""The site's own Datasette plugin: sign-in, deny-by-default access, landing page.

Two independent gates, both closed unless a rule opens them:

1. ``asgi_wrapper``: before Datasette sees a request, the path must be on a
   short list for the visitor — anonymous: the sign-in page and static files;
   a branch user: its own branch database; head office: the databases and a
   few read-only ``/-/`` pages. Everything else is 403.
2. ``permission_allowed`` (runs last, so its answer wins): True only for
   viewing the instance, a database in the actor's scope, a published table
   or stored view of such a database; False for every other action
   (downloads, arbitrary SQL and ``_where=``, debug pages, and any action a
   later Datasette adds).

Sign-in (``/-/login``) checks the password hash from ``BROKERCRM_SITE_USERS``
and sets Datasette's own signed ``ds_actor`` cookie with an expiry.
"""

import html
import re
import time
from urllib.parse import parse_qsl

import pluggy

from brokercrm.site import auth
from brokercrm.site.specs import SUMMARIES, TABLES

PUBLIC_PATHS = ("/-/login", "/-/logout", "/favicon.ico", "/robots.txt")
PUBLIC_PREFIXES = ("/-/static/", "/-/static-plugins/")
HQ_SPECIAL = ("/-/metadata", "/-/databases", "/-/versions", "/-/plugins", "/-/settings", "/-/actor")
BRANCH_SPECIAL = ("/-/actor",)

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
    special = HQ_SPECIAL if actor["role"] == "headoffice" else BRANCH_SPECIAL
    if path.startswith("/-/"):
        return any(path == p or path == p + ".json" for p in special)
    first = path[1:].split("/", 1)[0]
    name = re.sub(r"\.(json|csv|db)$", "", first)
    return name in visible_databases(datasette, actor)


def filters_allowed(datasette, path, query_string):
    """On a big table, filters only on indexed columns: every page stays an index lookup."""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or not query_string:
        return True
    database, table = parts[0], re.sub(r"\.(json|csv)$", "", parts[1])
    big = _config(datasette).get("databases", {}).get(database, {}).get("big", {}).get(table)
    if big is None:
        return True
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if key in ("_sort", "_sort_desc"):
            if value not in big["sort"]:
                return False
        elif not key.startswith("_") and key.split("__", 1)[0] not in big["filter"]:
            return False
    return True


def _denied_page(signed_in):
    if signed_in:
        text = "您无权访问此页面。(You do not have access to this page.)"
    else:
        text = "请先登录。(Please sign in first.)"
    body = (
        "<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'><title>403 禁止访问</title></head>"
        f"<body><h1>403 禁止访问 (Forbidden)</h1><p>{html.escape(text)}</p>"
        "<p><a href='/-/login'>登录 (sign in)</a> · <a href='/'>首页 (home)</a></p></body></html>"
    )
    return body.encode("utf-8")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def gate(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            path = scope.get("path", "/")
            actor = _actor_from_scope(datasette, scope)
            if path_allowed(datasette, actor, path):
                query = scope.get("query_string", b"").decode("latin-1")
                if actor and not filters_allowed(datasette, path, query):
                    body = ("<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'><title>400</title></head>"
                            "<body><h1>400</h1><p>大表只能按已建索引的列筛选和排序, 请改用报表。"
                            "(On a big table, filter and sort by indexed columns, or use a stored view.)</p>"
                            "<p><a href='/'>首页 (home)</a></p></body></html>").encode("utf-8")
                    await send({"type": "http.response.start", "status": 400,
                                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                            (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
                return await app(scope, receive, send)
            if path == "/" and not actor:
                headers = [(b"location", b"/-/login"), (b"content-type", b"text/plain")]
                await send({"type": "http.response.start", "status": 302, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
            body = _denied_page(actor is not None)
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        return gate

    return wrap


# ---- sign-in ------------------------------------------------------------------------------

async def login(request, datasette):
    from datasette.utils import baseconv
    from datasette.utils.asgi import Response

    error = None
    username = ""
    if request.method == "POST":
        post = await request.post_vars()
        username = (post.get("username") or "").strip()
        password = post.get("password") or ""
        user = _users(_config(datasette)).get(username)
        ok = auth.verify_password(password, user["hash"] if user else auth.dummy_hash())
        if user and ok:
            actor = {"id": user["id"], "role": user["role"], "branch": user["branch"], "site": "brokercrm"}
            expires = baseconv.base62.encode(int(time.time()) + auth.SESSION_HOURS * 3600)
            response = Response.redirect("/")
            response.set_cookie("ds_actor", datasette.sign({"a": actor, "e": expires}, "actor"),
                                httponly=True, samesite="lax", max_age=auth.SESSION_HOURS * 3600)
            return response
        error = "用户名或密码错误 (wrong user name or password)"
    page = await datasette.render_template(
        "brokercrm_login.html", {"error": error, "username": username}, request=request)
    return Response.html(page, status=401 if error else 200)


def _site_metadata(datasette):
    return {"title": datasette.metadata("title"), "description": datasette.metadata("description")}


async def landing(request, datasette):
    """The home page: what this user may see, from the site config alone (no SQL)."""
    from datasette.utils.asgi import Response

    actor = valid_actor(datasette, request.actor)
    if not actor:
        return Response.redirect("/-/login")
    page = await datasette.render_template(
        "index.html", {"brokercrm_landing": _landing(datasette, actor), "metadata": _site_metadata(datasette)},
        request=request, view_name="index")
    return Response.html(page)


async def database_page(request, datasette):
    """One database's views and tables (Datasette's own page queries every table: too slow at scale)."""
    from datasette.utils.asgi import Response

    name = request.url_vars["database"]
    actor = valid_actor(datasette, request.actor)
    if name not in _config(datasette).get("databases", {}):
        return Response.html("Not found", status=404)
    # ?sql= on a database page is Datasette's arbitrary SQL: off for everyone.
    if name not in visible_databases(datasette, actor) or "sql" in request.args:
        return Response.html(_denied_page(actor is not None).decode("utf-8"), status=403)
    page = await datasette.render_template(
        "index.html", {"brokercrm_landing": _landing(datasette, actor, only=name), "database": name,
                       "metadata": _site_metadata(datasette)},
        request=request, view_name="database")
    return Response.html(page)


@hookimpl
def register_routes():
    # Plugin routes are matched before Datasette's own, so these replace the
    # index and the HTML database page; the .json variants stay Datasette's.
    return [
        (r"^/-/login$", login),
        (r"^/$", landing),
        (r"^/(?P<database>[^/.]+)$", database_page),
    ]


# ---- landing page -------------------------------------------------------------------------

def _table_order(name):
    order = [spec.table for spec in TABLES] + [summary.table for summary in SUMMARIES]
    return order.index(name) if name in order else len(order)


def _landing(datasette, actor, only=None):
    config = _config(datasette)
    names = [n for n in visible_databases(datasette, actor) if only is None or n == only]
    hq = config.get("hq")
    names.sort(key=lambda n: (n != hq, n))
    cache = getattr(datasette, "_brokercrm_landing", None)
    if cache is None:
        cache = datasette._brokercrm_landing = {}
    for name in names:
        if name not in cache:
            cache[name] = _database_entry(datasette, config, name)
    # Head office's home page details its own database; each branch gets one compact block.
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
        url = datasette.urls.table(name, q)
        queries.append({"name": q, "title": qm.get("title") or q, "description": qm.get("description", ""),
                        "url": url, "chart_url": url + qm["chart"] if qm.get("chart") else None})
    return {"name": name, "title": meta.get("title") or name, "description": meta.get("description", ""),
            "url": datasette.urls.database(name), "tables": tables, "empty_tables": empty, "queries": queries}


@hookimpl
def extra_template_vars(view_name, request, datasette):
    actor = valid_actor(datasette, request.actor if request else None)
    return {"brokercrm_actor": actor, "brokercrm_published_at": _config(datasette).get("published_at")}


@hookimpl
def menu_links(datasette, actor):
    if valid_actor(datasette, actor):
        return [{"href": "/", "label": "首页 (home)"}]
    return []
