"""Issue 13 §5: files written for people never carry a formula; the database keeps the value."""

import csv

import pytest

from brokercrm.imports import import_clients
from brokercrm.kernel.cells import neutralise

from conftest import make_id


@pytest.mark.parametrize("value,expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+86 138", "'+86 138"), ("-1", "'-1"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("张三", "张三"), ("a=1", "a=1"), ("", ""),
    (None, None), (12, 12),
])
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_rejects_file_neutralises_formula_cells(db, admin, tmp_path):
    header = ["client_id", "kind", "name", "id_number", "phone", "branch_id", "=cmd"]
    path = tmp_path / "c.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerow(["C1", "individual", "=HYPERLINK(\"x\")", make_id("1980-01-01"), "13800000000", "TY01", "@x"])
        w.writerow(["C2", "individual", "-李", make_id("1980-01-01"), "1", "TY01", "+1"])
    rejects = tmp_path / "rej.csv"
    result = import_clients(db, path, actor=admin, skip_invalid=True, rejects=rejects)
    assert (result.inserted, result.rejected) == (1, 1)
    assert db.execute("SELECT name FROM clients").fetchone()[0] == "=HYPERLINK(\"x\")"  # stored exactly
    got = list(csv.reader(rejects.read_text(encoding="utf-8-sig").splitlines()))
    assert got[0][-2:] == ["'=cmd", "reason"]
    assert got[1][:3] == ["C2", "individual", "'-李"] and got[1][-2] == "'+1"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in got for cell in row)
