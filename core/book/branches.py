"""Branches (营业部)."""

import re

from ..trust import audit, authz
from ..kernel.errors import BrokerCRMError, Conflict
from ..kernel.timeutil import now_iso

CODE_RE = re.compile(r"^[A-Z0-9]{2,16}$")


def add(db, actor, code, name):
    """Head office adds a branch."""
    authz.require(actor, "branch.add")
    code = code.strip().upper()
    if not CODE_RE.match(code):
        raise BrokerCRMError(f"营业部代码 {code!r} 须为2–16位大写字母或数字 (branch code must be 2–16 of A–Z, 0–9)")
    if db.execute("SELECT 1 FROM branches WHERE code = ?", [code]).fetchone():
        raise Conflict(f"营业部 {code} 已存在 (branch exists)")
    with db.atomic():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, now_iso()])
        audit.record(db, "branch.add", actor=actor, target=code, detail={"name": name})
    return {"code": code, "name": name}


def list_all(db):
    return [
        {"code": code, "name": name, "clients": n}
        for code, name, n in db.execute(
            "SELECT b.code, b.name, (SELECT count(*) FROM clients c WHERE c.branch_id = b.code)"
            " FROM branches b ORDER BY b.code"
        )
    ]


def codes(db):
    return {row[0] for row in db.execute("SELECT code FROM branches")}
