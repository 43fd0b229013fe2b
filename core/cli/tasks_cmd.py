"""tasks list / done / report; orders flag (an abnormal order for human review)."""

import click

from .. import events, lookups
from .. import service_policy as sp
from .. import tasks as tasks_lib
from ..errors import BrokerCRMError
from . import cli
from .common import db_option, echo_table, emit_json, json_option, open_db, operator_option


@cli.group()
def tasks():
    """服务任务与时限 (tasks with due times)."""


@tasks.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--client", "client_id", default=None, help="客户号 (client)")
@click.option("--overdue", is_flag=True, help="只列逾期未办 (open past due only)")
@click.option("--status", type=click.Choice(tasks_lib.STATUSES), default=None, help="open | done")
@click.option("--limit", type=int, default=None, help="最多条数 (at most N)")
@db_option
@json_option
def tasks_list(branch, client_id, overdue, status, limit, db_path, as_json):
    """列出任务, 未办在前, 按截止时间 (list tasks, open first, by due time)."""
    db = open_db(db_path)
    branch, client_id = lookups.branch(db, branch), lookups.client(db, client_id)
    rows = tasks_lib.list_tasks(db, branch=branch, client_id=client_id, overdue=overdue, status=status,
                                limit=limit)
    if as_json:
        emit_json(rows)
        return
    echo_table([(f"#{t['id']}", t["client_id"], t["branch_id"], tasks_lib.due_label(t), t["title"], t["origin"])
                for t in rows], ["任务 id", "客户 client", "营业部", "截止 due", "任务 title", "来源 origin"],
               empty="没有任务 (no tasks)")


@tasks.command("done")
@click.argument("task_id", type=int)
@click.option("--note", required=True, help="处理情况 (what was done)")
@db_option
@operator_option
@json_option
def tasks_done(task_id, note, db_path, operator, as_json):
    """完成任务 TASK_ID (mark a task done)."""
    task = tasks_lib.done(open_db(db_path), task_id, note=note, operator=operator)
    if as_json:
        emit_json(task)
    else:
        click.echo(f"任务 #{task_id} 已完成 (done): {task['state']}, 截止 {task['due_at']}, 完成 {task['done_at']}")


@tasks.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@json_option
def tasks_report(branch, db_path, as_json):
    """按营业部统计: 按时完成, 超时完成, 逾期未办 (per branch: on time, late, open past due)."""
    db = open_db(db_path)
    report = tasks_lib.report(db, branch=lookups.branch(db, branch))
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
    db = open_db(db_path)
    row = db.execute("SELECT branch_id FROM clients WHERE client_id = ?", [client_id]).fetchone()
    if row is None:
        raise BrokerCRMError(f"客户 {client_id} 不存在 (no such client)")
    with db.atomic():
        event = events.emit(db, "abnormal_order", client_id, at=sp.iso(at) if at else None,
                            detail={"note": note, "order_id": order_id, "branch_id": row[0]}, operator=operator)
    created = [t for t in tasks_lib.list_tasks(db, client_id=client_id) if t["event_id"] == event["id"]]
    if as_json:
        emit_json({"event": event, "tasks": created})
        return
    for t in created:
        click.echo(f"已开任务 #{t['id']} (task opened): {t['title']} 截止 {t['due_at']}")
