"""``clients archive``: write one client's complete archive (一户一档) as a folder a regulator can read.

The folder holds, per table with records of the client, the rows as CSV (UTF-8 with BOM, so
Excel opens the Chinese text) and as JSON (exact values and types); a Chinese README saying
what each file is; ``manifest.json`` naming every record (table and key) and every file's
SHA-256 and size; and ``manifest.sig``, the acting operator's Ed25519 signature of the
manifest's exact bytes. ``verify`` checks the lot.

Reading a full archive is reading full personal data: the act ``client.archive`` (head office,
or the client's own branch), audited with counts and the manifest's digest only. The folder is
built beside the target and renamed into place, readable by its owner only; an existing
non-empty target is refused.
"""

import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

from ..kernel import rows as rows_mod
from ..kernel.cells import neutralise
from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import now_iso
from ..trust import audit, authz
from . import catalogue, retention
from .collect import collect

FORMAT = "brokercrm-client-archive/1"
MANIFEST, SIGNATURE, README = "manifest.json", "manifest.sig", "README.md"


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def _csv_bytes(columns, rows):
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        # A text cell starting like a formula gets an apostrophe (CSV injection); the JSON keeps it exact.
        w.writerow(["" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else neutralise(v)
                    for v in r])
    return buf.getvalue().encode("utf-8-sig")


def _json_bytes(tr):
    doc = {"table": tr.table, "label": tr.label, "columns": tr.columns, "key": tr.key_columns,
           "rows": [dict(zip(tr.columns, r)) for r in tr.rows]}
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _readme(client_id, branch, made_at, actor, tables, files, years, basis):
    lines = [
        f"# 客户档案 (一户一档) — 客户 {client_id}",
        "",
        f"营业部 {branch} · 生成时间 {made_at} · 生成人 {actor.id} ({actor.role}) · 密钥指纹 {actor.fingerprint}",
        "",
        "本文件夹是该客户在 brokercrm 中全部存储记录的完整副本, 含完整个人信息, 须按公司规定保管, 不得外传。",
        f"保存期限 (retention) {years} 年 — 依据《证券期货投资者适当性管理办法》: {basis}; 一户一档: seeds/002 §8。",
        "",
        "## 如何核验 (how to verify)",
        "",
        "- `manifest.json` 列出每个文件的 SHA-256 与字节数, 以及每张表中每条记录的主键。",
        "- `manifest.sig` 是生成人以其 Ed25519 私钥对 `manifest.json` 原始字节所作的签名 (base64);"
        " 公钥与指纹见 manifest 的 `created_by`。",
        "- 命令: `brokercrm clients archive-verify 本文件夹 --db 数据库` 核对全部摘要与签名, 并确认签名人为受信任的操作员;"
        " 也可用 `sha256sum` 逐一核对。",
        "- 每张表两种格式: `.csv` (UTF-8 带 BOM, 可用 Excel 打开; 以 = + - @ 开头的文本前加单引号, 防止被当作公式)"
        " 与 `.json` (原样的值与类型)。",
        "",
        "## 文件 (files)",
        "",
        "| 文件 | 内容 | 记录数 |",
        "|---|---|---|",
    ]
    for tr in tables:
        if files[tr.table]:
            lines.append(f"| {' '.join(f'`{f}`' for f in files[tr.table])} | {tr.label} | {len(tr.rows)} |")
    empty = [tr for tr in tables if not tr.rows]
    lines += [
        "",
        "## 无记录的表 (tables with no record of this client)",
        "",
        *(f"- `{tr.table}`: {tr.label}" for tr in empty),
    ]
    lines += [
        "",
        "## 分类 (sections)",
        "",
        *(f"- `{name}/`: {label}" for name, label in catalogue.SECTIONS.items()
          if any(tr.section == name for tr in tables)),
        "",
        "## 未纳入的表 (tables left out, and why)",
        "",
        *(f"- `{t}`: {why}" for t, why in catalogue.EXCLUDED.items()),
        "",
        "产品、策略文本等非客户记录不在本档案中; 适当性检查与留痕记录中含有当时的产品等级、策略版本及告知文本的 SHA-256。",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _target(out):
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BrokerCRMError(f"{out}: 已存在且非空, 拒绝覆盖 (exists and is not empty; choose a new folder)")
    if not out.parent.is_dir():
        raise BrokerCRMError(f"{out}: 上级目录 {out.parent} 不存在 (the parent folder does not exist)")
    return out


def archive(db, actor, client_id, out):
    """Write the archive of ``client_id`` to the new folder ``out``; returns the manifest (without rows)."""
    branch = rows_mod.client(db, client_id)["branch_id"]
    authz.require(actor, "client.archive", branch=branch)
    out = _target(out)
    made_at = now_iso()
    tables = collect(db, client_id)
    years = retention.years_in_force(db)
    doc, _ = retention.policy_doc(db)
    ps = db.execute("SELECT version, digest FROM policy_versions ORDER BY version DESC LIMIT 1").fetchone()
    policy = {"version": ps[0], "digest": ps[1]} if ps else None
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(mode=0o700)
    try:
        entries, names = [], {}
        for tr in tables:
            base = f"{tr.section}/{tr.table}"
            names[tr.table] = []
            if not tr.rows:   # an empty table is named in the manifest and README, with no file
                continue
            (staging / tr.section).mkdir(mode=0o700, exist_ok=True)
            names[tr.table] = [f"{base}.csv", f"{base}.json"]
            for name, data in ((f"{base}.csv", _csv_bytes(tr.columns, tr.rows)), (f"{base}.json", _json_bytes(tr))):
                _write(staging / name, data)
                entries.append({"path": name, "sha256": sha256_bytes(data), "bytes": len(data)})
        readme = _readme(client_id, branch, made_at, actor, tables, names, years, doc["basis"])
        _write(staging / README, readme)
        entries.insert(0, {"path": README, "sha256": sha256_bytes(readme), "bytes": len(readme)})
        manifest = {
            "format": FORMAT, "client_id": client_id, "branch_id": branch, "created_at": made_at,
            "created_by": {"operator": actor.id, "role": actor.role, "branch": actor.branch,
                           "key_fingerprint": actor.fingerprint, "public_key": actor.public_key},
            "policy_set": policy, "audit_head_before": audit.head(db),
            "retention": {"years": years, "basis": doc["basis"]},
            "tables": [{"table": tr.table, "section": tr.section, "label": tr.label, "link": tr.how,
                        "declared": tr.declared, "retained": tr.retained, "rows": len(tr.rows),
                        "key": tr.key_columns, "keys": tr.keys(), "files": names[tr.table]} for tr in tables],
            "excluded": catalogue.EXCLUDED,
            "undeclared": [tr.table for tr in tables if not tr.declared],
            "files": entries,
        }
        body = (json.dumps(manifest, ensure_ascii=False, indent=1, default=str) + "\n").encode("utf-8")
        _write(staging / MANIFEST, body)
        signature = {"operator": actor.id, "key_fingerprint": actor.fingerprint, "algorithm": "Ed25519",
                     "signed": MANIFEST, "signature": actor.sign(body)}
        _write(staging / SIGNATURE, (json.dumps(signature, indent=1) + "\n").encode("ascii"))
        digest = sha256_bytes(body)
        with db.atomic():
            # Ids, counts and the digest only: the audit row carries no personal data.
            audit.record(db, "client.archive", actor=actor, target=client_id, digest=digest, detail={
                "files": len(entries) + 2, "records": sum(len(tr.rows) for tr in tables),
                "tables": len(tables), "undeclared": manifest["undeclared"]})
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {k: v for k, v in manifest.items() if k != "tables"} | {
        "out": str(out), "manifest_sha256": digest,
        "tables": [{k: t[k] for k in ("table", "section", "rows", "declared")} for t in manifest["tables"]]}
