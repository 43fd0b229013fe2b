"""clients archive / archive-verify / archive-retention: the client archive (一户一档, issue 11 item 6)."""

import click

from ..archive import retention
from ..archive import verify as verify_mod
from ..archive import writer
from ..book import lookups
from ..kernel.db import db_path as resolve_db_path
from ..trust import root as trust_root
from .clients_cmd import clients
from .common import acting, db_option, emit_json, json_option, open_db, operator_option


@clients.command("archive")
@click.argument("client_id")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="写入此新文件夹 (a new or empty folder)")
@db_option
@operator_option
@json_option
def archive_cmd(client_id, out, db_path, operator, as_json):
    """生成客户完整档案 (一户一档): 全部记录 CSV+JSON, 签名清单 (write the client's complete, signed archive).

    含完整个人信息: 仅总部或客户所属营业部可生成, 记入审计日志 (full personal data: head office or the
    client's branch only; audited).
    """
    db, actor = acting(db_path, operator)
    client_id = lookups.client(db, client_id)
    result = writer.archive(db, actor, client_id, out)
    if as_json:
        emit_json(result)
        return
    click.echo(f"客户 {client_id} 的档案已写入 (archive written to) {result['out']}")
    click.echo(f"  表 {len(result['tables'])} 张 · 记录 {sum(t['rows'] for t in result['tables'])} 条 · "
               f"文件 {len(result['files']) + 2} 个 · 清单 SHA-256 {result['manifest_sha256']}")
    click.echo(f"  签名人 (signed by) {actor.id} {actor.fingerprint}")
    for t in result["tables"]:
        if not t["declared"]:
            click.echo(f"  注意: 表 {t['table']} 未在档案目录中登记, 已放入 99_undeclared (undeclared table)")


@clients.command("archive-verify")
@click.argument("directory", type=click.Path(file_okay=False))
@db_option
@operator_option
@json_option
def archive_verify_cmd(directory, db_path, operator, as_json):
    """核验客户档案: 全部文件的 SHA-256 与清单签名 (verify an archive's digests and signature).

    有数据库时, 另核对签名人是否为该库信任根认证的操作员 (with the database, the signer is also checked
    against its trust root). 不需要操作员 (needs no operator).
    """
    db = root = None
    if resolve_db_path(db_path).is_file():
        db = open_db(db_path)
        root = trust_root.for_db(db)
    result = verify_mod.verify(directory, db=db, root_pub=root)
    if as_json:
        emit_json(result)
    else:
        signer = result["signer"] or {}
        trust = {True: "受信任 (trusted)", False: "不受信任 (NOT trusted)", None: "未对照信任根 (not checked)"}
        click.echo(f"档案 (archive) {directory} · 客户 {result['client_id']} · 文件 {result['files']} 个")
        if signer:
            click.echo(f"  签名人 {signer.get('operator')} {signer.get('key_fingerprint')} · "
                       f"{trust[signer.get('trusted')]}")
        for f in result["failures"]:
            click.echo(f"  ✗ {f['file']}: {f['reason']}")
        click.echo("核验通过 (verified)" if result["ok"] else "核验失败 (verification FAILED)")
    if not result["ok"]:
        raise SystemExit(1)


@clients.command("archive-retention")
@db_option
@operator_option
@json_option
def archive_retention_cmd(db_path, operator, as_json):
    """按保存期限策略设置数据库中的保存期限, 只能延长 (apply the retention policy; the period only grows; 总部)."""
    db, actor = acting(db_path, operator)
    result = retention.apply(db, actor)
    if as_json:
        emit_json(result)
        return
    click.echo(f"保存期限 (retention) {result['years']} 年 · {result['source']}"
               + ("" if result["changed"] else " · 未变 (unchanged)"))
