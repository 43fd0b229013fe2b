"""status (client status through exit: dormancy, transfer and closure) and `clients status`."""

import click

from ..book import lookups
from ..service import exits
from ..service import lifecycle
from . import cli
from .clients_cmd import clients
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option

def _echo_status(s):
    click.echo(f"{s['client_id']}: {s['label']} ({s['status']})" + (f" 自 since {s['since']}" if s["since"] else ""))
    if s["exit_reason"]:
        r = s["exit_reason"]
        click.echo(f"  离开原因 (reason for leaving): {r['name']} [{r['code']}]" + (f" · {r['note']}" if r["note"] else ""))
    for h in s["history"]:
        click.echo(f"  {h['at']}  {lifecycle.STATUSES[h['from']]} → {lifecycle.STATUSES[h['to']]}"
                   f"  ({h['source']}, {h['operator'] or '-'})")


@clients.command("status")
@click.argument("client_id")
@db_option
@operator_option
@json_option
def clients_status(client_id, db_path, operator, as_json):
    """客户状态及其变化 (the client's status: 正常, 休眠, 转户/销户申请中, 已销户, 已转出; and its history)."""
    db, actor = acting(db_path, operator)
    s = lifecycle.show(db, actor, lookups.client(db, client_id))
    emit_json(s) if as_json else _echo_status(s)


@cli.group()
def status():
    """客户状态 (client status through exit: dormancy, transfer and closure requests)."""


@status.command("refresh")
@click.option("--as-of", default=None, metavar="DATE", help="认定日期 (as-of date, default today)")
@db_option
@operator_option
@json_option
def status_refresh(as_of, db_path, operator, as_json):
    """认定休眠客户: 无交易且无接触满策略月数 (mark dormancy: no trade and no contact for N months; nightly)."""
    db, actor = acting(db_path, operator)
    r = lifecycle.refresh(db, actor, as_of=as_of)
    if as_json:
        emit_json(r)
        return
    click.echo(f"休眠认定 (dormancy) as of {r['as_of']}: {r['months']} 个月无交易无接触 (since {r['cutoff']}) ·"
               f" 新休眠 dormant {r['dormant']} · 恢复正常 reactivated {r['reactivated']} · 策略 {r['policy']}")


@status.command("request")
@click.argument("client_id")
@click.option("--kind", "kind", type=click.Choice(["transfer", "closure"]), required=True,
              help="transfer 转户 / closure 销户")
@click.option("--channel", default="counter", show_default=True, help="渠道 (phone, counter, online, app, sms)")
@click.option("--note", required=True, help="申请内容 (what the client asked)")
@click.option("--reason", default=None, help="离开原因代码 (reason code; `status reasons`)")
@click.option("--reason-note", default=None, help="原因说明 (reason detail)")
@db_option
@operator_option
@json_option
def status_request(client_id, kind, channel, note, reason, reason_note, db_path, operator, as_json):
    """登记转户/销户申请: 状态即时变更, 挽留不阻止也不延迟 (a request takes effect at once; retention never blocks it)."""
    db, actor = acting(db_path, operator)
    r = exits.request(db, actor, lookups.client(db, client_id), kind, channel=channel, note=note, reason=reason,
                      reason_note=reason_note)
    if as_json:
        emit_json(r)
        return
    click.echo(f"{r['client_id']}: {r['label']} ({r['status']}) · 接触记录 #{r['interaction']}"
               f" · 挽留案例 retention case #{r['retention_case']}")


@status.command("reason")
@click.argument("client_id")
@click.option("--reason", required=True, help="离开原因代码 (reason code; `status reasons`)")
@click.option("--note", default=None, help="说明 (detail)")
@db_option
@operator_option
@json_option
def status_reason(client_id, reason, note, db_path, operator, as_json):
    """记录客户离开原因 (record why the client leaves; from the lifecycle policy's list)."""
    db, actor = acting(db_path, operator)
    s = exits.record_reason(db, actor, lookups.client(db, client_id), reason, note=note)
    emit_json(s) if as_json else _echo_status(s)


@status.command("complete")
@click.argument("client_id")
@click.option("--note", required=True, help="办理情况 (what was done)")
@db_option
@operator_option
@json_option
def status_complete(client_id, note, db_path, operator, as_json):
    """转户/销户办结: 已转出 / 已销户 (the transfer or closure is done; records stay for the retention period)."""
    db, actor = acting(db_path, operator)
    s = exits.complete(db, actor, lookups.client(db, client_id), note=note)
    emit_json(s) if as_json else _echo_status(s)


@status.command("withdraw")
@click.argument("client_id")
@click.option("--note", required=True, help="撤回原因 (why)")
@db_option
@operator_option
@json_option
def status_withdraw(client_id, note, db_path, operator, as_json):
    """客户撤回转户/销户申请, 恢复正常 (the client withdraws the request; back to active)."""
    db, actor = acting(db_path, operator)
    s = exits.withdraw(db, actor, lookups.client(db, client_id), note=note)
    emit_json(s) if as_json else _echo_status(s)


@status.command("list")
@click.option("--status", "status_", default=None, help="状态 (dormant 休眠, closure_requested 销户申请中, …)")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def status_list(status_, branch, db_path, operator, as_json):
    """非正常状态的客户 (clients not active: dormant, leaving, left; with since and reason)."""
    db, actor = acting(db_path, operator)
    wanted = lifecycle.normal_status(status_) if status_ else None
    rows = lifecycle.list_by_status(db, actor, status=wanted, branch=lookups.branch(db, branch))
    if as_json:
        emit_json(rows)
        return
    echo_table([(r["client_id"], r["branch_id"], r["label"], r["since"], r["reason"] or "-") for r in rows],
               ["客户 client", "营业部", "状态 status", "自 since", "原因 reason"])


@status.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def status_report(branch, db_path, operator, as_json):
    """各营业部客户状态分布及离开原因 (clients per status per branch, and why clients leave)."""
    db, actor = acting(db_path, operator)
    r = lifecycle.report(db, actor, branch=lookups.branch(db, branch))
    if as_json:
        emit_json(r)
        return
    keys = list(lifecycle.STATUSES)
    echo_table([(b["branch_id"], *(f"{b[k]:,}" for k in keys)) for b in r["branches"]],
               ["营业部 branch", *(f"{lifecycle.STATUSES[k]}" for k in keys)])
    if r["exit_reasons"]:
        click.echo("离开原因 (why clients leave):")
        echo_table([(w["branch_id"], w["name"], w["clients"]) for w in r["exit_reasons"]],
                   ["营业部 branch", "原因 reason", "客户 clients"])


@status.command("reasons")
@db_option
@operator_option
@json_option
def status_reasons(db_path, operator, as_json):
    """策略中的离开原因 (the reasons for leaving in the lifecycle policy in force)."""
    db, actor = acting(db_path, operator)
    reasons = lifecycle.exit_reasons(db)
    if as_json:
        emit_json(reasons)
        return
    echo_table(list(reasons.items()), ["代码 code", "原因 reason"])
