"""Operators: people and service accounts with certified Ed25519 keys.

``bootstrap`` (run by ``brokercrm init``) creates the root head-office
operator: its key pair is made here, its public key becomes the trust root
(a file outside the database) and its certificate is signed by itself.
Every later operator is certified by a trusted head-office operator; only
the root may certify head-office operators. An operator either brings
their own public key (``public_key=``, custody "self": nobody else ever
saw the private key) or has one generated for them (custody "issuer": the
issuer handed the key file over).
"""

from ..kernel.errors import BrokerCRMError
from ..kernel.registry import registry
from ..kernel.timeutil import now_iso
from . import audit, authz, certs, keys, root
from .identity import Actor, check_operator_id


def _branch_exists(db, code):
    return db.execute("SELECT 1 FROM branches WHERE code = ?", [code]).fetchone() is not None


def _insert(db, row):
    if db.execute("SELECT 1 FROM operators WHERE id = ?", [row["id"]]).fetchone():
        raise BrokerCRMError(f"操作员 {row['id']} 已存在 (operator exists)")
    if db.execute("SELECT 1 FROM operators WHERE public_key = ?", [row["public_key"]]).fetchone():
        raise BrokerCRMError("此公钥已属于另一操作员: 一人一钥 (this public key belongs to another operator)")
    cols = list(row)
    db.execute(f"INSERT INTO operators ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
               [row[c] for c in cols])


def bootstrap(db, admin_id, root_file, key):
    """Create the root operator holding ``key``, and the trust-root file; returns its Actor.

    Refuses when the database already has a root operator.
    """
    check_operator_id(admin_id)
    if db.execute("SELECT 1 FROM operators WHERE issued_by = id").fetchone():
        raise BrokerCRMError("数据库已有根操作员 (this database already has its root operator)")
    pub = keys.public_b64(key)
    now = now_iso()
    row = {"id": admin_id, "role": authz.HEADOFFICE, "branch": None, "created_at": now, "created_by": admin_id,
           "public_key": pub, "issued_by": admin_id, "issued_at": now, "key_custody": "self"}
    row["certificate"] = keys.sign(key, certs.payload(row))
    root_file = root.write_root(root_file, pub)
    actor = Actor(admin_id, authz.HEADOFFICE, None, keys.fingerprint(pub), pub, key)
    try:
        with db.atomic():
            _insert(db, row)
            audit.record(db, "operator.add", actor=actor, target=admin_id,
                         detail={"role": authz.HEADOFFICE, "root": True, "fingerprint": actor.fingerprint})
    except Exception:
        root_file.unlink(missing_ok=True)
        raise
    return actor


def has_root(db, root_pub):
    """Whether this database's root operator holds the given root key."""
    return db.execute("SELECT 1 FROM operators WHERE issued_by = id AND public_key = ?",
                      [root_pub]).fetchone() is not None


def known_positions(db):
    """{position: "branch" | "headoffice"} of the positions policy in force (via the registry)."""
    found = {}
    for catalogue in registry().role_catalogues:
        found.update(catalogue(db))
    return found


def add(db, actor, operator_id, role, *, branch=None, public_key=None):
    """Certify a new operator; returns (row, private key or None when they brought their own)."""
    authz.require(actor, "operator.add")
    check_operator_id(operator_id)
    positions = known_positions(db)
    if role not in authz.ROLES and role not in positions:
        raise BrokerCRMError(f"角色 {role!r} 无效, 须为 {' / '.join(authz.ROLES)} 或岗位 "
                             f"{' / '.join(sorted(positions))} (unknown role or position)")
    if role == authz.HEADOFFICE and actor.public_key != actor.root:
        raise authz.Forbidden(
            f"只有根操作员可以新增总部操作员, {actor.id} 不是 (only the root operator certifies head office)")
    if role in certs.FIRM_ROLES or positions.get(role) == authz.HEADOFFICE:
        if branch:
            raise BrokerCRMError(f"{authz.ROLE_LABELS.get(role, role)}操作员不属于营业部, 请去掉 --branch (no branch for this role)")
    else:
        if not branch:
            raise BrokerCRMError("营业部操作员须指明 --branch CODE (a branch operator needs --branch)")
        if not _branch_exists(db, branch):
            raise BrokerCRMError(f"营业部 {branch} 不存在 (no such branch)")
    key = None
    if public_key is None:
        key = keys.generate()
        public_key = keys.public_b64(key)
    now = now_iso()
    row = {"id": operator_id, "role": role, "branch": branch or None, "created_at": now, "created_by": actor.id,
           "public_key": public_key, "issued_by": actor.id, "issued_at": now,
           "key_custody": "issuer" if key is not None else "self"}
    row["certificate"] = actor.sign(certs.payload(row))
    with db.atomic():
        _insert(db, row)
        audit.record(db, "operator.add", actor=actor, target=operator_id,
                     detail={"role": role, "branch": branch, "custody": row["key_custody"],
                             "fingerprint": keys.fingerprint(public_key)})
    return row, key


def revoke(db, actor, operator_id, *, reason):
    """End an operator's trust (and that of everyone they certified) from now on."""
    authz.require(actor, "operator.revoke")
    if not reason or not reason.strip():
        raise BrokerCRMError("撤销操作员须说明理由 --reason (a reason is required)")
    op = certs.verify_operator(db, operator_id, actor.root, check_revoked=False)
    if op.is_root:
        raise BrokerCRMError("根操作员不能撤销; 请重新初始化信任根 (the root cannot be revoked)")
    if certs.revoked(db, operator_id):
        raise BrokerCRMError(f"操作员 {operator_id} 已撤销 (already revoked)")
    with db.atomic():
        audit.record(db, "operator.revoke", actor=actor, target=operator_id, detail={"reason": reason.strip()})


def list_all(db, actor):
    """Every operator row (a branch operator: their branch's) with whether it is trusted now, and why not."""
    branch = authz.branch_filter(actor, "operator.list")
    root_pub = actor.root
    out = []
    for oid, role, branch_, created_by, pub in db.execute(
            "SELECT id, role, branch, created_by, public_key FROM operators ORDER BY role, id"):
        try:
            op = certs.verify_operator(db, oid, root_pub)
            trusted, why = True, ("根操作员 (root)" if op.is_root else f"由 {op.issued_by} 签发")
        except certs.Untrusted as e:
            trusted, why = False, str(e)
        if branch and branch_ != branch:
            continue
        out.append({"id": oid, "role": role, "branch": branch_, "created_by": created_by,
                    "fingerprint": keys.fingerprint(pub) if pub else None, "trusted": trusted, "why": why})
    return out
