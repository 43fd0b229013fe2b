"""最低类别 by definition (issue 11): minors, recorded lack of capacity, the "bear no loss" answer,
the score cut-off and head office's flag — each forbids above R1 in check and scan, each with its reason."""

import json

import pytest

from brokercrm.imports import import_assessments
from brokercrm.kernel.errors import BrokerCRMError, Forbidden
from brokercrm.policy.questionnaire import Questionnaire, validate as validate_questionnaire
from brokercrm.policy.sets import load_file, default_policy_dir
from brokercrm.suitability import engine as suitability
from brokercrm.suitability import investor_type
from brokercrm.suitability import lowest
from brokercrm.suitability import scan as suitability_scan
from conftest import HIGHEST, add_assessment, add_client, add_product, answers, write_csv


@pytest.fixture
def book(db):
    for level in ("R1", "R2", "R5"):
        add_product(db, f"P{level}", level)
    return db


def verdicts(db, actor, client_id):
    return {p: suitability.check(db, actor, client_id, p)["verdict"] for p in ("PR1", "PR2", "PR5")}


def scanned(db, actor):
    suitability_scan.scan(db, actor)
    return {(c, p): v for c, p, v in db.execute(
        "SELECT client_id, product_code, verdict FROM suitability_exceptions")}


def hold(db, client_id, *codes):
    for code in codes:
        db.execute("INSERT INTO holdings (client_id, product_code, amount, since, imported_at)"
                   " VALUES (?, ?, 1000, '2026-01-01', '2026-01-01')", [client_id, code])


def test_a_minor_with_a_top_assessment_is_lowest_category(book, admin):
    # 2008-07-01 is 17 on 2026-06-30 (the pinned today); 2008-06-30 turns 18 that day.
    add_client(book, "kid", birth="2008-07-01")
    add_client(book, "adult", birth="2008-06-30")
    for cid in ("kid", "adult"):
        add_assessment(book, cid, "C5")
        hold(book, cid, "PR5")
    assert verdicts(book, admin, "kid") == {"PR1": "match", "PR2": "forbidden", "PR5": "forbidden"}
    assert verdicts(book, admin, "adult") == {"PR1": "match", "PR2": "match", "PR5": "match"}
    r = suitability.check(book, admin, "kid", "PR5")
    assert any("未满18周岁" in x and "最低类别" in x for x in r["reasons"])
    assert any("监护人" in n for n in r["notes"]) and r["lowest_category"] is True
    # the scan judges the same
    assert scanned(book, admin) == {("kid", "PR5"): "forbidden"}
    s = lowest.status(book, admin, "kid")
    assert s["lowest"] and s["guardian_required"] and [c["cause"] for c in s["causes"]] == ["minor"]
    assert "2008" not in json.dumps(s, ensure_ascii=False)   # the birth date is not shown


def test_minor_age_is_policy(book, admin, db):
    add_client(book, "kid", birth="2008-07-01")
    add_assessment(book, "kid", "C5")
    policy = lowest.load_policy(db)
    policy.doc["lowest_category"]["minor_age"] = 17
    assert lowest.minor_age(policy) == 17
    minor, _, _ = lowest.state_columns(policy, lowest.local_today(), marks=False)
    assert book.execute(f"SELECT {minor} FROM clients c WHERE client_id = 'kid'").fetchone()[0] == 0


def test_recorded_lack_of_capacity_needs_evidence_and_a_guardian(book, admin, actors):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    with pytest.raises(BrokerCRMError, match="监护人"):
        lowest.record_capacity(book, admin, "c1", "limited", evidence="法院判决 2026-01")
    with pytest.raises(BrokerCRMError, match="凭证"):
        lowest.record_capacity(book, admin, "c1", "limited", evidence=" ", guardian="G1")
    assert book.execute("SELECT count(*) FROM lowest_category_marks").fetchone()[0] == 0
    assert verdicts(book, admin, "c1")["PR5"] == "match"
    ty = actors("ty", branch="TY01")
    lowest.record_capacity(book, ty, "c1", "limited", evidence="法院判决 2026-01", guardian="G1")
    assert verdicts(book, admin, "c1") == {"PR1": "match", "PR2": "forbidden", "PR5": "forbidden"}
    r = suitability.check(book, admin, "c1", "PR2")
    assert any("无完全民事行为能力" in x for x in r["reasons"])
    s = lowest.status(book, admin, "c1")
    assert s["guardian"] == "G1" and s["guardian_required"]
    hold(book, "c1", "PR5")
    assert scanned(book, admin) == {("c1", "PR5"): "forbidden"}
    # a later record of full capacity clears it; the history stays (append-only)
    lowest.record_capacity(book, ty, "c1", "full", evidence="法院撤销判决")
    assert verdicts(book, admin, "c1")["PR5"] == "match"
    with pytest.raises(Exception, match="append-only"):
        book.execute("DELETE FROM lowest_category_marks")
    # another branch's operator may not record it
    with pytest.raises(Forbidden):
        lowest.record_capacity(book, actors("bj", branch="BJ01"), "c1", "none", evidence="x", guardian="G")


def test_head_office_flag_with_reason(book, admin, actors):
    add_client(book, "c1")
    add_assessment(book, "c1", "C4")
    with pytest.raises(Forbidden):
        lowest.set_flag(book, actors("ty", branch="TY01"), "c1", True, reason="x")
    with pytest.raises(BrokerCRMError, match="理由"):
        lowest.set_flag(book, admin, "c1", True, reason="")
    lowest.set_flag(book, admin, "c1", True, reason="法律规定的其他情形: 监管通报")
    assert verdicts(book, admin, "c1") == {"PR1": "match", "PR2": "forbidden", "PR5": "forbidden"}
    r = suitability.check(book, admin, "c1", "PR2")
    assert any("总部人工标记" in x for x in r["reasons"])
    assert "监管通报" in lowest.status(book, admin, "c1")["causes"][0]["reason"]
    hold(book, "c1", "PR2")
    assert scanned(book, admin) == {("c1", "PR2"): "forbidden"}
    lowest.set_flag(book, admin, "c1", False, reason="情形消除")
    assert verdicts(book, admin, "c1")["PR2"] == "match"
    assert book.execute("SELECT count(*) FROM audit_log WHERE action = 'suitability.lowest_flag'").fetchone()[0] == 2


def test_non_questionnaire_causes_bind_professionals_too(book, admin, actors):
    # a minor with reviewed Art. 8(5) evidence is still lowest category
    add_client(book, "kid", birth="2010-01-01")
    rec = investor_type.record_evidence(book, admin, "kid", category="8.5", evidence_kind="资产证明", document="D-1",
                                        period_end="2026-05-31", financial_assets=9_000_000, investment_years=3)
    investor_type.review(book, actors("checker"), rec["id"], approve=True)
    assert suitability.check(book, admin, "kid", "PR5")["investor_type"] == "professional"
    assert verdicts(book, admin, "kid")["PR5"] == "forbidden"


def test_bear_no_loss_answer_makes_lowest_whatever_the_score():
    doc = load_file(default_policy_dir() / "questionnaire.toml").doc
    q = Questionnaire(doc)
    top = q.score(dict(HIGHEST))
    assert (top.level, top.lowest_category) == ("C5", False)
    no_loss = q.score({**HIGHEST, "q5": "A"})
    assert no_loss.lowest_category and any("不愿或不能承受任何损失" in r for r in no_loss.lowest_reasons)
    # the cut-off alone, with its own reason
    low = q.score({k: "A" for k in HIGHEST} | {"q5": "B"})
    assert low.lowest_category and any("最低类别线" in r for r in low.lowest_reasons)
    # the rule removed: the same answers are no longer lowest
    doc["lowest_category"]["no_loss"] = []
    assert not Questionnaire(doc).score({**HIGHEST, "q5": "A"}).lowest_category


def test_no_loss_setting_is_validated():
    doc = load_file(default_policy_dir() / "questionnaire.toml").doc
    doc["lowest_category"]["no_loss"] = [{"question": "q99", "options": ["A"]}]
    with pytest.raises(BrokerCRMError, match="q99"):
        validate_questionnaire(doc)
    doc["lowest_category"]["no_loss"] = [{"question": "q5", "options": ["Z"]}]
    with pytest.raises(BrokerCRMError, match="no_loss"):
        validate_questionnaire(doc)


def test_imported_no_loss_answer_forbids_above_r1_with_its_reason(book, admin, tmp_path):
    add_client(book, "c1")
    # q9/q10 broad (every kind, long term): this test is about the no-loss answer, not three-way matching.
    import_assessments(book, write_csv(tmp_path / "a.csv", [answers("c1", "2026-01-15",
                                                                    **{**HIGHEST, "q5": "A", "q9": "ABCDE", "q10": "A"})]),
                       actor=admin)
    assert verdicts(book, admin, "c1") == {"PR1": "match", "PR2": "forbidden", "PR5": "forbidden"}
    causes = lowest.status(book, admin, "c1")["causes"]
    assert [c["cause"] for c in causes] == ["questionnaire"] and "q5" in causes[0]["reason"]


def test_cli_lowest_capacity_and_flag(book, run, actors):
    add_client(book, "c1")
    add_assessment(book, "c1", "C3")
    out = json.loads(run("suitability", "lowest", "c1", "--json").output)
    assert out["lowest"] is False and out["causes"] == []
    bad = run("suitability", "capacity", "c1", "none", "--evidence", "R1", ok=False)
    assert bad.exit_code != 0 and "监护人" in bad.output and "Traceback" not in bad.output
    out = json.loads(run("suitability", "capacity", "c1", "none", "--evidence", "R1", "--guardian", "G9",
                         "--json").output)
    assert out["lowest"] and out["guardian"] == "G9"
    out = json.loads(run("suitability", "lowest-flag", "c1", "--set", "--reason", "其他情形", "--json").output)
    assert [c["cause"] for c in out["causes"]] == ["capacity", "headoffice"]
    text = run("suitability", "lowest", "c1").output
    assert "最低类别" in text and "监护人" in text
