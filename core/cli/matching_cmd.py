"""suitability profile / withdraw / cooling-off: three-way matching and special care (issue 11)."""

import click

from ..book import lookups
from ..suitability import cooling_off, profile, profile_show
from .common import acting, db_option, emit_json, json_option, operator_option
from .suitability_cmd import suitability_group


def _print_profile(p):
    click.echo(f"{p['client_id']} 投资目标 (objective): {p['objective_label']} · 投资期限 (horizon): {p['horizon_label']}"
               f" · 意向品种 (kinds): {'/'.join(p['kinds_label'])}")
    r = p["operator_record"]
    if r:
        click.echo(f"  操作员登记 (operator record) #{r['id']} 凭证 {r['evidence']} {r['recorded_at']} by {r['recorded_by']}")
    else:
        click.echo("  来源: 风险测评问卷 (from the questionnaire); 无操作员登记 (no operator record)")


@suitability_group.command("profile")
@click.argument("client_id")
@click.option("--objective", default=None, help="投资目标, 如 保值 / 稳健增值 / 积极增值 (objective)")
@click.option("--horizon", default=None, help="投资期限, 如 短期 / 中期 / 长期 (horizon)")
@click.option("--kinds", default=None, help="意向品种, 逗号分隔, 如 债券,基金 (wanted kinds)")
@click.option("--evidence", default=None, metavar="REF", help="客户签署的信息表凭证编号 (signed KYC form; required to set)")
@db_option
@operator_option
@json_option
def profile_cmd(client_id, objective, horizon, kinds, evidence, db_path, operator, as_json):
    """查看或登记客户投资目标/期限/品种 (show, or record from a signed form, the client's profile).

    不带 --objective/--horizon/--kinds 时只显示. 登记须 --evidence 与具名操作员 (--as).
    """
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    recorded = None
    if objective is not None or horizon is not None or kinds is not None:
        recorded = profile.set_profile(db, actor, client_id, evidence=evidence, objective=objective,
                                       horizon=horizon, kinds=kinds)
    p = profile_show.show_profile(db, actor, client_id)
    p["recorded_id"] = recorded
    if as_json:
        emit_json(p)
        return
    if recorded:
        click.echo(f"已登记 (recorded) #{recorded}")
    _print_profile(p)


@suitability_group.command("withdraw")
@click.argument("confirmation_id", type=int)
@click.option("--evidence", required=True, metavar="REF", help="客户签署的撤回申请凭证编号 (signed withdrawal)")
@click.option("--reason", default=None, help="说明 (note)")
@db_option
@operator_option
@json_option
def withdraw_cmd(confirmation_id, evidence, reason, db_path, operator, as_json):
    """冷静期内撤回一笔特别注意销售 (withdraw a special-care sale inside its cooling-off window)."""
    db, actor = acting(db_path, operator)
    r = cooling_off.withdraw(db, actor, confirmation_id, evidence=evidence, reason=reason)
    if as_json:
        emit_json(r)
    else:
        click.echo(f"已撤回 (withdrawn): 确认 #{r['confirmation_id']} {r['client_id']} × {r['product_code']}"
                   f" {r['withdrawn_at']}")


@suitability_group.command("cooling-off")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def cooling_off_cmd(branch, db_path, operator, as_json):
    """未结束的冷静期与待办的特别注意回访 (open cooling-off windows and special-care callbacks due)."""
    db, actor = acting(db_path, operator)
    r = cooling_off.report(db, actor, branch=lookups.branch(db, branch))
    if as_json:
        emit_json(r)
        return
    click.echo(f"冷静期中 (open cooling-off windows): {len(r['open_windows'])}")
    for w in r["open_windows"]:
        click.echo(f"  确认 #{w['confirmation_id']} {w['branch_id']} {w['client_id']} × {w['product_code']}"
                   f" ({w['verdict']}; {', '.join(w['triggers'])}) 至 {w['ends_at']}")
    click.echo(f"待回访 (special-care callbacks due): {len(r['callbacks_due'])}")
    for c in r["callbacks_due"]:
        late = " 已逾期 (overdue)" if c["overdue"] else ""
        click.echo(f"  任务 #{c['task_id']} {c['branch_id']} {c['client_id']} × {c['product_code']} 截止 {c['due_at']}{late}")
