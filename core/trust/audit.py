"""The audit log: append-only, hash-chained, every row signed by its actor.

Each row carries ``prev_hash`` (the previous row's ``row_hash``), its own
``row_hash`` (SHA-256 over the canonical form of its fields and
``prev_hash``), the actor's key fingerprint and the actor's Ed25519
signature of ``row_hash``. Ids are consecutive from 1 and never reused.

What that buys, against someone who can write the database file:
- an edited row no longer matches its hash or its signature;
- a deleted or reordered row breaks the chain at the next row;
- a forged row cannot carry a valid signature of a certified operator;
- a truncated tail is caught against any earlier copy of the chain head:
  every classification run records the head it started from, every
  published manifest and run summary prints it, and
  ``verify(…, heads=…)`` checks them.
Triggers refuse UPDATE, DELETE, ``INSERT OR REPLACE`` and any insert that
does not extend the chain, as a second line of defence.

``detail`` must never hold unmasked personal data.
"""

import hashlib
import json

from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import now_iso
from . import certs, keys

GENESIS = "0" * 64
FIELDS = ("id", "at", "operator", "action", "target", "detail", "digest", "key_fingerprint", "prev_hash")


class AuditError(BrokerCRMError):
    pass


def row_hash(row):
    return hashlib.sha256(keys.canonical({k: row[k] for k in FIELDS})).hexdigest()


def head(db):
    """{"id", "hash"} of the last row, or id 0 and the genesis hash for an empty log."""
    last = db.execute("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return {"id": last[0], "hash": last[1]} if last else {"id": 0, "hash": GENESIS}


def record(db, action, *, actor, target=None, detail=None, digest=None, at=None):
    """Append one row signed by ``actor``; returns its id. Call inside the act's transaction."""
    if not getattr(actor, "fingerprint", None) or not hasattr(actor, "sign"):
        raise AuditError(f"审计记录须由已认证的操作员签名 (an authenticated actor must sign {action})")
    prev = head(db)
    row = {
        "id": prev["id"] + 1, "at": at or now_iso(), "operator": actor.id, "action": action,
        "target": None if target is None else str(target),
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail is not None else None,
        "digest": digest, "key_fingerprint": actor.fingerprint, "prev_hash": prev["hash"],
    }
    row["row_hash"] = row_hash(row)
    row["signature"] = actor.sign(row["row_hash"].encode("ascii"))
    cols = list(row)
    db.execute(f"INSERT INTO audit_log ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
               [row[c] for c in cols])
    return row["id"]


def first_break(db, from_id=1):
    """The first id at or after ``from_id`` where ids stop being consecutive or a chain link
    does not hold, by SQL alone (no signatures); None when both hold."""
    gap = db.execute(
        "SELECT a.id + 1 FROM audit_log a WHERE a.id >= ? AND a.id < (SELECT max(id) FROM audit_log)"
        " AND NOT EXISTS (SELECT 1 FROM audit_log b WHERE b.id = a.id + 1) ORDER BY a.id LIMIT 1",
        [from_id]).fetchone()
    link = db.execute(
        "SELECT b.id FROM audit_log a JOIN audit_log b ON b.id = a.id + 1"
        " WHERE a.id >= ? AND b.prev_hash IS NOT a.row_hash ORDER BY b.id LIMIT 1", [from_id]).fetchone()
    found = [r[0] for r in (gap, link) if r]
    return min(found) if found else None


def verify(db, root_pub, *, heads=()):
    """Check the whole chain, every signature and each recorded head.

    Returns {"ok", "rows", "head", "failure": None | {"id", "reason"}}; the
    failure names the first row that does not verify.
    """
    cols = FIELDS + ("row_hash", "signature")
    signer_keys = {}
    expected_id, prev, count = 1, GENESIS, 0
    failure = None
    by_id = {}
    wanted = {int(h["id"]) for h in heads}
    for values in db.execute(f"SELECT {', '.join(cols)} FROM audit_log ORDER BY id"):
        row = dict(zip(cols, values))
        count += 1
        rid = row["id"]
        reason = None
        if rid != expected_id:
            reason = (f"第 {expected_id} 行缺失 (row {expected_id} missing: deleted or ids reused)"
                      if rid > expected_id else "行号重复或乱序 (id out of order)")
            rid = expected_id
        elif row["prev_hash"] != prev:
            reason = "与前一行的哈希链断开 (chain broken: previous row edited, deleted or reordered)"
        else:
            reason = verify_row(db, row, root_pub, key_cache=signer_keys)
        if reason:
            failure = {"id": rid, "reason": reason}
            break
        if rid in wanted:
            by_id[rid] = row["row_hash"]
        prev, expected_id = row["row_hash"], rid + 1
    last = {"id": expected_id - 1, "hash": prev}
    if failure is None:
        for h in heads:
            hid = int(h["id"])
            if hid > last["id"]:
                failure = {"id": last["id"] + 1, "reason": (
                    f"日志被截断: {h.get('where', '记录')} 见过第 {hid} 行, 现只有 {last['id']} 行 (log truncated)")}
                break
            if hid and by_id.get(hid) != h["hash"]:
                failure = {"id": hid, "reason": f"与 {h.get('where', '记录')} 中的链头不符 (differs from a recorded head)"}
                break
    return {"ok": failure is None, "rows": count, "head": last, "failure": failure}


def verify_row(db, row, root_pub, *, key_cache=None):
    """Why one audit row (a dict with every column) does not verify, or None when it does.

    The gate uses this on the few rows it acts on; ``verify`` walks the chain
    and passes a cache of signers' keys.
    """
    if row_hash(row) != row.get("row_hash"):
        return "内容与哈希不符, 记录被修改 (row edited after it was written)"
    cache = {} if key_cache is None else key_cache
    if row["operator"] not in cache:
        cache[row["operator"]] = certs.trusted_key(db, row["operator"], root_pub)
    pub = cache[row["operator"]]
    if pub is None:
        return f"签名人 {row['operator']} 不是受信任的操作员 (signer not trusted)"
    if keys.fingerprint(pub) != row["key_fingerprint"]:
        return "签名密钥与操作员证书不符 (key does not match the operator's certificate)"
    if not row.get("signature") or not keys.verify(pub, row["signature"], row["row_hash"].encode("ascii")):
        return "签名无效 (signature invalid)"
    return None
