"""``clients archive-verify``: does a client archive folder still hold exactly what was signed?

Checks, and names the file and the reason for each failure:
- ``manifest.json`` and ``manifest.sig`` are there and readable;
- the signature over the manifest's exact bytes verifies with the public key the manifest
  names, and that key's fingerprint is the one recorded;
- with a database, that key is the certified key of that operator under the database's trust
  root (a regulator without the database still checks everything else);
- every file listed exists with its size and SHA-256, and no file is there that is not listed.
It reads digests only, never the records, so it needs no operator.
"""

import json
from pathlib import Path

from ..kernel.digests import file_sha256
from ..kernel.errors import NotFound
from ..trust import certs, keys
from .writer import FORMAT, MANIFEST, SIGNATURE


def verify(directory, *, db=None, root_pub=None):
    """{"ok", "client_id", "files", "signer", "failures": [{"file", "reason"}]}."""
    folder = Path(directory)
    if not folder.is_dir():
        raise NotFound(f"{folder}: 不是档案文件夹 (no such folder)")
    failures = []

    def fail(name, reason):
        failures.append({"file": name, "reason": reason})

    try:
        body = (folder / MANIFEST).read_bytes()
        manifest = json.loads(body)
        sig = json.loads((folder / SIGNATURE).read_bytes())
    except (OSError, ValueError) as e:
        fail(MANIFEST, f"清单或签名缺失或无法读取 (manifest or signature missing or unreadable: {e})")
        return {"ok": False, "client_id": None, "files": 0, "signer": None, "failures": failures}
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(sig, dict):
        fail(MANIFEST, f"不是 {FORMAT} 格式的清单 (not a client archive manifest)")
        return {"ok": False, "client_id": None, "files": 0, "signer": None, "failures": failures}
    signer = dict(manifest.get("created_by") or {})
    pub = signer.get("public_key") or ""
    if not keys.verify(pub, sig.get("signature") or "", body):
        fail(SIGNATURE, "签名与清单不符: 清单被修改或签名无效 (signature does not verify: manifest altered)")
    elif keys.fingerprint(pub) != signer.get("key_fingerprint") or sig.get("operator") != signer.get("operator"):
        fail(SIGNATURE, "签名人信息与公钥不一致 (signer details do not match the key)")
    signer["trusted"] = None
    if db is not None and root_pub is not None and not failures:
        trusted = certs.trusted_key(db, signer.get("operator"), root_pub)
        signer["trusted"] = trusted == pub
        if not signer["trusted"]:
            fail(SIGNATURE, f"签名人 {signer.get('operator')} 不是本数据库信任根认证的操作员, 或密钥不符 "
                            "(the signer is not this database's certified operator with this key)")
    listed = {}
    entries = manifest.get("files")
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("path") if isinstance(entry, dict) else None
        rel = Path(str(name))
        # Only files inside the folder: a manifest naming /etc/passwd or ../x names nothing of the archive.
        if not isinstance(name, str) or rel.is_absolute() or ".." in rel.parts:
            fail(str(name), "清单中的路径无效 (a path in the manifest leaves the folder)")
            continue
        listed[name] = entry
        path = folder / rel
        if not path.is_file():
            fail(name, "文件缺失 (file missing)")
            continue
        if path.stat().st_size != entry.get("bytes") or file_sha256(path) != entry.get("sha256"):
            fail(entry.get("path"), "SHA-256 不符: 文件被修改 (digest differs: the file was altered)")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name not in listed and name not in (MANIFEST, SIGNATURE):
            fail(name, "清单中没有此文件: 被添加 (a file not in the manifest was added)")
    return {"ok": not failures, "client_id": manifest.get("client_id"), "files": len(listed),
            "signer": signer, "failures": failures}
