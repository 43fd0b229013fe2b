"""Operators: who may request, decide and publish.

Two roles: ``headoffice`` (经纪业务管理总部: approves branch plugins,
publishes policies, adds operators) and ``branch`` (a branch's staff: may
request approval for its own branch). ``brokercrm init`` creates the first
head-office operator; every later one is added by head office.
"""

from sqlite_utils.migrations import Migrations

from . import audit
from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import now_iso

migrations = Migrations("brokercrm.operators")

ROLES = ("headoffice", "branch")
ROLE_LABELS = {"headoffice": "总部", "branch": "营业部"}


@migrations()
def m001_operators(db):
    db.execute(
        """CREATE TABLE operators (
            id TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('headoffice', 'branch')),
            branch TEXT REFERENCES branches(code),
            created_at TEXT NOT NULL,
            created_by TEXT,
            CHECK ((role = 'branch') = (branch IS NOT NULL))
        )"""
    )


def get(db, operator_id):
    row = db.execute("SELECT id, role, branch, created_at, created_by FROM operators WHERE id = ?",
                     [operator_id]).fetchone()
    if row is None:
        return None
    return dict(zip(("id", "role", "branch", "created_at", "created_by"), row))


def require(db, operator_id, *, role=None, action="此操作 (this action)"):
    """The known operator ``operator_id`` (optionally of ``role``), or a refusal."""
    if not operator_id:
        raise BrokerCRMError(
            f"{action}须指明操作员: --as ID 或 BROKERCRM_OPERATOR (needs a known operator)"
        )
    op = get(db, operator_id)
    if op is None:
        raise BrokerCRMError(f"操作员 {operator_id} 未登记, 拒绝{action} (unknown operator; refused)")
    if role and op["role"] != role:
        raise BrokerCRMError(
            f"{action}仅限{ROLE_LABELS[role]}操作员, {operator_id} 是{ROLE_LABELS[op['role']]}操作员"
            f" (only {role} operators may do this; refused)"
        )
    return op


def _insert(db, operator_id, role, branch, by):
    if role not in ROLES:
        raise BrokerCRMError(f"角色 {role!r} 无效, 须为 headoffice 或 branch (role must be headoffice|branch)")
    if not operator_id or not operator_id.strip() or any(ch.isspace() for ch in operator_id):
        raise BrokerCRMError(f"操作员 ID {operator_id!r} 无效 (operator id must be non-empty, no spaces)")
    if role == "branch":
        if not branch:
            raise BrokerCRMError("营业部操作员须指明 --branch CODE (a branch operator needs --branch)")
        if not db.execute("SELECT 1 FROM branches WHERE code = ?", [branch]).fetchone():
            raise BrokerCRMError(f"营业部 {branch} 不存在 (no such branch)")
    elif branch:
        raise BrokerCRMError("总部操作员不属于营业部, 请去掉 --branch (head office has no branch)")
    if get(db, operator_id):
        raise BrokerCRMError(f"操作员 {operator_id} 已存在 (operator exists)")
    with db.atomic():
        db.execute(
            "INSERT INTO operators (id, role, branch, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
            [operator_id, role, branch, now_iso(), by],
        )
        audit.record(db, "operator.add", operator=by, target=operator_id,
                     detail={"role": role, "branch": branch})
    return get(db, operator_id)


def add(db, operator_id, role, *, branch=None, by):
    """Head office adds an operator."""
    require(db, by, role="headoffice", action="新增操作员 (adding operators)")
    return _insert(db, operator_id, role, branch, by)


def bootstrap(db, admin_id="admin"):
    """Create the first head-office operator if there is none; return it (or the existing ones)."""
    existing = [r[0] for r in db.execute("SELECT id FROM operators WHERE role = 'headoffice' ORDER BY id")]
    if existing:
        return None, existing
    return _insert(db, admin_id, "headoffice", None, None), []


def list_all(db):
    return [
        dict(zip(("id", "role", "branch", "created_at", "created_by"), r))
        for r in db.execute("SELECT id, role, branch, created_at, created_by FROM operators ORDER BY role, id")
    ]
