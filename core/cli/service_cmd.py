"""packages (service packages), retention (转销户挽留), changes (maker–checker data changes)."""

import click

from ..book import data_changes as changes_lib
from ..service import retention as retention_lib
from ..service import packages as packages_lib
from ..book import lookups
from . import cli
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option


@cli.group()
def packages():
    """服务包 (service packages by client type)."""


@packages.command("show")
@click.argument("client_id")
@db_option
@operator_option
@json_option
def packages_show(client_id, db_path, operator, as_json):
    """客户的服务包及到期服务 (the package of CLIENT_ID and its due actions)."""
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    p = packages_lib.show(db, actor, client_id)
    if as_json:
        emit_json(p)
        return
    click.echo(f"{client_id}: {p['name']} [{p['code']}] · {p['chosen_by']} · 策略 {p['policy']}")
    for s in p["services"]:
        click.echo(f"  服务 {s}")
    for a in p["actions"]:
        click.echo(f"  {'到期 DUE' if a['due'] else '下次 next'} {a['due_on']}  {a['title']}"
                   f"  (每 {a['every_days']} 天, 上次 {(a['last'] or '无 never')[:10]})")


@packages.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def packages_report(branch, db_path, operator, as_json):
    """各营业部各服务包客户数 (clients per package per branch, head-office rules)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    report = packages_lib.distribution(db, actor, branch=branch)
    if as_json:
        emit_json(report)
        return
    echo_table([(r["branch_id"], r["package"], f"{r['clients']:,}") for r in report["rows"]],
               ["营业部 branch", "服务包 package", "客户 clients"])


@cli.group()
def retention():
    """转销户挽留 (retention of clients asking to transfer or close)."""


def _echo_case(case, as_json):
    if as_json:
        emit_json(case)
        return
    click.echo(f"挽留案例 #{case['id']} 客户 {case['client_id']} {retention_lib.REQUESTS[case['request']]}"
               f" · {case['state']} {retention_lib.OUTCOMES.get(case['outcome'], '')} · 开立 {case['opened_at']}")
    for a in case.get("attempts", []):
        click.echo(f"  {a['at']} {a['operator'] or '-'}: {a['note']}")


@retention.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--state", type=click.Choice(["open", "closed"]), default=None, help="open | closed")
@db_option
@operator_option
@json_option
def retention_list(branch, state, db_path, operator, as_json):
    """列出挽留案例 (list retention cases)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    rows = retention_lib.list_cases(db, actor, branch=branch, state=state)
    if as_json:
        emit_json(rows)
        return
    echo_table([(f"#{c['id']}", c["client_id"], c["branch_id"], c["request"], c["state"], c["outcome"] or "",
                 c["opened_at"]) for c in rows],
               ["案例 id", "客户 client", "营业部", "申请 request", "状态 state", "结果 outcome", "开立 opened"],
               empty="没有挽留案例 (no retention cases)")


@retention.command("attempt")
@click.argument("case_id", type=int)
@click.option("--note", required=True, help="挽留过程 (what was offered, what the client said)")
@db_option
@operator_option
@json_option
def retention_attempt(case_id, note, db_path, operator, as_json):
    """记录一次挽留 (record a retention attempt)."""
    db, actor = acting(db_path, operator)
    _echo_case(retention_lib.attempt(db, actor, case_id, note=note), as_json)


@retention.command("close")
@click.argument("case_id", type=int)
@click.option("--outcome", type=click.Choice(list(retention_lib.OUTCOMES)), required=True,
              help="retained 挽留成功 | transferred 已转户 | closed 已销户")
@click.option("--note", default=None, help="备注 (note)")
@db_option
@operator_option
@json_option
def retention_close(case_id, outcome, note, db_path, operator, as_json):
    """结案并安排后续回访 (close the case; a follow-up callback task opens)."""
    db, actor = acting(db_path, operator)
    _echo_case(retention_lib.close(db, actor, case_id, outcome=outcome, note=note),
               as_json)


@retention.command("report")
@db_option
@operator_option
@json_option
def retention_report(db_path, operator, as_json):
    """各营业部挽留结果 (retention outcomes per branch)."""
    db, actor = acting(db_path, operator)
    rows = retention_lib.summary(db, actor)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['branch_id']:<8} 未结 open {r['open']}  挽留成功 retained {r['retained']}"
                   f"  转户 transferred {r['transferred']}  销户 closed {r['closed']}")


@cli.group()
def changes():
    """客户资料修改: 柜台录入, 复核岗复核 (client data changes, maker–checker; seed 004).

    重要资料 (important): name, id_type, id_number, id_valid_until, phone, bank_account,
    legal_representative. 普通资料 (ordinary): occupation, education, annual_income,
    investment_years, business_scope, net_assets, gender, address, income_source, debts,
    integrity_record, tax_residence, beneficial_owners, actual_controller. 两类均须另一操作员
    复核, 策略 (policies/kyc.toml [changes] review_exempt) 可豁免普通资料. 录入须记录身份核验方式
    --identity-check 与申请表编号 --form-ref; 中国结算字段的修改列入 `changes csdc` 直至标记同步.
    """


def _echo_change(c, as_json):
    if as_json:
        emit_json(c)
        return
    if c.get("state") == "approved" and not c.get("checker"):
        click.echo(f"已修改普通资料 (免复核; ordinary field exempt from review, changed at once): #{c['id']}"
                   f" {c['client_id']} {c['field']}: {c['old_value']} → {c['new_value']}")
    else:
        click.echo(f"资料修改 #{c['id']} {c['client_id']} {c['field']}: {c['old_value']} → {c['new_value']}"
                   f" · {c['state']} · 录入 maker {c['maker']}" + (f" · 复核 checker {c['checker']}" if c["checker"] else ""))
    if c.get("identity_check") or c.get("form_ref"):
        click.echo(f"  身份核验 identity check: {c.get('identity_check') or '-'} · 申请表 form: {c.get('form_ref') or '-'}")
    if c.get("csdc_required"):
        synced = (f"已同步 synchronised {c['csdc_synced_at']} by {c['csdc_synced_by']}" if c.get("csdc_synced_at")
                  else "待同步中国结算 (to synchronise with 中国结算)")
        click.echo(f"  中国结算 CSDC: {synced}")


@changes.command("request")
@click.argument("client_id")
@click.argument("field")
@click.argument("value")
@click.option("--note", default=None, help="变更原因 (why)")
@click.option("--identity-check", default=None, help="客户身份核验方式, 如 证件原件/人脸识别 (how identity was checked)")
@click.option("--form-ref", default=None, help="变更申请表编号 (the signed change form's number)")
@db_option
@operator_option
@json_option
def changes_request(client_id, field, value, note, identity_check, form_ref, db_path, operator, as_json):
    """修改客户 CLIENT_ID 的 FIELD 为 VALUE, 待另一操作员复核 (request a change; another operator reviews it)."""
    db, actor = acting(db_path, operator)
    _echo_change(changes_lib.request(db, actor, client_id, field, value, note=note, identity_check=identity_check,
                                     form_ref=form_ref), as_json)


@changes.command("list")
@click.option("--state", type=click.Choice(["pending", "approved", "rejected"]), default="pending",
              show_default=True, help="状态 (state)")
@click.option("--client", "client_id", default=None, help="客户号 (client)")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def changes_list(state, client_id, branch, db_path, operator, as_json):
    """列出资料修改, 值已脱敏 (list changes; values masked)."""
    db, actor = acting(db_path, operator)
    client_id, branch = lookups.client(db, client_id), lookups.branch(db, branch)
    rows = changes_lib.list_changes(db, actor, state=state, client_id=client_id, branch=branch)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("没有 (none)")
    for c in rows:
        _echo_change(c, False)


@changes.command("approve")
@click.argument("change_id", type=int)
@click.option("--identity-check", default=None, help="录入时未记录的身份核验方式 (if the request lacks it, e.g. from an import)")
@click.option("--form-ref", default=None, help="录入时未记录的申请表编号 (if the request lacks it)")
@db_option
@operator_option
@json_option
def changes_approve(change_id, identity_check, form_ref, db_path, operator, as_json):
    """复核通过, 修改生效; 不能复核自己录入的修改 (approve; never your own)."""
    db, actor = acting(db_path, operator)
    _echo_change(changes_lib.approve(db, actor, change_id, identity_check=identity_check, form_ref=form_ref), as_json)


@changes.command("reject")
@click.argument("change_id", type=int)
@click.option("--reason", required=True, help="驳回理由 (why)")
@db_option
@operator_option
@json_option
def changes_reject(change_id, reason, db_path, operator, as_json):
    """驳回修改 (reject a pending change)."""
    db, actor = acting(db_path, operator)
    _echo_change(changes_lib.reject(db, actor, change_id, reason=reason), as_json)


@changes.command("csdc")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--all", "include_synced", is_flag=True, help="包括已同步的 (include synchronised ones)")
@db_option
@operator_option
@json_option
def changes_csdc(branch, include_synced, db_path, operator, as_json):
    """须同步中国结算的已复核修改, 直至标记同步 (approved changes to synchronise with 中国结算)."""
    db, actor = acting(db_path, operator)
    rows = changes_lib.csdc_pending(db, actor, branch=lookups.branch(db, branch), include_synced=include_synced)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("没有待同步中国结算的修改 (nothing to synchronise)")
    for c in rows:
        _echo_change(c, False)


@changes.command("csdc-synced")
@click.argument("change_id", type=int)
@click.option("--ref", default=None, help="中国结算业务编号或回执 (CSDC reference)")
@click.option("--note", default=None, help="备注 (note)")
@db_option
@operator_option
@json_option
def changes_csdc_synced(change_id, ref, note, db_path, operator, as_json):
    """标记修改已同步中国结算 (mark a change synchronised with 中国结算; audited)."""
    db, actor = acting(db_path, operator)
    _echo_change(changes_lib.mark_csdc_synced(db, actor, change_id, ref=ref, note=note), as_json)
