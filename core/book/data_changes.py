"""Changes to client data, reviewed where it matters (seed 004, 客户账户普通/重要资料修改流程).

Ordinary data (普通资料: occupation, education, income, …) changes at once.
Important data (重要资料: name, ID number, phone, settlement bank account, an
institution's legal representative) becomes a *pending* change that another
operator must approve (柜台业务岗 enters, 复核岗 reviews) before it takes effect.

The old and new values are personal data: they stay in ``data_changes`` (and,
once applied, ``client_changes``); the audit log gets masked values only.
"""

import re

from ..trust import audit, authz
from ..kernel import validate as v
from ..kernel import rows
from ..kernel.errors import BrokerCRMError, Conflict, Forbidden
from ..kernel.masking import mask_account, mask_field
from ..kernel.timeutil import iso, now
from ..kernel.sql_filters import where_equal

IMPORTANT = {
    "name": "姓名/名称", "id_number": "证件号码", "phone": "手机号", "bank_account": "存管银行账户",
    "legal_representative": "法定代表人",
}
ORDINARY = {
    "occupation": "职业", "education": "学历", "annual_income": "年收入", "investment_years": "投资年限",
    "business_scope": "经营范围", "net_assets": "净资产",
}
NUMERIC = {"annual_income", "investment_years", "net_assets"}
BANK_RE = re.compile(r"^\d{10,30}$")


def _clean(field, value, kind):
    value = str(value).strip()
    if not value:
        raise BrokerCRMError(f"{field}: 新值不能为空 (the new value is empty)")
    problem = None
    if field == "id_number":
        value = value.upper()
        problem = v.resident_id(value) if kind == "individual" else v.credit_code(value)
    elif field == "phone":
        problem = v.mobile(value)
        value = v.normalise_mobile(value) if not problem else value
    elif field == "bank_account":
        value = re.sub(r"[\s-]", "", value)
        if not BANK_RE.match(value):
            problem = "银行账号须为10–30位数字 (a bank account is 10–30 digits)"
    elif field in NUMERIC:
        number, problem = v.non_negative(value)
        value = number
    if problem:
        raise BrokerCRMError(f"{field}: {problem}")
    return value


def _current(db, client_id, field):
    if field == "bank_account":
        row = db.execute("SELECT account FROM client_bank_accounts WHERE client_id = ?", [client_id]).fetchone()
    else:
        row = db.execute(f"SELECT [{field}] FROM clients WHERE client_id = ?", [client_id]).fetchone()
    return row[0] if row else None


def _apply(db, client_id, field, value, actor, source, at):
    """Write the value and its trail; bank accounts go to their own table, masked in client_changes."""
    old = _current(db, client_id, field)
    if field == "bank_account":
        db.execute(
            "INSERT INTO client_bank_accounts (client_id, account, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(client_id) DO UPDATE SET account = excluded.account, updated_at = excluded.updated_at",
            [client_id, value, at],
        )
        trail = [(field, mask_account(old), mask_account(value))]
    else:
        db.execute(f"UPDATE clients SET [{field}] = ?, updated_at = ? WHERE client_id = ?", [value, at, client_id])
        trail = [(field, old, value)]
        if field == "id_number" and rows.client(db, client_id, "kind")["kind"] == "individual":
            birth = v.id_birth_date(value)
            old_birth = _current(db, client_id, "birth_date")
            if birth != old_birth:
                db.execute("UPDATE clients SET birth_date = ? WHERE client_id = ?", [birth, client_id])
                trail.append(("birth_date", old_birth, birth))
    db.conn.executemany(
        "INSERT INTO client_changes (client_id, field, old_value, new_value, source, operator, changed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(client_id, f, None if o is None else str(o), None if n is None else str(n), source, actor.id, at)
         for f, o, n in trail],
    )
    return old


def request(db, actor, client_id, field, value, *, note=None):
    """Change one field: ordinary at once; important as a pending change. Returns a dict with ``state``."""
    if field not in IMPORTANT and field not in ORDINARY:
        raise BrokerCRMError(
            f"不能修改字段 {field!r} (cannot change this field); 重要资料 important: {', '.join(IMPORTANT)};"
            f" 普通资料 ordinary: {', '.join(ORDINARY)}"
        )
    client = rows.client(db, client_id, "kind, branch_id")
    kind, branch = client["kind"], client["branch_id"]
    authz.require(actor, "client.change.request", branch=branch)
    value = _clean(field, value, kind)
    old = _current(db, client_id, field)
    if old is not None and str(old) == str(value):
        raise BrokerCRMError(f"{field}: 新值与现值相同 (the new value equals the current one)")
    at = iso(now())
    with db.atomic():
        if field in ORDINARY:
            _apply(db, client_id, field, value, actor, "ordinary change 普通资料变更", at)
            audit.record(db, "client.change", actor=actor, target=client_id,
                         detail={"field": field, "old": old, "new": value, "review": "not required 普通资料"})
            return {"client_id": client_id, "field": field, "state": "applied", "old": old, "new": value}
        if db.execute("SELECT 1 FROM data_changes WHERE client_id = ? AND field = ? AND state = 'pending'",
                      [client_id, field]).fetchone():
            raise Conflict(
                f"客户 {client_id} 的 {field} 已有待复核的修改, 请先复核或驳回 (a change of this field is already pending)"
            )
        change_id = db.execute(
            "INSERT INTO data_changes (client_id, field, old_value, new_value, state, maker, requested_at, reason)"
            " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
            [client_id, field, old, value, actor.id, at, note],
        ).lastrowid
        audit.record(db, "client.change.request", actor=actor, target=client_id,
                     detail={"change": change_id, "field": field, "old": mask_field(field, old),
                             "new": mask_field(field, value)})
    return get(db, change_id)


def get(db, change_id, *, reveal=False):
    change = rows.one(db, "SELECT * FROM data_changes WHERE id = ?", [change_id],
                      missing=f"资料修改 #{change_id} 不存在 (no such change)")
    if not reveal:
        change["old_value"] = mask_field(change["field"], change["old_value"])
        change["new_value"] = mask_field(change["field"], change["new_value"])
    return change


def _decide(db, actor, change_id, state, reason=None):
    change = get(db, change_id, reveal=True)
    authz.require(actor, "client.change.review", branch=rows.client(db, change["client_id"])["branch_id"])
    if change["state"] != "pending":
        raise Conflict(f"资料修改 #{change_id} 已{change['state']} (already decided: {change['state']})")
    if actor.id == change["maker"]:
        raise Forbidden(
            f"{actor.id} 录入了修改 #{change_id}, 不能复核自己的修改 (maker–checker: another operator must review it)"
        )
    at = iso(now())
    with db.atomic():
        if state == "approved":
            current = _current(db, change["client_id"], change["field"])
            if (current is None) != (change["old_value"] is None) or (
                    current is not None and str(current) != str(change["old_value"])):
                raise Conflict(
                    f"资料修改 #{change_id}: 录入后该字段已被改动, 请驳回并重新录入"
                    " (the field changed since the request; reject it and enter it again)"
                )
            _apply(db, change["client_id"], change["field"], change["new_value"], actor,
                   f"reviewed change #{change_id} (maker {change['maker']})", at)
        db.execute("UPDATE data_changes SET state = ?, checker = ?, decided_at = ?, reason = COALESCE(?, reason)"
                   " WHERE id = ?", [state, actor.id, at, reason, change_id])
        audit.record(db, f"client.change.{'approve' if state == 'approved' else 'reject'}", actor=actor,
                     target=change["client_id"],
                     detail={"change": change_id, "field": change["field"], "maker": change["maker"],
                             "old": mask_field(change["field"], change["old_value"]),
                             "new": mask_field(change["field"], change["new_value"])})
    return get(db, change_id)


def approve(db, actor, change_id):
    return _decide(db, actor, change_id, "approved")


def reject(db, actor, change_id, *, reason):
    if not reason or not reason.strip():
        raise BrokerCRMError("驳回须说明理由 --reason (a reason is required)")
    return _decide(db, actor, change_id, "rejected", reason)


def list_changes(db, actor, *, state="pending", client_id=None, branch=None, reveal=False):
    """Changes a reviewer sees: their branch's (a branch operator), unmasked only as an audited reveal."""
    act = "client.reveal" if reveal else "client.read"
    if client_id is not None:
        authz.require(actor, act, branch=rows.client(db, client_id)["branch_id"])
    branch = authz.branch_filter(actor, act, branch)
    if reveal:
        with db.atomic():
            audit.record(db, "client.change.reveal", actor=actor, target=client_id or branch or "*",
                         detail={"state": state})
    return changes(db, state=state, client_id=client_id, branch=branch, reveal=reveal)


def changes(db, *, state="pending", client_id=None, branch=None, reveal=False):
    """The changes themselves, for callers that have already authorised the read (the client view)."""
    where, params = where_equal({"d.state": state, "d.client_id": client_id, "c.branch_id": branch})
    ids = [r[0] for r in db.execute(
        "SELECT d.id FROM data_changes d JOIN clients c ON c.client_id = d.client_id" + where + " ORDER BY d.id",
        params)]
    return [get(db, i, reveal=reveal) for i in ids]
