"""Tests of the 太原营业部 plugin, through brokercrm's documented API only.

The impact preview runs the installed plugin as the engine does: discovered
by a ``Host`` (nothing imported) and run in its own worker process. The
rule itself is also checked by calling the hook directly.

Run: .venv/bin/python -m pytest plugins/brokercrm-taiyuan/tests -q
"""

import datetime as dt
import json

import pytest

import brokercrm_taiyuan
from brokercrm.governance.approvals import impact
from brokercrm.kernel.db import connect
from brokercrm.imports import import_assessments, import_clients
from brokercrm.plugins import ENV_LOAD, Host
from brokercrm.policy.sets import default_policy_dir, load_file, publish_defaults
from brokercrm.kernel.validate import id_check_char
from brokercrm.trust import keys, operators

TODAY = dt.date(2026, 6, 30)


def resident_id(birth):
    first17 = f"140105{birth.replace('-', '')}123"
    return first17 + id_check_char(first17)


def client(cid, **over):
    row = {"client_id": cid, "kind": "individual", "name": "王小明", "id_number": resident_id("1970-03-04"),
           "phone": "13800000000", "birth_date": "1970-03-04", "branch_id": "TY01", "opened_at": "2019-05-01",
           "total_assets": 1_500_000, "turnover_rate": 0.4, "avg_holding_days": 400}
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
    for code, name in (("TY01", "太原营业部"), ("BJ01", "北京营业部")):
        database.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, '2026-01-01')", [code, name])
    rows = [
        client("MOVES"),
        client("NEWCOMER", opened_at="2024-01-01"),           # not three years yet
        client("TRADER", turnover_rate=1.2),                   # turns over too often
        client("SHORT", avg_holding_days=60),                  # holds too briefly
        client("SMALL", total_assets=50_000),                  # below 100,000
        client("TOP", total_assets=8_000_000),                 # B+: moves to A+
        client("UNASSESSED"),                                  # no risk assessment
        client("ELSEWHERE", branch_id="BJ01"),                 # another branch
    ]
    (tmp_path / "clients.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    import_clients(database, tmp_path / "clients.json", actor=admin)
    answers = [{"client_id": r["client_id"], "answered_at": "2026-01-10", **{f"q{i}": "C" for i in range(1, 13)}}
               for r in rows if r["client_id"] != "UNASSESSED"]
    (tmp_path / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
    import_assessments(database, tmp_path / "answers.json", actor=admin)
    return database


def preview(db, branch="TY01"):
    with Host(env={ENV_LOAD: "brokercrm-taiyuan"}) as host:
        assert [i.name for i in host] == ["brokercrm-taiyuan"], (
            "not installed: .venv/bin/pip install -e plugins/brokercrm-taiyuan")
        return impact(db, host, "brokercrm-taiyuan", branch, today=TODAY)


def test_steady_long_term_holders_move_up_one_class(db):
    result = preview(db)
    assert result["moves"] == {"B → A": 1, "B+ → A+": 1}
    moved = sorted(e["client_id"] for e in result["examples"])
    assert moved == ["MOVES", "TOP"]
    assert all("太原营业部" in e["reason"] and e["name"] == "王**" for e in result["examples"])


def test_one_rule_for_taiyuan_none_for_other_branches():
    policy = load_file(default_policy_dir() / "classification.toml").doc
    assert brokercrm_taiyuan.classification_adjustments(branch="BJ01", policy=policy) == []
    (rule,) = brokercrm_taiyuan.classification_adjustments(branch="TY01", policy=policy)
    assert rule["shift"] == 1 and rule["reason"].startswith("太原营业部")


def test_clients_of_other_branches_never_move(db):
    assert preview(db, "BJ01")["moves"] == {}
