"""Issue 13 §2: header synonyms come from head-office policy; a firm adds names without code."""

import csv
import functools

import pytest

from brokercrm import imports, policy
from brokercrm.imports import import_clients  # noqa: F401  (acting as admin: _as_admin)
from brokercrm.kernel.errors import PolicyError, ValidationFailed
from brokercrm.suitability.products import import_products

from conftest import make_id


@pytest.fixture(autouse=True)
def _as_admin(admin, monkeypatch):
    """Every import in this module acts as the root head-office operator (the trust model's actor)."""
    monkeypatch.setitem(globals(), "import_clients", functools.partial(imports.import_clients, actor=admin))


ID = make_id("1980-01-01")


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_common_trading_system_headers_are_known(db, tmp_path):
    path = write(tmp_path / "c.csv", ["资金账号", "客户类型", "客户姓名", "身份证号", "手机", "营业部", "换手率", "序号"],
                 [["C1", "个人", "张三", ID, "13800000000", "TY01", "2.5", "1"]])
    import_clients(db, path)
    row = db.execute("SELECT client_id, name, phone, turnover_rate, extra FROM clients").fetchone()
    assert row == ("C1", "张三", "13800000000", 2.5, None)  # 序号 is ignored by the policy, not kept as extra


def test_a_firm_publishes_its_own_synonym(db, admin, tmp_path):
    path = write(tmp_path / "c.csv", ["柜台客户号", "客户类型", "姓名", "身份证号", "手机号", "营业部"],
                 [["C1", "个人", "张三", ID, "13800000000", "TY01"]])
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, path)
    assert e.value.problems == [f"{path}:1:client_id: 缺少必填列, 可用的表头 (missing required column; accepted "
                                f"headers): client_id, 客户号, 客户编号, 资金账号, 资金帐号, 客户代码"]
    body = (policy.default_policy_dir() / "import.toml").read_text(encoding="utf-8").replace(
        'client_id = ["资金账号",', 'client_id = ["柜台客户号", "资金账号",', 1)
    mine = tmp_path / "import.toml"
    mine.write_text(body, encoding="utf-8")
    policy.publish(db, mine, admin)
    assert import_clients(db, path).inserted == 1


@pytest.mark.parametrize("text,where", [
    ("[trading]\n", "trading"),
    ("[clients.synonyms]\nnot_a_column = ['x']\n", "clients.synonyms.not_a_column"),
    ("[clients.synonyms]\nname = ['手机号']\n", "clients.synonyms.name"),      # built-in: phone
    ("[clients.synonyms]\nname = ['phone']\n", "clients.synonyms.name"),      # another column's own name
    ("[clients.synonyms]\nname = ['X']\nphone = ['x']\n", "clients.synonyms.phone"),
    ("[clients.synonyms]\nname = ['']\n", "clients.synonyms.name"),
    ("[clients]\nignore = ['手机号']\n", "clients.ignore"),
    ("[clients]\nrename = []\n", "clients.rename"),
])
def test_the_import_policy_is_validated(tmp_path, text, where):
    path = tmp_path / "import.toml"
    path.write_text('[policy]\nname = "import"\n' + text, encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        policy.load_file(path)
    assert f"{path}: {where}" in str(e.value)


def test_unknown_columns_refused_where_no_extra_data_is_kept(db, admin, tmp_path):
    path = write(tmp_path / "p.csv", ["产品代码", "产品名称", "产品类型", "备用字段"], [["F1", "基金", "债券型", "x"]])
    with pytest.raises(ValidationFailed) as e:
        import_products(db, path, actor=admin)
    assert e.value.problems[0].startswith(f"{path}:1:备用字段: 未知列")
