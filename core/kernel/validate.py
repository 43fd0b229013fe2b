"""Field validators for KYC data. Each returns an error text (Chinese, with English) or None."""

import datetime as dt
import re

# GB 11643-1999: weights 2^(17-i) mod 11, check characters for sum mod 11.
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"

# GB 32100-2015: 18 characters from this alphabet (no I, O, Z, S, V).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
USCC_RE = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}$")

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)  # \d is any Unicode digit otherwise
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def id_check_char(first17):
    return ID_CHECK[sum(int(ch) * w for ch, w in zip(first17, ID_WEIGHTS)) % 11]


def resident_id(value):
    """18-digit resident ID number (GB 11643): shape, embedded birth date, check digit."""
    if len(value) != 18 or not (value[:17].isascii() and value[:17].isdigit()) or value[17] not in "0123456789Xx":
        return "身份证号须为18位, 前17位为数字 (must be 18 characters, 17 digits + check)"
    if parse_date(f"{value[6:10]}-{value[10:12]}-{value[12:14]}") is None:
        return f"身份证号中的出生日期 {value[6:14]} 无效 (embedded birth date is not a real date)"
    expected = id_check_char(value[:17])
    if value[17].upper() != expected:
        return f"身份证号校验位错误, 应为 {expected} (check digit should be {expected})"
    return None


def id_birth_date(value):
    return f"{value[6:10]}-{value[10:12]}-{value[12:14]}"


def uscc_check_char(first17):
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def credit_code(value):
    """Unified social credit code (GB 32100): alphabet, shape and check character."""
    value = value.upper()
    if not USCC_RE.match(value):
        return "统一社会信用代码须为18位, 不含 I/O/Z/S/V (must be 18 characters of the GB 32100 alphabet)"
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        return f"统一社会信用代码校验位错误, 应为 {expected} (check character should be {expected})"
    return None


def mobile(value):
    """Mainland mobile number: 11 digits starting 13–19; a +86/86 prefix is accepted."""
    digits = re.sub(r"[\s-]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not MOBILE_RE.match(digits):
        return "手机号须为11位、以13–19开头 (must be an 11-digit mainland mobile number)"
    return None


def normalise_mobile(value):
    digits = re.sub(r"[\s-]", "", value)
    return digits[-11:]


def parse_date(value):
    """A real calendar date from YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD; None if it is not one."""
    text = str(value).strip().replace("/", "-").replace(".", "-")
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    elif re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        y, m, d = text.split("-")
        text = f"{y}-{int(m):02d}-{int(d):02d}"
    if not DATE_RE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def parse_datetime(value):
    """A date or a date-time (ISO, or 'YYYY-MM-DD HH:MM[:SS]'); None if it is not one."""
    text = str(value).strip()
    day = parse_date(text)
    if day is not None:
        return dt.datetime.combine(day, dt.time())
    try:
        return dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return None


# Strict numbers (issue 13): ASCII digits, at most one decimal point, thousands grouped by
# commas in threes; no "_" (Python's float() takes 1_000), no exponent, no other scripts' digits
# (float() takes Arabic-Indic and full-width digits), no sign but a leading minus.
_PLAIN_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_GROUPED_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)
# Any exponent is refused in a number; Excel's own display of a long number is one digit, maybe
# decimals, "E+" and the exponent (1.40105E+17) -- a credit code such as 91140105903670E470 is not.
EXPONENT = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+", re.ASCII)
EXCEL_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?E\+\d{1,3}", re.ASCII | re.IGNORECASE)
NUMBER_RULE = "只能用 ASCII 数字与一个小数点, 千分位用逗号 (ASCII digits and one decimal point only, commas between thousands)"


def strict_number(value):
    """(float, None) for a number written plainly; (None, reason) otherwise. Negative numbers are numbers."""
    text = str(value).strip().replace("，", ",")
    body = text[1:] if text[:1] == "-" else text
    if _PLAIN_NUMBER.fullmatch(body) or _GROUPED_NUMBER.fullmatch(body):
        number = float(body.replace(",", ""))
        if number == float("inf"):
            return None, f"{value!r} 超出范围 (too large)"
        return (-number if text[:1] == "-" else number), None
    if EXPONENT.fullmatch(body):
        return None, (f"{value!r} 是科学计数法, Excel 显示长数字时会这样并丢失位数; 请把该列设为数值或文本格式后重新导出 "
                      "(scientific notation, as Excel shows long numbers, losing digits)")
    return None, f"{value!r} 不是数字: {NUMBER_RULE}"


def excel_scientific(value):
    """Why a text column holds what Excel made of a long number ('1.40105E+17'), or None."""
    if EXCEL_SCIENTIFIC.fullmatch(str(value).strip()):
        return ("Excel 把它存成了数字并显示为科学计数法, 后几位已丢失; 请把该列设为文本格式, 重新录入后再导出 "
                "(Excel stored this as a number and shows it in scientific notation: digits are lost;"
                " format the column as text and enter it again)")
    return None


def non_negative(value):
    """A number ≥ 0 written plainly (see strict_number); returns (number, error)."""
    number, error = strict_number(value)
    if error:
        return None, error
    if number < 0:
        return None, f"{value!r} 不能为负数 (must be ≥ 0)"
    return number, None


# ---- identity documents (issue 11 item 7) ------------------------------------------------------
# The ID types a client may hold, each with its own check. Sources checked (search, 2026-11):
# - 居民身份证: GB 11643-1999 (above).
# - 港澳台居民居住证: 18 characters in the GB 11643 form, address code 810000 (Hong Kong),
#   820000 (Macau) or 830000 (Taiwan), same check character (国务院办公厅《港澳台居民居住证申领发放
#   办法》2018; the number form follows 公民身份号码).
# - 外国人永久居留身份证: the 2023 card (issued from 2023-12-01) has 18 characters, first digit 9,
#   MOD 11-2 check like a resident ID (国家移民管理局《新版外国人永久居留身份证机读信息规则》); the
#   2017 card, still valid, has 15: 3 Latin letters (nationality) + 12 digits.
# - 港澳居民来往内地通行证: H (Hong Kong) or M (Macau) + 8 digits (common validators agree). The
#   card also prints a 2-digit issue count; "H/M + 10 digits" is accepted as that longer form —
#   NOT verified against an official source.
# - 台湾居民来往大陆通行证: 8 digits (the 2015 card) — from common validators, not an official text.
# - 护照: 5–17 letters or digits (ICAO 9303 allows up to 9 in the MRZ number field; foreign
#   passports vary, so the check is deliberately loose).
RESIDENT_ID = "居民身份证"
HKMO_PERMIT = "港澳居民来往内地通行证"
TW_PERMIT = "台湾居民来往大陆通行证"
RESIDENCE_PERMIT = "港澳台居民居住证"
PASSPORT = "护照"
FOREIGN_PR = "外国人永久居留身份证"
CREDIT_CODE = "统一社会信用代码"
ID_TYPES = (RESIDENT_ID, HKMO_PERMIT, TW_PERMIT, RESIDENCE_PERMIT, PASSPORT, FOREIGN_PR, CREDIT_CODE)
# Spellings an export or a clerk may use for each type.
ID_TYPE_ALIASES = {
    "身份证": RESIDENT_ID, "二代身份证": RESIDENT_ID, "resident_id": RESIDENT_ID, "0": RESIDENT_ID,
    "港澳通行证": HKMO_PERMIT, "回乡证": HKMO_PERMIT, "港澳居民来往内地通行证": HKMO_PERMIT, "hkmo_permit": HKMO_PERMIT,
    "台胞证": TW_PERMIT, "台湾通行证": TW_PERMIT, "tw_permit": TW_PERMIT,
    "居住证": RESIDENCE_PERMIT, "港澳台居住证": RESIDENCE_PERMIT, "residence_permit": RESIDENCE_PERMIT,
    "passport": PASSPORT, "外国护照": PASSPORT,
    "永居证": FOREIGN_PR, "外国人永久居留证": FOREIGN_PR, "foreign_pr": FOREIGN_PR,
    "营业执照": CREDIT_CODE, "credit_code": CREDIT_CODE,
}
# Types whose number carries the holder's birth date at characters 7–14 (GB 11643 form).
BIRTH_IN_NUMBER = (RESIDENT_ID, RESIDENCE_PERMIT)
INDIVIDUAL_ID_TYPES = (RESIDENT_ID, HKMO_PERMIT, TW_PERMIT, RESIDENCE_PERMIT, PASSPORT, FOREIGN_PR)

_HKMO_RE = re.compile(r"^[HM](?:\d{8}|\d{10})$", re.ASCII)
_TW_RE = re.compile(r"^\d{8}$", re.ASCII)
_PASSPORT_RE = re.compile(r"^[A-Z0-9]{5,17}$", re.ASCII)
_PR_OLD_RE = re.compile(r"^[A-Z]{3}\d{12}$", re.ASCII)
_GB11643_RE = re.compile(r"^\d{17}[0-9X]$", re.ASCII)


def id_type(value):
    """The canonical ID type for a spelling, or None when it is not one we know."""
    text = str(value or "").strip()
    if text in ID_TYPES:
        return text
    return ID_TYPE_ALIASES.get(text) or ID_TYPE_ALIASES.get(text.lower())


def _gb11643_form(value):
    """GB 11643 shape and check character (for types other than the resident ID); error or None."""
    if not _GB11643_RE.match(value):
        return "须为18位, 前17位为数字 (must be 18 characters, 17 digits + check)"
    expected = id_check_char(value[:17])
    if value[17] != expected:
        return f"校验位错误, 应为 {expected} (check character should be {expected})"
    return None


def id_document(kind_of_id, value):
    """Error text for ``value`` as a number of ID type ``kind_of_id`` (canonical), or None.

    Never echoes the number itself: it is personal data.
    """
    value = str(value).strip().upper()
    if kind_of_id == RESIDENT_ID:
        return resident_id(value)
    if kind_of_id == CREDIT_CODE:
        return credit_code(value)
    if kind_of_id == RESIDENCE_PERMIT:
        if value[:6] not in ("810000", "820000", "830000"):
            return "港澳台居民居住证号码须以 810000/820000/830000 开头 (must start 810000, 820000 or 830000)"
        error = _gb11643_form(value)
        if error:
            return f"港澳台居民居住证号码{error}"
        if parse_date(f"{value[6:10]}-{value[10:12]}-{value[12:14]}") is None:
            return "居住证号码中的出生日期无效 (embedded birth date is not a real date)"
        return None
    if kind_of_id == FOREIGN_PR:
        if _PR_OLD_RE.match(value):
            return None
        if value[:1] != "9":
            return ("外国人永久居留身份证号码须为18位且以9开头, 或旧版15位(3个字母+12位数字)"
                    " (must be the 2023 form: 18 characters starting 9, or the 2017 form: 3 letters + 12 digits)")
        error = _gb11643_form(value)
        return f"外国人永久居留身份证号码{error}" if error else None
    if kind_of_id == HKMO_PERMIT:
        if not _HKMO_RE.match(value):
            return "港澳居民来往内地通行证号码须为 H 或 M 加8位(或10位)数字 (H or M followed by 8 or 10 digits)"
        return None
    if kind_of_id == TW_PERMIT:
        if not _TW_RE.match(value):
            return "台湾居民来往大陆通行证号码须为8位数字 (must be 8 digits)"
        return None
    if kind_of_id == PASSPORT:
        if not _PASSPORT_RE.match(value):
            return "护照号码须为5–17位字母或数字 (5–17 letters or digits)"
        return None
    return f"未知证件类型 (unknown ID type); 可用 (known): {', '.join(ID_TYPES)}"
