"""suitability lowest / capacity / lowest-flag: 最低类别 by definition (issue 11)."""

import click

from ..suitability import lowest
from .common import acting, db_option, emit_json, json_option, operator_option
from .suitability_cmd import _as_of, as_of_option, suitability_group


def _print_status(s):
    head = "最低类别 (lowest category)" if s["lowest"] else "非最低类别 (not lowest category)"
    click.echo(f"{s['client_id']}: {head}")
    for c in s["causes"]:
        click.echo(f"  · {c['reason']}")
    if s["guardian_required"]:
        click.echo(f"  须由监护人代理 (a guardian acts){': ' + s['guardian'] if s['guardian'] else ''}")


@suitability_group.command("lowest")
@click.argument("client_id")
@as_of_option
@db_option
@operator_option
@json_option
def lowest_cmd(client_id, as_of, db_path, operator, as_json):
    """客户是否最低类别, 及每项原因 (is the client lowest category, and why)."""
    db, actor = acting(db_path, operator)
    s = lowest.status(db, actor, client_id, today=_as_of(as_of))
    emit_json(s) if as_json else _print_status(s)


@suitability_group.command("capacity")
@click.argument("client_id")
@click.argument("capacity", type=click.Choice(sorted(lowest.CAPACITIES)))
@click.option("--evidence", required=True, metavar="REF", help="凭证编号, 如法院判决或监护证明 (evidence reference)")
@click.option("--guardian", default=None, metavar="REF", help="监护人 (the guardian; required unless full)")
@click.option("--reason", default=None, help="说明 (note)")
@db_option
@operator_option
@json_option
def capacity_cmd(client_id, capacity, evidence, guardian, reason, db_path, operator, as_json):
    """登记客户民事行为能力: full | limited | none (record civil capacity; limited/none → lowest category)."""
    db, actor = acting(db_path, operator)
    mark = lowest.record_capacity(db, actor, client_id, capacity, evidence=evidence, guardian=guardian, reason=reason)
    s = lowest.status(db, actor, client_id)
    s["mark_id"] = mark
    emit_json(s) if as_json else _print_status(s)


@suitability_group.command("lowest-flag")
@click.argument("client_id")
@click.option("--set/--clear", "active", required=True, help="标记或取消 (set or clear the head-office flag)")
@click.option("--reason", required=True, help="理由 (why; required)")
@db_option
@operator_option
@json_option
def lowest_flag_cmd(client_id, active, reason, db_path, operator, as_json):
    """总部人工标记最低类别 (head office marks a client lowest category; other cases in law)."""
    db, actor = acting(db_path, operator)
    mark = lowest.set_flag(db, actor, client_id, active, reason=reason)
    s = lowest.status(db, actor, client_id)
    s["mark_id"] = mark
    emit_json(s) if as_json else _print_status(s)
