"""approvals request / list / show / approve / reject / revoke."""

import click

from ..governance import approvals as approvals_lib
from .. import plugins as plugins_lib
from . import cli
from .common import acting, db_option, emit_json, json_option, operator_option


def print_impact(impact):
    click.echo(f"影响预览 (impact preview) · 营业部 {impact['branch']} · 客户 {impact['clients']:,}"
               f" · 变动 {impact['moved']:,} · 策略 v{impact['policy_version']} · 截至 {impact['as_of']}")
    if not impact["moves"]:
        click.echo("  无类别变动 (no class moves)")
    for move, n in impact["moves"].items():
        click.echo(f"  {move}: {n:,}")
    if impact["examples"]:
        click.echo("示例客户 (examples, masked):")
        for e in impact["examples"]:
            click.echo(f"  {e['client_id']} {e['name']} {e['kind']} {e['from']} → {e['to']}  {e['reason'] or ''}")


def print_row(a, full=False):
    click.echo(f"#{a['id']:<4} {a['status']:<10} {a['plugin']} {a['version']} → {a['branch']}"
               f"  申请 {a['requested_by']} {a['requested_at']}"
               + (f"  决定 {a['decided_by']} {a['decided_at']}" if a["decided_by"] else ""))
    if full:
        click.echo(f"  代码摘要 (digest) sha256 {a['digest']}")
        for hook, fp in sorted((a.get("rules") or {}).items()):
            click.echo(f"  规则指纹 (rules) {hook}: {fp[:16]}…")
        if a["note"]:
            click.echo(f"  说明 (note): {a['note']}")
        if a["decision_reason"]:
            click.echo(f"  理由 (reason): {a['decision_reason']}")
        print_impact(a["impact"])


@cli.group()
def approvals():
    """总部审批营业部插件 (head-office approval of branch plugins)."""


@approvals.command("request")
@click.argument("plugin")
@click.option("--branch", required=True, help="营业部代码 (branch code)")
@click.option("--note", default=None, help="申请说明 (why)")
@db_option
@operator_option
@json_option
def approvals_request(plugin, branch, note, db_path, operator, as_json):
    """申请总部批准插件 PLUGIN 用于营业部 (request approval; shows the impact preview)."""
    db, actor = acting(db_path, operator)
    with plugins_lib.load() as host:
        row = approvals_lib.request(db, host, actor, plugin, branch, note=note)
    if as_json:
        emit_json(row)
        return
    click.echo(f"已提交申请 (requested) #{row['id']}: {row['plugin']} {row['version']} → {row['branch']},"
               f" 代码摘要 {row['digest'][:16]}…")
    print_impact(row["impact"])


@approvals.command("list")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "revoked", "superseded"]),
              default=None, help="只看某状态 (only this status)")
@db_option
@operator_option
@json_option
def approvals_list(status, db_path, operator, as_json):
    """列出审批申请 (list approval requests)."""
    db, actor = acting(db_path, operator)
    rows = approvals_lib.list_all(db, actor, status=status)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("无申请 (no requests)")
    for a in rows:
        print_row(a)


@approvals.command("show")
@click.argument("approval_id", metavar="N", type=int)
@db_option
@operator_option
@json_option
def approvals_show(approval_id, db_path, operator, as_json):
    """显示申请 N 及其影响预览 (one request in full)."""
    db, actor = acting(db_path, operator)
    row = approvals_lib.show(db, actor, approval_id)
    if as_json:
        emit_json(row)
    else:
        print_row(row, full=True)


@approvals.command("approve")
@click.argument("approval_id", metavar="N", type=int)
@db_option
@operator_option
@json_option
def approvals_approve(approval_id, db_path, operator, as_json):
    """批准申请 N (head office only; never your own request)."""
    db, actor = acting(db_path, operator)
    with plugins_lib.load() as host:
        row = approvals_lib.approve(db, host, actor, approval_id)
    if as_json:
        emit_json(row)
    else:
        click.echo(f"已批准 (approved) #{row['id']}: {row['plugin']} {row['version']} → {row['branch']}")


@approvals.command("reject")
@click.argument("approval_id", metavar="N", type=int)
@click.option("--reason", required=True, help="驳回理由 (why)")
@db_option
@operator_option
@json_option
def approvals_reject(approval_id, reason, db_path, operator, as_json):
    """驳回申请 N (head office only; never your own request)."""
    db, actor = acting(db_path, operator)
    row = approvals_lib.reject(db, actor, approval_id, reason=reason)
    if as_json:
        emit_json(row)
    else:
        click.echo(f"已驳回 (rejected) #{row['id']}: {row['plugin']} → {row['branch']}")


@approvals.command("revoke")
@click.argument("approval_id", metavar="N", type=int)
@click.option("--reason", required=True, help="撤销理由 (why)")
@db_option
@operator_option
@json_option
def approvals_revoke(approval_id, reason, db_path, operator, as_json):
    """撤销已批准的 N; 下次分类起不再生效 (revoke; stops at the next run)."""
    db, actor = acting(db_path, operator)
    row = approvals_lib.revoke(db, actor, approval_id, reason=reason)
    if as_json:
        emit_json(row)
    else:
        click.echo(f"已撤销 (revoked) #{row['id']}: {row['plugin']} → {row['branch']}")
