"""plugins list; commands that approved plugins register."""

import functools

import click

from ..governance import approvals as approvals_lib
from ..plugins import gate
from .. import plugins as plugins_lib
from ..kernel.db import db_path as resolve_db_path
from ..kernel.errors import BrokerCRMError
from . import cli
from .common import db_option, emit_json, json_option, open_db


@cli.group()
def plugins():
    """营业部插件 (branch plugins)."""


@plugins.command("list")
@db_option
@json_option
def plugins_list(db_path, as_json):
    """已安装插件: 名称, 版本, 钩子, 代码摘要, 各营业部审批状态 (installed plugins and their approval state)."""
    rows = approvals_lib.plugin_states(open_db(db_path), plugins_lib.load())
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("未安装插件 (no plugins installed)")
    for p in rows:
        click.echo(f"{p['name']} {p['version']}  sha256 {p['digest'] or '-'}")
        if p["error"]:
            click.echo(f"  加载失败 (failed to load): {p['error']}")
        click.echo(f"  钩子 (hooks): {', '.join(p['hooks']) or '-'}")
        for code, st in p["branches"].items():
            click.echo(f"  {code:<8} {st['state']:<24} {st['why']}")


def _gated(info, command):
    """Wrap a plugin's command so it runs only while the plugin is approved for some branch."""
    callback = command.callback

    @functools.wraps(callback)
    def run(*args, **kwargs):
        path = resolve_db_path(click.get_current_context().params.get("db_path"))
        if not path.exists() or not gate.approved_anywhere(open_db(path), info):
            raise BrokerCRMError(f"插件 {info.name} 未获总部批准, 其命令不可用 (plugin not approved for any branch)")
        return callback(*args, **kwargs)

    command.callback = run
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _gated(info, sub)
    return command


def register_plugin_commands(group):
    """Let each loaded plugin add commands; a broken plugin costs a warning, not the CLI."""
    try:
        loaded = plugins_lib.load()
    except Exception as e:  # discovery itself must never stop the core commands
        click.echo(f"brokercrm: 插件发现失败 (plugin discovery failed): {e}", err=True)
        return
    for info in loaded:
        if info.error or not loaded.implementations(info, "register_commands"):
            continue
        before = dict(group.commands)
        try:
            loaded.call_one(info, "register_commands", cli=group)
        except Exception as e:
            click.echo(f"brokercrm: 插件 {info.name} 注册命令失败 (register_commands failed): {e}", err=True)
            continue
        for name, command in list(group.commands.items()):
            if name in before and command is not before[name]:
                # A plugin may add commands, never replace the core's.
                group.commands[name] = before[name]
                click.echo(f"brokercrm: 插件 {info.name} 不能替换命令 {name} (may not replace a command)", err=True)
            elif name not in before:
                _gated(info, command)


register_plugin_commands(cli)
