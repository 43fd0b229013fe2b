"""suitability check / confirm / scan / assessments / behaviour flags,
and `import products | holdings | behaviour`."""

import functools

import click

from ..suitability import assessments as assessment_reports
from ..suitability import behaviour
from ..suitability import products
from ..suitability import engine as suitability
from ..suitability import scan as suitability_scan
from ..kernel.validate import parse_date
from ..book import lookups
from . import cli
from ..trust import authz
from .common import acting, db_option, emit_json, json_option, operator_option
from .import_cmd import _options, _run, import_cmd
from .evidence_options import recording_from_options, recording_options

VERDICT_LABELS = {
    "match": "适当 (match)",
    "mismatch": "不适当: 不得推荐; 销售须特别风险警示书与客户书面确认 (mismatch: warning + written confirmation)",
    "forbidden": "禁止: 任何确认均不能解除 (forbidden: no confirmation lifts it)",
}


def _as_of(value):
    if value is None:
        return None
    day = parse_date(value)
    if day is None:
        raise click.BadParameter(f"{value!r} 不是有效日期 (not a date)", param_hint="--as-of")
    return day


as_of_option = click.option("--as-of", default=None, help="按该日期判断年龄与测评有效期 (YYYY-MM-DD; default today)")


@cli.group("suitability")
def suitability_group():
    """投资者适当性: 产品与客户匹配 (suitability: the right product to the right client)."""


def _print_result(r):
    click.echo(f"{r['client_id']} × {r['product_code']} {r['product_name']} ({r['product_risk']}):"
               f" 客户 {r['client_level']} {r['investor_type']}")
    click.echo(f"结论 (verdict): {VERDICT_LABELS[r['verdict']]}")
    for reason in r["reasons"]:
        click.echo(f"  · {reason}")
    for note in r["notes"]:
        click.echo(f"  注意 (note): {note}")
    _print_dimensions_and_care(r)   # issue 11
    if r.get("confirmation"):
        c = r["confirmation"]
        click.echo(f"  已有书面确认 (confirmed) #{c['id']} 凭证 {c['evidence']} {c['confirmed_at']} by {c['confirmed_by'] or '-'}")
        if c.get("status") and c["status"] != "final":
            click.echo(f"  状态 (status): {c['status']} {c.get('cooling_off_ends_at') or ''}")
    click.echo(f"记录 (recorded) #{r.get('id')} · {r['policy_source']}")


DIMENSION_LABELS = {"risk": "风险等级 (risk)", "horizon": "投资期限 (horizon)", "kind": "投资品种 (kind)"}
DIM_VERDICT_LABELS = {"match": "匹配", "mismatch": "不匹配", "unknown": "未知 (客户未说明)", "exempt": "不适用 (专业投资者)",
                      "forbidden": "禁止"}


def _print_dimensions_and_care(r):
    """Issue 11: each dimension's verdict and reason; the special-care procedures triggered."""
    for dim, d in (r.get("dimensions") or {}).items():
        click.echo(f"  {DIMENSION_LABELS[dim]}: {DIM_VERDICT_LABELS.get(d['verdict'], d['verdict'])} ({d['verdict']})"
                   f" — {d['reason']}")
    care = r.get("special_care")
    if care:
        click.echo("  特别注意义务 (special care, 办法 Art. 20): "
                   + "; ".join(t["label"] for t in care["triggers"]))
        for p in care["procedures"]:
            click.echo(f"    - {p['label']}")
        if care["cooling_off_hours"]:
            click.echo(f"    冷静期 (cooling-off) {care['cooling_off_hours']:g} 小时 (hours)")
    w = r.get("cooling_off")
    if w and w["hours"]:
        click.echo(f"  冷静期至 (cooling-off until) {w['ends_at']}: 期内交易未最终确定, 客户可撤回"
                   f" (`suitability withdraw {r['confirmation']['id']} --evidence REF`)")


@suitability_group.command("check")
@click.argument("client_id")
@click.argument("product_code")
@as_of_option
@db_option
@operator_option
@json_option
def check_cmd(client_id, product_code, as_of, db_path, operator, as_json):
    """检查客户 CLIENT_ID 与产品 PRODUCT_CODE 是否适当 (check one client against one product; recorded)."""
    db, actor = acting(db_path, operator)
    client_id, product_code = lookups.client(db, client_id), lookups.product(db, product_code)
    result = suitability.check(db, actor, client_id, product_code, today=_as_of(as_of))
    if as_json:
        emit_json(result)
    else:
        _print_result(result)


@suitability_group.command("confirm")
@click.argument("client_id")
@click.argument("product_code")
@click.option("--evidence", required=True, metavar="REF",
              help="特别风险警示书及客户书面确认的凭证编号 (reference of the signed warning and confirmation)")
@click.option("--channel", default=None, help="渠道 (counter 营业部现场, online, phone, visit); 营业部现场须双录")
@click.option("--template", "template_id", default=None, help="警示文本模板 id (default: special_risk_warning)")
@recording_options
@as_of_option
@db_option
@operator_option
@json_option
def confirm_cmd(client_id, product_code, evidence, channel, template_id, recording_ref, recording_sha256,
                recording_seconds, recording_file, as_of, db_path, operator, as_json):
    """记录客户在特别风险警示后的书面确认 (record the written confirmation of a mismatch).

    仅适用于 mismatch; forbidden 不能确认. 普通投资者的确认会创建回访任务 (high_risk_sale).
    """
    db, actor = acting(db_path, operator)
    shown = {"channel": channel, "template_id": template_id,
             "recording": recording_from_options(recording_ref, recording_sha256, recording_seconds, recording_file)}
    result = suitability.confirm(db, actor, client_id, product_code, evidence, today=_as_of(as_of), shown=shown)
    if as_json:
        emit_json(result)
    else:
        _print_result(result)


@suitability_group.command("scan")
@click.option("--branch", default=None, help="只扫描该营业部 (only this branch)")
@click.option("--limit", type=int, default=200, show_default=True, help="最多列出条数 (list at most N)")
@as_of_option
@db_option
@operator_option
@json_option
def scan_cmd(branch, limit, as_of, db_path, operator, as_json):
    """检查全部持仓, 列出持有高于其等级产品的客户 (check every holding; list those above the client's level)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    summary = suitability_scan.scan(db, actor, branch=branch, today=_as_of(as_of), limit=limit)
    if as_json:
        emit_json(summary)
        return
    click.echo(f"扫描 (scan) #{summary['run_id']} · {summary['policy_source']}"
               + (f" · 营业部 {branch}" if branch else "") + f" · 用时 {summary['seconds']:.2f}s")
    click.echo(f"持仓 (holdings) {summary['holdings']:,} · 适当 {summary['match']:,} · 不适当 {summary['mismatch']:,}"
               f" (已确认 {summary['mismatch_confirmed']:,}, 未确认 {summary['mismatch_unconfirmed']:,})"
               f" · 禁止 {summary['forbidden']:,}")
    for e in summary["exceptions"]:
        mark = f"已确认 #{e['confirmation_id']} {e['evidence']}" if e["confirmed"] else "未确认 (unconfirmed)"
        if e["verdict"] == "forbidden":
            mark = "禁止 (forbidden)"
        click.echo(f"  {e['branch_id']:<6} {e['client_id']:<14} {e['client_level']:<10} {e['product_code']:<10}"
                   f" {e['product_risk']}  {mark}")
        click.echo(f"      {e['reasons'][0]}")
        if e.get("dimensions") and e["dimensions"]["risk"]:   # issue 11: each dimension's verdict
            click.echo("      " + " · ".join(f"{DIMENSION_LABELS[k]} {v}" for k, v in e["dimensions"].items()))


@suitability_group.command("assessments")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--days", type=int, default=None, help="即将到期的天数, 默认取策略 (expiring window; default from policy: 30)")
@as_of_option
@db_option
@operator_option
@json_option
def assessments_cmd(branch, days, as_of, db_path, operator, as_json):
    """各营业部已过期、即将到期的风险测评, 及须重新测评的客户 (expired, expiring, renewal due)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    branch = authz.branch_filter(actor, "client.read", branch)
    today = _as_of(as_of)
    report = assessment_reports.expiry_report(db, branch=branch, today=today, days=days)
    report["renewal"] = assessment_reports.renewal_flags(db, branch=branch, today=today)
    if as_json:
        emit_json(report)
        return
    click.echo(f"截至 (as of) {report['today']} · 即将到期窗口 {report['expiring_days']} 天")
    click.echo(f"{'营业部':<6} {'客户':>8} {'未测评':>8} {'已过期':>8} {'将到期':>8} {'有效':>8}")
    for b in report["branches"]:
        click.echo(f"{b['branch_id']:<8} {b['clients']:>9,} {b['unassessed']:>9,} {b['expired']:>9,}"
                   f" {b['expiring']:>9,} {b['valid']:>9,}")
    for key, title in (("expired", "已过期 (expired)"), ("expiring", "即将到期 (expiring)")):
        if report[key]:
            click.echo(f"{title}:")
            for a in report[key][:100]:
                left = a["days_left"]
                when = f"尚余 {left} 天 (in {left} days)" if left > 0 else f"已过期 {-left} 天 ({-left} days ago)"
                click.echo(f"  {a['branch_id']:<6} {a['client_id']:<14} {a['level']} 有效至 {a['expires_at']} {when}")
    if report["renewal"]:
        click.echo("信息变化, 须重新测评 (Art. 21, renewal due):")
        for r in report["renewal"]:
            changes = "; ".join(f"{c['field']} {c['from']} → {c['to']}" for c in r["changes"])
            click.echo(f"  {r['branch_id']:<6} {r['client_id']:<14} 测评 {r['answered_at']}: {changes}")


# -- investor status: brokercrm.cli.investor_cmd (issue 11) ----------------------


# -- behaviour -----------------------------------------------------------------

@suitability_group.command("flags")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def flags_cmd(branch, db_path, operator, as_json):
    """交易行为标记, 如进取型 (behaviour flags such as aggressive; they never block trading)."""
    db, actor = acting(db_path, operator)
    rows = behaviour.flags(db, branch=authz.branch_filter(actor, "suitability.read", branch))
    if as_json:
        emit_json(rows)
        return
    for f in rows:
        click.echo(f"{f['branch_id']:<6} {f['client_id']:<14} {f['label']} ({f['flag']}) 自 {f['since']}: {f['reason']}")


@suitability_group.command("rerate")
@as_of_option
@db_option
@operator_option
@json_option
def rerate_cmd(as_of, db_path, operator, as_json):
    """按行为规则重新评估全部客户 (re-run the behaviour rules for every client, e.g. nightly)."""
    db, actor = acting(db_path, operator)
    counts = behaviour.rerate(db, actor, today=_as_of(as_of))
    if as_json:
        emit_json(counts)
    else:
        click.echo(f"新标记 (flagged) {counts['flagged']} · 解除 (cleared) {counts['cleared']} · 维持 (kept) {counts['kept']}")


# -- imports -------------------------------------------------------------------

@import_cmd.command("products")
@click.argument("file", type=click.Path(dir_okay=False))
@_options
@db_option
@operator_option
@json_option
def import_products(file, skip_invalid, rejects, sheet, header_row, db_path, operator, as_json):
    """导入产品 FILE (import products).

    列 (columns): code (产品代码), name (产品名称), type (产品类型), risk_level (风险等级 R1–R5).
    未填风险等级的产品按适当性策略由类型推定 (股票型 → R4, 债券型 → R3, 货币型 → R1 …).
    """
    _run("产品 products", products.import_products, file, skip_invalid, rejects, db_path, operator, as_json, sheet,
         header_row)


@import_cmd.command("holdings")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="文件即全部持仓: 不在文件中的持仓删除 (the file is the whole book)")
@_options
@db_option
@operator_option
@json_option
def import_holdings(file, replace, skip_invalid, rejects, sheet, header_row, db_path, operator, as_json):
    """导入持仓 FILE (import holdings).

    列 (columns): client_id (客户号), product_code (产品代码), amount (持有金额), since (持有起始日).
    """
    func = functools.partial(products.import_holdings, replace=replace)
    _run("持仓 holdings", func, file, skip_invalid, rejects, db_path, operator, as_json, sheet, header_row)


@import_cmd.command("behaviour")
@click.argument("file", type=click.Path(dir_okay=False))
@_options
@db_option
@operator_option
@json_option
def import_behaviour(file, skip_invalid, rejects, sheet, header_row, db_path, operator, as_json):
    """导入每日交易行为 FILE 并重新评估 (import daily trading behaviour, then re-rate).

    列 (columns): client_id, date, turnover_pct (日换手率%, 250 即 250%), st_share (ST占比 0–1 或 60%).
    满足行为规则的客户标记为进取型并通知客户经理; 不限制交易 (never blocks trading).
    """
    _run("交易行为 behaviour", behaviour.import_behaviour, file, skip_invalid, rejects, db_path, operator, as_json,
         sheet, header_row)
