"""tasks list / done / report; orders flag (an abnormal order for human review)."""

import click

from ..service import orders as orders_lib
from ..service import tasks as tasks_lib
from ..book import lookups
from . import cli
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option


@cli.group()
def tasks():
    """服务任务与时限 (tasks with due times)."""


@tasks.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--client", "client_id", default=None, help="客户号 (client)")
@click.option("--overdue", is_flag=True, help="只列逾期未办 (open past due only)")
@click.option("--status", type=click.Choice(tasks_lib.STATUSES), default=None, help="open | done")
@click.option("--limit", type=int, default=None, help="最多条数 (at most N)")
@click.option("--mine", is_flag=True, help="只列我的: 指派给我的, 及我所在岗位队列的 (mine: assigned to me or my position's queue)")
@click.option("--assignee", default=None, help="某位客户经理的任务 (one person's tasks)")
@db_option
@operator_option
@json_option
def tasks_list(branch, client_id, overdue, status, limit, mine, assignee, db_path, operator, as_json):
    """列出任务, 未办在前, 按截止时间 (list tasks, open first, by due time)."""
    db, actor = acting(db_path, operator)
    branch, client_id = lookups.branch(db, branch), lookups.client(db, client_id)
    rows = tasks_lib.list_tasks(db, actor, branch=branch, client_id=client_id, overdue=overdue,
                                status=status, limit=limit, mine_only=mine, assignee=assignee)
    if as_json:
        emit_json(rows)
        return
    echo_table([(f"#{t['id']}", t["client_id"], t["branch_id"], tasks_lib.due_label(t), t["title"],
                 tasks_lib.owner_label(t), t["origin"])
                for t in rows], ["任务 id", "客户 client", "营业部", "截止 due", "任务 title", "负责 owner", "来源 origin"],
               empty="没有任务 (no tasks)")


@tasks.command("done")
@click.argument("task_id", type=int)
@click.option("--note", required=True, help="处理情况 (what was done)")
@db_option
@operator_option
@json_option
def tasks_done(task_id, note, db_path, operator, as_json):
    """完成任务 TASK_ID (mark a task done)."""
    db, actor = acting(db_path, operator)
    task = tasks_lib.done(db, actor, task_id, note=note)
    if as_json:
        emit_json(task)
    else:
        click.echo(f"任务 #{task_id} 已完成 (done): {task['state']}, 截止 {task['due_at']}, 完成 {task['done_at']}")


@tasks.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def tasks_report(branch, db_path, operator, as_json):
    """按营业部统计: 按时完成, 超时完成, 逾期未办 (per branch: on time, late, open past due)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    report = tasks_lib.report(db, actor, branch=branch)
    if as_json:
        emit_json(report)
        return
    click.echo(f"截至 (as of) {report['as_of']}")
    click.echo(f"{'营业部':<8} {'按时 on time':>12} {'超时 late':>10} {'逾期未办 past due':>18} {'未到期 open':>12}"
               f" {'按时率 rate':>12}")
    for r in report["branches"]:
        rate = f"{r['on_time_rate']:.0%}" if r["on_time_rate"] is not None else "-"
        click.echo(f"{r['branch_id']:<8} {r['on_time']:>12} {r['late']:>10} {r['open_past_due']:>18}"
                   f" {r['open']:>12} {rate:>12}")


@cli.group()
def orders():
    """委托监控 (order monitoring)."""


@orders.command("flag")
@click.argument("client_id")
@click.option("--note", required=True, help="异常情况 (what is abnormal)")
@click.option("--order-id", default=None, help="委托编号 (order number)")
@click.option("--at", "at", default=None, help="发现时间, 默认现在 (when flagged; default now)")
@db_option
@operator_option
@json_option
def orders_flag(client_id, note, order_id, at, db_path, operator, as_json):
    """标记异常委托, 10 分钟内须人工复核 (flag an abnormal order for human review)."""
    db, actor = acting(db_path, operator)
    flagged = orders_lib.flag(db, actor, client_id, note=note, order_id=order_id, at=at)
    if as_json:
        emit_json(flagged)
        return
    for t in flagged["tasks"]:
        click.echo(f"已开任务 #{t['id']} (task opened): {t['title']} 截止 {t['due_at']}")
