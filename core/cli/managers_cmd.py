"""managers: assign, hand over, history, report (account managers, issue 14 item 2)."""

import click

from ..book import lookups
from ..service import manager_report
from ..staff import client_notes
from ..staff import managers as managers_lib
from . import cli
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option


@cli.group()
def managers():
    """客户经理: 指定、移交、报表 (account managers: assign, hand over, report).

    每位客户须有本营业部操作员作客户经理; 变更须说明理由并记入审计. 任务默认派给客户经理.
    Each client's manager is an operator of the client's branch; every change has a reason.
    """


@managers.command("assign")
@click.argument("client_id")
@click.argument("manager")
@click.option("--reason", required=True, help="理由 (why)")
@db_option
@operator_option
@json_option
def managers_assign(client_id, manager, reason, db_path, operator, as_json):
    """指定或变更客户 CLIENT_ID 的客户经理为 MANAGER (assign or reassign one client)."""
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    done = managers_lib.assign(db, actor, client_id, manager, reason=reason)
    if as_json:
        emit_json(done)
        return
    old = done["old_manager"] or "无 (none)"
    click.echo(f"客户 {client_id} 客户经理 (manager): {old} → {done['account_manager']} · 理由 {done['reason']}")


@managers.command("handover")
@click.argument("from_manager", metavar="FROM")
@click.option("--to", "to", multiple=True, required=True,
              help="接手的客户经理, 可多次给出以平均分配 (receiving manager; repeat to spread the book)")
@click.option("--reason", required=True, help="理由, 如离职 (why, e.g. leaving)")
@db_option
@operator_option
@json_option
def managers_handover(from_manager, to, reason, db_path, operator, as_json):
    """把 FROM 名下全部客户移交给一位或平均分给几位客户经理 (hand over a manager's whole book)."""
    db, actor = acting(db_path, operator)
    done = managers_lib.handover(db, actor, from_manager, list(to), reason=reason)
    if as_json:
        emit_json(done)
        return
    click.echo(f"已移交 {from_manager} 名下 {done['clients']} 位客户 (handed over) · 理由 {done['reason']}")
    for m, n in done["to"].items():
        click.echo(f"  → {m}: {n}")


@managers.command("distribute")
@click.option("--branch", required=True, help="营业部代码 (branch code)")
@click.option("--to", "to", multiple=True, required=True, help="客户经理, 可多次给出 (a manager; repeat for several)")
@click.option("--reason", required=True, help="理由, 如初始分配 (why)")
@db_option
@operator_option
@json_option
def managers_distribute(branch, to, reason, db_path, operator, as_json):
    """把营业部尚无客户经理的客户平均分给几位客户经理 (share a branch's unassigned clients)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    done = managers_lib.distribute(db, actor, branch, list(to), reason=reason)
    if as_json:
        emit_json(done)
        return
    click.echo(f"营业部 {branch}: 已分配 {done['clients']} 位尚无客户经理的客户 (assigned) · 理由 {done['reason']}")
    for m, n in done["to"].items():
        click.echo(f"  → {m}: {n}")


@managers.command("history")
@click.argument("client_id")
@db_option
@operator_option
@json_option
def managers_history(client_id, db_path, operator, as_json):
    """客户经理变更记录 (a client's manager assignments, oldest first)."""
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    rows = managers_lib.history(db, actor, client_id)
    if as_json:
        emit_json(rows)
        return
    echo_table([(r["at"], r["old_manager"] or "-", r["new_manager"], r["reason"], r["operator"]) for r in rows],
               ["时间 at", "原 old", "新 new", "理由 reason", "操作员 by"], empty="没有记录 (no assignments)")


@managers.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--manager", default=None, help="只看一位客户经理 (one manager)")
@db_option
@operator_option
@json_option
def managers_report(branch, manager, db_path, operator, as_json):
    """每位客户经理: 各类别客户数, 逾期任务, 平均满意度, 回访按时率 (per-manager report)."""
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    report = manager_report.report(db, actor, branch=branch, manager=manager)
    if as_json:
        emit_json(report)
        return
    click.echo(f"截至 (as of) {report['as_of']}")

    def rate(r):
        return f"{r['callback_on_time_rate']:.0%}" if r["callback_on_time_rate"] is not None else "-"

    echo_table([(r["manager"] or "未指派 (none)", r["branch_id"] or "-", r["clients"],
                 " ".join(f"{k}:{v}" for k, v in sorted(r["by_class"].items())) or "-",
                 r["open_tasks"], r["overdue_tasks"],
                 f"{r['satisfaction_avg']:.2f} ({r['satisfaction_count']})" if r["satisfaction_avg"] is not None else "-",
                 f"{r['callbacks_on_time']}/{r['callbacks_on_time'] + r['callbacks_late']} {rate(r)}")
                for r in report["managers"]],
               ["客户经理 manager", "营业部", "客户 clients", "按类别 by class", "未办 open", "逾期 overdue",
                "满意度 satisfaction", "回访按时 callbacks on time"], empty="没有客户经理 (no managers)")


@managers.command("note")
@click.argument("client_id")
@click.option("--decision-style", "style", required=True,
              help="投资决策风格 (seed 001 第十一条): risk_averse 风险规避型, dependent 依赖型, "
                   "independent 独立决策型, autonomous 高度自主决策型")
@click.option("--note", default=None, help="备注 (free text, kept with the note; not in the audit log)")
@db_option
@operator_option
@json_option
def managers_note(client_id, style, note, db_path, operator, as_json):
    """记录客户的投资决策风格, 仅作服务参考 (record the client's decision style, for reference)."""
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    done = client_notes.record_decision_style(db, actor, client_id, style, note=note)
    if as_json:
        emit_json(done)
        return
    click.echo(f"客户 {client_id} 投资决策风格 (decision style): {done['label']} {done['value']} · #{done['id']}")


@managers.command("notes")
@click.argument("client_id")
@db_option
@operator_option
@json_option
def managers_notes(client_id, db_path, operator, as_json):
    """客户的全部备注, 最早在前 (every note on the client, oldest first)."""
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    rows = client_notes.history(db, actor, client_id)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"#{r['id']} {r['recorded_at']} {r['label']} {r['value']} · {r['recorded_by']}"
                   f"{' · ' + r['note'] if r['note'] else ''}")
