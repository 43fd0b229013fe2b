"""Tests of the 北京营业部 plugin, through brokercrm's documented API only.

The impact preview runs the installed plugin as the engine does: discovered
by a ``Host`` (nothing imported) and run in its own worker process. The
hooks themselves are also checked by calling them directly.

Run: .venv/bin/python -m pytest plugins/brokercrm-beijing/tests -q
"""

import datetime as dt
import json

import pytest

import brokercrm_beijing
from brokercrm.approvals import impact
from brokercrm.kernel.db import connect
from brokercrm.imports import import_clients
from brokercrm.plugins import ENV_LOAD, Host
from brokercrm.policy.sets import default_policy_dir, load_file, publish_defaults
from brokercrm.kernel.validate import uscc_check_char
from brokercrm.trust import keys, operators

TODAY = dt.date(2026, 6, 30)


def credit_code(serial):
    first17 = f"91110000MA0{serial:05d}X"[:17]
    return first17 + uscc_check_char(first17)


def institution(cid, serial, **over):
    row = {"client_id": cid, "kind": "institution", "name": "某某投资有限公司", "id_number": credit_code(serial),
           "phone": "010-12345678", "branch_id": "BJ01", "opened_at": "2019-01-02", "total_assets": 2_000_000,
           "turnover_rate": 2.0, "legal_representative": "王五", "business_scope": "投资管理"}
    row.update(over)
    return row


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("BROKERCRM_NOW", "2026-06-30T10:00:00+08:00")
    monkeypatch.delenv("BROKERCRM_TRUST_ROOT", raising=False)
    database = connect(tmp_path / "crm.db")
    # What `brokercrm init` does: the root head-office operator, its public key as the trust root.
    admin = operators.bootstrap(database, "admin", tmp_path / "crm.db.trust-root", keys.generate())
    publish_defaults(database, admin)
    database.execute("INSERT INTO branches (code, name, created_at) VALUES ('BJ01', '北京营业部', '2026-01-01')")
    rows = [
        institution("ACTIVE", 1),                                   # 2.0 ≥ 1.5: B → A
        institution("BIG", 2, total_assets=6_000_000),              # B+ → A+
        institution("SLOW", 3, turnover_rate=1.0),                  # below 1.5: stays B
        institution("TINY", 4, total_assets=5_000),                 # G has no high/low pair
    ]
    (tmp_path / "clients.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    import_clients(database, tmp_path / "clients.json", actor=admin)
    return database


def preview(db, branch):
    with Host(env={ENV_LOAD: "brokercrm-beijing"}) as host:
        assert [i.name for i in host] == ["brokercrm-beijing"], (
            "not installed: .venv/bin/pip install -e plugins/brokercrm-beijing")
        return impact(db, host, "brokercrm-beijing", branch, today=TODAY)


def test_institutions_use_their_own_turnover_threshold(db):
    result = preview(db, "BJ01")
    assert result["moves"] == {"B+ → A+": 1, "B → A": 1}
    assert {e["client_id"] for e in result["examples"]} == {"ACTIVE", "BIG"}
    assert all("1.5" in e["reason"] for e in result["examples"])


def test_rules_follow_the_bands_of_the_policy_in_force():
    policy = load_file(default_policy_dir() / "classification.toml").doc
    rules = brokercrm_beijing.classification_adjustments(branch="BJ01", policy=policy)
    assert [r["set_class"] for r in rules] == ["A+", "A", "C", "C-", "E"]
    assert brokercrm_beijing.classification_adjustments(branch="TY01", policy=policy) == []


def test_an_institution_needs_a_legal_representative():
    rows = [{"kind": "institution", "legal_representative": ""},
            {"kind": "institution", "legal_representative": "王五"},
            {"kind": "individual"}]
    problems = brokercrm_beijing.validate_clients(rows=rows, branch="BJ01")
    assert [(i, col) for i, col, _ in problems] == [(0, "legal_representative")]
    assert brokercrm_beijing.validate_clients(rows=rows, branch="TY01") == []
