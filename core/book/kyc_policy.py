"""The KYC policy (``policies/kyc.toml``): ID expiry notice, verification sampling, the
data-change flow's settings and the plausibility rules; validated like every policy file.

It lives in ``book`` because the data-change flow (``book.data_changes``) reads it; the
``kyc`` feature registers the validator and uses the rest.
"""

import tomllib
from functools import lru_cache

from ..kernel import client_fields, rules
from ..kernel.checks import array, number, table, text
from ..kernel.errors import PolicyError
from ..kernel.timeutil import today
from ..policy import sets as policy_lib

NAME = "kyc"
LEVELS = ("system", "in_person", "callback")
LEVEL_LABELS = {"system": "系统核验", "in_person": "当面确认", "callback": "回访确认"}

# Seed 004's 重要资料 and 普通资料 among the fields a change request may name.
IMPORTANT_FIELDS = {
    "name": "姓名/名称", "id_number": "证件号码", "id_type": "证件类型", "id_valid_until": "证件有效期",
    "phone": "手机号", "bank_account": "存管银行账户", "legal_representative": "法定代表人",
}
ORDINARY_FIELDS = {
    "occupation": "职业", "education": "学历", "annual_income": "年收入", "investment_years": "投资年限",
    "business_scope": "经营范围", "net_assets": "净资产", "gender": "性别", "address": "联系地址",
    "income_source": "收入来源", "debts": "负债情况", "integrity_record": "诚信记录", "tax_residence": "税收居民身份",
    "beneficial_owners": "受益所有人", "actual_controller": "实际控制人",
}


def _texts(doc, key, where, *, nonempty=False):
    values = array(doc, key, where, nonempty=nonempty) if key in doc or nonempty else []
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(f"{where}.{key}[{i}]: 须为非空文本 (must be non-empty text)")
    return values


def plausibility_fields(doc):
    """The names a plausibility rule may use: the client's, plus occupation_group and
    investing_since_age (SQL over the client row ``c``)."""
    fields = dict(client_fields.client_fields(today()))
    groups = doc.get("plausibility", {}).get("occupation_groups", {})
    cases = []
    params = []
    for group, words in groups.items():
        tests = " OR ".join("instr(c.occupation, ?) > 0" for _ in words)
        cases.append(f"WHEN {tests} THEN ?")
        params += [*words, group]
    # Inlined as literals (rules bind their own parameters): words and names are head office's.
    sql = "(CASE " + " ".join(cases) + " END)" if cases else "NULL"
    for p in params:
        sql = sql.replace("?", "'" + str(p).replace("'", "''") + "'", 1)
    fields["occupation_group"] = sql
    fields["investing_since_age"] = f"({client_fields.age_sql(today())} - c.investment_years)"
    for name in ("gender", "income_source", "debts", "integrity_record", "tax_residence", "id_type"):
        fields[name] = f"c.{name}"
    return fields


def validate(doc):
    ids = table(doc, "id_documents", "")
    number(ids, "expiry_notice_days", "id_documents")
    number(ids, "renew_within_days", "id_documents")
    done = table(doc, "completeness", "")
    for kind in ("individual", "institution"):
        for i, name in enumerate(_texts(done, kind, "completeness", nonempty=True)):
            if name not in IMPORTANT_FIELDS and name not in ORDINARY_FIELDS or name == "bank_account":
                raise PolicyError(f"completeness.{kind}[{i}]: 未知字段 {name!r} (not a client field)")
    ver = table(doc, "verification", "")
    for i, level in enumerate(array(ver, "levels", "verification")):
        if level not in LEVELS:
            raise PolicyError(f"verification.levels[{i}]: 须为 {'/'.join(LEVELS)} (unknown level {level!r})")
    rate = number(ver, "callback_sample_rate", "verification")
    if rate > 1:
        raise PolicyError(f"verification.callback_sample_rate: 须在 0 与 1 之间 (a share, 0–1), got {rate!r}")
    number(ver, "callback_sample_minimum", "verification")
    number(ver, "callback_within_days", "verification")
    ch = table(doc, "changes", "")
    for i, name in enumerate(_texts(ch, "review_exempt", "changes")):
        if name not in ORDINARY_FIELDS:
            raise PolicyError(f"changes.review_exempt[{i}]: {name!r} 不是普通资料字段, 重要资料不能免复核"
                              f" (only ordinary fields may be exempt: {', '.join(ORDINARY_FIELDS)})")
    _texts(ch, "identity_checks", "changes", nonempty=True)
    for i, name in enumerate(_texts(ch, "csdc_fields", "changes")):
        if name not in IMPORTANT_FIELDS and name not in ORDINARY_FIELDS:
            raise PolicyError(f"changes.csdc_fields[{i}]: 未知字段 {name!r} (unknown field)")
    for key in ("require_identity_check", "require_form_ref"):
        if not isinstance(ch.get(key), bool):
            raise PolicyError(f"changes.{key}: 须为 true 或 false (must be a boolean)")
    plaus = doc.get("plausibility", {})
    if not isinstance(plaus, dict):
        raise PolicyError("plausibility: 须为表 (must be a table)")
    groups = plaus.get("occupation_groups", {})
    if not isinstance(groups, dict):
        raise PolicyError("plausibility.occupation_groups: 须为表 (must be a table)")
    for group, words in groups.items():
        _texts(groups, group, "plausibility.occupation_groups", nonempty=True)
    fields = plausibility_fields(doc)
    seen = set()
    for i, rule in enumerate(plaus.get("rules", [])):
        where = f"plausibility.rules[{i}]"
        rid = text(rule, "id", where)
        if rid in seen:
            raise PolicyError(f"{where}.id: 规则 {rid!r} 重复 (duplicate rule)")
        seen.add(rid)
        text(rule, "reason", where)
        text(rule, "source", where)
        rules.compile_condition(rule.get("when"), fields, f"{where}.when")


@lru_cache(maxsize=8)
def _parse(body):
    return tomllib.loads(body)


def load(db):
    """(version or None, the KYC policy in force); the shipped default while a set has none."""
    row = db.execute(
        "SELECT version, body FROM policy_files WHERE name = ? AND version = (SELECT max(version) FROM policy_versions)",
        [NAME]).fetchone()
    if row is not None:
        return row[0], _parse(row[1])
    return None, _parse((policy_lib.default_policy_dir() / "kyc.toml").read_text(encoding="utf-8"))
