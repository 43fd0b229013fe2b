"""Importing products and holdings: levels from types by policy, all-or-nothing validation."""

import json

import pytest

from brokercrm.suitability import products
from brokercrm.kernel.errors import ValidationFailed
from conftest import add_client


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


@pytest.mark.parametrize("ptype,level", [
    ("股票型", "R4"), ("index", "R4"), ("增强指数型", "R4"), ("偏股型", "R4"), ("股债平衡型", "R4"),
    ("灵活配置型", "R4"), ("偏债型", "R3"), ("债券型", "R3"), ("中短债型", "R2"), ("保本型", "R2"),
    ("货币型", "R1"), ("money_market", "R1"), ("期权", "R5"),
])
def test_default_level_from_type(db, admin, tmp_path, ptype, level):
    f = write(tmp_path / "p.csv", f"code,name,type,risk_level\nf1,基金一,{ptype},\n")
    products.import_products(db, f, actor=admin)
    row = db.execute("SELECT risk_level, risk_rank, level_source FROM products WHERE code = 'F1'").fetchone()
    assert row[0] == level and row[1] == int(level[1])
    assert "策略 v1" in row[2]


def test_explicit_level_wins_and_gbk_chinese_headers(db, admin, tmp_path):
    # An explicit level above the type's default wins (below it is refused: test_ratings.py).
    f = write(tmp_path / "p.csv", "产品代码,产品名称,产品类型,风险等级\n000001,华夏成长,股票型,R5\n",
              encoding="gbk")
    result = products.import_products(db, f, actor=admin)
    assert result.inserted == 1
    assert db.execute("SELECT risk_level, type, level_source FROM products").fetchone() == ("R5", "equity", "file")
    again = products.import_products(db, f, actor=admin)
    assert (again.inserted, again.unchanged) == (0, 1)


def test_bad_products_import_nothing_and_name_row_and_column(db, admin, tmp_path):
    f = write(tmp_path / "p.csv",
              "code,name,type,risk_level\nA1,好,股票型,\nA2,坏,,R7\nA3,未知,神秘型,\nA1,重复,债券型,\n")
    with pytest.raises(ValidationFailed) as e:
        products.import_products(db, f, actor=admin)
    lines = e.value.problems
    assert any(line.endswith("p.csv:3:risk_level: 'R7' 须为 R1–R5 (must be R1–R5)") for line in lines)
    assert any(":4:type:" in line and "神秘型" in line for line in lines)
    assert any(":5:key:" in line and "repeats row 2" in line for line in lines)
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] == 0


def test_products_json_and_ndjson(db, admin, tmp_path):
    f = write(tmp_path / "p.json", json.dumps([{"code": "J1", "name": "j", "type": "bond"}]))
    g = write(tmp_path / "p.ndjson", '{"code": "N1", "name": "n", "risk_level": "R5"}\n')
    products.import_products(db, f, actor=admin)
    products.import_products(db, g, actor=admin)
    assert dict(db.execute("SELECT code, risk_level FROM products").fetchall()) == {"J1": "R3", "N1": "R5"}


def test_holdings_import_validates_and_updates(db, admin, tmp_path, run):
    add_client(db, "c1")
    products.import_products(db, write(tmp_path / "p.csv", "code,name,risk_level\nP1,一,R2\nP2,二,R4\n"), actor=admin)
    bad = write(tmp_path / "h.csv",
                "client_id,product_code,amount,since\nc1,P1,100,2026-01-02\nzz,P1,1,\nc1,P9,1,\nc1,P2,-5,\n"
                "c1,P2,1,2027-01-01\n")
    with pytest.raises(ValidationFailed) as e:
        products.import_holdings(db, bad, actor=admin)
    text = "\n".join(e.value.problems)
    for expected in ("h.csv:3:client_id", "h.csv:4:product_code", "h.csv:5:amount", "h.csv:6:since"):
        assert expected in text
    assert db.execute("SELECT count(*) FROM holdings").fetchone()[0] == 0
    good = write(tmp_path / "h2.csv", "客户号,产品代码,持有金额,持有起始日\nc1,p1,100,2026/01/02\nc1,P2,\"1,000\",\n")
    r = products.import_holdings(db, good, actor=admin)
    assert (r.inserted, r.updated) == (2, 0)
    upd = write(tmp_path / "h3.csv", "client_id,product_code,amount\nc1,P1,150\nc1,P2,1000\n")
    r = products.import_holdings(db, upd, actor=admin)
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 1)
    assert db.execute("SELECT amount, since FROM holdings WHERE product_code = 'P1'").fetchone() == (150, "2026-01-02")
    out = json.loads(run("import", "holdings", str(write(tmp_path / "h4.csv", "client_id,product_code,amount\nc1,P1,7\n")),
                         "--replace", "--json").output)
    assert out["removed"] == 1
    assert db.execute("SELECT product_code, amount FROM holdings").fetchall() == [("P1", 7.0)]


def test_cli_import_products_reports_rows(run, tmp_path):
    f = write(tmp_path / "p.csv", "code,name,type\nX1,x,货币型\n")
    out = json.loads(run("import", "products", str(f), "--json").output)
    assert out["inserted"] == 1
    bad = run("import", "products", str(write(tmp_path / "b.csv", "code,name\nX2,\n")), ok=False)
    assert bad.exit_code == 1 and "b.csv:2:name" in bad.output
