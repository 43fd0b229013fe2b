"""interactions log / list / satisfaction, import interactions, care."""

import click

from ..service import care as care_lib
from ..service import interactions as interactions_lib
from ..book import lookups
from . import cli
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option
from .import_cmd import check_rejects, import_cmd, read_options

KIND_HELP = ", ".join(f"{k} {v}" for k, v in interactions_lib.KINDS.items())
CHANNEL_HELP = ", ".join(f"{k} {v}" for k, v in interactions_lib.CHANNELS.items())


@cli.group()
def interactions():
    """接触记录与满意度 (interactions with clients, satisfaction)."""


@interactions.command("log")
@click.argument("client_id")
@click.option("--kind", required=True, help=f"类型 (kind): {KIND_HELP}")
@click.option("--channel", required=True, help=f"渠道 (channel): {CHANNEL_HELP}")
@click.option("--note", required=True, help="内容 (what was said or done)")
@click.option("--satisfaction", type=int, default=None, help="满意度 1–5 (satisfaction score)")
@click.option("--manager", default=None, help="客户经理, 默认为操作员 (account manager; default: the operator)")
@click.option("--at", "at", default=None, help="接触时间, 默认现在 (when; ISO date/time, default now)")
@click.option("--task", "task_id", type=int, default=None, help="此次接触完成的任务号 (the task this contact fulfils)")
@db_option
@operator_option
@json_option
def interactions_log(client_id, kind, channel, note, satisfaction, manager, at, task_id, db_path, operator,
                     as_json):
    """记录一次接触 (log an interaction with CLIENT_ID).

    投诉自动立案并设 48 小时时限; 转户/销户申请自动开立挽留案例; 低满意度自动安排回访.
    A complaint opens a complaint case, a transfer/closure request a retention
    case, a low score a callback task.
    """
    db, actor = acting(db_path, operator)
    result = interactions_lib.log(db, actor, client_id, kind=kind, channel=channel, note=note,
                                  satisfaction=satisfaction, manager=manager, at=at, task_id=task_id)
    if as_json:
        emit_json(result)
        return
    click.echo(f"已记录接触 #{result['id']} (interaction logged): {interactions_lib.label(result['kind'])}"
               f" · {result['channel']} · {result['at']}")
    if "complaint" in result:
        click.echo(f"已立案投诉 #{result['complaint']} (complaint opened)")
    if "retention_case" in result:
        click.echo(f"已开立挽留案例 #{result['retention_case']} (retention case opened)")
    if "task_done" in result:
        click.echo(f"任务 #{result['task_done']} 已完成 (task done)")


@interactions.command("list")
@click.option("--client", "client_id", default=None, help="客户号 (client)")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--kind", default=None, help="类型 (kind)")
@click.option("--limit", type=int, default=100, show_default=True, help="最多条数 (at most N)")
@db_option
@operator_option
@json_option
def interactions_list(client_id, branch, kind, limit, db_path, operator, as_json):
    """列出接触记录, 新的在前 (list interactions, newest first)."""
    db, actor = acting(db_path, operator)
    client_id, branch = lookups.client(db, client_id), lookups.branch(db, branch)
    rows = interactions_lib.list_interactions(db, actor, client_id=client_id, branch=branch, kind=kind, limit=limit)
    if as_json:
        emit_json(rows)
        return
    echo_table([(f"#{r['id']}", r["at"], r["client_id"], r["branch_id"], interactions_lib.label(r["kind"]),
                 r["channel"], r["satisfaction"] or "", r["manager"] or "-", r["note"]) for r in rows],
               ["编号 id", "时间 at", "客户 client", "营业部", "类型 kind", "渠道", "满意度", "客户经理", "内容 note"],
               empty="没有接触记录 (no interactions)")


@interactions.command("satisfaction")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def interactions_satisfaction(branch, db_path, operator, as_json):
    """满意度平均分: 按营业部, 按客户经理 (average satisfaction per branch and per manager)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    report = interactions_lib.satisfaction_report(db, actor, branch=branch)
    if as_json:
        emit_json(report)
        return
    click.echo("按营业部 (by branch):")
    for r in report["by_branch"]:
        click.echo(f"  {r['branch_id']:<8} 平均 {r['average']:.2f}  ({r['count']} 次评分)")
    click.echo("按客户经理 (by manager):")
    for r in report["by_manager"]:
        click.echo(f"  {r['manager'] or '-':<12} 平均 {r['average']:.2f}  ({r['count']} 次评分)")


@import_cmd.command("interactions")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="导入正确的行, 跳过错误行 (import the good rows, reject the bad ones)")
@click.option("--rejects", type=click.Path(dir_okay=False), default=None,
              help="与 --skip-invalid 同用: 错误行及原因写入此 CSV (bad rows and reasons go here)")
@read_options
@db_option
@operator_option
@json_option
def import_interactions(file, skip_invalid, rejects, sheet, header_row, db_path, operator, as_json):
    """导入接触记录 FILE (import interactions).

    列 (columns): client_id (客户号), kind (类型), channel (渠道), note (内容), 可选 optional:
    satisfaction (满意度 1–5), at (时间), manager (客户经理). 任一行有误则不导入任何记录,
    除非 --skip-invalid --rejects FILE.
    """
    check_rejects(skip_invalid, rejects)
    db, actor = acting(db_path, operator)
    result = interactions_lib.import_file(db, actor, file, skip_invalid=skip_invalid, rejects=rejects, sheet=sheet,
                                          header_row=header_row)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"接触记录: 读取 {result.rows} 行, 导入 {result.inserted}, 拒收 {result.rejected}"
               f" (rows {result.rows}, imported {result.inserted}, rejected {result.rejected})")
    if result.rejects_file:
        click.echo(f"错误行已写入 (rejected rows written to): {result.rejects_file}")


@cli.group()
def care():
    """客户关怀日历: 生日, 节日, 重要时刻 (care calendar)."""


@care.command("moment")
@click.argument("client_id")
@click.option("--kind", required=True,
              help="重要时刻 (moment): " + ", ".join(f"{k} {v}" for k, v in care_lib.MOMENT_KINDS.items()))
@click.option("--date", "on_date", required=True, help="日期 YYYY-MM-DD (the day)")
@click.option("--note", default=None, help="备注, 如 孩子高考 (note)")
@click.option("--yearly", is_flag=True, help="每年重复, 如纪念日 (repeats every year)")
@db_option
@operator_option
@json_option
def care_moment(client_id, kind, on_date, note, yearly, db_path, operator, as_json):
    """记录客户的重要时刻 (record an important moment of CLIENT_ID)."""
    db, actor = acting(db_path, operator)
    moment = care_lib.record_moment(db, actor, client_id, kind=kind, on_date=on_date, note=note, yearly=yearly)
    if as_json:
        emit_json(moment)
    else:
        click.echo(f"已记录重要时刻 #{moment['id']}: {moment['kind']} {moment['on_date']}")


@care.command("generate")
@click.option("--days", type=int, default=None, help="向前看的天数, 默认取策略 (days ahead; default from policy)")
@db_option
@operator_option
@json_option
def care_generate(days, db_path, operator, as_json):
    """生成未来关怀任务, 可重复运行 (open care tasks ahead of time; idempotent)."""
    db, actor = acting(db_path, operator)
    result = care_lib.generate(db, actor, days=days)
    if as_json:
        emit_json(result)
        return
    c = result["created"]
    click.echo(f"{result['from']} – {result['to']}: 新建关怀任务 {result['total']} (new care tasks):"
               f" 生日 birthday {c['birthday']}, 节日 holiday {c['holiday']}, 重要时刻 moment {c['moment']}")
