"""Special care and cooling-off (issue 11 item 5; 办法 Art. 20): high-risk sales to ordinary
investors, matched or not; the elderly rule at its birthday edge; the cooling-off window
before and after its end; withdrawal; the report of open windows and callbacks due."""

import json
import re

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Conflict, PolicyError
from brokercrm.suitability import cooling_off
from brokercrm.suitability import engine as suitability
from brokercrm.suitability import scan as suitability_scan
from conftest import add_assessment, add_client, add_product, grant_professional

LATER = "2026-07-01T10:00:01+08:00"   # 24 h and 1 s after the pinned now


@pytest.fixture
def book(db):
    for level in ("R1", "R2", "R3", "R4", "R5"):
        add_product(db, f"P{level}", level)
    add_product(db, "DV", "R5", ptype="derivative")
    return db


def care(result):
    return sorted(t["name"] for t in (result["special_care"] or {}).get("triggers", []))


def test_a_matched_high_risk_sale_to_an_ordinary_investor_triggers_special_care(book, admin):
    add_client(book, "c1")                # 46
    add_assessment(book, "c1", "C5")
    r4 = suitability.check(book, admin, "c1", "PR4")
    assert r4["verdict"] == "match" and care(r4) == ["high_risk"]
    assert [p["procedure"] for p in r4["special_care"]["procedures"]] == ["notice", "callback", "cooling_off"]
    assert r4["special_care"]["cooling_off_hours"] == 24 and "高风险产品" in r4["special_care"]["notice"]
    assert care(suitability.check(book, admin, "c1", "PR3")) == []
    stored = json.loads(book.execute("SELECT special_care FROM suitability_checks WHERE product_code = 'PR4'")
                        .fetchone()[0])
    assert stored["triggers"][0]["name"] == "high_risk"


def test_an_unmatched_high_risk_sale_triggers_it_too(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C3")
    r = suitability.check(book, admin, "c1", "PR5")
    assert r["verdict"] == "mismatch" and care(r) == ["high_risk"]


def test_professional_investors_and_forbidden_sales_get_no_special_care(book, admin, actors):
    add_client(book, "pro", assets=6_000_000, investment_years=3)
    grant_professional(book, actors("op1"), admin, "pro")   # status from reviewed evidence only
    assert care(suitability.check(book, admin, "pro", "PR5")) == []
    add_client(book, "new")
    r = suitability.check(book, admin, "new", "PR5")
    assert r["verdict"] == "forbidden" and r["special_care"] is None


@pytest.mark.parametrize("birth,product,expected", [
    ("1961-06-30", "PR3", ["elderly"]),               # 65 today (pinned 2026-06-30)
    ("1961-07-01", "PR3", []),                        # 64: the 65th birthday is tomorrow
    ("1961-06-30", "PR2", []),                        # 65, but R2 is below the rule's levels
    ("1950-01-01", "PR4", ["elderly", "high_risk"]),
])
def test_elderly_rule_edges_on_the_birthday(book, admin, birth, product, expected):
    add_client(book, "old", birth=birth)
    add_assessment(book, "old", "C5")
    r = suitability.check(book, admin, "old", product)
    assert care(r) == expected
    assert r["verdict"] in ("match", "mismatch")


def test_cooling_off_hours_follow_the_product_type(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    assert suitability.check(book, admin, "c1", "DV")["special_care"]["cooling_off_hours"] == 48
    assert suitability.check(book, admin, "c1", "PR5")["special_care"]["cooling_off_hours"] == 24


def test_confirming_a_matched_special_care_sale_opens_the_window_and_a_callback(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    with pytest.raises(Conflict, match="无需确认"):
        suitability.confirm(book, admin, "c1", "PR3", "W-0")    # no special care: nothing to confirm
    r = suitability.confirm(book, admin, "c1", "PR4", "W-1")
    assert r["verdict"] == "match"
    assert r["cooling_off"]["ends_at"] == "2026-07-01T10:00:00+08:00"
    assert r["confirmation"]["status"] == "cooling_off"
    sale = book.execute("SELECT verdict, triggers, notice, callback, cooling_off_hours FROM special_care_sales"
                        ).fetchone()
    assert sale[0] == "match" and "high_risk" in sale[1] and "高风险" in sale[2] and sale[3:] == (1, 24)
    task = book.execute("SELECT t.kind, t.status FROM tasks t JOIN events e ON e.id = t.event_id"
                        " WHERE e.kind = 'high_risk_sale'").fetchone()
    assert task == ("callback", "open")


def test_withdrawal_inside_the_window_and_refusal_after_it(book, admin, monkeypatch):
    add_client(book, "c1")
    add_assessment(book, "c1", "C3")
    conf = suitability.confirm(book, admin, "c1", "PR5", "W-1")["confirmation"]["id"]
    with pytest.raises(BrokerCRMError, match="evidence"):
        cooling_off.withdraw(book, admin, conf, evidence="")
    w = cooling_off.withdraw(book, admin, conf, evidence="WD-1", reason="客户改变主意")
    assert w["status"] == "withdrawn"
    assert cooling_off.confirmation_status(book, conf)["status"] == "withdrawn"
    # A withdrawn confirmation covers nothing: the check and the scan show the mismatch unconfirmed.
    assert suitability.check(book, admin, "c1", "PR5")["confirmation"] is None
    book.execute("INSERT INTO holdings (client_id, product_code, amount, imported_at) VALUES ('c1', 'PR5', 1, 'x')")
    assert suitability_scan.scan(book, admin)["mismatch_unconfirmed"] == 1
    with pytest.raises(Conflict, match="已于"):
        cooling_off.withdraw(book, admin, conf, evidence="WD-2")
    # A second sale: once its window has ended it is final and cannot be withdrawn.
    conf2 = suitability.confirm(book, admin, "c1", "PR5", "W-2")["confirmation"]["id"]
    monkeypatch.setenv("BROKERCRM_NOW", LATER)
    assert cooling_off.confirmation_status(book, conf2)["status"] == "final"
    with pytest.raises(Conflict, match="冷静期已于 2026-07-01T10:00:00\\+08:00 结束"):
        cooling_off.withdraw(book, admin, conf2, evidence="WD-3")
    assert book.execute("SELECT count(*) FROM cooling_off_withdrawals").fetchone()[0] == 1
    assert suitability_scan.scan(book, admin)["mismatch_confirmed"] == 1


def test_a_window_is_open_until_its_last_second(book, admin, monkeypatch):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    conf = suitability.confirm(book, admin, "c1", "PR4", "W-1")["confirmation"]["id"]
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-01T09:59:59+08:00")
    assert cooling_off.confirmation_status(book, conf)["status"] == "cooling_off"
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-01T10:00:00+08:00")
    assert cooling_off.confirmation_status(book, conf)["status"] == "final"


def test_withdraw_refuses_what_has_no_window(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C2")
    conf = suitability.confirm(book, admin, "c1", "PR3", "W-1")["confirmation"]["id"]  # R3 mismatch: no special care
    with pytest.raises(Conflict, match="不适用冷静期"):
        cooling_off.withdraw(book, admin, conf, evidence="X")
    with pytest.raises(BrokerCRMError, match="不存在"):
        cooling_off.withdraw(book, admin, 999, evidence="X")


def test_report_lists_open_windows_and_callbacks_due(book, admin, actors, monkeypatch):
    add_client(book, "a", branch="TY01")
    add_client(book, "b", branch="BJ01")
    for cid in ("a", "b"):
        add_assessment(book, cid, "C5")
    ca = suitability.confirm(book, admin, "a", "PR4", "W-A")["confirmation"]["id"]
    suitability.confirm(book, admin, "b", "DV", "W-B")
    r = cooling_off.report(book, admin)
    assert [w["client_id"] for w in r["open_windows"]] == ["a", "b"]
    assert sorted(c["client_id"] for c in r["callbacks_due"]) == ["a", "b"]
    ty = actors("ty", branch="TY01", role="branch")
    assert [w["client_id"] for w in cooling_off.report(book, ty)["open_windows"]] == ["a"]
    with pytest.raises(BrokerCRMError):
        cooling_off.report(book, ty, branch="BJ01")
    cooling_off.withdraw(book, admin, ca, evidence="WD")
    assert [w["client_id"] for w in cooling_off.report(book, admin)["open_windows"]] == ["b"]
    monkeypatch.setenv("BROKERCRM_NOW", LATER)   # a's window ended (and was withdrawn); b's (48 h) still open
    assert [w["client_id"] for w in cooling_off.report(book, admin)["open_windows"]] == ["b"]
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-02T10:00:00+08:00")
    assert cooling_off.report(book, admin)["open_windows"] == []


def test_special_care_tables_are_append_only(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    conf = suitability.confirm(book, admin, "c1", "PR4", "W-1")["confirmation"]["id"]
    cooling_off.withdraw(book, admin, conf, evidence="WD")
    for table in ("special_care_sales", "cooling_off_withdrawals"):
        with pytest.raises(Exception, match="append-only"):
            book.execute(f"DELETE FROM {table}")


def _variant(tmp_path, old, new):
    from brokercrm.policy.sets import default_policy_dir

    body = (default_policy_dir() / "suitability.toml").read_text(encoding="utf-8")
    assert old in body
    path = tmp_path / "suitability.toml"
    path.write_text(body.replace(old, new), encoding="utf-8")
    return path


def test_elderly_age_and_levels_are_policy(book, admin, tmp_path):
    from brokercrm.policy import sets as policy

    add_client(book, "old", birth="1958-01-01")   # 68
    add_assessment(book, "old", "C5")
    assert care(suitability.check(book, admin, "old", "PR3")) == ["elderly"]
    policy.publish(book, _variant(tmp_path, '{ field = "age", op = ">=", value = 65 }',
                                  '{ field = "age", op = ">=", value = 70 }'), admin)
    assert care(suitability.check(book, admin, "old", "PR3")) == []


@pytest.mark.parametrize("old,new,key", [
    ("default = 24", "default = -1", "special_care.cooling_off_hours.default"),
    ("derivative = 48\n", "options = 48\n", "special_care.cooling_off_hours.options"),
    ('procedures = ["notice", "callback", "cooling_off"]\nall = [\n  { field = "product_risk"',
     'procedures = ["pray"]\nall = [\n  { field = "product_risk"', "special_care.triggers[0].procedures"),
    ('{ field = "age", op = ">=", value = 65 }', '{ field = "agee", op = ">=", value = 65 }',
     "special_care.triggers[1]"),
])
def test_policy_validator_names_the_special_care_key(tmp_path, old, new, key):
    from brokercrm.policy.sets import load_file

    with pytest.raises(PolicyError, match=re.escape(key)):
        load_file(_variant(tmp_path, old, new))


def test_cli_confirm_withdraw_and_report(book, run, actors):
    actors("op1")
    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    text = run("suitability", "check", "c1", "PR4").output
    assert "特别注意义务 (special care, 办法 Art. 20)" in text and "冷静期 (cooling-off) 24 小时" in text
    out = run("suitability", "confirm", "c1", "PR4", "--evidence", "W-1", "--as", "op1").output
    assert "冷静期至 (cooling-off until) 2026-07-01T10:00:00+08:00" in out
    report = json.loads(run("suitability", "cooling-off", "--json").output)
    assert report["open_windows"][0]["confirmation_id"] == 1 and len(report["callbacks_due"]) == 1
    assert "冷静期中 (open cooling-off windows): 1" in run("suitability", "cooling-off").output
    bad = run("suitability", "withdraw", "7", "--evidence", "WD", "--as", "op1", ok=False)
    assert bad.exit_code != 0 and "#7" in bad.output and "Traceback" not in bad.output
    done = json.loads(run("suitability", "withdraw", "1", "--evidence", "WD", "--json", "--as", "op1").output)
    assert done["status"] == "withdrawn"
    again = run("suitability", "withdraw", "1", "--evidence", "WD", "--as", "op1", ok=False)
    assert again.exit_code != 0 and "already withdrawn" in again.output


def test_clients_show_lists_special_care_sales_and_profiles(book, run, admin, actors):
    from brokercrm.suitability import profile

    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    conf = suitability.confirm(book, admin, "c1", "PR4", "W-1")["confirmation"]["id"]
    cooling_off.withdraw(book, admin, conf, evidence="WD")
    profile.set_profile(book, actors("op1"), "c1", horizon="长期", evidence="KYC-1")
    text = run("clients", "show", "c1").output
    assert f"特别注意 确认 #{conf} PR4 (high_risk) 已撤回" in text
    shown = json.loads(run("clients", "show", "c1", "--json").output)["suitability"]
    assert shown["profiles"][0]["horizon"] == "long" and shown["special_care_sales"][0]["withdrawn_at"]
