"""reports new-accounts (seed 001 第八条4) and policy threshold-review (seed 001 第六条)."""

import click

from ..book import lookups
from ..classify import threshold_review
from ..service import daily_report
from . import cli
from .admin import policy
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option


@cli.group()
def reports():
    """报表: 新开户及风险测评日报 (branch reports for the directors)."""


@reports.command("new-accounts")
@click.option("--date", "day", required=True, help="开户日期 YYYY-MM-DD (the day the accounts were opened)")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="另存为 .xlsx 或 .csv 文件 (also save as an .xlsx or .csv file)")
@db_option
@operator_option
@json_option
def reports_new_accounts(day, branch, out, db_path, operator, as_json):
    """当日新开户及其风险测评结果, 报运营总监、客服总监 (new accounts of a day and their risk results)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    report = daily_report.new_accounts(db, actor, day, branch=branch)
    if out:
        daily_report.write(report, out)
        report["file"] = out
    if as_json:
        emit_json(report)
        return
    s = report["summary"]
    click.echo(f"新开户及风险测评日报 {report['date']}" + (f" 营业部 {report['branch']}" if report["branch"] else ""))
    click.echo(f"新开户 {s['accounts']} · 已测评 {s['assessed']} · 未测评 {s['missing']} · 已过期 {s['expired']}"
               f" · 最低类别 {s['lowest_category']}")
    echo_table([(r["client_id"], r["branch_id"], r["name"], r["account_manager"] or "-",
                 daily_report.STATUS[r["status"]], r["level"] or "-", r["score"] if r["score"] is not None else "-",
                 "是" if r["lowest_category"] else "-", r["expires_at"] or "-") for r in report["accounts"]],
               ["客户号", "营业部", "姓名", "客户经理", "状态", "风险等级", "得分", "最低类别", "有效至"],
               empty="当日没有新开户 (no accounts opened that day)")
    if out:
        click.echo(f"已保存 (saved) {out}")


@policy.command("threshold-review")
@click.option("--year", type=int, required=True, help="复核年度 (the year ending now; its three years are averaged)")
@click.option("--method", type=click.Choice(threshold_review.METHODS), default="mean",
              help="mean: 客户周转率平均; weighted: 按资产加权 (plain mean over clients, or asset-weighted)")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="写出分类策略草案 .toml, 不生效 (write the classification policy draft; not applied)")
@db_option
@operator_option
@json_option
def policy_threshold_review(year, method, out, db_path, operator, as_json):
    """年末复核周转率阈值: 按前三年平均周转率提出新阈值, 写成策略草案 (year-end threshold review)."""
    db, actor = acting(db_path, operator)
    if out:
        result = threshold_review.draft(db, actor, year, out, method=method)
    else:
        result = threshold_review.review(db, actor, year, method=method)
    if as_json:
        emit_json(result)
        return
    click.echo(f"周转率阈值年末复核 {year} ({method}): 现行 {result['current_threshold']} → 建议 {result['proposed_threshold']}")
    for y in result["years"]:
        value = y[method] if y[method] is not None else "无数据 (no data)"
        click.echo(f"  {y['year']}: 客户 {y['clients']} · 平均周转率 {value}")
    if out:
        click.echo(f"草案 (draft) {out}: 检查 `brokercrm policy check {out}`, 发布 `brokercrm policy publish {out}`")
