"""Issue 13 §2: workbooks as branches have them — .xlsx, .xls, .ods, sheets, title blocks,
numbers Excel could not hold, and hostile workbooks that must cost the importer nothing."""

import functools
import zipfile

import pytest
from openpyxl import Workbook

from brokercrm import imports
from brokercrm.imports import import_clients  # noqa: F401  (acting as admin: _as_admin)
from brokercrm.imports import read_rules, read_workbook
from brokercrm.kernel.errors import BrokerCRMError, ValidationFailed

from conftest import make_id


@pytest.fixture(autouse=True)
def _as_admin(admin, monkeypatch):
    """Every import in this module acts as the root head-office operator (the trust model's actor)."""
    monkeypatch.setitem(globals(), "import_clients", functools.partial(imports.import_clients, actor=admin))


HEADER = ["客户号", "客户类型", "客户姓名", "身份证号", "手机", "营业部", "总资产"]
ID = make_id("1980-01-01")


def row(client_id="C1", **over):
    values = {"客户号": client_id, "客户类型": "个人", "客户姓名": "张三", "身份证号": ID, "手机": "13800000000",
              "营业部": "TY01", "总资产": 120000}
    values.update(over)
    return [values[h] for h in HEADER]


def xlsx(path, sheets):
    """sheets: {name: [rows]} in order."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def clients(db):
    return db.execute("SELECT client_id, name, id_number, phone, total_assets FROM clients ORDER BY client_id").fetchall()


def test_xlsx_with_title_block_and_policy_synonyms(db, tmp_path):
    path = xlsx(tmp_path / "c.xlsx", {"客户": [["客户信息表 2026年6月"], [], HEADER, row("C1"), row("C2")]})
    result = import_clients(db, path)
    assert result.inserted == 2
    assert clients(db)[0] == ("C1", "张三", ID, "13800000000", 120000.0)


def test_data_on_the_second_sheet(db, tmp_path):
    path = xlsx(tmp_path / "c.xlsx", {"说明": [], "客户清单": [HEADER, row("C1")]})
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, path)  # the first sheet is empty: say so and name the sheets, never "0 rows, success"
    assert "客户清单" in str(e.value) and "--sheet" in str(e.value)
    assert import_clients(db, path, sheet="客户清单").inserted == 1
    assert import_clients(db, path, sheet="2").unchanged == 1


def test_unknown_sheet_lists_the_sheets(db, tmp_path):
    path = xlsx(tmp_path / "c.xlsx", {"A": [HEADER, row()]})
    with pytest.raises(BrokerCRMError, match="1 A"):
        import_clients(db, path, sheet="B")


def test_id_number_stored_as_a_number_is_explained(db, tmp_path):
    path = xlsx(tmp_path / "c.xlsx", {"S": [HEADER, row(身份证号=int(ID[:17] + "0"))]})
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, path)
    assert e.value.problems == [f"{path}:2:id_number: {read_workbook_lost()}"]
    assert "校验位" not in e.value.problems[0]


def read_workbook_lost():
    from brokercrm.imports.tables import LOST_DIGITS

    return LOST_DIGITS


def test_phone_stored_as_a_number_is_exact_and_accepted(db, tmp_path):
    path = xlsx(tmp_path / "c.xlsx", {"S": [HEADER, row(手机=13800000000, 总资产=1234.5)]})
    import_clients(db, path)
    assert clients(db) == [("C1", "张三", ID, "13800000000", 1234.5)]


def test_xls_workbook(db, tmp_path):
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("客户")
    for r, values in enumerate([HEADER, row("C1")]):
        for c, value in enumerate(values):
            ws.write(r, c, value)
    wb.save(str(tmp_path / "c.xls"))
    assert import_clients(db, tmp_path / "c.xls").inserted == 1
    assert clients(db) == [("C1", "张三", ID, "13800000000", 120000.0)]


def ods(path, rows):
    cells = "".join(
        "<table:table-row>" + "".join(
            f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
            if isinstance(v, (int, float)) else
            f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>' for v in r)
        + "</table:table-row>" for r in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="客户">{cells}</table:table>'
        '</office:spreadsheet></office:body></office:document-content>')
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '</manifest:manifest>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def test_ods_workbook(db, tmp_path):
    assert import_clients(db, ods(tmp_path / "c.ods", [HEADER, row("C1")])).inserted == 1
    assert clients(db) == [("C1", "张三", ID, "13800000000", 120000.0)]


def test_zip_bomb_is_refused_before_parsing(db, tmp_path, monkeypatch):
    good = xlsx(tmp_path / "ok.xlsx", {"S": [HEADER, row()]})
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                data = data.replace(b"</sheetData>", b"</sheetData>" + b" " * (20 << 20))
            zout.writestr(item.filename, data)
    calls = []
    monkeypatch.setattr(read_workbook, "_sheet_rows", lambda *a: calls.append(a))  # must never be reached
    with pytest.raises(BrokerCRMError, match="zip bomb"):
        import_clients(db, bomb)
    monkeypatch.setattr(read_rules, "MAX_ZIP_RATIO", 10 ** 6)
    monkeypatch.setattr(read_workbook, "MAX_ZIP_RATIO", 10 ** 6)
    monkeypatch.setattr(read_workbook, "MAX_UNZIPPED_BYTES", 10 << 20)
    with pytest.raises(BrokerCRMError, match="10 MB"):
        import_clients(db, bomb)
    assert calls == []


def test_a_sheet_too_big_for_memory_costs_the_worker_not_the_importer(db, tmp_path):
    # Two cells far apart: a 5 KB file whose dense grid would need gigabytes in calamine.
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws["XFD1048576"] = "x"
    wb.save(tmp_path / "dim.xlsx")
    with pytest.raises(BrokerCRMError, match="内存|memory"):
        import_clients(db, tmp_path / "dim.xlsx")
    assert clients(db) == []


def test_not_a_workbook(db, tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("client_id,name\n", encoding="utf-8")
    with pytest.raises(BrokerCRMError, match="工作簿"):
        import_clients(db, path)
