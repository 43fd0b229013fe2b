"""Serving the published snapshots with Datasette 0.65, read-only.

``make_datasette`` builds the Datasette instance over one set of snapshots
that ``brokercrm publish`` wrote: immutable files, the inspect data written at
publish time (fast first page), metadata generated from the snapshot
manifest, ``datasette_config/`` (templates, stored views) and the site plugin
``brokercrm.datasette_config.site_plugin`` (sign-in, deny-by-default
permissions, the landing page). ``serve`` runs it inside ``live.LiveSite``,
which moves to each new set as publish switches it in: no restart.

Configuration comes from the environment, never from files in the repo:

- ``BROKERCRM_SITE_SECRET``  signs the sign-in cookie (required; keep it fixed
  so sessions survive a restart);
- ``BROKERCRM_SITE_USERS_FILE`` who may sign in: a users file of
  ``USER:ROLE:BRANCH:HASH`` lines (``brokercrm.site.auth``); or, for the demo,
  ``BROKERCRM_SITE_USERS`` with the same entries in the environment;
- ``BROKERCRM_SITE_HTTPS=1`` when served behind HTTPS: cookies are ``Secure``
  and browsers are told to keep to HTTPS (HSTS).
"""

import json
import os
import secrets
import sqlite3
from importlib import resources
from pathlib import Path

import yaml

from ..kernel.errors import BrokerCRMError
from . import auth
from .auth import PLUGIN_NAME, ROLES, parse_users, user_entry  # noqa: F401 (the site's names, kept here)
from ..datasette_config import site_plugin
from . import switch
from .live import LiveSite
from .publish import HQ, INSPECT, publish, read_manifest
from . import specs as publish_specs
from .specs import BY_NAME, SUMMARIES

# Tables up to this many rows (in one snapshot) get their default facets and
# every column sortable; bigger ones only what an index answers.
SMALL_TABLE_ROWS = publish_specs.SMALL_TABLE_ROWS

# Read-only, no downloads, no arbitrary SQL, no user-chosen facets: every page
# the site can show is one we have indexed and measured.
SETTINGS = {
    "allow_download": False,
    "allow_facet": False,
    "suggest_facets": False,
    "default_allow_sql": False,
    "allow_csv_stream": False,
    # 30 rows of a 20-column table: rendering is most of a big table's page time.
    "default_page_size": 30,
    "max_returned_rows": 1000,
    "sql_time_limit_ms": 1000,
    "facet_time_limit_ms": 200,
    "num_sql_threads": 3,
    "template_debug": False,
    "trace_debug": False,
}


def config_dir():
    return Path(str(resources.files("brokercrm.datasette_config")))


# ---- HTTPS --------------------------------------------------------------------------------

def https_setting(environ=None):
    """True when the site is served behind HTTPS (BROKERCRM_SITE_HTTPS=1): cookies get ``Secure``."""
    value = (os.environ if environ is None else environ).get("BROKERCRM_SITE_HTTPS", "").strip().lower()
    if value in ("", "0", "no", "false", "off"):
        return False
    if value in ("1", "yes", "true", "on"):
        return True
    raise BrokerCRMError(f"BROKERCRM_SITE_HTTPS={value!r}: 须为 1 或 0 (must be 1 or 0)")


# ---- metadata -----------------------------------------------------------------------------

def load_views():
    return yaml.safe_load((config_dir() / "views.yml").read_text(encoding="utf-8")) or []


def load_base_metadata():
    return yaml.safe_load((config_dir() / "metadata.yml").read_text(encoding="utf-8")) or {}


def _table_metadata(table, tables_meta, rows, is_branch, indexed=None):
    spec = BY_NAME.get(table) or next((s for s in SUMMARIES if s.table == table), None)
    info = dict(tables_meta.get(table, {}))
    if indexed is not None:
        info["indexed"] = indexed
    meta = {}
    if table == "publish_info":
        return {"title": "发布信息", "description": "本快照的发布时间与范围 (snapshot info)"}
    if spec is None:
        return meta
    meta["title"] = spec.title
    if spec.description:
        meta["description"] = spec.description
    columns = [c for c in info.get("columns", []) if not (is_branch and c in info.get("drop_in_branch", []))]
    labels = {c: spec.labels[c] for c in columns if c in spec.labels}
    if labels:
        meta["columns"] = labels
    indexed = set(info.get("indexed", []))
    sort_desc = getattr(spec, "sort_desc", "")
    if sort_desc and sort_desc in indexed:
        meta["sort_desc"] = sort_desc
    if rows <= SMALL_TABLE_ROWS:
        # Small enough that any facet or sort answers at once.
        facets = [f for f in getattr(spec, "facets", ()) if f in columns]
    else:
        # A big table offers only what an index answers: its key and the
        # sortable columns the spec indexes. Breakdowns of big tables are the
        # summary views, computed at publish time.
        # Every index ends in the key, so any indexed column sorts a page without a sort step;
        # the key sorts by its first column only (a composite key's second column leads nothing).
        facets = []
        meta["sortable_columns"] = sorted(indexed & set(columns))
    if facets:
        meta["facets"] = facets
    return meta


def build_metadata(site_dir, manifest=None, branch_names=None):
    """Datasette metadata for the published snapshots, plus the site plugin's access rules."""
    manifest = manifest or read_manifest(site_dir)
    base = load_base_metadata()
    views = load_views()
    branch_names = branch_names or {}
    tables_meta = manifest.get("tables", {})
    databases, access = {}, {}
    for name, entry in manifest["databases"].items():
        is_branch = name != manifest.get("hq", HQ)
        db_tables = sorted(entry["tables"])
        if is_branch:
            title = f"{branch_names.get(name, name)} ({name})"
            description = f"{branch_names.get(name, name)}的客户及其记录, 个人信息已脱敏。"
            allow = {"role": "headoffice", "branch": name}
        else:
            title = "总部 · 全部营业部 (head office)"
            description = "全部营业部的客户及记录, 个人信息已脱敏; 另含审计日志。"
            allow = {"role": "headoffice"}
        queries = {}
        for view in views:
            if view.get("scope", "all") == "hq" and is_branch:
                continue
            if not all(t in entry["tables"] for t in view.get("requires", [])):
                continue
            q = {"sql": view["sql"], "title": view["title"], "description": view.get("description", "")}
            if view.get("chart"):
                # Drawn by the site (datasette_config/charts.py) in the domain's order.
                q["bc_chart"] = view["chart"]
            queries[view["name"]] = q
        databases[name] = {
            "title": title,
            "description": description,
            # Database-level allow: a table without its own block inherits this
            # scope, so a table forgotten here is still closed to other branches.
            "allow": allow,
            "allow_sql": False,
            "tables": {t: _table_metadata(t, tables_meta, entry["tables"][t], is_branch,
                                          entry.get("indexed", {}).get(t)) for t in db_tables},
            "queries": queries,
        }
        access[name] = {
            "branch": name if is_branch else None, "tables": db_tables, "queries": list(queries),
            # Big tables may be filtered only on indexed columns (limits.check, in the site's gate).
            "big": {t: {"filter": sorted(entry.get("indexed", {}).get(t, tables_meta.get(t, {}).get("indexed", []))),
                        "sort": databases[name]["tables"][t].get("sortable_columns", [])}
                    for t in db_tables if entry["tables"][t] > SMALL_TABLE_ROWS},
        }
    metadata = {
        **base,
        # Instance level: signed-in site users only; nothing for anonymous visitors.
        "allow": {"role": list(ROLES)},
        "allow_sql": False,
        "databases": databases,
        "plugins": {
            PLUGIN_NAME: {
                "hq": manifest.get("hq", HQ),
                "published_at": manifest.get("published_at"),
                "databases": access,
                # Where the users are read from, never the hashes themselves.
                "users": auth.source_from_env(),
                "https": https_setting(),
            }
        },
    }
    return metadata


def _branch_names(site_dir, manifest):
    hq_file = switch.current_dir(site_dir) / manifest["databases"][manifest.get("hq", HQ)]["file"]
    conn = sqlite3.connect(f"file:{hq_file}?immutable=1", uri=True)
    try:
        return dict(conn.execute("SELECT code, name FROM branches"))
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


# ---- the Datasette instance ---------------------------------------------------------------

def register_site_plugin():
    from datasette.plugins import pm

    if pm.get_plugin("brokercrm_site") is None:
        pm.register(site_plugin, name="brokercrm_site")
    # The site plugin answers every permission check itself (deny by default).
    # Datasette's own metadata-based check would only be overridden, and it
    # deep-copies the metadata of every table on each table check: ~20 ms a
    # page here. The allow blocks stay in the metadata for plain Datasette.
    if pm.get_plugin("datasette.default_permissions") is not None:
        pm.unregister(name="datasette.default_permissions")
    # The site draws its charts itself (datasette_config/charts.py). datasette-vega, where an
    # older install left it, would load scripts the Content-Security-Policy forbids.
    for name in ("datasette_vega", "datasette-vega"):
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)


def site_secret(secret=None):
    secret = secret or os.environ.get("BROKERCRM_SITE_SECRET")
    if not secret:
        raise BrokerCRMError("请设置 BROKERCRM_SITE_SECRET (固定的随机串, 用于签名登录 Cookie) "
                             "(set BROKERCRM_SITE_SECRET: a fixed random string that signs sign-in cookies)")
    return secret


def make_datasette(site_dir, *, secret=None):
    """Datasette over the set ``site_dir`` holds: the one ``current`` names, or a set directory itself."""
    from datasette.app import Datasette

    site_dir = switch.current_dir(site_dir)
    manifest = read_manifest(site_dir)
    files = [str((site_dir / e["file"]).resolve()) for e in manifest["databases"].values()]
    missing = [f for f in files if not Path(f).exists()]
    if missing:
        raise BrokerCRMError(f"快照文件缺失 (snapshot missing): {', '.join(missing)}; 请重新 publish")
    inspect_path = site_dir / INSPECT
    inspect_data = json.loads(inspect_path.read_text(encoding="utf-8")) if inspect_path.exists() else None
    metadata = build_metadata(site_dir, manifest, _branch_names(site_dir, manifest))
    register_site_plugin()
    return Datasette(
        immutables=files,
        inspect_data=inspect_data,
        metadata=metadata,
        template_dir=str(config_dir() / "templates"),
        settings=SETTINGS,
        secret=site_secret(secret),
        cors=False,
    )


def check_users():
    source = auth.source_from_env()
    users = auth.load(source)
    if not users:
        where = source.get("file") or "BROKERCRM_SITE_USERS"
        raise BrokerCRMError(f"{where} 为空: 无人可以登录 (no site users; see brokercrm site-password)")
    https_setting()
    return users


def serve(site_dir, *, host="127.0.0.1", port=8001, secret=None):
    """Run the site until interrupted (uvicorn, one process); each new publish is served as it lands."""
    import uvicorn

    check_users()
    secret = site_secret(secret)
    make_datasette(site_dir, secret=secret)  # a site that cannot load fails here, with its message
    app = LiveSite(site_dir, lambda set_dir: make_datasette(set_dir, secret=secret))
    uvicorn.run(app, host=host, port=port, log_level="warning")


# ---- the demo -----------------------------------------------------------------------------

def demo_users(branches):
    """Sign-ins for a local demo: head office ``hq`` and one user per branch, password ``demo-<user>``."""
    users = [("hq", "headoffice", None)] + [(code.lower(), "branch", code) for code in branches]
    return [(user, role, branch, f"demo-{user}") for user, role, branch in users]


def demo_signin_lines(branches):
    """What `brokercrm demo` prints about signing in (also with --no-serve)."""
    lines = ["演示登录 (demo sign-ins):"]
    for user, role, branch, password in demo_users(branches):
        scope = "总部, 全部营业部 (head office)" if role == "headoffice" else f"营业部 {branch}"
        lines.append(f"  {user:<6} 密码 {password:<12} {scope}")
    return lines


def demo_site(db_path, port, *, actor, out_dir=None, echo=print):
    """Publish ``db_path`` and serve it on 127.0.0.1:``port`` until interrupted; returns 0.

    For ``brokercrm demo``: snapshots go to ``<db>_site/`` beside the database;
    without BROKERCRM_SITE_SECRET / BROKERCRM_SITE_USERS in the environment a
    random secret and demo sign-ins (printed) are used for this run only.
    """
    db_path = Path(db_path)
    out = Path(out_dir) if out_dir else db_path.with_name(db_path.stem + "_site")
    result = publish(db_path, out, actor=actor)
    echo(f"已发布只读快照 (published snapshots): {out}  ({result.seconds:.1f} s)")
    os.environ.setdefault("BROKERCRM_SITE_SECRET", secrets.token_hex(32))
    if not os.environ.get("BROKERCRM_SITE_USERS"):
        branches = [name for name in result.databases if name != HQ]
        users = demo_users(branches)
        os.environ["BROKERCRM_SITE_USERS"] = "\n".join(
            user_entry(user, role, branch, password) for user, role, branch, password in users)
        for line in demo_signin_lines(branches):
            echo(line)
    echo(f"Datasette (只读 read-only): http://127.0.0.1:{port}/  — Ctrl-C 停止 (stop)")
    try:
        serve(out, host="127.0.0.1", port=port)
    except KeyboardInterrupt:
        pass
    return 0
