"""clients list / show."""

import click

from ..book import clients as clients_lib
from ..book import lookups
from ..service import lifecycle
from . import cli
from .clients_text import SECTION_LINES
from .common import acting, db_option, echo_stream, emit_json, emit_json_stream, json_option, operator_option


@cli.group()
def clients():
    """客户 (clients)."""


@clients.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--class", "class_", default=None, help="客户类别, 如 A+ (class)")
@click.option("--limit", type=int, default=None, help="最多显示条数 (at most N)")
@click.option("--status", "status_", default=None,
              help="客户状态 (active 正常, dormant 休眠, transfer_requested, closure_requested, closed, transferred)")
@click.option("--mine", is_flag=True, help="只列我名下的客户 (my clients: I am their account manager)")
@click.option("--manager", default=None, help="某位客户经理名下的客户 (one account manager's clients)")
@db_option
@operator_option
@json_option
def clients_list(branch, class_, limit, status_, mine, manager, db_path, operator, as_json):
    """列出客户及其分类 (list clients with their classification; a branch operator: own branch)."""
    if mine and manager:
        raise click.UsageError("--mine 与 --manager 只能用其一 (one of --mine, --manager)")
    db, actor = acting(db_path, operator)
    branch, class_ = lookups.branch(db, branch), lookups.client_class(db, class_)
    status_ = lifecycle.normal_status(status_) if status_ else None
    rows = clients_lib.list_clients(db, actor, branch=branch, class_=class_, limit=limit, status=status_,
                                    manager=actor.id if mine else manager)
    if as_json:
        emit_json_stream(rows)
        return
    # Streamed with fixed widths: a million clients never sit in memory to be aligned.
    echo_stream(((c["client_id"], c["branch_id"], c["class"], c["risk_level"], c["habit"], c["tier"],
                  c["value_segment"]) for c in rows),
                [("客户号 client", 14), ("营业部", 6), ("类别", 5), ("风险 risk", 10), ("习惯 habit", 10),
                 ("等级 tier", 10), ("价值 value", 10)])


@clients.command("show")
@click.argument("client_id")
@click.option("--reveal", is_flag=True, help="显示完整个人信息, 记入审计日志 (show unmasked data; audited)")
@db_option
@operator_option
@json_option
def clients_show(client_id, reveal, db_path, operator, as_json):
    """显示客户详情: 分类理由, 历史, 测评 (one client in full)."""
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    obj = clients_lib.show(db, actor, client_id, reveal=reveal)
    if as_json:
        emit_json(obj)
        return
    c = obj["client"]
    click.echo(f"{obj['client_id']}  {c['name']}  {c['kind']}  营业部 {obj['branch_id']}")
    click.echo(f"  证件 {c['id_number']}  手机 {c['phone']}  出生 {c['birth_date']}")
    click.echo(f"  总资产 {c['total_assets']}  周转率 {c['turnover_rate']}  平均持仓 {c['avg_holding_days']} 天")
    click.echo(f"  客户经理 (account manager) {c.get('account_manager') or '未指派 (none)'}")
    if obj["class"] is None:
        click.echo("  尚未分类 (not yet classified)")
    else:
        click.echo(
            f"分类: 类别 {obj['class']} · 风险 {obj['risk_level']}{' · 最低类别' if obj['lowest_category'] else ''}"
            f" · 习惯 {obj['habit']} · 等级 {obj['tier']} · 价值 {obj['value_segment']}"
        )
        click.echo("理由 (reasons):")
        for dim, reason in obj["reasons"].items():
            click.echo(f"  {dim}: {reason}")
    if obj["history"]:
        click.echo("历史 (history):")
        for h in obj["history"]:
            click.echo(f"  run {h['run_id']} {h['at']}: {h['old_class'] or '新'} → {h['new_class']}  {h['reason']}")
    if obj["assessments"]:
        click.echo("风险测评 (assessments):")
        for a in obj["assessments"]:
            click.echo(f"  {a['answered_at']} 得分 {a['score']} → {a['level']} 有效至 {a['expires_at']}")
    for render in SECTION_LINES:
        for line in render(obj):
            click.echo(line)
