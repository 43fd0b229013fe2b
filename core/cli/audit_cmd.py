"""audit verify: check the hash chain, every signature and the recorded chain heads."""

import json
from pathlib import Path

import click

from ..kernel.errors import BrokerCRMError
from ..trust import audit as audit_lib
from ..trust import keys
from ..trust import root as trust_root
from . import cli
from .common import db_option, emit_json, json_option, open_db


@cli.group()
def audit():
    """审计日志 (the audit log)."""


def _parse_head(text, where):
    rid, sep, digest = text.partition(":")
    if not sep or not rid.isdigit() or len(digest) != 64:
        raise click.BadParameter(f"{text!r} 须为 ID:HASH (id and 64-hex hash)", param_hint=where)
    return {"id": int(rid), "hash": digest, "where": where}


def _manifest_head(path):
    try:
        head = json.loads(Path(path).read_text(encoding="utf-8")).get("audit_head")
    except (OSError, ValueError) as e:
        raise BrokerCRMError(f"{path}: 无法读取发布清单 (cannot read the manifest): {e}") from None
    if not head:
        raise BrokerCRMError(f"{path}: 清单中没有审计链头 (no audit_head in this manifest)")
    return {"id": int(head["id"]), "hash": head["hash"], "where": f"发布清单 {path}"}


@audit.command("verify")
@click.option("--head", "heads", multiple=True, metavar="ID:HASH",
              help="另存的链头, 如分类运行摘要中打印的 (a chain head kept elsewhere); 可多次")
@click.option("--manifest", "manifests", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="已发布快照的 manifest.json (a published manifest); 可多次")
@db_option
@json_option
def audit_verify(heads, manifests, db_path, as_json):
    """校验审计日志: 哈希链、每行签名、记录过的链头; 完好退出 0, 否则 1 并指出第一处问题.

    Verify the whole chain and every signature against the trust root, and
    every chain head recorded by classification runs, given with --head or
    carried by --manifest files. Exits 0 when intact, 1 naming the first row
    that fails (edited, deleted, reordered, forged, or a truncated tail).
    """
    db = open_db(db_path)
    root = trust_root.for_db(db)
    recorded = [
        {**_parse_head(h, f"运行 #{rid}"), "where": f"分类运行 #{rid} (run)"}
        for rid, h in db.execute("SELECT id, audit_head FROM runs WHERE audit_head IS NOT NULL ORDER BY id")
    ]
    given = [_parse_head(h, "--head") for h in heads] + [_manifest_head(m) for m in manifests]
    report = audit_lib.verify(db, root, heads=recorded + given)
    report["root_fingerprint"] = keys.fingerprint(root)
    report["heads_checked"] = len(recorded) + len(given)
    if as_json:
        emit_json(report)
    else:
        click.echo(f"信任根 (trust root) {report['root_fingerprint']}")
        click.echo(f"审计日志 {report['rows']} 行 · 链头 (head) {report['head']['id']}:{report['head']['hash']}"
                   f" · 核对链头 {report['heads_checked']} 个")
        if report["ok"]:
            click.echo("完好 (intact): 哈希链与全部签名均通过验证")
        else:
            f = report["failure"]
            click.echo(f"未通过 (FAILED) 第 {f['id']} 行: {f['reason']}", err=True)
    if not report["ok"]:
        raise SystemExit(1)
