"""ID types with their own checks (issue 11 item 7), through the import and the validators."""

import json

import pytest

from brokercrm.imports import client_rows
from brokercrm.imports.clients_fast import FastChecker
from brokercrm.kernel import validate as v
from brokercrm.kernel.timeutil import today

from conftest import person, write_csv


def gb11643(first17):
    return first17 + v.id_check_char(first17)


HK_RESIDENCE = gb11643("81000019900101123")
NEW_PR = gb11643("93615619900101123")


@pytest.mark.parametrize("kind, number", [
    (v.HKMO_PERMIT, "H12345678"), (v.HKMO_PERMIT, "M1234567801"), (v.TW_PERMIT, "12345678"),
    (v.RESIDENCE_PERMIT, HK_RESIDENCE), (v.RESIDENCE_PERMIT, gb11643("83000019851231456")),
    (v.PASSPORT, "E12345678"), (v.PASSPORT, "x1234"), (v.FOREIGN_PR, NEW_PR), (v.FOREIGN_PR, "USA123456789012"),
])
def test_valid_numbers_of_each_type(kind, number):
    assert v.id_document(kind, number) is None


@pytest.mark.parametrize("kind, number, why", [
    (v.HKMO_PERMIT, "C12345678", "H or M"), (v.HKMO_PERMIT, "H1234567", "H or M"),
    (v.TW_PERMIT, "1234567", "8 digits"), (v.TW_PERMIT, "A1234567", "8 digits"),
    (v.RESIDENCE_PERMIT, gb11643("11010119900101123"), "810000"),
    (v.RESIDENCE_PERMIT, HK_RESIDENCE[:-1] + ("0" if HK_RESIDENCE[-1] != "0" else "1"), "check"),
    (v.RESIDENCE_PERMIT, gb11643("81000019901301123"), "birth date"),
    (v.PASSPORT, "E12", "5–17"), (v.PASSPORT, "E1234-5678", "5–17"),
    (v.FOREIGN_PR, gb11643("13615619900101123"), "starting 9"),
    (v.FOREIGN_PR, NEW_PR[:-1] + ("0" if NEW_PR[-1] != "0" else "1"), "check"),
    (v.FOREIGN_PR, "US1234567890123", "starting 9"),
    ("驾驶证", "123", "unknown ID type"),
])
def test_bad_numbers_of_each_type(kind, number, why):
    # defence: each branch of validate.id_document
    error = v.id_document(kind, number)
    assert error and why in error and number not in error


def test_id_type_spellings():
    assert v.id_type("港澳通行证") == v.HKMO_PERMIT and v.id_type("Passport") == v.PASSPORT
    assert v.id_type("驾照") is None


def rows_of(db):
    return {r[0]: r[1:] for r in db.execute(
        "SELECT client_id, id_type, id_number, birth_date, gender, address, tax_residence, id_valid_until,"
        " income_source, debts, integrity_record FROM clients")}


def test_non_mainland_ids_import_with_their_type(db, run, tmp_path):
    rows = [
        person("HK1", **{"证件类型": "港澳居民来往内地通行证", "id_number": "H12345678", "birth_date": "1988-02-03"}),
        person("RP1", **{"证件类型": "港澳台居民居住证", "id_number": HK_RESIDENCE, "birth_date": ""}),
        person("PR1", **{"证件类型": "永居证", "id_number": NEW_PR, "birth_date": "1990-01-01"}),
        person("PP1", **{"证件类型": "护照", "id_number": "e1234567", "birth_date": "1975-05-05",
                         "性别": "女", "联系地址": "Flat 1, Hong Kong", "税收居民身份": "非居民",
                         "证件有效期": "2031-01-01", "收入来源": "工资", "负债情况": "房贷", "诚信记录": "无不良记录"}),
    ]
    for r in rows:
        r.pop("id_type", None)
    path = write_csv(tmp_path / "c.csv", rows)
    out = json.loads(run("import", "clients", path, "--json").output)
    assert out["inserted"] == 4
    got = rows_of(db)
    assert got["HK1"][:3] == ("港澳居民来往内地通行证", "H12345678", "1988-02-03")
    assert got["RP1"][:3] == ("港澳台居民居住证", HK_RESIDENCE, "1990-01-01")  # birth date from the number
    assert got["PR1"][0] == "外国人永久居留身份证"
    assert got["PP1"] == ("护照", "E1234567", "1975-05-05", "女", "Flat 1, Hong Kong", "非居民", "2031-01-01",
                          "工资", "房贷", "无不良记录")


def test_a_permit_number_without_its_type_is_still_refused(db, run, tmp_path):
    path = write_csv(tmp_path / "c.csv", [person("HK1", id_number="H12345678", birth_date="1988-02-03")])
    result = run("import", "clients", path, ok=False)
    assert result.exit_code == 1 and "id_number" in result.output
    assert db.execute("SELECT count(*) FROM clients").fetchone()[0] == 0


@pytest.mark.parametrize("column, cell, why", [
    ("证件类型", "驾驶证", "unknown ID type"),
    ("性别", "未知", "gender"),
    ("税收居民身份", "美国", "CRS"),
    ("证件有效期", "2030-02-30", "长期"),
])
def test_bad_kyc_cells_are_refused_naming_row_and_field(db, run, tmp_path, column, cell, why):
    path = write_csv(tmp_path / "c.csv", [person("OK1"), person("BAD", **{column: cell})])
    result = run("import", "clients", path, ok=False)
    field = client_rows.ALIASES[column]
    assert result.exit_code == 1 and f"c.csv:3:{field}:" in result.output
    assert why in result.output and "Traceback" not in result.output
    assert db.execute("SELECT count(*) FROM clients").fetchone()[0] == 0


def test_the_fast_path_leaves_kyc_rows_to_the_full_check():
    # defence: clients_fast declines a row with any KYC cell filled (check_row validates them)
    checker = FastChecker({"TY01"}, today(), client_rows.KNOWN)
    plain = {k: str(v_) for k, v_ in person("F1").items()}
    plain["gender"] = ""
    assert checker.fast_row(plain) is not None
    assert checker.fast_row({**plain, "gender": "女"}) is None
    names = list(plain)
    fast = checker.list_checker(names)
    assert fast([plain[n] for n in names]) is not None
    assert fast([{**plain, "gender": "女"}[n] for n in names]) is None
    record, problems = client_rows.check_row({**plain, "gender": "F"}, {"TY01"}, today().isoformat())
    assert problems == [] and record["gender"] == "女"


def test_long_term_validity_and_expired_ids_import(db, run, tmp_path):
    path = write_csv(tmp_path / "c.csv", [person("L1", **{"证件有效期": "长期"}),
                                          person("X1", **{"证件有效期": "2020-01-01"})])
    run("import", "clients", path)  # an expired ID is listed by `kyc id-expiry`, never refused here
    assert {r[0]: r[1] for r in db.execute("SELECT client_id, id_valid_until FROM clients")} == {
        "L1": "长期", "X1": "2020-01-01"}


def test_a_batch_mixing_rows_with_and_without_kyc_data(db, run, tmp_path):
    # defence: the writer widens a mixed batch (short rows carry no KYC columns) and re-imports merge them
    rows = [person("M1"), person("M2", **{"性别": "女", "联系地址": "太原"}), person("M3"), person("M2")]
    path = write_csv(tmp_path / "c.csv", rows)
    result = run("import", "clients", path, "--skip-invalid", "--rejects", tmp_path / "r.csv", "--json")
    out = json.loads(result.output)
    assert out["inserted"] == 3 and out["rejected"] == 1
    got = {r[0]: r[1:] for r in db.execute("SELECT client_id, gender, address, occupation FROM clients")}
    assert got == {"M1": (None, None, "工程师"), "M2": ("女", "太原", "工程师"), "M3": (None, None, "工程师")}
    again = write_csv(tmp_path / "d.csv", [person("M1", **{"性别": "男", "收入来源": "工资"}), person("M3")])
    run("import", "clients", again)
    assert db.execute("SELECT gender, income_source FROM clients WHERE client_id = 'M1'").fetchone() == ("男", "工资")
    trail = db.execute("SELECT field, new_value FROM client_changes WHERE client_id = 'M1' ORDER BY id").fetchall()
    assert trail == [("gender", "男"), ("income_source", "工资")]
