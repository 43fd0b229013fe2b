"""complaints: list, show and the steps of the state machine."""

import click

from ..service import complaints as complaints_lib
from ..book import lookups
from . import cli
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option


@cli.group()
def complaints():
    """投诉处理: 受理 → 调查 → 方案 → 批准 → 告知客户 → 实施 → 客户意见 (complaint handling).

    投诉由 `interactions log CLIENT --kind complaint …` 立案, 任务进投诉组队列. 每一步须 --as
    操作员; 方案须由经办人以外的主管批准. 48 小时时限在方案告知客户 (inform) 时停止, 不在实施时.
    客户不满意 (opinion --not-satisfied) 则重新处理. A complaint is opened by logging an
    interaction of kind complaint; steps cannot be skipped; the clock stops when the
    client is told the solution; an unsatisfied client reopens it.
    """


def _echo(c, as_json):
    if as_json:
        emit_json(c)
        return
    flag = f"  ⚠ {c['flag']}" if c.get("flag") else ""
    click.echo(f"投诉 #{c['id']} 客户 {c['client_id']} 营业部 {c['branch_id']}: {complaints_lib.LABELS[c['state']]}"
               f" {c['state']} · 截止 (due) {c['due_at']}{flag}")
    if c.get("handler"):
        click.echo(f"  经办 (handler) {c['handler']}" + (f" · 批准 (approved by) {c['approved_by']}" if c.get("approved_by") else ""))
    if c.get("proposal"):
        click.echo(f"  方案 (proposal): {c['proposal']}")
    for o in c.get("opinions", []):
        click.echo(f"  客户意见 (opinion) 第 {o['round']} 轮: {'满意 satisfied' if o['satisfied'] else '不满意 not satisfied'}"
                   f" · {o['at']} by {o['operator']}: {o['note']}")
    for s in c.get("steps", []):
        click.echo(f"  {s['at']} {s['from'] or '-'} → {s['to']} by {s['operator'] or '-'}"
                   + (f": {s['note']}" if s["note"] else ""))


@complaints.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--state", type=click.Choice(complaints_lib.STATES), default=None, help="状态 (state)")
@click.option("--overdue", is_flag=True, help="只列超时的 (past the deadline only)")
@db_option
@operator_option
@json_option
def complaints_list(branch, state, overdue, db_path, operator, as_json):
    """列出投诉, 超时的标出 (list complaints; past-deadline ones flagged)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    rows = complaints_lib.list_complaints(db, actor, branch=branch, state=state, overdue=overdue)
    if as_json:
        emit_json(rows)
        return
    echo_table([(f"#{c['id']}", c["client_id"], c["branch_id"], c["state"], c["due_at"], c["handler"] or "-",
                 f"⚠ {c['flag']}" if c["flag"] else "") for c in rows],
               ["投诉 id", "客户 client", "营业部", "状态 state", "截止 due", "经办 handler", ""],
               empty="没有投诉 (no complaints)")


@complaints.command("show")
@click.argument("complaint_id", type=int)
@db_option
@operator_option
@json_option
def complaints_show(complaint_id, db_path, operator, as_json):
    """显示投诉及每一步 (one complaint with its steps)."""
    db, actor = acting(db_path, operator)
    _echo(complaints_lib.show(db, actor, complaint_id), as_json)


def _step_command(name, doc, func, *options):
    @click.argument("complaint_id", type=int)
    @db_option
    @operator_option
    @json_option
    def command(complaint_id, db_path, operator, as_json, **kwargs):
        db, actor = acting(db_path, operator)
        _echo(func(db, actor, complaint_id, **kwargs), as_json)

    command.__doc__ = doc
    for option in reversed(options):
        command = option(command)
    return complaints.command(name)(command)


_step_command("investigate", "开始调查, 操作员成为经办人 (take up the complaint as its handler).",
              complaints_lib.investigate, click.option("--note", default=None, help="备注 (note)"))
_step_command("propose", "经办人提出解决方案 (the handler proposes a solution).", complaints_lib.propose,
              click.option("--solution", required=True, help="解决方案 (the proposed solution)"))
_step_command("approve", "主管批准方案, 不能是经办人 (a supervisor, not the handler, approves).",
              complaints_lib.approve, click.option("--note", default=None, help="备注 (note)"))
_step_command("reject", "主管退回方案, 回到调查 (a supervisor sends the proposal back).", complaints_lib.reject,
              click.option("--reason", required=True, help="退回理由 (why)"))
_step_command("inform", "方案已告知客户, 48 小时时限停止 (the client has been told the solution; the clock stops).",
              complaints_lib.inform, click.option("--note", required=True, help="告知方式 (how the client was told)"))
_step_command("resolve", "方案已实施 (the solution the client was told has been carried out).", complaints_lib.resolve,
              click.option("--note", required=True, help="处理结果 (what was done)"))


@complaints.command("opinion")
@click.argument("complaint_id", type=int)
@click.option("--satisfied/--not-satisfied", default=None, help="客户是否满意 (the client's opinion)")
@click.option("--note", required=True, help="客户意见原话或要点 (what the client said)")
@db_option
@operator_option
@json_option
def complaints_opinion(complaint_id, satisfied, note, db_path, operator, as_json):
    """记录客户对方案的意见: 满意则办结, 不满意则重新处理 (the client's opinion: closes or reopens)."""
    if satisfied is None:
        raise click.UsageError("须给出 --satisfied 或 --not-satisfied (say whether the client is satisfied)")
    db, actor = acting(db_path, operator)
    _echo(complaints_lib.opinion(db, actor, complaint_id, satisfied=satisfied, note=note), as_json)
