"""brokercrm.kernel.masking: field maskers, the free-text scrubber, JSON cleaning, the SQL twins."""

import json
import random
import sqlite3

import pytest

from brokercrm.kernel import masking
from brokercrm.kernel.masking import clean_json, scrub

ID18 = "14010519900101123X"
ID15 = "140105900101123"
MOBILE = "13912345678"


def digits(text):
    return "".join(ch for ch in text if ch.isdigit() or ch in "XxＸｘ")


@pytest.mark.parametrize("text,full", [
    (f"证件 {ID18}", ID18),
    (f"证件{ID18}号", ID18),
    (f"ID{ID18}", ID18),                                   # a letter right before the number
    (f"id:{ID18.lower()}", ID18.lower()),
    ("身份证 140105 19900101 123X", ID18),                  # spaces
    ("140105-1990-0101-123X", ID18),                       # dashes
    ("140105–19900101–123X", ID18),                        # en dashes
    ("１４０１０５１９９００１０１１２３Ｘ", "１４０１０５１９９００１０１１２３Ｘ"),  # full-width
    (f"旧证{ID15}", ID15),                                   # the old 15-digit form
    (f"tel{MOBILE}", MOBILE),
    (f"+86{MOBILE}", MOBILE),
    (f"+86 {MOBILE}", MOBILE),
    (f"86-{MOBILE}", MOBILE),
    (f"0086{MOBILE}", MOBILE),
    ("(+86) 139 1234 5678", MOBILE),
    ("139-1234-5678", MOBILE),
    ("139 1234 5678。", MOBILE),
    ("手机：１３９１２３４５６７８", "１３９１２３４５６７８"),
    (f"电话{MOBILE}转8001", MOBILE),
])
def test_scrub_finds_numbers_however_written(text, full):
    out = scrub(text)
    assert digits(full) not in digits(out), out
    assert "*" in out
    # What is kept: the first digits and the last four, the separators, the words around.
    assert digits(full)[-4:] in digits(out)


@pytest.mark.parametrize("text", [
    "2026-06-30 10:00:00 回访",            # a date and a time: 14 digits, but broken by ':'
    "金额 1,234,567.89 元",                 # an amount with thousands separators
    "第 3 次回访, 满意度 5",
    "产品 F002, 风险 R5",
    "ty01 操作",
    "",
    "客户无异议",
])
def test_scrub_leaves_ordinary_text_alone(text):
    assert scrub(text) == text


def test_scrub_handles_every_number_in_a_text_and_non_text():
    text = f"旧号 {MOBILE}, 新号 13800138000, 证件 {ID18}"
    out = scrub(text)
    for number in (MOBILE, "13800138000", ID18):
        assert number not in out
    assert out.count("*") == 4 + 4 + 8
    assert scrub(None) is None and scrub(13912345678) == 13912345678


def test_sql_prefilter_never_skips_a_value_the_scrubber_would_change():
    """The GLOB in front of the scrubber must let through everything scrub() changes."""
    rng = random.Random(16)
    alphabet = "0123456789０１２３４５６７８９ -–./()+Xx号码电话abc"
    samples = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(3000)
    ] + [f"ID{ID18}", f"+86 {MOBILE}", ID15, "1" * 11, "１" * 11, "1" * 10]
    conn = sqlite3.connect(":memory:")
    prefilter = masking.SCRUB_PREFILTER.format(x=":v")
    for value in samples:
        changed = scrub(value) != value
        passes = conn.execute(f"SELECT {prefilter}", {"v": value}).fetchone()[0]
        if changed:
            assert passes, value


@pytest.mark.parametrize("kind,python", [("id", masking.mask_id), ("phone", masking.mask_phone),
                                         ("name", masking.mask_name), ("birth", masking.mask_birth_date),
                                         ("account", masking.mask_account)])
def test_sql_maskers_agree_with_the_python_maskers(kind, python):
    assert set(masking.SQL_MASKERS) == set(masking.KINDS)  # every kind of personal data has its SQL twin
    conn = sqlite3.connect(":memory:")
    values = [None, "", "张", "张三", "欧阳娜娜", "110101199001011234", "11010119900101123X", "13812345678",
              "123456", "1234567", "12345678901", "1980-01-02", "123456789012345", "x" * 70, "名" * 90,
              "+86 138-1234-5678"]
    for value in values:
        got = conn.execute(f"SELECT {masking.SQL_MASKERS[kind](':v')}", {"v": value}).fetchone()[0]
        assert got == python(value), (kind, value, got)


def test_a_changed_value_is_masked_by_its_field_or_scrubbed():
    assert masking.mask_change("phone", "13912345678") == "139****5678"
    assert masking.mask_change("name", "欧阳娜娜") == "欧***"
    assert masking.mask_change("occupation", "教师") == "教师"
    assert masking.mask_change("occupation", f"教师, 电话 {MOBILE}") == "教师, 电话 139****5678"


def test_clean_json_drops_paths_and_masks_by_field():
    detail = {
        "file": "/home/branch/exports/客户_2026.csv", "rows": 3, "rejects_file": "/tmp/rejects.csv",
        "field": "phone", "old": MOBILE, "new": "13800138000",
        "note": f"客户说 {ID18}", "name": "张三丰", "nested": [{"source": "/x/y.csv", "kept": "/srv/data/a.csv"}],
        "count": 13912345678,
    }
    out = json.loads(clean_json(json.dumps(detail, ensure_ascii=False)))
    text = json.dumps(out, ensure_ascii=False)
    assert "file" not in out and "rejects_file" not in out and "source" not in out["nested"][0]
    assert "/home" not in text and "/srv" not in text and out["nested"][0]["kept"] == "a.csv"
    assert out["old"] == "139****5678" and out["new"] == "138****8000"
    assert out["name"] == "张**" and out["rows"] == 3
    for number in (MOBILE, "13800138000", ID18):
        assert number not in text
    assert clean_json("not json 13912345678") == "not json 139****5678"
    assert clean_json(None) is None
