"""Masking personal data for display and publication.

ID number 110101********1234, phone 138****5678, name 张*. Used by
``clients show`` unless the full record is deliberately requested (which is
audited), by the audit trail of reviewed changes, and by the published
Datasette snapshots (which mask the same kinds in SQL, checked against these).

``PERSONAL`` is the one map of which field holds which kind of personal data.

Besides the field maskers, publishing uses:

- ``SQL_MASKERS``: the same maskers as SQL expressions, so a snapshot masks a
  million rows inside SQLite instead of calling Python per value (a test checks
  both agree);
- ``scrub``: finds ID and mobile numbers anywhere in free text, however they
  are written, and masks their middle digits;
- ``clean_json``: a JSON document (an audit detail, a run summary) with its
  operational keys dropped and its personal values masked.
"""

import json
import re


def mask_id(value):
    if not value:
        return value
    value = str(value)
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value):
    if not value:
        return value
    value = str(value)
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value):
    if not value:
        return value
    value = str(value)
    if len(value) == 1:
        return "*"
    return value[0] + "*" * (len(value) - 1)


def mask_birth_date(value):
    """Keep the year only: age bands stay visible, the birthday does not."""
    return f"{str(value)[:4]}-**-**" if value else value


def mask_account(value):
    if not value:
        return value
    value = str(value)
    return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:] if len(value) > 8 else "*" * len(value)


# Kind of personal data -> its masker.
KINDS = {"name": mask_name, "id": mask_id, "phone": mask_phone, "birth": mask_birth_date, "account": mask_account}

# Field (column) names that hold personal data, whatever the table -> kind.
PERSONAL = {
    "name": "name", "legal_representative": "name", "client_name": "name",
    "id_number": "id",
    "phone": "phone", "mobile": "phone", "contact_phone": "phone",
    "birth_date": "birth",
    "bank_account": "account",
    # KYC facts that are personal (issue 11 item 7, kernel.kyc_fields.PERSONAL): only the first
    # character shows, like a name.
    "address": "name", "beneficial_owners": "name", "actual_controller": "name", "debts": "name",
    "integrity_record": "name",
}

MASKERS = {name: KINDS[kind] for name, kind in PERSONAL.items()}


def mask_field(name, value):
    """``value`` masked as field ``name`` holds it; a field without personal data unchanged."""
    masker = MASKERS.get(name)
    return masker(value) if masker else value


def mask_record(record):
    return {k: mask_field(k, v) for k, v in record.items()}


# ---- free text ------------------------------------------------------------------------

# A "number" in free text is a run of digits that may be broken by a few separators
# people type inside ID and phone numbers: spaces (also the ideographic space),
# dashes of every width, dots, slashes, brackets. ASCII and full-width digits both
# count, and a letter may stand right before the number (ID1401…, 身份证号140105…).
# A run with 11 or more digits may be a mobile (11 digits, 13 with 86, 15 with 0086)
# or an ID number (15 digits, or 17 and a check character): it is masked. Shorter
# runs (dates, amounts, times) are left alone. Masking a long order number too is
# the price of never missing an ID written with an unexpected separator.
_DIGIT = "0-9０-９"
_SEPARATORS = " \t\u00a0\u3000\\-\u2010-\u2015\u2212\uff0d./()\uff08\uff09"
_NUMBER_RE = re.compile(
    rf"(?<![{_DIGIT}])[{_DIGIT}](?:[{_SEPARATORS}]{{0,3}}[{_DIGIT}])*(?:[{_SEPARATORS}]{{0,2}}[XxＸｘ](?![A-Za-z]))?")
_DIGIT_RE = re.compile(rf"[{_DIGIT}XxＸｘ]")
MIN_DIGITS = 11


def _mask_number(match):
    text = match.group(0)
    positions = [m.start() for m in _DIGIT_RE.finditer(text)]
    # The check character X is masked like a digit but does not count towards the 11.
    if sum(1 for i in positions if text[i] not in "XxＸｘ") < MIN_DIGITS:
        return text
    # Like the field maskers: an ID keeps its area code (6), a phone its operator prefix (3), both the last 4.
    keep_head = 6 if len(positions) >= 15 else 3
    hidden = set(positions[keep_head:-4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def scrub(value):
    """Mask every ID or mobile number inside free text; other text is returned unchanged."""
    if not isinstance(value, str) or not value:
        return value
    return _NUMBER_RE.sub(_mask_number, value)


# A value needs the Python scrubber only if it holds 11 digits or more, wherever
# they are: ``length`` and ``GLOB`` (in C, about half a microsecond) spare the call
# for everything else, dates and amounts included. Kept in step with _DIGIT above.
SCRUB_PREFILTER = "(length({x}) >= " + str(MIN_DIGITS) + " AND {x} GLOB '" + "*[0-9０-９]" * MIN_DIGITS + "*')"

# Keys of a JSON document (audit details, run summaries) that hold operational
# metadata rather than anything a reader of the site needs: file paths above all.
OPERATIONAL_KEYS = {"file", "path", "source", "rejects", "rejects_file", "workdir", "db", "database", "out_dir"}
_ABSOLUTE_PATH = re.compile(r"^(?:/|[A-Za-z]:[\\/]|\\\\)")


def mask_change(field_name, value):
    """An old or new value of a change to ``field_name``: masked like that field, else scrubbed."""
    if field_name in PERSONAL:
        return mask_field(field_name, value)
    return scrub(value)


def clean_json(value):
    """A JSON document made fit to publish: operational keys dropped, personal values masked.

    Values under a personal key (name, phone …) are masked like that field; a
    change record ``{"field": F, "old": …, "new": …}`` masks old and new as field
    F; every other string is scrubbed and an absolute path becomes its file name.
    Text that is not JSON is scrubbed as it is.
    """
    if not isinstance(value, str) or not value:
        return value
    try:
        data = json.loads(value)
    except ValueError:
        return scrub(value)
    return json.dumps(_clean(data, None), ensure_ascii=False)


def _clean(data, field):
    if isinstance(data, dict):
        field = data.get("field") if isinstance(data.get("field"), str) else field
        out = {}
        for key, item in data.items():
            if key in OPERATIONAL_KEYS:
                continue
            if key in PERSONAL and not isinstance(item, (dict, list)):
                out[key] = KINDS[PERSONAL[key]](item)
            elif key in ("old", "new", "old_value", "new_value") and field and not isinstance(item, (dict, list)):
                out[key] = mask_change(field, item if item is None or isinstance(item, str) else str(item))
            else:
                out[key] = _clean(item, field)
        return out
    if isinstance(data, list):
        return [_clean(item, field) for item in data]
    if isinstance(data, str):
        if _ABSOLUTE_PATH.match(data):
            data = re.split(r"[\\/]", data)[-1]
        return scrub(data)
    if isinstance(data, int) and not isinstance(data, bool) and len(str(abs(data))) >= MIN_DIGITS:
        return scrub(str(data))
    return data


# ---- the same maskers in SQL ------------------------------------------------------------

_STARS = "*" * 64


def _stars(n_sql):
    # n asterisks, none for n <= 0; zeroblob(n) is n zero bytes and hex() makes each one "00".
    return (f"CASE WHEN {n_sql} <= {len(_STARS)} THEN substr('{_STARS}', 1, {n_sql})"
            f" ELSE replace(hex(zeroblob({n_sql})), '00', '*') END")


def _sql_id(x):
    exact = (f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} WHEN length({x}) <= 10 THEN {_stars(f'length({x})')}"
             f" ELSE substr({x}, 1, 6) || {_stars(f'length({x}) - 10')} || substr({x}, -4) END")
    # The common case first, in as few calls as possible (it runs once per client).
    return (f"CASE WHEN length({x}) BETWEEN 11 AND {10 + len(_STARS)} THEN substr({x}, 1, 6) ||"
            f" substr('{_STARS}', 1, length({x}) - 10) || substr({x}, -4) ELSE {exact} END")


def _sql_phone(x):
    exact = (f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} WHEN length({x}) < 7 THEN {_stars(f'length({x})')}"
             f" ELSE substr({x}, 1, 3) || {_stars(f'length({x}) - 7')} || substr({x}, -4) END")
    return (f"CASE WHEN length({x}) BETWEEN 7 AND {7 + len(_STARS)} THEN substr({x}, 1, 3) ||"
            f" substr('{_STARS}', 1, length({x}) - 7) || substr({x}, -4) ELSE {exact} END")


def _sql_name(x):
    exact = (f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} WHEN length({x}) = 1 THEN '*'"
             f" ELSE substr({x}, 1, 1) || {_stars(f'length({x}) - 1')} END")
    return (f"CASE WHEN length({x}) BETWEEN 2 AND {1 + len(_STARS)} THEN substr({x}, 1, 1) ||"
            f" substr('{_STARS}', 1, length({x}) - 1) ELSE {exact} END")


def _sql_birth(x):
    return f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} ELSE substr({x}, 1, 4) || '-**-**' END"


def _sql_account(x):
    return (f"CASE WHEN {x} IS NULL OR {x} = '' THEN {x} WHEN length({x}) <= 8 THEN {_stars(f'length({x})')}"
            f" ELSE substr({x}, 1, 4) || {_stars(f'length({x}) - 8')} || substr({x}, -4) END")


# kind -> function(sql expression of a TEXT value) -> the masked value's SQL; one per KINDS entry.
SQL_MASKERS = {"id": _sql_id, "phone": _sql_phone, "name": _sql_name, "birth": _sql_birth, "account": _sql_account}


def register_functions(conn):
    """The SQL functions a snapshot's statements call: the scrubber and the field masker."""
    conn.create_function("bcrm_scrub", 1, scrub, deterministic=True)
    conn.create_function("bcrm_mask_field", 2, mask_change, deterministic=True)
    conn.create_function("bcrm_clean_json", 1, clean_json, deterministic=True)
