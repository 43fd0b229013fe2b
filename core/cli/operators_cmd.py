"""operators add / list."""

import click

from ..trust import operators as operators_lib
from . import cli
from .common import db_option, emit_json, json_option, open_db, operator_option


@cli.group()
def operators():
    """操作员: 总部与营业部 (operators: head office and branches)."""


@operators.command("add")
@click.argument("operator_id", metavar="ID")
@click.option("--role", type=click.Choice(operators_lib.ROLES), required=True,
              help="headoffice (总部) 或 branch (营业部)")
@click.option("--branch", default=None, help="营业部代码, 营业部操作员必填 (branch code; required for --role branch)")
@db_option
@operator_option
@json_option
def operators_add(operator_id, role, branch, db_path, operator, as_json):
    """新增操作员 ID (head office only) — add an operator."""
    op = operators_lib.add(open_db(db_path), operator_id, role, branch=branch, by=operator)
    if as_json:
        emit_json(op)
    else:
        click.echo(f"已添加操作员 (added) {op['id']} · {op['role']}" + (f" · 营业部 {op['branch']}" if op["branch"] else ""))


@operators.command("list")
@db_option
@operator_option
@json_option
def operators_list(db_path, operator, as_json):
    """列出操作员 (list operators; needs a known operator)."""
    db = open_db(db_path)
    operators_lib.require(db, operator, action="查看操作员 (listing operators)")
    rows = operators_lib.list_all(db)
    if as_json:
        emit_json(rows)
        return
    for op in rows:
        click.echo(f"{op['id']:<16} {op['role']:<11} {op['branch'] or '-':<8} {op['created_at']}")
