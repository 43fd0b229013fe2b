"""suitability investor status | evidence | convert | review | opt-down | list | recheck (issue 11, 办法 Art. 8, 11, 12)."""

import click

from ..book import lookups
from ..suitability import investor_type
from .common import acting, db_option, emit_json, json_option, operator_option
from .suitability_cmd import _as_of, as_of_option, suitability_group

ACTIONS = {"grant": "Art. 8 证明", "convert": "Art. 11 转换申请", "opt_down": "选择成为普通投资者", "legacy": "旧转换申请"}
STATES = {"pending": "待复核 (pending)", "approved": "已通过 (approved)", "rejected": "已驳回 (rejected)"}


@suitability_group.group("investor")
def investor_group():
    """投资者类别: 仅凭经复核的证明成为专业投资者 (investor status from reviewed evidence; 办法 Art. 8, 11)."""


def _figure_options(f):
    for name, help_ in reversed((
        ("--financial-assets", "金融资产, 元 (financial assets)"),
        ("--net-assets", "最近1年末净资产, 元 (institutions: year-end net assets)"),
        ("--income", "最近3年每年收入, 逗号分隔, 取平均 (the last 3 years' incomes, comma-separated; averaged)"),
        ("--investment-years", "投资经历年限 (years of investment experience)"),
        ("--work-years", "金融产品设计/投资/风控等相关工作年限 (years of relevant work)"),
        ("--qualification", "专业资格: senior_manager_8_1 | cpa | lawyer (qualification route, Art. 8(5))"),
        ("--institution-type", "机构类型, 如 securities_company, qfii, pension_fund (Art. 8(1)–(3))"),
        ("--period-start", "证明材料所载期间起 YYYY-MM-DD (period start)"),
    )):
        f = click.option(name, default=None, help=help_)(f)
    f = click.option("--period-end", default=None, help="证明材料所载数据截止日 YYYY-MM-DD (必填; the figures' as-of date)")(f)
    f = click.option("--document", default=None, metavar="REF", help="证明材料编号 (the document's reference; required)")(f)
    f = click.option("--kind", "evidence_kind", default=None,
                     help="证明材料种类, 如 资产证明/收入证明/金融许可证 (evidence kind; required)")(f)
    return f


FIGURES = ("financial_assets", "net_assets", "income", "investment_years", "work_years", "qualification",
           "institution_type")


def _print_record(r):
    click.echo(f"记录 (record) #{r['id']} {r['client_id']} · {ACTIONS.get(r['action'], r['action'])} 类别 {r['category']}"
               f" → {investor_type.LABELS[r['target']]} · {STATES[r['state']]}")
    click.echo(f"  登记 (recorded) {r['recorded_by']} {r['recorded_at']} · 材料 {r['evidence_kind']} {r['document_ref']}"
               + (f" · 期间 {r['period_start'] or ''}–{r['period_end']}" if r["period_end"] else ""))
    if r["application_ref"]:
        test = (f"知识测试 {r['prudent_score']:g}" if r["prudent_kind"] == "knowledge_test"
                else f"模拟交易 {r['prudent_ref']}")
        click.echo(f"  申请 {r['application_ref']} · 风险确认 {r['acknowledgement_ref']} · 谨慎评估: {test}")
    click.echo(f"  {'符合条件 (eligible)' if r['eligible'] else '未达条件 (not eligible)'}:")
    for line in r["eligibility"]:
        click.echo(f"    · {line}")
    if r["reviewed_by"]:
        click.echo(f"  复核 (reviewed) {r['reviewed_by']} {r['reviewed_at']}: {r['review_note'] or ''}"
                   + (f" · 结果通知 {r['notice_ref']}" if r["notice_ref"] else ""))
    if r["valid_until"]:
        click.echo(f"  有效至 (valid until) {r['valid_until']} · 复核日 (re-check) {r['recheck_at']}")


def _out(as_json, record):
    emit_json(record) if as_json else _print_record(record)


@investor_group.command("status")
@click.argument("client_id")
@as_of_option
@db_option
@operator_option
@json_option
def status_cmd(client_id, as_of, db_path, operator, as_json):
    """客户的投资者类别、依据及历史 (a client's investor status, why, and its history)."""
    db, actor = acting(db_path, operator)
    info = investor_type.show(db, actor, lookups.client(db, client_id), today=_as_of(as_of))
    if as_json:
        emit_json(info)
        return
    click.echo(f"{client_id}: {info['label']} ({info['type']}) — {info['reason']}")
    for r in info["history"]:
        click.echo(f"  #{r['id']} {r['recorded_at'][:10]} {ACTIONS.get(r['action'], r['action'])} {r['category']}"
                   f" → {r['target']} · {STATES[r['state']]}" + (f" · 有效至 {r['valid_until']}" if r["valid_until"] else ""))


@investor_group.command("evidence")
@click.argument("client_id")
@click.option("--category", required=True, help="办法 Art. 8 类别: 8.1 | 8.2 | 8.3 | 8.4 | 8.5")
@_figure_options
@click.option("--note", default=None, help="说明 (note)")
@as_of_option
@db_option
@operator_option
@json_option
def evidence_cmd(client_id, category, evidence_kind, document, period_end, period_start, note, as_of, db_path,
                 operator, as_json, **figures):
    """登记专业投资者证明 (record Art. 8 evidence); 须另一操作员复核后生效 (pending a second operator's review)."""
    db, actor = acting(db_path, operator)
    r = investor_type.record_evidence(db, actor, lookups.client(db, client_id), category=category,
                                      evidence_kind=evidence_kind, document=document, period_end=period_end,
                                      period_start=period_start, note=note, today=_as_of(as_of), **figures)
    _out(as_json, r)


@investor_group.command("convert")
@click.argument("client_id")
@click.option("--category", required=True, help="办法 Art. 11 条件: 11.1 (机构) | 11.2 (个人)")
@click.option("--application", default=None, metavar="REF", help="客户书面申请编号 (written application; required)")
@click.option("--acknowledgement", default=None, metavar="REF",
              help="客户自主承担风险的书面确认编号 (risk acknowledgement; required)")
@click.option("--test-score", default=None, help="投资知识测试得分 (knowledge-test score)")
@click.option("--simulation", default=None, metavar="REF", help="模拟交易记录编号 (simulated-trading record)")
@_figure_options
@click.option("--note", default=None, help="说明 (note)")
@as_of_option
@db_option
@operator_option
@json_option
def convert_cmd(client_id, category, application, acknowledgement, test_score, simulation, evidence_kind, document,
                period_end, period_start, note, as_of, db_path, operator, as_json, **figures):
    """普通投资者申请转化为专业投资者 (Art. 11/12 application); 须另一操作员复核并通知结果."""
    db, actor = acting(db_path, operator)
    r = investor_type.convert(db, actor, lookups.client(db, client_id), category=category, application=application,
                              acknowledgement=acknowledgement, test_score=test_score, simulation=simulation,
                              evidence_kind=evidence_kind, document=document, period_end=period_end,
                              period_start=period_start, note=note, today=_as_of(as_of), **figures)
    _out(as_json, r)


@investor_group.command("review")
@click.argument("record_id", type=int)
@click.option("--approve/--reject", default=None, required=True, help="通过或驳回 (approve or reject)")
@click.option("--reason", default=None, help="理由, 驳回时必填 (reason; required to reject)")
@click.option("--notice", default=None, metavar="REF",
              help="告知客户审查结果及理由的通知编号, 转换申请必填 (notice of the result; required for conversions)")
@as_of_option
@db_option
@operator_option
@json_option
def review_cmd(record_id, approve, reason, notice, as_of, db_path, operator, as_json):
    """复核记录 RECORD_ID; 登记人不能复核自己的记录 (review a record; never your own)."""
    db, actor = acting(db_path, operator)
    _out(as_json, investor_type.review(db, actor, record_id, approve=approve, note=reason, notice=notice,
                                       today=_as_of(as_of)))


@investor_group.command("opt-down")
@click.argument("client_id")
@click.option("--document", required=True, metavar="REF", help="客户书面告知编号 (the client's written notice)")
@click.option("--note", default=None, help="说明 (note)")
@as_of_option
@db_option
@operator_option
@json_option
def opt_down_cmd(client_id, document, note, as_of, db_path, operator, as_json):
    """专业投资者书面选择成为普通投资者, 立即生效 (Art. 11; Art. 8(1)–(3) cannot)."""
    db, actor = acting(db_path, operator)
    _out(as_json, investor_type.opt_down(db, actor, lookups.client(db, client_id), document=document, note=note,
                                         today=_as_of(as_of)))


@investor_group.command("list")
@click.option("--state", type=click.Choice(sorted(STATES)), default=None)
@click.option("--client", "client_id", default=None, help="客户号 (client)")
@db_option
@operator_option
@json_option
def list_cmd(state, client_id, db_path, operator, as_json):
    """列出投资者类别记录 (list investor-status records)."""
    db, actor = acting(db_path, operator)
    records = investor_type.list_records(db, actor, state=state, client_id=client_id)
    if as_json:
        emit_json(records)
        return
    if not records:
        click.echo("没有记录 (none)")
    for r in records:
        _print_record(r)


@investor_group.command("recheck")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--open-tasks", is_flag=True, help="为每项到期复核开任务, 每条记录一次 (open a re-check task per record, once)")
@as_of_option
@db_option
@operator_option
@json_option
def recheck_cmd(branch, open_tasks, as_of, db_path, operator, as_json):
    """到期须复核或已失效的专业投资者资格 (professional statuses due for re-check or lapsed)."""
    db, actor = acting(db_path, operator)
    items = investor_type.recheck(db, actor, branch=lookups.branch(db, branch), today=_as_of(as_of),
                                  open_tasks=open_tasks)
    if as_json:
        emit_json(items)
        return
    if not items:
        click.echo("没有到期复核 (no re-check due)")
    for i in items:
        state = "已失效, 现按普通投资者 (lapsed: ordinary)" if i["state"] == "lapsed" else "须复核 (re-check due)"
        click.echo(f"  {i['branch_id']:<6} {i['client_id']:<14} #{i['record']} 类别 {i['category']} 复核日 {i['recheck_at']}"
                   f" 有效至 {i['valid_until']} · {state}" + (f" · 任务事件 #{i['task_event']}" if i["task_event"] else ""))
