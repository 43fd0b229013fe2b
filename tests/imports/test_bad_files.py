"""Issue 13 §1: every bad file is refused whole — non-zero exit, the database unchanged, the first error
naming file, row and column, no traceback — and awkward but valid files are stored exactly.

Each case is one defence; removing the defence makes its case import (exit 0) or crash.
"""

import codecs
import functools
import json

import pytest
from brokercrm import imports
from brokercrm.imports import import_clients  # noqa: F401  (acting as admin: _as_admin)

from conftest import make_id


@pytest.fixture(autouse=True)
def _as_admin(admin, monkeypatch):
    """Every import in this module acts as the root head-office operator (the trust model's actor)."""
    monkeypatch.setitem(globals(), "import_clients", functools.partial(imports.import_clients, actor=admin))


HEADER = ["client_id", "kind", "name", "id_number", "phone", "birth_date", "branch_id", "total_assets"]


def person(client_id="C1", **over):
    row = {"client_id": client_id, "kind": "individual", "name": "测试1", "id_number": make_id("1980-01-01"),
           "phone": "13800000000", "birth_date": "1980-01-01", "branch_id": "TY01", "total_assets": "1000"}
    row.update(over)
    return row


def line(row, sep=","):
    return sep.join(row[c] for c in HEADER) + "\n"


def csv_text(*rows, header=HEADER):
    return ",".join(header) + "\n" + "".join(line(r) for r in rows)


def dump(db_path):
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def refused(db_path, run, path, *extra):
    """Run the import CLI on ``path``: it must fail cleanly and change nothing. Returns stderr."""
    before = dump(db_path)
    result = run("import", "clients", str(path), *extra, ok=False)  # an exception here fails the test
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert dump(db_path) == before
    return result.stderr


BAD_CSV = {
    # name: (bytes, expected row:column in the first error line, a word of the reason)
    "mixed_utf8_gbk": (lambda: csv_text(person()).encode() + line(person("C2", name="张三")).encode("gbk"),
                       ":2:", "UTF-8"),
    "nul_in_name": (lambda: csv_text(person(name="张\x00三")).encode(), ":2:name:", "NUL"),
    "control_char": (lambda: csv_text(person(name="张\x1b三")).encode(), ":2:name:", "U+001B"),
    "underscore_number": (lambda: csv_text(person(total_assets="1_000")).encode(), ":2:total_assets:", "不是数字"),
    "arabic_digits": (lambda: csv_text(person(total_assets="١٢٣")).encode(), ":2:total_assets:", "不是数字"),
    "fullwidth_digits": (lambda: csv_text(person(total_assets="１２３")).encode(), ":2:total_assets:", "不是数字"),
    "two_points": (lambda: csv_text(person(total_assets="1.2.3")).encode(), ":2:total_assets:", "不是数字"),
    "exponent": (lambda: csv_text(person(total_assets="1e3")).encode(), ":2:total_assets:", "科学计数法"),
    "arabic_phone": (lambda: csv_text(person(phone="١٣٨٠٠٠٠٠٠٠٠")).encode(), ":2:phone:", "手机号"),
    "duplicate_header": (lambda: csv_text(person(), header=HEADER[:-1] + ["name"]).encode(), ":1:name:", "同一列"),
    "synonym_twice": (lambda: csv_text(person(), header=HEADER[:-1] + ["手机号"]).encode(), ":1:phone:", "同一列"),
    "missing_column": (lambda: ("client_id,kind,name,phone,birth_date,branch_id\n"
                                "C1,individual,张三,13800000000,1980-01-01,TY01\n").encode(), ":1:id_number:", "缺少"),
    "ragged_long": (lambda: (csv_text() + line(person()).rstrip("\n") + ",extra\n").encode(), ":2:", "单元格"),
    "ragged_short": (lambda: (csv_text() + "C1,individual,张三\n").encode(), ":2:", "单元格"),
    "data_without_header": (lambda: ("client_id,," + ",".join(HEADER[1:]) + "\n" + "C1,x,"
                                     + line(person()).split(",", 1)[1]).encode(), ":2:第2列", "没有表头"),
    "empty": (lambda: b"", "", "空"),
    "blank_lines_only": (lambda: b"\n\n\n", "", "空"),
    "header_only": (lambda: (",".join(HEADER) + "\n").encode(), "", "没有数据行"),
    "not_a_header": (lambda: line(person()).encode() * 12, ":1:", "表头"),
    "cell_200kb": (lambda: csv_text(person(name="x" * 200_000)).encode(), ":2:", "32,767"),
    "stray_quote": (lambda: (csv_text() + line(person(name='"张"三'))).encode(), ":2:", "CSV"),
    "invalid_utf8_byte": (lambda: csv_text(person()).encode() + b"C2,individual,\xff\xfe\xfd\x80,x\n",
                          ":3:", "UTF-8"),
    "binary": (lambda: bytes(range(256)) * 40, "", "文本"),
    "id_as_excel_number": (lambda: csv_text(person(id_number="1.40105E+17")).encode(), ":2:id_number:",
                           "科学计数法"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_is_refused_whole(db_path, run, tmp_path, case):
    data, where, word = BAD_CSV[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(data())
    err = refused(db_path, run, path)
    first = err.splitlines()[0]
    assert first.startswith(str(path)) or first.startswith(f"Error: {path}"), err
    assert where in first and word in err, err


def test_a_cell_of_10_mb_names_its_row(db_path, run, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(csv_text(person(), person("C2", name="x" * (10 << 20))).encode())
    assert f"{path}:3:" in refused(db_path, run, path)


BAD_JSON = {
    "object_value.json": (lambda: json.dumps([person(name={"a": 1})]), ":1:name:", "单个值"),
    "list_value.json": (lambda: json.dumps([person(name=["a"])]), ":1:name:", "单个值"),
    "duplicate_key.json": (lambda: '[{"client_id": "C1", "client_id": "C2"}]', ":1:client_id:", "同一列"),
    "deep.json": (lambda: "[" * 50_000 + "]" * 50_000, ":1:", "嵌套"),
    "nan.json": (lambda: '[{"client_id": "C1", "total_assets": NaN}]', "", "NaN"),
    "empty_list.json": (lambda: "[]", "", "没有记录"),
    "not_a_list.json": (lambda: '"text"', "", "对象数组"),
    "deep_line.ndjson": (lambda: "[" * 50_000 + "]" * 50_000 + "\n", ":1:", "JSON"),
    "object_value.ndjson": (lambda: json.dumps(person(name={"a": 1})) + "\n", ":1:name:", "单个值"),
    "empty.ndjson": (lambda: "\n\n", "", "没有记录"),
}


@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_bad_json_is_refused_whole(db_path, run, tmp_path, name):
    text, where, word = BAD_JSON[name]
    path = tmp_path / name
    path.write_text(text(), encoding="utf-8")
    err = refused(db_path, run, path)
    assert where in err.splitlines()[0] and word in err, err


def test_ndjson_with_invalid_utf8_names_the_line(db_path, run, tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_bytes(json.dumps(person(), ensure_ascii=False).encode() + b"\n"
                     + json.dumps(person("C2"), ensure_ascii=False).encode().replace("测".encode(), b"\xff") + b"\n")
    assert f"{path}:2:" in refused(db_path, run, path)


def test_json_over_the_size_limit_is_refused(db, tmp_path, monkeypatch):
    from brokercrm.imports import read_json

    monkeypatch.setattr(read_json, "MAX_JSON_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps([person(f"C{i}") for i in range(20)]), encoding="utf-8")
    with pytest.raises(Exception, match="NDJSON"):
        import_clients(db, path)


def test_a_gbk_file_with_one_utf8_line_is_refused_however_late(db_path, run, tmp_path):
    # The old check looked at the first MiB only.
    rows = "".join(line(person(f"C{i:06}", name="张三")) for i in range(30_000))
    path = tmp_path / "late.csv"
    path.write_bytes((",".join(HEADER) + "\n" + rows).encode("gbk") + line(person("Z1", name="李四")).encode())
    assert f"{path}:30002:" in refused(db_path, run, path)


# --- valid but awkward: stored exactly ------------------------------------------------------------

AWKWARD = ["张三😀", "Robert'); DROP TABLE clients;--", "=1+1", "+86王", "-李", "@赵", "O\"Brien, Jr."]


def names_in(db):
    return [r[0] for r in db.execute("SELECT name FROM clients ORDER BY client_id")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_awkward_names_are_stored_exactly(db, tmp_path, encoding):
    import csv
    import io

    names = AWKWARD if encoding != "gb18030" else AWKWARD[1:] + ["张三"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if encoding == "utf-16" else ",")
    writer.writerow(HEADER)
    for i, name in enumerate(names):
        writer.writerow([person(f"C{i}", name=name)[c] for c in HEADER])
    path = tmp_path / ("unicode.txt" if encoding == "utf-16" else "c.csv")
    path.write_bytes(buffer.getvalue().encode(encoding))  # utf-16 writes a BOM, as Excel's "Unicode 文本"
    assert import_clients(db, path).inserted == len(names)
    assert names_in(db) == names


def test_blank_line_and_title_block_above_the_header(db, tmp_path):
    path = tmp_path / "title.csv"
    path.write_text("\n客户信息表 2026年6月,,\n\n" + csv_text(person()), encoding="utf-8")
    result = import_clients(db, path)
    assert result.inserted == 1 and names_in(db) == ["测试1"]


def test_header_row_option_picks_the_row(db, tmp_path):
    # Row 1 looks like a header too (two known names); --header-row says the real one is row 2.
    path = tmp_path / "two.csv"
    path.write_text("name,phone\n" + csv_text(person()), encoding="utf-8")
    assert import_clients(db, path, header_row=2).inserted == 1


def test_trailing_empty_cells_are_not_ragged(db, tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text(",".join(HEADER) + ",,\n" + line(person()).rstrip("\n") + ",,\n", encoding="utf-8")
    assert import_clients(db, path).inserted == 1


def test_utf16_without_bom_is_detected(db, tmp_path):
    path = tmp_path / "nobom.txt"
    path.write_bytes(csv_text(person(name="王五"), person("C2", name="赵六")).replace(",", "\t")
                     .encode("utf-16-le"))
    assert import_clients(db, path).inserted == 2 and names_in(db) == ["王五", "赵六"]


def test_bom_of_utf8_is_not_part_of_the_first_header(db, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + csv_text(person()).encode())
    assert import_clients(db, path).inserted == 1


def test_json_numbers_keep_their_digits(db, tmp_path):
    path = tmp_path / "n.json"
    row = {**person(), "id_number": None, "total_assets": None}
    text = json.dumps([row], ensure_ascii=False).replace('"id_number": null', f'"id_number": {make_id("1980-01-01")}')
    path.write_text(text.replace('"total_assets": null', '"total_assets": 1.10'), encoding="utf-8")
    import_clients(db, path)
    assert db.execute("SELECT id_number, total_assets FROM clients").fetchone() == (make_id("1980-01-01"), 1.1)


def test_rows_the_reader_refused_go_to_rejects_with_skip_invalid(db, tmp_path):
    import csv

    path = tmp_path / "mix.csv"
    path.write_text(csv_text(person("C1"), person("C2", name="坏\x00名"), person("C3")), encoding="utf-8")
    rejects = tmp_path / "rej.csv"
    result = import_clients(db, path, skip_invalid=True, rejects=rejects)
    assert (result.inserted, result.rejected) == (2, 1)
    got = list(csv.DictReader(rejects.read_text(encoding="utf-8-sig").splitlines()))
    assert got[0]["client_id"] == "C2" and "NUL" in got[0]["reason"]


def test_strict_numbers_in_the_other_importers(db, tmp_path):
    from brokercrm.kernel.errors import BrokerCRMError
    from brokercrm.service.interactions import normal_satisfaction
    from brokercrm.suitability.behaviour import _pct, _share

    assert _pct("250")[0] == 250.0 and _share("60%")[0] == 0.6
    for value in ("1_0", "١٠", "1e2", "1.2.3"):
        assert _pct(value)[1] and _share(value)[1]
    assert normal_satisfaction("5") == 5
    for value in ("٥", "５", "+5"):
        with pytest.raises(BrokerCRMError):
            normal_satisfaction(value)


def test_a_credit_code_with_an_e_is_not_excel_notation():
    from brokercrm.kernel.validate import excel_scientific

    assert excel_scientific("91140105903670E470") is None  # a real credit code shape, found by the 1M bench
    assert excel_scientific("1.40105E+17") and excel_scientific("1E+17") and excel_scientific("1.38e+10")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
@pytest.mark.parametrize("char, name", [("\x07", "U+0007"), ("\x7f", "U+007F"), ("\x85", "U+0085"), ("\x9f", "U+009F")])
def test_a_control_character_anywhere_in_a_utf8_file_is_found_past_the_whole_file_scan(db, tmp_path, char, name,
                                                                                        encoding):
    # The UTF-8 scan lets the rows of a file without control characters skip the per-row search
    # (issue 16): one in the last row of a large file must still be refused, with row and column.
    from brokercrm.kernel.errors import ValidationFailed

    rows = [person(f"C{i}") for i in range(1, 3000)] + [person("C9999", name=f"张{char}三")]
    path = tmp_path / "late.csv"
    path.write_text(csv_text(*rows), encoding=encoding)
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, path)
    assert any(f":{len(rows) + 1}:name:" in line and name in line for line in e.value.problems), e.value.problems[:3]
    assert db.execute("SELECT count(*) FROM clients").fetchone()[0] == 0
