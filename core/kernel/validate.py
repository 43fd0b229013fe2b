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
