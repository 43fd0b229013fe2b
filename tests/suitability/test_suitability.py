"""Suitability verdicts: every path, every default threshold at its edge, confirmations, plugins."""

import json
import re

import pytest

from brokercrm.classify import engine as classify
from brokercrm.book import clients
from brokercrm.suitability import engine as suitability
from brokercrm.suitability import scan as suitability_scan
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.trust import authz, keys, operators
from brokercrm.trust import root as trust_root
from conftest import add_assessment, add_client, add_product, grant_professional

TODAY = "2026-06-30"  # conftest pins now to 2026-06-30 10:00 +08:00
LEVELS = ["R1", "R2", "R3", "R4", "R5"]


@pytest.fixture
def book(db):
    for level in LEVELS:
        add_product(db, f"P{level}", level)
    return db


@pytest.fixture
def op1(actors):
    """A head-office suitability officer: checks and confirms for clients of any branch."""
    return actors("op1")


def verdict(db, actor, client_id, product, **kw):
    return suitability.check(db, actor, client_id, product, **kw)["verdict"]


@pytest.mark.parametrize("client_level", ["C1", "C2", "C3", "C4", "C5"])
def test_matching_matrix_edges(book, client_level, op1):
    """C1→R1, C2→R1–R2 … C5→R1–R5: match up to the edge, mismatch one above."""
    add_client(book, "c1", birth="1980-01-01")
    add_assessment(book, "c1", client_level)
    top = int(client_level[1])
    for level in LEVELS:
        expected = "match" if int(level[1]) <= top else "mismatch"
        assert verdict(book, op1, "c1", f"P{level}") == expected, (client_level, level)


def test_r3_r4_edge_for_c3(book, op1):
    add_client(book, "c1")
    add_assessment(book, "c1", "C3")
    r3 = suitability.check(book, op1, "c1", "PR3")
    r4 = suitability.check(book, op1, "c1", "PR4")
    assert r3["verdict"] == "match"
    assert r4["verdict"] == "mismatch"
    assert any("高于客户等级" in r for r in r4["reasons"])
    assert "特别风险警示书" in r4["requires"]


@pytest.mark.parametrize("birth,product,expected", [
    ("1956-07-01", "PR4", "match"),     # 69 (70th birthday tomorrow)
    ("1956-06-30", "PR4", "mismatch"),  # 70 today
    ("1956-06-30", "PR3", "match"),     # 70, but R3 is below the special-group line
    ("1940-01-01", "PR5", "mismatch"),
])
def test_elderly_special_group_edges(book, birth, product, expected, op1):
    add_client(book, "old", birth=birth)
    add_assessment(book, "old", "C5")
    result = suitability.check(book, op1, "old", product)
    assert result["verdict"] == expected
    assert any("特殊群体" in r for r in result["reasons"]) == (expected == "mismatch")


def test_no_assessment_is_forbidden(book, op1):
    add_client(book, "new")
    result = suitability.check(book, op1, "new", "PR1")
    assert result["verdict"] == "forbidden"
    assert "无有效风险测评" in result["reasons"][0]
    assert result["client_level"] == "unassessed"


@pytest.mark.parametrize("expires,expected", [("2026-06-30", "forbidden"), ("2026-07-01", "match")])
def test_expiry_by_date(book, expires, expected, op1):
    add_client(book, "c1")
    add_assessment(book, "c1", "C3", answered="2024-06-30", expires=expires)
    result = suitability.check(book, op1, "c1", "PR2")
    assert result["verdict"] == expected
    if expected == "forbidden":
        assert "过期" in result["reasons"][0] and expires in result["reasons"][0]


def test_expiry_judged_today_even_when_classification_is_older(book, op1):
    """A classification run said C3; the assessment expired since: forbidden now."""
    add_client(book, "c1")
    add_assessment(book, "c1", "C3", answered="2024-07-10", expires="2026-07-10")
    classify.classify(book, actor=op1)
    assert verdict(book, op1, "c1", "PR2") == "match"
    import datetime as dt
    assert verdict(book, op1, "c1", "PR2", today=dt.date(2026, 7, 10)) == "forbidden"


def test_lowest_category_cannot_be_overridden(book, op1):
    add_client(book, "low")
    add_assessment(book, "low", "C1", lowest=1)
    assert verdict(book, op1, "low", "PR1") == "match"
    result = suitability.check(book, op1, "low", "PR2")
    assert result["verdict"] == "forbidden"
    assert any("最低类别" in r for r in result["reasons"])
    with pytest.raises(BrokerCRMError, match="forbidden"):
        suitability.confirm(book, op1, "low", "PR2", "WARN-1")
    assert book.execute("SELECT count(*) FROM suitability_confirmations").fetchone()[0] == 0
    assert book.execute("SELECT count(*) FROM events WHERE kind = 'high_risk_sale'").fetchone()[0] == 0


def test_lowest_category_from_classification_when_newer(book, op1):
    add_client(book, "low")
    add_assessment(book, "low", "C1", lowest=1)
    classify.classify(book, actor=op1)
    row = book.execute("SELECT risk_level, lowest_category FROM classifications WHERE client_id = 'low'").fetchone()
    assert row == ("C1", 1)
    assert verdict(book, op1, "low", "PR2") == "forbidden"


def test_confirm_mismatch_records_and_emits_high_risk_sale(book, run, op1):
    add_client(book, "c1")
    add_assessment(book, "c1", "C2")
    with pytest.raises(BrokerCRMError, match="needs no confirmation"):
        suitability.confirm(book, op1, "c1", "PR1", "W-0")
    with pytest.raises(BrokerCRMError, match="evidence"):
        suitability.confirm(book, op1, "c1", "PR4", "  ")
    with pytest.raises(authz.Forbidden, match="未认证的操作员"):
        suitability.confirm(book, None, "c1", "PR4", "WARN-2026-001")
    result = suitability.confirm(book, op1, "c1", "PR4", "WARN-2026-001")
    assert result["verdict"] == "mismatch"
    assert result["confirmation"]["evidence"] == "WARN-2026-001"
    event = book.execute("SELECT client_id, detail, operator FROM events WHERE kind = 'high_risk_sale'").fetchall()
    assert len(event) == 1 and event[0][0] == "c1" and event[0][2] == "op1"
    assert json.loads(event[0][1])["product_code"] == "PR4"
    # A later check sees the covering confirmation.
    again = suitability.check(book, op1, "c1", "PR4")
    assert again["confirmation"]["evidence"] == "WARN-2026-001"
    # Stored: who, when, policy version, reasons; and shown by clients show.
    shown = clients.show(book, op1, "c1")["suitability"]
    assert [c["verdict"] for c in shown["checks"]][:2] == ["mismatch", "mismatch"]
    assert shown["checks"][0]["policy_version"] == 1 and shown["checks"][0]["reasons"]
    assert shown["confirmations"][0]["confirmed_by"] == "op1"
    text = run("clients", "show", "c1").output
    assert "WARN-2026-001" in text and "mismatch" in text
    # Checks and confirmations are append-only.
    with pytest.raises(Exception, match="append-only"):
        book.execute("DELETE FROM suitability_confirmations")


def test_confirmation_lapses_when_level_changes(book, op1):
    add_client(book, "c1")
    add_assessment(book, "c1", "C2")
    suitability.confirm(book, op1, "c1", "PR4", "W-1")
    add_assessment(book, "c1", "C3", answered="2026-03-01", imported="2026-03-01T09:00:00+08:00")
    assert suitability.check(book, op1, "c1", "PR4")["confirmation"] is None


# Investor status (professional or ordinary) comes from reviewed evidence only: tests/suitability/test_investor_status.py.


def test_extra_rule_forbids_and_is_branch_scoped(book, op1):
    add_client(book, "ty", branch="TY01")
    add_client(book, "bj", branch="BJ01")
    for cid in ("ty", "bj"):
        add_assessment(book, cid, "C5")
    rule = suitability.Rule("no_derivatives", "forbidden", "本营业部不向个人销售R5产品",
                            {"field": "product_risk", "op": ">=", "value": 5}, ["TY01"], "test")
    assert verdict(book, op1, "ty", "PR5", rules=[rule]) == "forbidden"
    assert verdict(book, op1, "bj", "PR5", rules=[rule]) == "match"
    # A forbidding rule also beats a confirmation attempt.
    with pytest.raises(BrokerCRMError, match="forbidden"):
        suitability.confirm(book, op1, "ty", "PR5", "W", rules=[rule])


STRICT_CHECKS = [{"name": "elderly_r3", "verdict": "mismatch", "message": "本营业部: 65岁以上客户购买R3及以上须确认",
                  "when": {"all": [{"field": "age", "op": ">=", "value": 65},
                                   {"field": "product_risk", "op": ">=", "value": 3}]}}]
STRICT_BRANCH = f"""
# A branch plugin adding a suitability check through the policy hook.
from brokercrm.hookspecs import hookimpl

@hookimpl
def suitability_checks(branch):
    return {STRICT_CHECKS!r}
"""


def test_plugin_added_check_applies_only_once_approved(book, op1, plugin_site, approve_plugin):
    add_client(book, "old", birth="1960-01-01")  # 66
    add_assessment(book, "old", "C5")
    plugin_site.install("strict-branch", STRICT_BRANCH, version="1.0")
    with plugin_site.host() as plugins:
        assert verdict(book, op1, "old", "PR3", plugins=plugins) == "match"  # installed, not approved
        approve_plugin(plugins, "strict-branch", "TY01")
        result = suitability.check(book, op1, "old", "PR3", plugins=plugins)
        assert result["verdict"] == "mismatch"
        assert any("strict-branch" in r and "65岁以上" in r for r in result["reasons"])
        assert verdict(book, op1, "old", "PR2", plugins=plugins) == "match"


def test_scan_finds_holdings_above_level_and_confirmation_cover(book, run, op1):
    add_client(book, "a", branch="TY01")
    add_client(book, "b", branch="BJ01")
    add_client(book, "n", branch="TY01")
    add_assessment(book, "a", "C2")
    add_assessment(book, "b", "C5")
    for cid, code in (("a", "PR1"), ("a", "PR3"), ("a", "PR4"), ("b", "PR5"), ("n", "PR1")):
        book.execute("INSERT INTO holdings (client_id, product_code, amount, since, imported_at)"
                     " VALUES (?, ?, 100, NULL, ?)", [cid, code, TODAY])
    suitability.confirm(book, op1, "a", "PR3", "W-9")
    summary = suitability_scan.scan(book, op1, rules=[])
    assert (summary["holdings"], summary["match"], summary["mismatch"], summary["forbidden"]) == (5, 2, 2, 1)
    assert summary["mismatch_confirmed"] == 1
    found = {(e["client_id"], e["product_code"]): (e["verdict"], e["confirmed"]) for e in summary["exceptions"]}
    assert found == {("a", "PR3"): ("mismatch", True), ("a", "PR4"): ("mismatch", False),
                     ("n", "PR1"): ("forbidden", False)}
    # The scan and the single check agree on every holding.
    for (cid, code), (v, _) in found.items():
        assert suitability.check(book, op1, cid, code, record=False)["verdict"] == v
    only_bj = suitability_scan.scan(book, op1, branch="BJ01", rules=[])
    assert only_bj["holdings"] == 1 and only_bj["exceptions"] == []
    out = json.loads(run("suitability", "scan", "--branch", "TY01", "--json").output)
    assert out["mismatch_unconfirmed"] == 1 and len(out["exceptions"]) == 3


def test_scan_applies_plugin_rules(book, op1):
    add_client(book, "old", birth="1960-01-01")
    add_assessment(book, "old", "C5")
    book.execute("INSERT INTO holdings (client_id, product_code, amount, imported_at) VALUES ('old', 'PR3', 1, ?)",
                 [TODAY])
    rule = suitability.rules_from_items(STRICT_CHECKS, "插件 strict", ["TY01"])
    summary = suitability_scan.scan(book, op1, rules=rule)
    assert summary["mismatch"] == 1
    assert "65岁以上" in " ".join(summary["exceptions"][0]["reasons"])


def test_cli_check_and_confirm(book, run, actors):
    add_client(book, "c1")
    actors("op7", branch="TY01")
    add_assessment(book, "c1", "C3")
    out = json.loads(run("suitability", "check", "c1", "pr4", "--json", "--as", "op7").output)
    assert out["verdict"] == "mismatch" and out["checked_by"] == "op7"
    text = run("suitability", "check", "c1", "PR2").output
    assert "适当 (match)" in text
    bad = run("suitability", "confirm", "c1", "PR2", "--evidence", "X", "--as", "op7", ok=False)
    assert bad.exit_code == 1 and "needs no confirmation" in bad.output
    ok = json.loads(run("suitability", "confirm", "c1", "PR4", "--evidence", "W-1", "--json", "--as", "op7").output)
    assert ok["confirmation"]["evidence"] == "W-1"
    missing = run("suitability", "check", "nobody", "PR1", ok=False)
    assert missing.exit_code == 1 and "no such client" in missing.output


def _policy_variant(tmp_path, old, new):
    from brokercrm.policy.sets import default_policy_dir

    body = (default_policy_dir() / "suitability.toml").read_text(encoding="utf-8")
    assert old in body
    path = tmp_path / "suitability.toml"
    path.write_text(body.replace(old, new), encoding="utf-8")
    return path


def test_professional_needs_assessment_when_policy_says_so(book, tmp_path, op1, admin):
    from brokercrm.policy import sets as policy

    add_client(book, "pro", birth="1950-01-01")
    grant_professional(book, op1, admin, "pro")
    assert verdict(book, op1, "pro", "PR5") == "match"
    policy.publish(book, _policy_variant(tmp_path, "professional_exempt = true", "professional_exempt = false"),
                   admin)
    result = suitability.check(book, op1, "pro", "PR5")
    assert result["verdict"] == "forbidden" and result["policy_version"] == 2
    add_assessment(book, "pro", "C2")
    # Professional: R5 within reach, but the elderly special group now binds them too.
    result = suitability.check(book, op1, "pro", "PR5")
    assert result["verdict"] == "mismatch" and any("特殊群体" in r for r in result["reasons"])


@pytest.mark.parametrize("old,new,key", [
    ('C3 = "R3"', 'C3 = "R1"', "matching.C3"),
    ('C4 = "R4"', 'C4 = "R9"', "matching.C4"),
    ('{ field = "age", op = ">=", value = 70 }', '{ field = "shoe_size", op = ">=", value = 70 }', "special_groups[0]"),
    ('high = "R4"', 'high = "X"', "tiers.high"),
    ("min_days = 20", "min_days = 0", "behaviour.rules[0].min_days"),
    ("professional_exempt = true", 'professional_exempt = "yes"', "matching.professional_exempt"),
])
def test_policy_validator_names_the_key(tmp_path, old, new, key):
    from brokercrm.kernel.errors import PolicyError
    from brokercrm.policy.sets import load_file

    with pytest.raises(PolicyError, match=re.escape(key)):
        load_file(_policy_variant(tmp_path, old, new))


def test_database_without_suitability_policy_falls_back_to_shipped_file(tmp_path, monkeypatch):
    """A database initialised before the suitability policy existed uses the shipped file, and says so."""
    import shutil

    from brokercrm.kernel.db import connect
    from brokercrm.policy.sets import default_policy_dir, publish_defaults
    from brokercrm.suitability.policy import load

    monkeypatch.setenv("BROKERCRM_NOW", "2026-06-30T10:00:00+08:00")
    old = tmp_path / "old"
    old.mkdir()
    for name in ("classification.toml", "questionnaire.toml"):
        shutil.copy(default_policy_dir() / name, old)
    db = connect(tmp_path / "old.db")
    admin = operators.bootstrap(db, "admin", trust_root.root_path(tmp_path / "old.db"), keys.generate())
    publish_defaults(db, admin, directory=old)
    policy = load(db)
    assert "not yet published" in policy.source and policy.doc["matching"]["C3"] == "R3"
    db.execute("INSERT INTO branches (code, name, created_at) VALUES ('TY01', 't', 'now')")
    add_client(db, "c1")
    add_assessment(db, "c1", "C3")
    add_product(db, "P1", "R4")
    result = suitability.check(db, admin, "c1", "P1")
    assert result["verdict"] == "mismatch" and "not yet published" in result["reasons"][0]


def test_cli_scan_text_lists_exceptions(book, run):
    add_client(book, "a")
    add_assessment(book, "a", "C1")
    book.execute("INSERT INTO holdings (client_id, product_code, amount, imported_at) VALUES ('a', 'PR3', 5, ?)",
                 [TODAY])
    text = run("suitability", "scan").output
    assert "不适当 1" in text and "PR3" in text and "未确认 (unconfirmed)" in text


BROKEN_BRANCH = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def suitability_checks(branch):
    return [{"name": "bad", "verdict": "forbidden", "message": "x",
             "when": {"field": "shoe_size", "op": ">", "value": 1}}]
"""


def test_malformed_plugin_rule_fails_closed_naming_the_plugin(book, op1, plugin_site, approve_plugin):
    from brokercrm.plugins import PluginError

    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    plugin_site.install("broken-branch", BROKEN_BRANCH, version="1.0")
    with plugin_site.host() as plugins:
        approve_plugin(plugins, "broken-branch", "TY01")
        with pytest.raises(PluginError, match="broken-branch.*shoe_size"):
            suitability.check(book, op1, "c1", "PR1", plugins=plugins)
        with pytest.raises(PluginError, match="broken-branch"):
            suitability_scan.scan(book, op1, plugins=plugins)


def test_branch_scan_after_a_client_moved_branch(book, op1):
    add_client(book, "a", branch="TY01")
    add_assessment(book, "a", "C1")
    book.execute("INSERT INTO holdings (client_id, product_code, amount, imported_at) VALUES ('a', 'PR3', 5, ?)",
                 [TODAY])
    suitability_scan.scan(book, op1, rules=[])
    book.execute("UPDATE clients SET branch_id = 'BJ01' WHERE client_id = 'a'")
    summary = suitability_scan.scan(book, op1, branch="BJ01", rules=[])
    assert [(e["client_id"], e["branch_id"]) for e in summary["exceptions"]] == [("a", "BJ01")]
    assert suitability_scan.exceptions(book, branch="TY01") == []
