"""operators add / revoke / list, and keys new."""

from pathlib import Path

import click

from ..staff import positions as positions_lib
from ..staff import qualifications as qualifications_lib
from ..trust import authz, keys
from ..trust import operators as operators_lib
from . import cli
from .common import acting, db_option, emit_json, json_option, new_passphrase, operator_option


@cli.group()
def operators():
    """操作员: 总部、营业部与系统服务账号, 各持已认证的密钥 (operators with certified keys)."""


@operators.command("add")
@click.argument("operator_id", metavar="ID")
@click.option("--role", required=True,
              help="headoffice (总部), branch (营业部), service (系统服务: 定时分类、发布), "
                   "或总部岗位策略中的岗位 (or a position: `operators positions`)")
@click.option("--branch", default=None, help="营业部代码, 营业部操作员必填 (branch code; required for --role branch)")
@click.option("--key-out", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="为其生成密钥并写入此文件 (generate the key pair; write the private key here)")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE",
              help="其本人用 `brokercrm keys new` 生成的公钥 (their own public key: nobody else sees the private key)")
@click.option("--no-passphrase", is_flag=True, help="生成的私钥不设口令 (no passphrase on a generated key)")
@db_option
@operator_option
@json_option
def operators_add(operator_id, role, branch, key_out, public_key, no_passphrase, db_path, operator, as_json):
    """总部为新操作员 ID 签发证书 (head office certifies a new operator).

    Either --key-out FILE (a key pair is generated and the private key written
    to FILE, passphrase-protected unless --no-passphrase) or --public-key FILE
    (the person generated their own with `brokercrm keys new`).
    """
    if bool(key_out) == bool(public_key):
        raise click.UsageError("须给出 --key-out FILE 或 --public-key FILE 之一 (exactly one of them)")
    db, actor = acting(db_path, operator)
    pub = keys.load_public(public_key) if public_key else None
    passphrase = None if public_key else new_passphrase(no_passphrase)
    if key_out and Path(key_out).exists():
        raise click.UsageError(f"{key_out} 已存在, 不覆盖 (exists; not overwritten)")
    row, key = operators_lib.add(db, actor, operator_id, role, branch=branch, public_key=pub)
    if key is not None:
        keys.save_private(key, key_out, passphrase)
    info = {"id": row["id"], "role": row["role"], "branch": row["branch"], "issued_by": row["issued_by"],
            "fingerprint": keys.fingerprint(row["public_key"]), "key_file": key_out, "custody": row["key_custody"]}
    if as_json:
        emit_json(info)
        return
    label = authz.ROLE_LABELS.get(role) or positions_lib.catalogue(db).get(role, {}).get("name", role)
    click.echo(f"已签发操作员 (certified) {row['id']} · {label}"
               + (f" · 营业部 {row['branch']}" if row["branch"] else "") + f" · {info['fingerprint']}")
    if key_out:
        click.echo(f"  私钥 (private key): {key_out} — 请交给本人妥善保管 (hand it to them)")


@operators.command("revoke")
@click.argument("operator_id", metavar="ID")
@click.option("--reason", required=True, help="撤销理由 (why)")
@db_option
@operator_option
def operators_revoke(operator_id, reason, db_path, operator):
    """撤销操作员 ID 的证书 (revoke an operator; everyone they certified loses trust too)."""
    db, actor = acting(db_path, operator)
    operators_lib.revoke(db, actor, operator_id, reason=reason)
    click.echo(f"已撤销 (revoked) {operator_id}")


@operators.command("list")
@db_option
@operator_option
@json_option
def operators_list(db_path, operator, as_json):
    """列出操作员及其证书是否可信 (list operators and whether each is trusted)."""
    db, actor = acting(db_path, operator)
    rows = operators_lib.list_all(db, actor)
    for op in rows:
        op["qualification"] = qualifications_lib.current(db, op["id"])
        op["qualified"] = qualifications_lib.status(db, op["id"])
    if as_json:
        emit_json(rows)
        return
    for op in rows:
        mark = "可信" if op["trusted"] else "不可信"
        click.echo(f"{op['id']:<16} {op['role']:<16} {op['branch'] or '-':<8} {mark:<4} "
                   f"从业资格 {op['qualified']:<12} {op['why']}")


@operators.command("qualify")
@click.argument("operator_id", metavar="ID")
@click.option("--certificate", "certificate_no", required=True, help="证券从业资格证书/登记编号 (registration number)")
@click.option("--valid-until", required=True, metavar="YYYY-MM-DD", help="有效期至 (valid through)")
@db_option
@operator_option
@json_option
def operators_qualify(operator_id, certificate_no, valid_until, db_path, operator, as_json):
    """总部登记操作员 ID 的证券从业资格及有效期 (head office records an operator's securities qualification)."""
    db, actor = acting(db_path, operator)
    row = qualifications_lib.record(db, actor, operator_id, certificate_no, valid_until)
    if as_json:
        emit_json(row)
        return
    click.echo(f"已登记从业资格 (qualification recorded) {operator_id} · {row['certificate_no']}"
               f" · 有效期至 {row['valid_until']}")


@operators.command("positions")
@db_option
@operator_option
@json_option
def operators_positions(db_path, operator, as_json):
    """列出总部岗位策略: 各岗位可做的操作及范围 (the positions policy: each position's acts and scope)."""
    db, actor = acting(db_path, operator)
    data = positions_lib.listing(db, actor)
    if as_json:
        emit_json(data)
        return
    click.echo("需证券从业资格的操作 (acts needing a qualification): " + ", ".join(data["qualification_required_for"]))
    for pid, p in data["positions"].items():
        scope = "本营业部 (own branch)" if p["scope"] == authz.OWN else "全公司 (firm)"
        click.echo(f"{pid:<18} {p['name']:<8} {scope:<16} {p['source']}")
        click.echo(f"    {', '.join(p['acts'])}")


@cli.group("keys")
def keys_group():
    """操作员密钥 (operator keys)."""


@keys_group.command("new")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True, metavar="FILE",
              help="私钥文件 (private key file); 公钥写入 FILE.pub")
@click.option("--no-passphrase", is_flag=True, help="私钥不设口令 (no passphrase)")
def keys_new(out, no_passphrase):
    """生成自己的密钥对; 把 FILE.pub 交给总部签发 (make your own key pair; give FILE.pub to head office)."""
    passphrase = new_passphrase(no_passphrase)
    pub_file = Path(f"{out}.pub")
    if pub_file.exists():
        raise click.UsageError(f"{pub_file} 已存在, 不覆盖 (exists; not overwritten)")
    key = keys.generate()
    keys.save_private(key, out, passphrase)
    pub_file.write_text(keys.public_b64(key) + "\n", encoding="utf-8")
    click.echo(f"私钥 (private key): {out}\n公钥 (public key): {pub_file}  指纹 {keys.fingerprint(keys.public_b64(key))}")
