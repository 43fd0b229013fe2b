"""import clients / import assessments."""

from pathlib import Path

import click

from .. import imports as importers
from .. import plugins
from ..kernel.errors import BrokerCRMError, NotFound
from . import cli
from .common import acting, db_option, emit_json, json_option, operator_option, show_progress


@cli.group("import")
def import_cmd():
    """导入客户与风险测评 (import clients and risk assessments).

    文件可为 CSV/TSV (UTF-8、GBK 或 UTF-16, 如 Excel 的"Unicode 文本")、.xlsx、.xls、.ods、JSON 或 NDJSON.
    任一行有误则不导入任何数据, 并逐条列出 文件:行:列: 原因; 用 --skip-invalid --rejects FILE 只导入正确的行.
    工作簿用 --sheet 选工作表; 表头上方有标题行时自动跳过, 或用 --header-row N 指定.
    """


def read_options(f):
    """--sheet and --header-row: which sheet of a workbook, which row is the header."""
    f = click.option("--header-row", type=click.IntRange(min=1), default=None, metavar="N",
                     help="表头所在行, 默认自动查找 (the header's row; found automatically by default)")(f)
    f = click.option("--sheet", default=None, metavar="NAME|N",
                     help="工作簿的工作表名或序号, 默认第一个 (the workbook's sheet; default the first)")(f)
    return f


def check_rejects(skip_invalid, rejects):
    """The --skip-invalid/--rejects pair, checked before any work (a rejects file nowhere to go is refused now)."""
    if skip_invalid and not rejects:
        raise BrokerCRMError("--skip-invalid 须同时指定 --rejects FILE, 以免错误行无据可查 (needs --rejects FILE)")
    if rejects and not skip_invalid:
        raise BrokerCRMError("--rejects 仅与 --skip-invalid 同用 (--rejects needs --skip-invalid)")
    if rejects and not Path(rejects).resolve().parent.is_dir():
        raise NotFound(f"{rejects}: 目录不存在 (the rejects file's folder does not exist)")


def _options(f):
    f = read_options(f)
    f = click.option("--rejects", type=click.Path(dir_okay=False), default=None,
                     help="与 --skip-invalid 同用: 错误行及原因写入此 CSV (bad rows and reasons go here)")(f)
    f = click.option("--skip-invalid", is_flag=True,
                     help="导入正确的行, 跳过错误行 (import the good rows, reject the bad ones)")(f)
    return f


def _run(kind, func, file, skip_invalid, rejects, db_path, operator, as_json, sheet=None, header_row=None):
    check_rejects(skip_invalid, rejects)
    db, actor = acting(db_path, operator)
    result = func(db, file, actor=actor, skip_invalid=skip_invalid, rejects=rejects,
                  progress=show_progress(as_json), sheet=sheet, header_row=header_row)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(
        f"{kind}: 读取 {result.rows} 行, 新增 {result.inserted}, 更新 {result.updated}, 未变 {result.unchanged},"
        f" 拒收 {result.rejected} (rows {result.rows}, inserted {result.inserted}, updated {result.updated},"
        f" unchanged {result.unchanged}, rejected {result.rejected})"
    )
    if result.extra.get("pending_changes"):
        click.echo(f"重要资料变更 {result.extra['pending_changes']} 项待复核, 未生效 (important-field changes await review:"
                   f" brokercrm changes list)")
    if result.rejects_file:
        click.echo(f"错误行已写入 (rejected rows written to): {result.rejects_file}")


@import_cmd.command("clients")
@click.argument("file", type=click.Path(dir_okay=False))
@_options
@db_option
@operator_option
@json_option
def import_clients(file, skip_invalid, rejects, sheet, header_row, db_path, operator, as_json):
    """导入客户 FILE (import clients).

    列 (columns): client_id, kind (individual|institution), name, id_number, phone,
    birth_date, branch_id, opened_at, total_assets, turnover_rate, avg_holding_days,
    annual_income, occupation, education, investment_years; 机构可另有 legal_representative,
    business_scope, net_assets. 中文表头亦可 (客户号, 客户类型, 姓名, 身份证号, 手机号, …).
    其他列保存在 extra 中. 重复导入即更新, 变更记入 client_changes.
    """
    with plugins.load() as host:
        _run("客户 clients", plugins.with_client_checks(importers.import_clients, host), file, skip_invalid, rejects,
             db_path, operator, as_json, sheet, header_row)


@import_cmd.command("assessments")
@click.argument("file", type=click.Path(dir_okay=False))
@_options
@db_option
@operator_option
@json_option
def import_assessments(file, skip_invalid, rejects, sheet, header_row, db_path, operator, as_json):
    """导入风险测评 FILE (import risk assessments).

    列 (columns): client_id (客户号), answered_at (测评日期), q1 … q12; q9 可多选, 如 AC.
    按现行问卷策略计分, 定级, 计算有效期.
    """
    _run("测评 assessments", importers.import_assessments, file, skip_invalid, rejects, db_path, operator,
         as_json, sheet, header_row)
