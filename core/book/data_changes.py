"""Changes to client data, reviewed (seed 004, 客户账户普通/重要资料修改流程).

Every change — important (重要资料: name, ID type/number/validity, phone, settlement
bank account, an institution's legal representative) and ordinary (普通资料:
occupation, income, the KYC facts, …) — becomes a *pending* change that another
operator must approve (柜台业务岗 enters, 复核岗 reviews: seed 004 §6.1.3 同机复核),
unless the KYC policy exempts the (ordinary) field. The request records how the
client's identity was checked (§6.1.1) and the signed form's number (§4); a change
to a field the policy names as 中国结算 data is flagged and listed (``csdc_pending``)
until an operator marks it synchronised (an audited act).

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
from ..kernel import kyc_fields
from . import kyc_policy

IMPORTANT = kyc_policy.IMPORTANT_FIELDS
ORDINARY = kyc_policy.ORDINARY_FIELDS
NUMERIC = {"annual_income", "investment_years", "net_assets"}
BANK_RE = re.compile(r"^\d{10,30}$")


def effective_id_type(db, client_id, kind):
    """The ID type a new ID number is checked against: a pending type change's, else the stored one."""
    pending = db.execute("SELECT new_value FROM data_changes WHERE client_id = ? AND field = 'id_type'"
                         " AND state = 'pending' ORDER BY id DESC LIMIT 1", [client_id]).fetchone()
    if pending:
        return pending[0]
    stored = db.execute("SELECT id_type FROM clients WHERE client_id = ?", [client_id]).fetchone()
    return kyc_fields.default_id_type(kind, stored[0] if stored else None)


def _clean(field, value, kind, id_type=None):
    value = str(value).strip()
    if not value:
        raise BrokerCRMError(f"{field}: 新值不能为空 (the new value is empty)")
    problem = None
    if field in kyc_fields.CHECKED:
        value, problem = kyc_fields.check(field, value, kind)
    elif field == "id_number":
        value = value.upper()
        problem = v.id_document(id_type or kyc_fields.default_id_type(kind), value)
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
        held = rows.client(db, client_id, "kind, id_type")
        if field == "id_number" and kyc_fields.default_id_type(held["kind"], held["id_type"]) in v.BIRTH_IN_NUMBER:
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


def _step(policy, identity_check, form_ref, what):
    """The identity check and form reference the policy requires; (check, ref) or an error."""
    rules = policy["changes"]
    identity_check = (identity_check or "").strip() or None
    form_ref = (form_ref or "").strip() or None
    if identity_check is None and rules["require_identity_check"]:
        raise BrokerCRMError(
            f"{what}: 须记录客户身份核验方式 --identity-check (seed 004 §6.1.1 客户身份识别), 可用: "
            f"{', '.join(rules['identity_checks'])} (how the client's identity was checked is required)")
    if identity_check is not None and identity_check not in rules["identity_checks"]:
        raise BrokerCRMError(
            f"{what}: 身份核验方式 {identity_check!r} 不在策略列表中, 可用: {', '.join(rules['identity_checks'])}"
            " (unknown identity-check method)")
    if form_ref is None and rules["require_form_ref"]:
        raise BrokerCRMError(f"{what}: 须填写变更申请表编号 --form-ref (seed 004 §4 申请表; the signed form's number"
                             " is required)")
    return identity_check, form_ref


def request(db, actor, client_id, field, value, *, note=None, identity_check=None, form_ref=None):
    """Request a change of one field; returns the change (``state`` pending, or approved when exempt).

    Seed 004: the counter enters it with the identity check and the form's number; a
    second operator reviews it, unless the KYC policy exempts the (ordinary) field.
    """
    if field not in IMPORTANT and field not in ORDINARY:
        raise BrokerCRMError(
            f"不能修改字段 {field!r} (cannot change this field); 重要资料 important: {', '.join(IMPORTANT)};"
            f" 普通资料 ordinary: {', '.join(ORDINARY)}"
        )
    client = rows.client(db, client_id, "kind, branch_id")
    kind, branch = client["kind"], client["branch_id"]
    authz.require(actor, "client.change.request", branch=branch)
    version, policy = kyc_policy.load(db)
    identity_check, form_ref = _step(policy, identity_check, form_ref, f"客户 {client_id} {field}")
    id_type = effective_id_type(db, client_id, kind) if field == "id_number" else None
    value = _clean(field, value, kind, id_type)
    old = _current(db, client_id, field)
    if old is not None and str(old) == str(value):
        raise BrokerCRMError(f"{field}: 新值与现值相同 (the new value equals the current one)")
    exempt = field in ORDINARY and field in policy["changes"]["review_exempt"]
    csdc = int(field in policy["changes"]["csdc_fields"])
    at = iso(now())
    with db.atomic():
        if db.execute("SELECT 1 FROM data_changes WHERE client_id = ? AND field = ? AND state = 'pending'",
                      [client_id, field]).fetchone():
            raise Conflict(
                f"客户 {client_id} 的 {field} 已有待复核的修改, 请先复核或驳回 (a change of this field is already pending)"
            )
        if exempt:
            _apply(db, client_id, field, value, actor, "ordinary change exempt from review 普通资料 (免复核)", at)
        change_id = db.execute(
            "INSERT INTO data_changes (client_id, field, old_value, new_value, state, maker, requested_at, reason,"
            " identity_check, form_ref, csdc_required, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [client_id, field, old, value, "approved" if exempt else "pending", actor.id, at, note,
             identity_check, form_ref, csdc, at if exempt else None],
        ).lastrowid
        audit.record(db, "client.change" if exempt else "client.change.request", actor=actor, target=client_id,
                     detail={"change": change_id, "field": field, "old": mask_field(field, old),
                             "new": mask_field(field, value), "identity_check": identity_check,
                             "form_ref": form_ref, "csdc": bool(csdc), "policy_version": version,
                             "review": "exempt by policy 免复核" if exempt else "required"})
    return get(db, change_id)


def get(db, change_id, *, reveal=False):
    change = rows.one(db, "SELECT * FROM data_changes WHERE id = ?", [change_id],
                      missing=f"资料修改 #{change_id} 不存在 (no such change)")
    if not reveal:
        change["old_value"] = mask_field(change["field"], change["old_value"])
        change["new_value"] = mask_field(change["field"], change["new_value"])
    return change


def _decide(db, actor, change_id, state, reason=None, identity_check=None, form_ref=None):
    change = get(db, change_id, reveal=True)
    authz.require(actor, "client.change.review", branch=rows.client(db, change["client_id"])["branch_id"])
    if change["state"] != "pending":
        raise Conflict(f"资料修改 #{change_id} 已{change['state']} (already decided: {change['state']})")
    if actor.id == change["maker"]:
        raise Forbidden(
            f"{actor.id} 录入了修改 #{change_id}, 不能复核自己的修改 (maker–checker: another operator must review it)"
        )
    _, policy = kyc_policy.load(db)
    if state == "approved":
        # A change that arrived without the identity check or the form (a re-imported export)
        # gets them from the reviewer, who then has seen the client's documents.
        identity_check, form_ref = _step(policy, change["identity_check"] or identity_check,
                                         change["form_ref"] or form_ref, f"资料修改 #{change_id}")
    else:
        identity_check, form_ref = change["identity_check"], change["form_ref"]
    csdc = int(change["field"] in policy["changes"]["csdc_fields"])
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
        db.execute("UPDATE data_changes SET state = ?, checker = ?, decided_at = ?, reason = COALESCE(?, reason),"
                   " identity_check = ?, form_ref = ?, csdc_required = ? WHERE id = ?",
                   [state, actor.id, at, reason, identity_check, form_ref, csdc, change_id])
        audit.record(db, f"client.change.{'approve' if state == 'approved' else 'reject'}", actor=actor,
                     target=change["client_id"],
                     detail={"change": change_id, "field": change["field"], "maker": change["maker"],
                             "old": mask_field(change["field"], change["old_value"]),
                             "new": mask_field(change["field"], change["new_value"])})
    return get(db, change_id)


def approve(db, actor, change_id, *, identity_check=None, form_ref=None):
    return _decide(db, actor, change_id, "approved", identity_check=identity_check, form_ref=form_ref)


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


def csdc_pending(db, actor, *, branch=None, include_synced=False):
    """Approved changes of 中国结算 data not yet marked synchronised (seed 004 §2–§6), oldest first.

    Values are masked: the report says what to synchronise, the client's record holds the value.
    """
    branch = authz.branch_filter(actor, "client.read", branch)
    where, params = where_equal({"c.branch_id": branch})
    where = (where + " AND" if where else " WHERE") + " d.csdc_required = 1 AND d.state = 'approved'"
    if not include_synced:
        where += " AND d.csdc_synced_at IS NULL"
    ids = [r[0] for r in db.execute(
        "SELECT d.id FROM data_changes d JOIN clients c ON c.client_id = d.client_id" + where + " ORDER BY d.id",
        params)]
    return [get(db, i) for i in ids]


def mark_csdc_synced(db, actor, change_id, *, ref=None, note=None):
    """Record that an approved change was synchronised with 中国结算 (an audited act)."""
    change = get(db, change_id)
    authz.require(actor, "client.change.csdc", branch=rows.client(db, change["client_id"])["branch_id"])
    if not change["csdc_required"]:
        raise Conflict(f"资料修改 #{change_id} ({change['field']}) 无需同步中国结算 (not a 中国结算 field under the policy)")
    if change["state"] != "approved":
        raise Conflict(f"资料修改 #{change_id} 尚未复核通过 ({change['state']}), 不能标记同步 (only an approved change"
                       " is synchronised)")
    if change["csdc_synced_at"]:
        raise Conflict(f"资料修改 #{change_id} 已于 {change['csdc_synced_at']} 由 {change['csdc_synced_by']} 标记同步"
                       " (already marked synchronised)")
    at = iso(now())
    with db.atomic():
        db.execute("UPDATE data_changes SET csdc_synced_at = ?, csdc_synced_by = ?, csdc_ref = ? WHERE id = ?",
                   [at, actor.id, (ref or "").strip() or None, change_id])
        audit.record(db, "client.change.csdc", actor=actor, target=change["client_id"],
                     detail={"change": change_id, "field": change["field"], "ref": ref, "note": note})
    return get(db, change_id)
