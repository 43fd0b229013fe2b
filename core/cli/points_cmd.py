"""points (积分与会员): accrual, balance and tier, redemption, head-office adjustment, report."""

import click

from ..book import lookups
from ..programmes import points as points_lib
from . import cli
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option


@cli.group()
def points():
    """积分与会员 (points ledger and membership tiers)."""


def _echo(p):
    click.echo(f"{p['client_id']}: 积分余额 balance {p['balance']} · {p['tier_name']}"
               f" (近期累计 earned in window {p['earned_in_window']})")
    for b in p["benefits"]:
        click.echo(f"  权益 {b}")
    for row in p["ledger"]:
        click.echo(f"  {row['at']}  {row['points']:+d}  {row['kind']} {row['rule']}" + (f" · {row['note']}" if row["note"] else ""))


@points.command("accrue")
@click.option("--month", default=None, metavar="YYYY-MM", help="资产积分所属月份 (month for asset points; default this month)")
@db_option
@operator_option
@json_option
def points_accrue(month, db_path, operator, as_json):
    """按策略累计积分: 新事件与当月资产 (earn points for new events and the month's assets; nightly, idempotent)."""
    db, actor = acting(db_path, operator)
    r = points_lib.accrue(db, actor, month=month)
    if as_json:
        emit_json(r)
        return
    click.echo(f"积分累计 (points) {r['month']} · 策略 {r['policy']}: "
               + ", ".join(f"{k} {v}" for k, v in r["rows"].items()))


@points.command("show")
@click.argument("client_id")
@db_option
@operator_option
@json_option
def points_show(client_id, db_path, operator, as_json):
    """客户积分余额, 会员等级, 权益及流水 (balance, tier, benefits and the latest ledger rows)."""
    db, actor = acting(db_path, operator)
    p = points_lib.show(db, actor, lookups.client(db, client_id))
    emit_json(p) if as_json else _echo(p)


@points.command("redeem")
@click.argument("client_id")
@click.option("--points", "amount", type=int, required=True, help="兑换积分 (points to spend)")
@click.option("--for", "option", required=True, help="兑换项目代码, 如 fee_offset (redemption option)")
@click.option("--note", default=None, help="备注 (note)")
@db_option
@operator_option
@json_option
def points_redeem(client_id, amount, option, note, db_path, operator, as_json):
    """积分兑换, 如抵扣佣金 (spend points, e.g. to offset commission; never beyond the balance)."""
    db, actor = acting(db_path, operator)
    p = points_lib.redeem(db, actor, lookups.client(db, client_id), points=amount, option=option, note=note)
    if as_json:
        emit_json(p)
        return
    click.echo(f"兑换 {p['redeemed']} 积分 → {p['option']} 价值 {p['value_yuan']} 元")
    _echo(p)


@points.command("adjust")
@click.argument("client_id")
@click.option("--points", "amount", type=int, required=True, help="调整积分, 可为负 (points, + or -)")
@click.option("--reason", required=True, help="原因 (reason)")
@db_option
@operator_option
@json_option
def points_adjust(client_id, amount, reason, db_path, operator, as_json):
    """总部积分调整 (head-office correction with a reason; the ledger keeps both rows)."""
    db, actor = acting(db_path, operator)
    p = points_lib.adjust(db, actor, lookups.client(db, client_id), points=amount, reason=reason)
    emit_json(p) if as_json else _echo(p)


@points.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def points_report(branch, db_path, operator, as_json):
    """各营业部会员等级人数及积分发放, 兑换, 余额 (members per tier; points earned, redeemed, outstanding)."""
    db, actor = acting(db_path, operator)
    r = points_lib.report(db, actor, branch=lookups.branch(db, branch))
    if as_json:
        emit_json(r)
        return
    codes = [t["code"] for t in points_lib.tiers(db)]
    echo_table([(b["branch_id"], *(b["tiers"][c] for c in codes), b["earned"], b["redeemed"], b["outstanding"])
                for b in r["branches"]], ["营业部 branch", *codes, "发放 earned", "兑换 redeemed", "余额 outstanding"])
