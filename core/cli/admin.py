"""init, branches, policy."""

import click

from .. import branches as branches_lib
from .. import operators as operators_lib
from .. import policy as policy_lib
from ..db import connect
from ..db import db_path as resolve_db_path
from . import cli
from .common import db_option, echo_table, emit_json, json_option, open_db, operator_option


@cli.command()
@click.option("--admin", "admin_id", default="admin", show_default=True, metavar="ID",
              help="首个总部操作员, 仅在尚无总部操作员时创建 (first head-office operator; created only if none exists)")
@db_option
@operator_option
@json_option
def init(admin_id, db_path, operator, as_json):
    """创建或升级数据库, 并把 policies/ 中的默认总部策略记为 v1.

    Create or upgrade the database, record the default head-office policies
    as version 1 and create the first head-office operator (--admin). The only
    command that creates a database; every other one refuses a missing --db.
    """
    db = connect(db_path)
    created, existing = operators_lib.bootstrap(db, admin_id)
    policy = policy_lib.publish_defaults(db, operator=operator or (created and created["id"]))
    info = {"db": str(resolve_db_path(db_path)), "policy_version": policy.version, "policy_digest": policy.digest,
            "headoffice_operators": [created["id"]] if created else existing}
    if as_json:
        emit_json(info)
    else:
        click.echo(f"数据库就绪 (database ready): {info['db']}")
        click.echo(f"现行策略 (policy in force): {policy.label()}")
        if created:
            click.echo(f"已创建总部操作员 (head-office operator created): {created['id']}  — 用 --as {created['id']}")
        else:
            click.echo(f"总部操作员 (head-office operators): {', '.join(existing)}")


@cli.group()
def branches():
    """营业部 (branches)."""


@branches.command("add")
@click.argument("code")
@click.argument("name")
@db_option
@operator_option
@json_option
def branches_add(code, name, db_path, operator, as_json):
    """新增营业部 CODE NAME (add a branch)."""
    branch = branches_lib.add(open_db(db_path), code, name, operator)
    if as_json:
        emit_json(branch)
    else:
        click.echo(f"已添加营业部 {branch['code']} {branch['name']}")


@branches.command("list")
@db_option
@json_option
def branches_list(db_path, as_json):
    """列出营业部 (list branches)."""
    rows = branches_lib.list_all(open_db(db_path))
    if as_json:
        emit_json(rows)
        return
    echo_table([(b["code"], b["name"], f"{b['clients']:,}") for b in rows],
               ["营业部 code", "名称 name", "客户 clients"], empty="没有营业部 (no branches)")


@cli.group()
def policy():
    """总部策略 (head-office policies)."""


@policy.command("show")
@click.option("--version", "version", type=int, default=None, help="某一版本 (a given version; default: in force)")
@click.option("--body", is_flag=True, help="同时显示策略文件全文 (print the files too)")
@db_option
@json_option
def policy_show(version, body, db_path, as_json):
    """显示现行策略集: 版本, 摘要, 各文件 (show the policy set in force)."""
    db = open_db(db_path)
    ps = policy_lib.load_version(db, version) if version else policy_lib.current(db)
    meta = db.execute(
        "SELECT published_at, published_by, note FROM policy_versions WHERE version = ?", [ps.version]
    ).fetchone()
    info = {
        "version": ps.version, "digest": ps.digest,
        "published_at": meta[0], "published_by": meta[1], "note": meta[2],
        "files": {n: {"filename": f.filename, "sha256": f.sha256} for n, f in sorted(ps.files.items())},
    }
    if as_json:
        if body:
            for n, f in ps.files.items():
                info["files"][n]["body"] = f.body
        emit_json(info)
        return
    click.echo(f"策略集 (policy set) v{ps.version}  sha256 {ps.digest}")
    click.echo(f"发布 (published) {meta[0]} by {meta[1] or '-'}: {meta[2] or ''}")
    for n, f in sorted(ps.files.items()):
        click.echo(f"  {n:<16} {f.filename:<24} {f.sha256[:16]}")
        if body:
            click.echo(f.body)
    if "classification" in ps.files:
        grid = ps["classification"]["grid"]
        click.echo(f"分类网格 (grid): 周转率阈值 {grid['turnover_threshold']}")
        for band in grid["bands"]:
            click.echo(f"  {band['label']:<14} ≥{band['min']:>12,}  高周转 {band['high']:<3} 低周转 {band['low']}")


@policy.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@db_option
@json_option
def policy_check(file, db_path, as_json):
    """检查策略文件 FILE 是否有效, 并与现行策略比较 (validate a policy file without publishing it)."""
    pf = policy_lib.load_file(file)
    in_force = policy_lib.current(open_db(db_path))
    same = pf.name in in_force.files and in_force.files[pf.name].sha256 == pf.sha256
    if as_json:
        emit_json({"file": file, "name": pf.name, "sha256": pf.sha256, "valid": True,
                   "in_force_version": in_force.version, "same_as_in_force": same})
    else:
        click.echo(f"{file}: 有效 (valid) {pf.name} 策略, sha256 {pf.sha256}")
        state = "相同 (identical)" if same else "不同, 发布后生效 (differs; takes effect once published)"
        click.echo(f"与现行策略 v{in_force.version} {state}")


@policy.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--note", default=None, help="发布说明 (why)")
@db_option
@operator_option
@json_option
def policy_publish(file, note, db_path, operator, as_json):
    """发布策略文件 FILE 为新版本 (head office only); 之后的分类按新版本执行.

    Publish a policy file as a new policy-set version; classify uses the
    published set from the next run, never the file on disk.
    """
    db = open_db(db_path)
    op = operators_lib.require(db, operator, role="headoffice", action="发布策略 (publishing policy)")
    ps = policy_lib.publish(db, file, op["id"], note=note)
    info = {"version": ps.version, "digest": ps.digest, "file": file, "published_by": op["id"]}
    if as_json:
        emit_json(info)
    else:
        click.echo(f"已发布 (published) 策略集 v{ps.version}  sha256 {ps.digest}  by {op['id']}")
