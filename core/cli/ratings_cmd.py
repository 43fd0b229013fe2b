"""suitability ratings propose | approve | reject | list: controlled product ratings (issue 11 item 3; 办法 Art. 21)."""

import click

from ..suitability import ratings
from .common import acting, db_option, emit_json, json_option, operator_option
from .suitability_cmd import suitability_group

STATES = {"pending": "待复核 (pending)", "approved": "已生效 (approved)", "rejected": "已驳回 (rejected)",
          "imported": "首次导入 (first rating at import)"}


@suitability_group.group("ratings")
def ratings_group():
    """产品风险等级: 总部提议, 另一总部人员复核; 类型默认等级为下限 (product ratings under maker–checker)."""


def _print(r):
    frm = f"{r['old_level']} → " if r["old_level"] else ""
    click.echo(f"评级 (rating) #{r['id']} {r['product_code']}: {frm}{r['new_level']} · {STATES[r['state']]}"
               + (f" · 下限 (floor) {r['floor_level']}" if r["floor_level"] else ""))
    click.echo(f"  提议 (proposed) {r['proposed_by']} {r['proposed_at']}: {r['reason']}")
    if r["decided_by"]:
        click.echo(f"  复核 (decided) {r['decided_by']} {r['decided_at']}: {r['decision_note'] or ''}")
    if r["holders"] is not None:
        click.echo(f"  已重新检查持有人 {r['holders']} 名, 并为每人开告知任务 (holders re-checked and told: {r['holders']})")


@ratings_group.command("propose")
@click.argument("product_code")
@click.argument("level")
@click.option("--reason", required=True, help="调整理由 (why; required)")
@db_option
@operator_option
@json_option
def propose_cmd(product_code, level, reason, db_path, operator, as_json):
    """提议产品 PRODUCT_CODE 的新风险等级 LEVEL (R1–R5); 不得低于类型下限, 须另一人复核生效."""
    db, actor = acting(db_path, operator)
    r = ratings.propose(db, actor, product_code, level, reason=reason)
    emit_json(r) if as_json else _print(r)


def _decide(rating_id, approve, reason, db_path, operator, as_json):
    db, actor = acting(db_path, operator)
    r = ratings.decide(db, actor, rating_id, approve=approve, note=reason)
    emit_json(r) if as_json else _print(r)


@ratings_group.command("approve")
@click.argument("rating_id", type=int)
@click.option("--reason", default=None, help="说明 (note)")
@db_option
@operator_option
@json_option
def approve_cmd(rating_id, reason, db_path, operator, as_json):
    """批准评级提议 RATING_ID: 新等级生效, 重新检查全部持有人并开告知任务 (never your own proposal)."""
    _decide(rating_id, True, reason, db_path, operator, as_json)


@ratings_group.command("reject")
@click.argument("rating_id", type=int)
@click.option("--reason", required=True, help="驳回理由 (why; required)")
@db_option
@operator_option
@json_option
def reject_cmd(rating_id, reason, db_path, operator, as_json):
    """驳回评级提议 RATING_ID (reject a proposal, with a reason)."""
    _decide(rating_id, False, reason, db_path, operator, as_json)


@ratings_group.command("list")
@click.option("--product", "product_code", default=None, help="产品代码 (product)")
@click.option("--state", type=click.Choice(sorted(STATES)), default=None)
@db_option
@operator_option
@json_option
def list_cmd(product_code, state, db_path, operator, as_json):
    """产品评级历史: 首次导入、提议、批准、驳回 (the rating history)."""
    db, actor = acting(db_path, operator)
    rows = ratings.history(db, actor, product_code, state=state)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("没有记录 (none)")
    for r in rows:
        _print(r)
