"""init, branches, policy."""

from pathlib import Path

import click

from ..book import branches as branches_lib
from ..trust import operators as operators_lib
from ..policy import sets as policy_lib
from ..kernel.db import connect
from ..kernel.db import db_path as resolve_db_path
from . import cli
from ..kernel.errors import BrokerCRMError
from ..trust import keys
from ..trust import root as trust_root
from .common import acting, db_option, echo_table, emit_json, json_option, new_passphrase, open_db, operator_option


@cli.command()
@click.option("--admin", "admin_id", default="admin", show_default=True, metavar="ID",
              help="根操作员 (总部), 仅在尚无信任根时创建 (the root head-office operator; created once)")
@click.option("--key-out", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="根操作员私钥写入此文件 (where to write the root operator's private key); default <db>.<ID>.key")
@click.option("--no-passphrase", is_flag=True,
              help="私钥不设口令, 仅供脚本使用 (no passphrase on the key; for scripts)")
@db_option
@json_option
def init(admin_id, key_out, no_passphrase, db_path, as_json):
    """创建或升级数据库; 首次运行时创建信任根与根操作员, 并把默认总部策略记为 v1.

    Create or upgrade the database. The first time, create head office's root
    key pair: the private key goes to --key-out (passphrase-protected unless
    --no-passphrase; the passphrase from BROKERCRM_KEY_PASSPHRASE or a prompt),
    the public key to the trust-root file outside the database
    (BROKERCRM_TRUST_ROOT, default <db>.trust-root), whose fingerprint is printed.
    The only command that creates a database; every other one refuses a missing --db.
    """
    db_file = resolve_db_path(db_path)
    db = connect(db_path)
    root_file = trust_root.root_path(db_file)
    info = {"db": str(db_file), "trust_root": str(root_file)}
    if root_file.exists():
        pub = trust_root.read_root(root_file)
        if not operators_lib.has_root(db, pub):
            raise BrokerCRMError(
                f"信任根 {root_file} 已存在, 但本数据库没有与之对应的根操作员; 请换用新的数据库路径,"
                f" 或设置 {trust_root.ENV_ROOT} (a trust root exists that this database does not belong to)")
        info.update(created=None, fingerprint=keys.fingerprint(pub))
    else:
        key_file = Path(key_out) if key_out else Path(f"{db_file}.{admin_id}.key")
        passphrase = new_passphrase(no_passphrase)
        key = keys.generate()
        keys.save_private(key, key_file, passphrase)
        try:
            actor = operators_lib.bootstrap(db, admin_id, root_file, key)
            policy_lib.publish_defaults(db, actor)
        except BaseException:
            key_file.unlink(missing_ok=True)
            raise
        info.update(created=admin_id, key_file=str(key_file), fingerprint=actor.fingerprint,
                    passphrase=not no_passphrase)
    policy = policy_lib.current(db)
    info.update(policy_version=policy.version, policy_digest=policy.digest)
    if as_json:
        emit_json(info)
        return
    click.echo(f"数据库就绪 (database ready): {info['db']}")
    click.echo(f"现行策略 (policy in force): {policy.label()}")
    click.echo(f"信任根 (trust root): {info['trust_root']}")
    click.echo(f"  指纹 (fingerprint): {info['fingerprint']}  — 请另行记录 (record it off this machine)")
    if info["created"]:
        click.echo(f"已创建根操作员 (root operator created): {admin_id}")
        click.echo(f"  私钥 (private key): {info['key_file']}"
                   + ("" if info["passphrase"] else "  [无口令 no passphrase]"))
        click.echo(f"  以后用 (then use): --as {admin_id} --key {info['key_file']}")


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
    db, actor = acting(db_path, operator)
    branch = branches_lib.add(db, actor, code, name)
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
    db, actor = acting(db_path, operator)
    ps = policy_lib.publish(db, file, actor, note=note)
    info = {"version": ps.version, "digest": ps.digest, "file": file, "published_by": actor.id}
    if as_json:
        emit_json(info)
    else:
        click.echo(f"已发布 (published) 策略集 v{ps.version}  sha256 {ps.digest}  by {actor.id}")
