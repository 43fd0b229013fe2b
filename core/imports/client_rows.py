"""One client row of the trading system's export: its fields and the full checks.

The definitions both halves of the client import share: the columns
(``FIELDS``, ``ALIASES``, ``KINDS``), and ``check_row``, which normalises one
row or says exactly what is wrong with it. ``clients_fast`` (reading and the
fast path) and ``clients`` (the writer) both import from here, so neither
imports the other.
"""

from functools import lru_cache
from operator import mul

from ..kernel import kyc_fields, validate

NUMBER_FIELDS = (
    "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "investment_years", "net_assets",
)
TEXT_FIELDS = ("name", "occupation", "education", "legal_representative", "business_scope")
# Stored columns besides client_id, in table order (extra is the JSON of unknown columns).
FIELDS = (
    "kind", "name", "id_number", "phone", "birth_date", "branch_id", "opened_at",
    "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "occupation", "education",
    "investment_years", "legal_representative", "business_scope", "net_assets",
    *kyc_fields.COLUMNS,  # issue 11 item 7: gender … actual_controller (kernel.kyc_fields)
    "extra",
)
COLUMNS = ("client_id",) + FIELDS
KNOWN = frozenset(("client_id",) + FIELDS) - {"extra"}
# Seed 004's 重要资料 among the imported fields: a change to one of them on re-import becomes a
# reviewed change (data_changes) instead of being applied.
IMPORTANT_FIELDS = ("name", "id_number", "phone", "legal_representative", "id_type", "id_valid_until")
REQUIRED = ("client_id", "kind", "name", "id_number", "branch_id")

ALIASES = {
    "客户号": "client_id", "客户编号": "client_id", "客户类型": "kind", "姓名": "name", "客户名称": "name",
    "身份证号": "id_number", "证件号码": "id_number", "统一社会信用代码": "id_number",
    "手机号": "phone", "手机号码": "phone", "联系电话": "phone", "出生日期": "birth_date",
    "营业部": "branch_id", "营业部代码": "branch_id", "开户日期": "opened_at", "总资产": "total_assets",
    "资产周转率": "turnover_rate", "平均持仓天数": "avg_holding_days", "年收入": "annual_income",
    "职业": "occupation", "学历": "education", "投资年限": "investment_years",
    "法定代表人": "legal_representative", "经营范围": "business_scope", "净资产": "net_assets",
    **{label: column for column, label in kyc_fields.COLUMNS.items()}, **kyc_fields.ALIASES,
    # Not a stored field of the row: it travels among the extra columns and is taken out and
    # checked by brokercrm.staff.managers (the account manager must be an operator of the branch).
    "客户经理": "account_manager", "客户经理编号": "account_manager", "客户经理代码": "account_manager",
}
KINDS = {
    "individual": "individual", "个人": "individual", "person": "individual",
    "institution": "institution", "机构": "institution", "organisation": "institution",
    "organization": "institution",
}

# An institution may give a landline: area code, then 7–8 digits.
_LANDLINE_DIGITS = frozenset("0123456789-")
# GB 11643 check, inlined for the hot path; validate.resident_id explains failures.
_ID_WEIGHTS = validate.ID_WEIGHTS
_ID_CHECK = validate.ID_CHECK


@lru_cache(maxsize=1 << 16)
def _date(text):
    """ISO date for a real calendar date, else None (cached: exports repeat dates a lot)."""
    day = validate.parse_date(text)
    return day.isoformat() if day else None


def _resident_id(value):
    """Error text for a bad resident ID, never echoing its digits (they are personal data)."""
    if (len(value) == 18 and value.isascii() and value[:17].isdigit() and value[17] in "0123456789X" and _date(value[6:14])
            and _ID_CHECK[sum(map(mul, map(int, value[:17]), _ID_WEIGHTS)) % 11] == value[17]):
        return None
    error = validate.resident_id(value)
    if error and "出生日期" in error:
        return "身份证号中的出生日期不是有效日期 (embedded birth date is not a real date)"
    return error


def _phone(value, kind):
    if validate.mobile(value) is None:
        return validate.normalise_mobile(value), None
    digits = value.replace(" ", "")
    if kind == "institution" and digits[:1] == "0" and set(digits) <= _LANDLINE_DIGITS \
            and 10 <= len(digits.replace("-", "")) <= 12:
        return digits, None
    if kind == "institution":
        return None, "须为手机号或区号开头的固定电话 (must be a mobile or a landline with area code)"
    return None, validate.mobile(value)


@lru_cache(maxsize=256)
def _extra_columns(keys):
    """The non-standard columns of a row's header (cached: a CSV has one header)."""
    return tuple(k for k in keys if k and k not in KNOWN)


class Branches(frozenset):
    """The branch codes an import may write, and why each other known branch is refused."""

    def __new__(cls, allowed, refusals=None):
        obj = super().__new__(cls, allowed)
        obj.refusals = dict(refusals or {})
        return obj


def check_row(row, branches, today_iso):
    """Normalise one row; returns (record, problems) with problems as [(column, reason)].

    The full rules, with their messages. A large import calls this only for
    the rows ``clients_fast.FastChecker`` does not accept outright.
    """
    problems = []
    get = row.get
    client_id = get("client_id", "")
    name = get("name", "")
    id_number = get("id_number", "").upper()
    branch = get("branch_id", "").upper()
    raw_kind = get("kind", "")
    if not (client_id and name and id_number and branch and raw_kind):
        for column in REQUIRED:
            if not get(column):
                problems.append((column, "必填 (required)"))
    kind = None
    if raw_kind:
        kind = KINDS.get(raw_kind) or KINDS.get(raw_kind.lower())
        if kind is None:
            problems.append(("kind", "须为 individual/个人 或 institution/机构 (unknown client kind)"))

    raw_birth = get("birth_date", "")
    birth = None
    if raw_birth:
        birth = _date(raw_birth)
        if birth is None:
            problems.append(("birth_date", "不是有效日期 (not a real date, use YYYY-MM-DD)"))
        elif birth > today_iso:
            problems.append(("birth_date", "晚于今天 (in the future)"))
    raw_type = get("id_type", "")
    id_type = None
    if raw_type:
        id_type, error = kyc_fields.check("id_type", raw_type, kind)
        if error:
            problems.append(("id_type", error))
    if id_number:
        excel = validate.excel_scientific(id_number)
        if excel:
            problems.append(("id_number", excel))
        elif id_type and id_type not in (validate.RESIDENT_ID, validate.CREDIT_CODE):
            # A non-mainland document (issue 11): its own check; its number may carry the birth date.
            error = validate.id_document(id_type, id_number)
            if error:
                problems.append(("id_number", error))
            elif id_type in validate.BIRTH_IN_NUMBER:
                embedded = _date(id_number[6:14])
                if not raw_birth:
                    birth = embedded
                elif birth and birth != embedded:
                    problems.append(("birth_date", "与证件号码中的出生日期不一致 (does not match the ID number)"))
        elif kind == "individual":
            error = _resident_id(id_number)
            if error:
                problems.append(("id_number", error))
            else:
                embedded = _date(id_number[6:14])
                if not raw_birth:
                    birth = embedded
                elif birth and birth != embedded:
                    problems.append(("birth_date", "与身份证号中的出生日期不一致 (does not match the ID number)"))
        elif kind == "institution":
            error = validate.credit_code(id_number)
            if error:
                problems.append(("id_number", error))

    phone = get("phone", "")
    if phone:
        if not (len(phone) == 11 and phone.isascii() and phone.isdigit() and phone[0] == "1"
                and phone[1] in "3456789"):
            phone, error = _phone(phone, kind)
            if error:
                problems.append(("phone", validate.excel_scientific(get("phone")) or error))
    elif kind == "individual":
        problems.append(("phone", "个人客户必填 (required for individuals)"))

    if branch and branch not in branches:
        problems.append(("branch_id", getattr(branches, "refusals", {}).get(branch)
                         or f"营业部 {branch} 不存在 (no such branch)"))

    opened = get("opened_at", "")
    if opened:
        opened = _date(opened)
        if opened is None:
            problems.append(("opened_at", f"{get('opened_at')!r} 不是有效日期 (not a real date)"))
        elif opened > today_iso:
            problems.append(("opened_at", f"{opened} 晚于今天 (in the future)"))

    record = {
        "client_id": client_id, "kind": kind, "name": name or None, "id_number": id_number or None,
        "phone": phone or None, "birth_date": birth or None, "branch_id": branch or None,
        "opened_at": opened or None,
    }
    for column in TEXT_FIELDS[1:]:
        record[column] = get(column) or None
    for column in NUMBER_FIELDS:
        value = get(column)
        number = None
        if value:
            number, error = validate.non_negative(value)  # strict: ASCII digits, one point (issue 13)
            if error:
                problems.append((column, error))
        record[column] = number
    for column in kyc_fields.COLUMNS:
        value = get(column, "")
        value = value.strip() if isinstance(value, str) else value
        if column == "id_type":
            record[column] = id_type
        elif value and column in kyc_fields.CHECKED:
            record[column], error = kyc_fields.check(column, value, kind)
            if error:
                problems.append((column, error))
        else:
            record[column] = value or None
    extra = None
    columns = _extra_columns(tuple(row))
    if columns:
        extra = {k: row[k] for k in columns if row[k] != ""} or None
    record["extra"] = extra
    return record, problems
