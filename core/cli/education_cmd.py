"""education (投资者教育) and client-events (客户活动): sessions, invitations, attendance, reports."""

import click

from ..book import lookups
from ..programmes import client_events as events_lib
from ..programmes import education as education_lib
from ..programmes import materials as materials_lib
from ..programmes import vip as vip_lib
from . import cli
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option


def _ids(text):
    return [c for c in (text or "").split(",") if c.strip()]


def _echo_session(s):
    click.echo(f"#{s['id']} {s['held_on']} {s['title']} · {s['topic']} · 营业部 {s['branch_id']}"
               + (f" · {s['place']}" if s["place"] else "") + (f" · 容量 {s['capacity']}" if s["capacity"] else ""))
    click.echo(f"  邀请 invited {s['invited']} · 到场 attended {s['attended']} · 未到 no-shows {s['no_shows']}"
               f" · 未邀自来 walk-ins {len(s['walk_ins'])}")
    for m in s.get("materials", ()):
        click.echo(f"  资料 material #{m['id']} {m['title']} · {m['reference']}"
                   + (f" · sha256 {m['sha256'][:16]}…" if m["sha256"] else ""))


def _sessions_table(found):
    echo_table([(s["id"], s["held_on"], s["branch_id"], s["title"], s["topic"], s["invited"], s["attended"])
                for s in found], ["#", "日期 date", "营业部", "标题 title", "主题 topic", "邀请", "到场"])


session_options = [
    click.option("--branch", required=True, help="营业部代码 (branch code)"),
    click.option("--title", required=True, help="标题 (title)"),
    click.option("--date", "held_on", required=True, help="日期 YYYY-MM-DD (date held)"),
    click.option("--place", default=None, help="地点 (place)"),
    click.option("--capacity", type=int, default=None, help="容量 (capacity)"),
]


def with_session_options(f):
    for option in reversed(session_options):
        f = option(f)
    return f


@cli.group()
def education():
    """投资者教育 (investor education: sessions, attendance, the annual plan and its coverage)."""


@education.command("add")
@with_session_options
@click.option("--topic", required=True, help="主题 (topic from the programmes policy)")
@db_option
@operator_option
@json_option
def education_add(branch, title, held_on, place, capacity, topic, db_path, operator, as_json):
    """登记投教活动 (add an education session)."""
    db, actor = acting(db_path, operator)
    s = education_lib.add(db, actor, branch=lookups.branch(db, branch), title=title, topic=topic, held_on=held_on,
                          place=place, capacity=capacity)
    emit_json(s) if as_json else _echo_session(s)


@education.command("invite")
@click.argument("session_id", type=int)
@click.option("--clients", required=True, help="客户号, 逗号分隔 (client ids, comma-separated)")
@db_option
@operator_option
@json_option
def education_invite(session_id, clients, db_path, operator, as_json):
    """邀请客户参加投教活动 (invite clients; clients who have left are refused)."""
    db, actor = acting(db_path, operator)
    r = education_lib.invite(db, actor, session_id, _ids(clients))
    emit_json(r) if as_json else click.echo(f"活动 #{session_id}: 新邀请 {r['invited']}, 共 {r['total_invited']}")


@education.command("attend")
@click.argument("session_id", type=int)
@click.option("--clients", required=True, help="到场客户号, 逗号分隔 (client ids who came)")
@db_option
@operator_option
@json_option
def education_attend(session_id, clients, db_path, operator, as_json):
    """登记到场客户 (record attendance; all or nothing)."""
    db, actor = acting(db_path, operator)
    s = education_lib.attend(db, actor, session_id, _ids(clients))
    emit_json(s) if as_json else _echo_session(s)


@education.command("material")
@click.argument("session_id", type=int)
@click.option("--title", required=True, help="资料名称 (title of the material)")
@click.option("--ref", "reference", required=True, help="资料编号或出处 (document number or source)")
@click.option("--file", "file_", default=None, type=click.Path(dir_okay=False),
              help="资料文件: 记录其 SHA-256 (the file, whose SHA-256 is recorded)")
@db_option
@operator_option
@json_option
def education_material(session_id, title, reference, file_, db_path, operator, as_json):
    """登记投教活动使用的资料 (record a material the session used)."""
    db, actor = acting(db_path, operator)
    m = materials_lib.add(db, actor, session_id, title=title, reference=reference, file=file_)
    emit_json(m) if as_json else click.echo(f"活动 #{session_id} 资料 #{m['id']}: {m['title']} · {m['reference']}")


@education.command("show")
@click.argument("session_id", type=int)
@db_option
@operator_option
@json_option
def education_show(session_id, db_path, operator, as_json):
    """一次投教活动: 邀请、到场与资料 (one session: invitations, attendance, materials)."""
    db, actor = acting(db_path, operator)
    s = education_lib.get(db, actor, session_id)
    emit_json(s) if as_json else _echo_session(s)


@education.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--year", type=int, default=None, help="年份 (year)")
@db_option
@operator_option
@json_option
def education_list(branch, year, db_path, operator, as_json):
    """投教活动及到场人数 (education sessions and attendance)."""
    db, actor = acting(db_path, operator)
    found = education_lib.list_sessions(db, actor, branch=lookups.branch(db, branch), year=year)
    emit_json(found) if as_json else _sessions_table(found)


@education.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--year", type=int, default=None, help="年份 (year; default this year)")
@db_option
@operator_option
@json_option
def education_report(branch, year, db_path, operator, as_json):
    """投教年度计划完成及覆盖率 (per branch: sessions against the plan, clients reached against the target)."""
    db, actor = acting(db_path, operator)
    r = education_lib.coverage(db, actor, year=year, branch=lookups.branch(db, branch))
    if as_json:
        emit_json(r)
        return
    click.echo(f"{r['year']} 年投资者教育 (investor education) · 策略 {r['policy']}")
    echo_table([(b["branch_id"], f"{b['sessions']}/{b['planned']}", f"{b['reached']}/{b['clients']}",
                 "-" if b["coverage"] is None else f"{b['coverage']:.1%}", f"{b['target']:.0%}",
                 "达标 yes" if b["meets_plan"] else "未达标 no") for b in r["branches"]],
               ["营业部 branch", "活动 held/plan", "覆盖 reached/clients", "覆盖率", "目标 target", "计划 plan"])


@cli.group("client-events")
def client_events():
    """客户活动 (client events: invitations by client, VIP level or class; attendance)."""


@client_events.command("add")
@with_session_options
@click.option("--kind", required=True, help="活动类型 (event kind from the programmes policy)")
@db_option
@operator_option
@json_option
def client_events_add(branch, title, held_on, place, capacity, kind, db_path, operator, as_json):
    """登记客户活动 (add a client event)."""
    db, actor = acting(db_path, operator)
    s = events_lib.add(db, actor, branch=lookups.branch(db, branch), title=title, kind=kind, held_on=held_on,
                       place=place, capacity=capacity)
    emit_json(s) if as_json else _echo_session(s)


@client_events.command("invite")
@click.argument("event_id", type=int)
@click.option("--clients", default=None, help="客户号, 逗号分隔 (client ids)")
@click.option("--vip", "vip_level", default=None, help="邀请该贵宾等级的客户 (clients of this VIP level)")
@click.option("--class", "class_", default=None, help="邀请该类别的客户 (clients of this class, e.g. A+)")
@db_option
@operator_option
@json_option
def client_events_invite(event_id, clients, vip_level, class_, db_path, operator, as_json):
    """邀请客户 (invite clients by id, VIP level or class; those who have left never)."""
    db, actor = acting(db_path, operator)
    r = events_lib.invite(db, actor, event_id, client_ids=_ids(clients),
                          vip_level=vip_lib.level_of(db, vip_level) if vip_level else None,
                          client_class=lookups.client_class(db, class_))
    emit_json(r) if as_json else click.echo(f"活动 #{event_id}: 新邀请 {r['invited']}, 共 {r['total_invited']}")


@client_events.command("attend")
@click.argument("event_id", type=int)
@click.option("--clients", required=True, help="到场客户号, 逗号分隔 (client ids who came)")
@db_option
@operator_option
@json_option
def client_events_attend(event_id, clients, db_path, operator, as_json):
    """登记到场客户 (record attendance; all or nothing)."""
    db, actor = acting(db_path, operator)
    s = events_lib.attend(db, actor, event_id, _ids(clients))
    emit_json(s) if as_json else _echo_session(s)


@client_events.command("show")
@click.argument("event_id", type=int)
@db_option
@operator_option
@json_option
def client_events_show(event_id, db_path, operator, as_json):
    """客户活动详情 (one event: invited, attended, walk-ins, no-shows)."""
    db, actor = acting(db_path, operator)
    s = events_lib.get(db, actor, event_id)
    emit_json(s) if as_json else _echo_session(s)


@client_events.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--year", type=int, default=None, help="年份 (year)")
@db_option
@operator_option
@json_option
def client_events_list(branch, year, db_path, operator, as_json):
    """客户活动列表 (client events with invitations and attendance)."""
    db, actor = acting(db_path, operator)
    found = events_lib.list_events(db, actor, branch=lookups.branch(db, branch), year=year)
    emit_json(found) if as_json else _sessions_table(found)


@client_events.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--year", type=int, default=None, help="年份 (year)")
@db_option
@operator_option
@json_option
def client_events_report(branch, year, db_path, operator, as_json):
    """各营业部客户活动: 场次, 邀请, 到场, 到场率 (per branch: events, invited, attended, attendance rate)."""
    db, actor = acting(db_path, operator)
    r = events_lib.report(db, actor, branch=lookups.branch(db, branch), year=year)
    if as_json:
        emit_json(r)
        return
    echo_table([(b["branch_id"], b["events"], b["invited"], b["attended"], b["no_shows"], b["walk_ins"],
                 "-" if b["attendance_rate"] is None else f"{b['attendance_rate']:.0%}") for b in r["branches"]],
               ["营业部 branch", "场次", "邀请", "到场", "未到", "未邀自来", "到场率"])
