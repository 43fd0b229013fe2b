"""The KYC facts beyond identity and contact (办法 Art. 6; issue 11 item 7): their columns,
Chinese names, and the checks both the client import and the data-change flow apply.

Each check returns (normalised value, error text or None); the error never echoes the
value (an address or an ID number is personal data).
"""

from . import validate as v

# column -> Chinese header (the import's alias) and label.
COLUMNS = {
    "gender": "性别", "address": "联系地址", "income_source": "收入来源", "debts": "负债情况",
    "integrity_record": "诚信记录", "tax_residence": "税收居民身份", "id_type": "证件类型",
    "id_valid_until": "证件有效期", "beneficial_owners": "受益所有人", "actual_controller": "实际控制人",
}
# Further spellings exports use.
ALIASES = {
    "地址": "address", "住址": "address", "通讯地址": "address", "负债": "debts", "诚信状况": "integrity_record",
    "不良诚信记录": "integrity_record", "税收居民": "tax_residence", "证件有效期至": "id_valid_until",
    "证件到期日": "id_valid_until", "有效期": "id_valid_until", "受益人": "beneficial_owners",
    "控股股东或实际控制人": "actual_controller",
}
# Personal data among them: masked in `clients show` and never published unmasked.
PERSONAL = ("address", "beneficial_owners", "actual_controller", "debts", "integrity_record")

GENDERS = {"男": "男", "女": "女", "m": "男", "male": "男", "f": "女", "female": "女", "1": "男", "2": "女"}
# The CRS self-certification's three answers (《非居民金融账户涉税信息尽职调查管理办法》, 2017).
TAX_RESIDENCE = {
    "中国税收居民": "中国税收居民", "仅为中国税收居民": "中国税收居民", "cn": "中国税收居民",
    "非居民": "非居民", "仅为非居民": "非居民", "non-resident": "非居民",
    "既是中国税收居民又是其他国家(地区)税收居民": "既是中国税收居民又是其他国家(地区)税收居民",
    "既是中国税收居民又是其他国家（地区）税收居民": "既是中国税收居民又是其他国家(地区)税收居民",
    "双重税收居民": "既是中国税收居民又是其他国家(地区)税收居民", "both": "既是中国税收居民又是其他国家(地区)税收居民",
}
LONG_TERM = "长期"  # a resident ID issued at 46 or older never expires
CHECKED = ("gender", "tax_residence", "id_type", "id_valid_until")


def default_id_type(kind, stored=None):
    """The ID type of a client: the stored one, else what rows from before ID types held."""
    return stored or (v.CREDIT_CODE if kind == "institution" else v.RESIDENT_ID)


def check(field, value, kind):
    """(normalised, error) for one of ``CHECKED``; other fields are free text."""
    text = str(value).strip()
    if field == "gender":
        found = GENDERS.get(text.lower())
        return found, None if found else "性别须为 男 或 女 (gender must be 男 or 女)"
    if field == "tax_residence":
        found = TAX_RESIDENCE.get(text) or TAX_RESIDENCE.get(text.lower())
        return found, None if found else ("税收居民身份须为 中国税收居民 / 非居民 / 既是中国税收居民又是其他国家(地区)税收居民"
                                          " (one of the three CRS answers)")
    if field == "id_type":
        found = v.id_type(text)
        if found is None:
            return None, f"未知证件类型 (unknown ID type); 可用 (known): {', '.join(v.ID_TYPES)}"
        if kind == "institution" and found != v.CREDIT_CODE:
            return None, f"机构客户的证件类型须为{v.CREDIT_CODE} (an institution is identified by its credit code)"
        if kind == "individual" and found == v.CREDIT_CODE:
            return None, "个人客户不能使用统一社会信用代码 (a person has no credit code)"
        return found, None
    if field == "id_valid_until":
        if text in (LONG_TERM, "长期有效", "long-term", "永久"):
            return LONG_TERM, None
        day = v.parse_date(text)
        return (day.isoformat(), None) if day else (None, "证件有效期须为日期 YYYY-MM-DD 或 长期 (a date or 长期)")
    return text, None
