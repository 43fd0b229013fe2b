"""kyc: 客户资料核实 (issue 11 item 7: 办法 Art. 6–7; seed 000's three-level check,
plausibility flags, ID validity)."""

import click

from ..book import kyc_policy, lookups
from ..kernel import validate
from ..kyc import completeness, id_expiry, plausibility, verification, view
from . import cli
from .common import acting, db_option, emit_json, json_option, operator_option

STATUS_LABELS = {"valid": "有效", "expired": "已过期", "long_term": "长期有效", "unknown": "未登记有效期"}


@cli.group()
def kyc():
    """客户资料核实: 三级校验, 回访抽查, 合理性标记, 证件有效期 (KYC verification; seed 000)."""


def _print_status(s):
    click.echo(f"{s['client_id']} 核实状态 (verification):")
    for level, act in s["levels"].items():
        label = kyc_policy.LEVEL_LABELS[level]
        if act is None:
            click.echo(f"  {label} {level}: 未核实 (not done)")
        else:
            click.echo(f"  {label} {level}: {verification.RESULTS[act['result']]} {act['result']}"
                       f" · {act['method'] or '-'} · {act['operator']} {act['at']}")


@kyc.command("verify")
@click.argument("client_id")
@click.option("--level", required=True, type=click.Choice(kyc_policy.LEVELS),
              help="system 系统核验 / in_person 当面确认 / callback 回访确认")
@click.option("--result", default="confirmed", show_default=True, type=click.Choice(sorted(verification.RESULTS)),
              help="核实结果 (result)")
@click.option("--method", default=None, help="核实方式, 如 公安部公民身份信息核查 / 面谈 / 电话 (method)")
@click.option("--note", default=None, help="核实内容, 不写个人信息 (what was confirmed; no personal data)")
@db_option
@operator_option
@json_option
def kyc_verify(client_id, level, result, method, note, db_path, operator, as_json):
    """记录一次核实 (record a verification act; audited)."""
    db, actor = acting(db_path, operator)
    s = verification.record(db, actor, lookups.client(db, client_id), level, result=result, method=method, note=note)
    emit_json(s) if as_json else _print_status(s)


@kyc.command("status")
@click.argument("client_id")
@db_option
@operator_option
@json_option
def kyc_status(client_id, db_path, operator, as_json):
    """客户的证件、核实状态与合理性提示 (a client's ID, verification and plausibility)."""
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    s = view.status(db, actor, client_id)
    if as_json:
        emit_json(s)
        return
    click.echo(f"{client_id} 证件类型 {s['id_type']} · 有效期 {s['id_valid_until'] or '-'}"
               f" ({STATUS_LABELS[s['id_status']]})")
    _print_status({"client_id": client_id, "levels": s["verification"]})
    for r in s["plausibility"]:
        click.echo(f"  ⚠ 合理性 {r['rule']}: {r['reason']}")


@kyc.command("sample")
@click.option("--from", "opened_from", default=None, help="开户日期起 YYYY-MM-DD (default: 30 days ago)")
@click.option("--to", "opened_to", default=None, help="开户日期止 YYYY-MM-DD (default: today)")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--seed", default=None, help="随机种子; 不给则随机生成并记录 (random seed; recorded)")
@db_option
@operator_option
@json_option
def kyc_sample(opened_from, opened_to, branch, seed, db_path, operator, as_json):
    """按策略比例随机抽取新开户回访, 每户开回访任务 (draw the random callback sample; seeded, recorded)."""
    db, actor = acting(db_path, operator)
    r = verification.sample(db, actor, opened_from=opened_from, opened_to=opened_to,
                            branch=lookups.branch(db, branch), seed=seed)
    if as_json:
        emit_json(r)
        return
    click.echo(f"回访抽样 #{r['id']}: 开户 {r['opened_from']}–{r['opened_to']} 共 {r['population']} 户,"
               f" 抽取 {r['sampled']} 户 (比例 rate {r['rate']:.0%}, 种子 seed {r['seed']})")
    for client_id in r["clients"]:
        click.echo(f"  {client_id}")


@kyc.command("sample-replay")
@click.argument("run_id", type=int)
@db_option
@operator_option
@json_option
def kyc_sample_replay(run_id, db_path, operator, as_json):
    """由记录的总体与种子重算抽样, 核对是否一致 (recompute a sample from its recorded seed)."""
    db, actor = acting(db_path, operator)
    r = verification.replay(db, actor, run_id)
    if as_json:
        emit_json(r)
        return
    click.echo(f"回访抽样 #{run_id} 种子 {r['seed']}: " + ("一致 (matches)" if r["matches"] else "不一致 (DIFFERS)"))
    if not r["matches"]:
        raise SystemExit(1)


@kyc.command("plausibility")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def kyc_plausibility(branch, db_path, operator, as_json):
    """按策略规则检查资料合理性并标记, 不阻止任何操作 (flag implausible data; never blocks)."""
    db, actor = acting(db_path, operator)
    r = plausibility.run(db, actor, branch=lookups.branch(db, branch))
    if as_json:
        emit_json(r)
        return
    for rule, n in r["new_flags"].items():
        click.echo(f"规则 {rule}: 新标记 {n} 户 (new flags)")
    _print_flags(r["open"])


def _print_flags(rows):
    if not rows:
        click.echo("没有未解除的合理性标记 (no open flags)")
    for f in rows:
        click.echo(f"  #{f['id']} {f['client_id']} [{f['branch_id']}] {f['rule_id']}: {f['reason']}"
                   + (f" · 已解除 {f['cleared_by']} {f['note']}" if f["state"] == "cleared" else ""))


@kyc.command("flags")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--client", "client_id", default=None, help="客户号 (client)")
@click.option("--state", type=click.Choice(["open", "cleared"]), default="open", show_default=True)
@db_option
@operator_option
@json_option
def kyc_flags(branch, client_id, state, db_path, operator, as_json):
    """合理性标记报表 (the plausibility report)."""
    db, actor = acting(db_path, operator)
    rows = plausibility.flags(db, actor, branch=lookups.branch(db, branch), client_id=lookups.client(db, client_id),
                              state=state)
    emit_json(rows) if as_json else _print_flags(rows)


@kyc.command("flag-clear")
@click.argument("flag_id", type=int)
@click.option("--note", required=True, help="核实结果 (what the verification found)")
@db_option
@operator_option
@json_option
def kyc_flag_clear(flag_id, note, db_path, operator, as_json):
    """核实后解除合理性标记 (clear a flag after verifying; audited)."""
    db, actor = acting(db_path, operator)
    f = plausibility.clear(db, actor, flag_id, note=note)
    emit_json(f) if as_json else _print_flags([f])


@kyc.command("id-expiry")
@click.option("--days", type=int, default=None, help="提前天数, 默认取策略 (notice days; default from policy)")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@db_option
@operator_option
@json_option
def kyc_id_expiry(days, branch, db_path, operator, as_json):
    """证件即将到期的开更新任务, 并列出已过期证件 (expiring IDs open a task; expired ones are listed)."""
    db, actor = acting(db_path, operator)
    r = id_expiry.scan(db, actor, branch=lookups.branch(db, branch), days=days)
    if as_json:
        emit_json(r)
        return
    click.echo(f"{r['on']} 至 {r['until']} 到期 (expiring): {len(r['expiring'])} 户, 新开任务 {r['tasks_opened']}")
    for row in r["expiring"]:
        click.echo(f"  {row['client_id']} [{row['branch_id']}] {row['id_type']} 有效期至 {row['id_valid_until']}")
    click.echo(f"已过期 (expired): {len(r['expired'])} 户")
    for row in r["expired"]:
        click.echo(f"  {row['client_id']} [{row['branch_id']}] {row['id_type']} 有效期至 {row['id_valid_until']}")


@kyc.command("id-types")
@json_option
def kyc_id_types(as_json):
    """支持的证件类型及其校验 (the ID types and their checks)."""
    rows = [{"id_type": t, "birth_date_in_number": t in validate.BIRTH_IN_NUMBER,
             "aliases": sorted(a for a, c in validate.ID_TYPE_ALIASES.items() if c == t)} for t in validate.ID_TYPES]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id_type']}  (别名 aliases: {', '.join(r['aliases'])})")



@kyc.command("incomplete")
@click.option("--branch", default=None, help="营业部代码 (branch code)")
@click.option("--limit", type=int, default=None, help="最多显示条数 (at most N)")
@db_option
@operator_option
@json_option
def kyc_incomplete(branch, limit, db_path, operator, as_json):
    """缺少策略要求的客户资料的客户 (clients missing KYC facts the policy requires; 办法 Art. 6)."""
    db, actor = acting(db_path, operator)
    rows = completeness.incomplete(db, actor, branch=lookups.branch(db, branch), limit=limit)
    if as_json:
        emit_json(rows)
        return
    labels = {**kyc_policy.IMPORTANT_FIELDS, **kyc_policy.ORDINARY_FIELDS}
    if not rows:
        click.echo("客户资料齐全 (no client lacks a required fact)")
    for r in rows:
        click.echo(f"  {r['client_id']} [{r['branch_id']}] {r['kind']}: " + ", ".join(labels.get(f, f) for f in r["missing"]))
