"""classify."""

import click

from ..classify import engine as classify_lib
from ..kernel.validate import parse_date
from ..book import lookups
from . import cli
from .common import acting, db_option, emit_json, json_option, operator_option


def print_summary(result):
    r = result
    head = "试运行, 未写入 (dry run, nothing written)" if r.dry_run else f"运行 (run) #{r.run_id}"
    click.echo(f"{head} · 策略 (policy) v{r.policy_version} {r.policy_digest[:12]}"
               + (f" · 营业部 {r.branch}" if r.branch else ""))
    click.echo(f"客户 (clients) {r.scope:,} · 变化 (changed) {r.changed:,} · 用时 {r.seconds:.2f}s")
    if r.moves:
        click.echo("类别变动 (class moves):")
        for move, n in list(r.moves.items())[:20]:
            click.echo(f"  {move:<10} {n:>9,}")
    if r.classes:
        click.echo("类别分布 (classes):")
        for cls in sorted(r.classes, key=lambda c: -r.classes[c]):
            click.echo(f"  {cls:<4} {r.classes[cls]:>9,}")
    print_plugins(r.plugins)
    if r.audit_head:
        click.echo(f"审计链头 (audit chain head): {r.audit_head['id']}:{r.audit_head['hash']}"
                   + (" · 部分完成 (PARTIAL)" if r.failures else ""))


def print_plugins(p):
    """Which branch plugins applied, which did not and why (the approval gate made visible)."""
    if not p or not (p["applied"] or p["skipped"] or p["failed"]):
        return
    click.echo("营业部插件 (branch plugins):")
    for a in p["applied"]:
        click.echo(f"  已应用 (applied)  {a['plugin']} {a['version']} @ {a['branch']}: {a['rules']} 条规则")
    for s in p["skipped"]:
        click.echo(f"  未应用 (skipped)  {s['plugin']} @ {s['branch'] or '-'}: {s['state']} — {s['why']}")
    for f in p["failed"]:
        click.echo(f"  出错 (FAILED)     {f['plugin']} @ {f['branch']}: {f['error']}")
    if p["excluded_branches"]:
        click.echo(f"  未分类, 保留原分类 (left out, previous classifications kept): {', '.join(p['excluded_branches'])}")


@cli.command()
@click.option("--branch", default=None, help="只分类该营业部 (only this branch)")
@click.option("--dry-run", is_flag=True, help="只显示变动, 不写入 (show the moves, write nothing)")
@click.option("--as-of", default=None, help="按该日期计算年龄与测评有效期 (YYYY-MM-DD; default today)")
@db_option
@operator_option
@json_option
def classify(branch, dry_run, as_of, db_path, operator, as_json):
    """按现行总部策略对客户分类 (classify clients under the policy in force)."""
    today = None
    if as_of:
        today = parse_date(as_of)
        if today is None:
            raise click.BadParameter(f"{as_of!r} 不是有效日期 (not a date)", param_hint="--as-of")
    db, actor = acting(db_path, operator)
    branch = lookups.branch(db, branch)
    result = classify_lib.classify(db, actor=actor, branch=branch, dry_run=dry_run, today=today)
    if as_json:
        emit_json(result.as_dict())
    else:
        print_summary(result)
    if result.failures:
        for f in result.failures:
            click.echo(f"插件出错 (plugin failed): {f['plugin']} · 营业部 {f['branch']} · {f['error']}", err=True)
        raise SystemExit(1)
