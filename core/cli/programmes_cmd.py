"""callbacks (回访 scripts, sampling, records), prospects (潜在客户), vip (贵宾客户): the programmes of issue 14."""

import click

from ..book import lookups
from ..programmes import callbacks as callbacks_lib
from ..programmes import prospects as prospects_lib
from ..programmes import vip as vip_lib
from . import cli
from .common import acting, db_option, echo_table, emit_json, json_option, operator_option


@cli.group()
def callbacks():
    """回访 (callbacks: scripts with risk disclosure, random sampling, what each call covered)."""


@callbacks.command("scripts")
@db_option
@operator_option
@json_option
def callbacks_scripts(db_path, operator, as_json):
    """现行回访脚本及要点 (the callback scripts in force, their items; * required, ⚠ risk disclosure)."""
    db, actor = acting(db_path, operator)
    listing = callbacks_lib.script_listing(db, actor)
    if as_json:
        emit_json(listing)
        return
    for s in listing["scripts"]:
        click.echo(f"{s['code']} v{s['version']}: {s['name']} · 抽样 {s['population']} × {s['sample_rate']:.0%}"
                   f" · 时限 {s['within']} · 策略 {listing['policy']}")
        for i in s["items"]:
            marks = ("*" if i["required"] else " ") + ("⚠" if i["risk_disclosure"] else " ")
            click.echo(f"  {marks} {i['code']}: {i['text']}")


@callbacks.command("sample")
@click.option("--script", default=None, help="只抽这一脚本 (only this script code)")
@click.option("--seed", type=int, default=None, help="随机种子, 用于复现抽样 (seed, to redo a draw)")
@db_option
@operator_option
@json_option
def callbacks_sample(script, seed, db_path, operator, as_json):
    """按比例随机抽取回访客户并生成回访任务 (draw callbacks at each script's rate since its last run)."""
    db, actor = acting(db_path, operator)
    runs = callbacks_lib.sample(db, actor, script=script, seed=seed)
    if as_json:
        emit_json(runs)
        return
    for r in runs:
        click.echo(f"{r['script']} v{r['version']}: 总体 population {r['population']} · 比例 {r['rate']:.0%}"
                   f" · 抽中 sampled {r['sampled']} · 种子 seed {r['seed']} · 截止 due {r['due_at']}")
        for c in r["clients"]:
            click.echo(f"  {c['client_id']} ({c['branch_id']}) 任务 task #{c['task_id']}")


@callbacks.command("record")
@click.argument("client_id")
@click.option("--script", required=True, help="回访脚本代码 (script code; `callbacks scripts`)")
@click.option("--covered", required=True, help="已覆盖要点, 逗号分隔 (item codes covered, comma-separated)")
@click.option("--note", required=True, help="回访情况 (what was said)")
@click.option("--channel", default="phone", show_default=True, help="渠道 (phone, counter, online, app, sms)")
@click.option("--satisfaction", default=None, help="满意度 1–5 (satisfaction)")
@db_option
@operator_option
@json_option
def callbacks_record(client_id, script, covered, note, channel, satisfaction, db_path, operator, as_json):
    """记录一次回访及其覆盖的要点; 缺少必答要点则标记 (record a callback; a missing required item flags it)."""
    db, actor = acting(db_path, operator)
    r = callbacks_lib.record(db, actor, lookups.client(db, client_id), script=script, covered=covered.split(","),
                             note=note, channel=channel, satisfaction=satisfaction)
    if as_json:
        emit_json(r)
        return
    click.echo(f"回访记录 #{r['id']} {r['client_id']} 脚本 {r['script']} v{r['script_version']}:"
               f" 覆盖 {', '.join(r['covered']) or '-'}")
    if r["flagged"]:
        click.echo(f"  标记 FLAGGED: 缺少必答要点 (required items missing): {', '.join(r['missing'])}")


@callbacks.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--client", "client_id", default=None, help="客户号 (client)")
@click.option("--script", default=None, help="脚本代码 (script code)")
@click.option("--flagged", is_flag=True, help="只列出有缺项的回访 (only flagged records)")
@db_option
@operator_option
@json_option
def callbacks_list(branch, client_id, script, flagged, db_path, operator, as_json):
    """回访记录 (callback records; --flagged: those missing a required item)."""
    db, actor = acting(db_path, operator)
    records = callbacks_lib.list_records(db, actor, branch=lookups.branch(db, branch), client_id=client_id,
                                         script=script, flagged=flagged)
    if as_json:
        emit_json(records)
        return
    echo_table([(r["id"], r["client_id"], r["branch_id"], f"{r['script']} v{r['script_version']}", r["at"],
                 ",".join(r["missing"]) or "-", "是 FLAGGED" if r["flagged"] else "") for r in records],
               ["#", "客户 client", "营业部", "脚本 script", "时间 at", "缺项 missing", "标记"])


@callbacks.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def callbacks_report(branch, db_path, operator, as_json):
    """各营业部各脚本: 抽中, 已回访, 未回访, 逾期, 记录, 缺项 (sampled, done, open, overdue, records, flagged)."""
    db, actor = acting(db_path, operator)
    r = callbacks_lib.report(db, actor, branch=lookups.branch(db, branch))
    if as_json:
        emit_json(r)
        return
    echo_table([(x["branch_id"], x["script"], x["sampled"], x["done"], x["open"], x["open_past_due"], x["records"],
                 x["flagged"]) for x in r["rows"]],
               ["营业部 branch", "脚本 script", "抽中", "已回访 done", "未回访 open", "逾期 overdue", "记录 records",
                "缺项 flagged"])


@cli.group()
def prospects():
    """潜在客户 (prospects: source, grade A–E, follow-ups, conversion into a client)."""


def _echo_prospect(p):
    click.echo(f"#{p['id']} {p['name']} {p['phone'] or ''} · {p['grade']}级 · {p['state_label']} · 来源 {p['source']}"
               f" · 营业部 {p['branch_id']} · 经理 {p['manager']}"
               + (f" · 下次跟进 {p['next_follow_up']}{' 到期 DUE' if p['due'] else ''}" if p["next_follow_up"] else "")
               + (f" · 客户 {p['client_id']}" if p["client_id"] else ""))
    for s in p.get("steps", []):
        grade = f" {s['old_grade'] or ''}→{s['new_grade']}" if s["new_grade"] else ""
        click.echo(f"  {s['at']} {s['kind']}{grade} {s['note'] or ''} ({s['operator']})")


@prospects.command("add")
@click.option("--branch", required=True, help="营业部代码 (branch code)")
@click.option("--name", required=True, help="姓名 (name)")
@click.option("--phone", default=None, help="手机号 (mobile)")
@click.option("--source", required=True, help="来源 (source; see the programmes policy)")
@click.option("--grade", required=True, help="等级 A–E (grade)")
@click.option("--manager", default=None, help="负责的客户经理 (manager; default: you)")
@click.option("--note", default=None, help="备注 (note)")
@db_option
@operator_option
@json_option
def prospects_add(branch, name, phone, source, grade, manager, note, db_path, operator, as_json):
    """登记潜在客户 (add a prospect; the first follow-up is due by the grade's interval)."""
    db, actor = acting(db_path, operator)
    p = prospects_lib.add(db, actor, branch=lookups.branch(db, branch), name=name, phone=phone, source=source,
                          grade=grade, manager=manager, note=note)
    emit_json(p) if as_json else _echo_prospect(p)


@prospects.command("follow-up")
@click.argument("prospect_id", type=int)
@click.option("--note", required=True, help="跟进情况 (what happened)")
@click.option("--grade", default=None, help="新等级 A–E (new grade)")
@db_option
@operator_option
@json_option
def prospects_follow_up(prospect_id, note, grade, db_path, operator, as_json):
    """记录跟进, 可调整等级 (record a follow-up, optionally regrade)."""
    db, actor = acting(db_path, operator)
    p = prospects_lib.follow_up(db, actor, prospect_id, note=note, grade=grade)
    emit_json(p) if as_json else _echo_prospect(p)


@prospects.command("convert")
@click.argument("prospect_id", type=int)
@click.argument("client_id")
@click.option("--note", default=None, help="备注 (note)")
@db_option
@operator_option
@json_option
def prospects_convert(prospect_id, client_id, note, db_path, operator, as_json):
    """潜在客户开户: 关联到新客户号 (the prospect opened an account: link PROSPECT_ID to CLIENT_ID)."""
    db, actor = acting(db_path, operator)
    p = prospects_lib.convert(db, actor, prospect_id, lookups.client(db, client_id), note=note)
    emit_json(p) if as_json else _echo_prospect(p)


@prospects.command("lose")
@click.argument("prospect_id", type=int)
@click.option("--note", required=True, help="放弃原因 (why)")
@db_option
@operator_option
@json_option
def prospects_lose(prospect_id, note, db_path, operator, as_json):
    """放弃跟进 (close a prospect as lost)."""
    db, actor = acting(db_path, operator)
    p = prospects_lib.lose(db, actor, prospect_id, note=note)
    emit_json(p) if as_json else _echo_prospect(p)


@prospects.command("show")
@click.argument("prospect_id", type=int)
@click.option("--reveal", is_flag=True, help="显示姓名与手机号, 记入审计日志 (show name and phone; audited)")
@db_option
@operator_option
@json_option
def prospects_show(prospect_id, reveal, db_path, operator, as_json):
    """潜在客户及其跟进记录 (one prospect and its steps; name and phone masked unless --reveal)."""
    db, actor = acting(db_path, operator)
    p = prospects_lib.get(db, actor, prospect_id, reveal=reveal)
    emit_json(p) if as_json else _echo_prospect(p)


@prospects.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--grade", default=None, help="等级 A–E (grade)")
@click.option("--state", type=click.Choice(list(prospects_lib.STATES)), default=None, help="open / converted / lost")
@click.option("--due", is_flag=True, help="只列出跟进到期的 (only follow-ups due)")
@click.option("--manager", default=None, help="客户经理 (manager)")
@db_option
@operator_option
@json_option
def prospects_list(branch, grade, state, due, manager, db_path, operator, as_json):
    """潜在客户, 按等级与跟进日期排序 (prospects, warmest first; names and phones masked)."""
    db, actor = acting(db_path, operator)
    found = prospects_lib.list_prospects(db, actor, branch=lookups.branch(db, branch),
                                         grade=grade.strip().upper() if grade else None, state=state, due=due,
                                         manager=manager)
    if as_json:
        emit_json(found)
        return
    echo_table([(p["id"], p["name"], p["grade"], p["state_label"], p["source"], p["branch_id"], p["manager"],
                 (p["next_follow_up"] or "-") + (" 到期 DUE" if p["due"] else ""), p["client_id"] or "-")
                for p in found],
               ["#", "姓名", "等级", "状态", "来源 source", "营业部", "经理", "下次跟进 next", "客户 client"])


@prospects.command("report")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def prospects_report(branch, db_path, operator, as_json):
    """潜在客户漏斗: 各等级在跟数, 到期跟进, 转化, 放弃, 转化率, 按来源 (the prospect funnel per branch and source)."""
    db, actor = acting(db_path, operator)
    r = prospects_lib.report(db, actor, branch=lookups.branch(db, branch))
    if as_json:
        emit_json(r)
        return
    echo_table([(b["branch_id"], *(b["open"][g] for g in "ABCDE"), b["due"], b["converted"], b["lost"],
                 "-" if b["conversion_rate"] is None else f"{b['conversion_rate']:.0%}") for b in r["branches"]],
               ["营业部 branch", "A", "B", "C", "D", "E", "到期 due", "转化 converted", "放弃 lost", "转化率 rate"])
    if r["sources"]:
        click.echo("按来源 (by source):")
        echo_table([(s["source"], s["prospects"], s["converted"]) for s in r["sources"]],
                   ["来源 source", "潜在客户", "转化 converted"])


@cli.group()
def vip():
    """贵宾客户 (VIP clients: entry and exit criteria and benefits as head-office policy)."""


@vip.command("refresh")
@click.option("--as-of", default=None, metavar="DATE", help="认定日期 (as-of date for age rules, default today)")
@db_option
@operator_option
@json_option
def vip_refresh(as_of, db_path, operator, as_json):
    """按策略重新认定贵宾等级 (recompute every client's VIP level; nightly, after classify)."""
    db, actor = acting(db_path, operator)
    r = vip_lib.refresh(db, actor, as_of=as_of)
    if as_json:
        emit_json(r)
        return
    click.echo(f"贵宾认定 (VIP) as of {r['as_of']}: 新进 entered {r['entered']} · 变更 changed {r['changed']}"
               f" · 失去 lost {r['lost']} · 策略 {r['policy']}")


@vip.command("list")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--level", default=None, help="贵宾等级代码 (level code; `vip benefits`)")
@db_option
@operator_option
@json_option
def vip_list(branch, level, db_path, operator, as_json):
    """现有贵宾客户 (who qualifies now, by level)."""
    db, actor = acting(db_path, operator)
    found = vip_lib.list_vips(db, actor, branch=lookups.branch(db, branch),
                              level=vip_lib.level_of(db, level) if level else None)
    if as_json:
        emit_json(found)
        return
    echo_table([(v["client_id"], v["branch_id"], v["name"], v["since"]) for v in found],
               ["客户 client", "营业部", "等级 level", "自 since"])


@vip.command("lost")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--since", default=None, metavar="DATE", help="自该日起 (since this date)")
@db_option
@operator_option
@json_option
def vip_lost(branch, since, db_path, operator, as_json):
    """失去或降低贵宾等级的客户 (who lost their VIP level, or fell to a lower one)."""
    db, actor = acting(db_path, operator)
    found = vip_lib.lost(db, actor, branch=lookups.branch(db, branch), since=since)
    if as_json:
        emit_json(found)
        return
    echo_table([(v["client_id"], v["branch_id"], v["from"], v["to"] or "无 none", v["at"]) for v in found],
               ["客户 client", "营业部", "原等级 from", "现等级 to", "时间 at"])


@vip.command("show")
@click.argument("client_id")
@db_option
@operator_option
@json_option
def vip_show(client_id, db_path, operator, as_json):
    """客户的贵宾等级及权益 (the client's VIP level, its benefits and history)."""
    db, actor = acting(db_path, operator)
    v = vip_lib.show(db, actor, lookups.client(db, client_id))
    if as_json:
        emit_json(v)
        return
    click.echo(f"{v['client_id']}: {v['name'] or '非贵宾 (not a VIP)'}" + (f" 自 {v['since']}" if v["since"] else ""))
    for b in v["benefits"]:
        click.echo(f"  权益 {b}")
    for h in v["history"]:
        click.echo(f"  {h['at']}  {h['from'] or '-'} → {h['to'] or '-'}")


@vip.command("benefits")
@db_option
@operator_option
@json_option
def vip_benefits(db_path, operator, as_json):
    """贵宾等级及其权益 (the VIP levels in force and their benefits)."""
    db, actor = acting(db_path, operator)
    r = vip_lib.benefits(db, actor)
    if as_json:
        emit_json(r)
        return
    for lv in r["levels"]:
        click.echo(f"{lv['code']}: {lv['name']}")
        for b in lv["benefits"]:
            click.echo(f"  {b}")
