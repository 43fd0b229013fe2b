"""plugins list; the commands approved plugins add, loaded only when asked for by name."""

import click

from ..governance import approvals as approvals_lib
from .. import plugins as plugins_lib
from ..kernel.db import db_path as resolve_db_path
from ..kernel.errors import BrokerCRMError
from ..plugins import gate
from ..plugins.snapshot import PinnedImporter
from ..trust import root as trust_root
from . import cli
from .common import db_option, emit_json, json_option, open_db


@cli.group()
def plugins():
    """营业部插件 (branch plugins)."""


@plugins.command("list")
@db_option
@json_option
def plugins_list(db_path, as_json):
    """已安装插件: 名称, 版本, 代码摘要, 各营业部审批状态 (installed plugins and their approval state).

    Nothing of a plugin is run to list it; a forged or unverifiable approval
    shows as "forged".
    """
    db = open_db(db_path)
    with plugins_lib.load() as host:
        rows = approvals_lib.plugin_states(db, host, trust_root.for_db(db))
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("未安装插件 (no plugins installed)")
    for p in rows:
        click.echo(f"{p['name']} {p['version']}  sha256 {p['digest'] or '-'}")
        if p["error"]:
            click.echo(f"  无法读取 (unusable): {p['error']}")
        for code, st in p["branches"].items():
            click.echo(f"  {code:<8} {st['state']:<24} {st['why']}")


def _db_arg(ctx):
    """The --db a plugin command was given, else the default (the command is not parsed yet)."""
    args = list(getattr(ctx, "protected_args", [])) + list(ctx.args)
    for i, a in enumerate(args):
        if a == "--db" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--db="):
            return a[5:]
    return None


def plugin_command(ctx, name):
    """The command ``name`` of a plugin approved for some branch, loaded from its approved bytes.

    Only reached for names that are no core command, so a plugin can add
    commands but never replace or change one.
    """
    path = resolve_db_path(_db_arg(ctx))
    if not path.exists():
        return None
    try:
        db = open_db(path)
        root = trust_root.for_db(db)
    except BrokerCRMError:
        return None
    host = plugins_lib.load()
    approved = {n for (n, _), d in gate.in_force(db, root).items() if isinstance(d, gate.Decision)}
    for plugin in sorted(approved):
        info = host.get(plugin)
        if info is None or info.error or not any(
                gate.state(db, root, info, d.branch, decision_=d)[0] == "approved"
                for (n, _), d in gate.in_force(db, root).items() if n == plugin and isinstance(d, gate.Decision)):
            continue
        group = click.Group()
        try:
            obj = PinnedImporter(info.snapshot).load(info.entry)
            register = getattr(obj, "register_commands", None)
            if register is not None:
                register(cli=group)
        except Exception as e:
            raise BrokerCRMError(f"插件 {plugin} 的命令加载失败 (could not load its commands): {type(e).__name__}: {e}")
        if name in group.commands:
            return group.commands[name]
    return None


cli.plugin_commands = plugin_command  # an instance attribute: called unbound
