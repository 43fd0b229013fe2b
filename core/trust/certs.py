"""Operator certificates: which public key speaks for which operator, and who said so.

An operator row is trusted only through a chain of signatures that ends at
the trust root (``root.py``):

- the **root operator** (made by ``init``) is self-certified with the root
  key itself: its public key must *be* the root key;
- **head-office** operators are certified by the root operator only, so no
  other head-office operator can mint a second head-office identity (a
  "sock puppet") to approve its own requests;
- every other operator (branch staff, service accounts) is certified by a
  trusted head-office operator.

The certificate is the issuer's signature over the canonical JSON of
(operator, role, branch, public key, issuer, time, key custody). A row added
or edited with ``sqlite3`` fails verification, and a revocation (a signed
``operator.revoke`` audit row) ends an operator's trust; the hash-chained
audit log makes deleting that row detectable (``audit verify``).
"""

from dataclasses import dataclass

from ..kernel.errors import BrokerCRMError
from . import keys

CERT_KIND = "brokercrm/operator-cert@1"
FIRM_ROLES = ("headoffice", "service")  # roles not tied to one branch
CUSTODY = ("self", "issuer")            # who created the private key: its owner, or the issuer


class Untrusted(BrokerCRMError):
    """An operator whose certificate does not chain to the trust root."""


@dataclass(frozen=True)
class Operator:
    """A verified operator row."""
    id: str
    role: str
    branch: str | None
    public_key: str
    fingerprint: str
    issued_by: str
    custody: str
    is_root: bool


COLUMNS = ("id", "role", "branch", "public_key", "issued_by", "issued_at", "key_custody", "certificate")


def payload(row):
    return keys.canonical({
        "kind": CERT_KIND, "operator": row["id"], "role": row["role"], "branch": row["branch"],
        "public_key": row["public_key"], "issued_by": row["issued_by"], "issued_at": row["issued_at"],
        "custody": row["key_custody"],
    })


def _row(db, operator_id):
    cur = db.execute(f"SELECT {', '.join(COLUMNS)} FROM operators WHERE id = ?", [operator_id])
    found = cur.fetchone()
    return dict(zip(COLUMNS, found)) if found else None


def revoked(db, operator_id):
    """The signed revocation of ``operator_id`` in the audit log, if any (id, by)."""
    return db.execute(
        "SELECT id, operator FROM audit_log WHERE action = 'operator.revoke' AND target = ? ORDER BY id LIMIT 1",
        [operator_id],
    ).fetchone()


def verify_operator(db, operator_id, root_pub, *, check_revoked=True, _depth=0):
    """The verified ``Operator`` for ``operator_id``, or ``Untrusted`` saying why not.

    Revoking an operator also ends the trust of everyone it certified (a
    stolen head-office key must not leave its puppets behind).
    ``check_revoked=False`` asks only whether the certificates are sound, for
    signatures made before a revocation (audit rows).
    """
    if _depth > 3:
        raise Untrusted(f"操作员 {operator_id} 的证书链过长 (certificate chain too long)")
    row = _row(db, operator_id)
    if row is None:
        raise Untrusted(f"操作员 {operator_id} 未登记 (unknown operator)")
    if not row["public_key"] or not row["certificate"] or not row["issued_by"]:
        raise Untrusted(f"操作员 {operator_id} 没有证书, 不受信任 (no certificate: not trusted)")
    if row["key_custody"] not in CUSTODY:
        raise Untrusted(f"操作员 {operator_id} 的证书无效 (invalid certificate)")
    is_root = row["issued_by"] == row["id"]
    if is_root:
        if row["public_key"] != root_pub or row["role"] != "headoffice":
            raise Untrusted(f"操作员 {operator_id} 自签证书但不是信任根 (self-certified but not the trust root)")
        issuer_key = root_pub
    else:
        issuer = verify_operator(db, row["issued_by"], root_pub, check_revoked=check_revoked, _depth=_depth + 1)
        if issuer.role != "headoffice":
            raise Untrusted(f"操作员 {operator_id} 的签发人 {issuer.id} 不是总部操作员 (issuer is not head office)")
        if row["role"] == "headoffice" and not issuer.is_root:
            raise Untrusted(
                f"总部操作员 {operator_id} 须由信任根签发, 而非 {issuer.id} (head-office operators are certified by the root only)")
        issuer_key = issuer.public_key
    if not keys.verify(issuer_key, row["certificate"], payload(row)):
        raise Untrusted(f"操作员 {operator_id} 的证书签名无效, 记录可能被篡改 (certificate signature invalid: tampered?)")
    rev = revoked(db, operator_id) if check_revoked else None
    if rev:
        raise Untrusted(f"操作员 {operator_id} 已被 {rev[1]} 撤销 (revoked, audit #{rev[0]})")
    return Operator(row["id"], row["role"], row["branch"], row["public_key"], keys.fingerprint(row["public_key"]),
                    row["issued_by"], row["key_custody"], is_root)


def trusted_key(db, operator_id, root_pub):
    """The public key of a trusted operator, or None (for verifying signatures made earlier)."""
    try:
        return verify_operator(db, operator_id, root_pub, check_revoked=False).public_key
    except Untrusted:
        return None
