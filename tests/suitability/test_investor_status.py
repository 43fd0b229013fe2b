"""Investor status from reviewed evidence (issue 11 item 1; 办法 Art. 8, 11, 12).

Each rule has a test that fails when the rule is removed: no status from edited fields, maker–checker,
the 3-year AVERAGE income, the experience/work/qualification routes, institution thresholds, validity
and re-check, the Art. 11/12 conversion requirements, and opting down both ways.
"""

import datetime as dt
import json

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden
from brokercrm.suitability import engine as suitability
from brokercrm.suitability import investor_type as it
from brokercrm.suitability import scan as suitability_scan
from conftest import add_assessment, add_client, add_product

TODAY = dt.date(2026, 6, 30)   # conftest pins now


@pytest.fixture
def book(db):
    add_product(db, "PR1", "R1", "money_market")
    add_product(db, "OPT5", "R5", "derivative")
    return db


@pytest.fixture
def clerk(actors):
    return actors("clerk", branch="TY01")


@pytest.fixture
def checker(actors):
    return actors("checker", branch="TY01")


def evidence(db, actor, client_id, category="8.5", **over):
    args = dict(category=category, evidence_kind="资产证明", document="DOC-1", period_end="2026-05-31",
                financial_assets=6_000_000, investment_years=3)
    args.update(over)
    return it.record_evidence(db, actor, client_id, **args)


def kind_of(db, client_id, **kw):
    return it.investor_type(db, client_id, **kw)["type"]


# -- the attack: edited fields never make anyone professional ------------------------------------------

def test_editing_a_76_year_olds_fields_never_makes_them_professional(book, run, clerk):
    add_client(book, "old", birth="1950-01-01")
    for field, value in (("annual_income", "9000000"), ("investment_years", "30"), ("net_assets", "90000000")):
        run("changes", "request", "old", field, value, "--identity-check", "证件原件", "--form-ref", "F-1",
            "--as", "clerk")
    # Ordinary changes now wait for a reviewer (seed 004); applied or not, they must not grant a status.
    book.execute("UPDATE clients SET annual_income = 9000000, investment_years = 30, net_assets = 90000000,"
                 " total_assets = 90000000 WHERE client_id = 'old'")   # even the asset figure
    assert book.execute("SELECT annual_income FROM clients WHERE client_id = 'old'").fetchone()[0] == 9_000_000
    assert kind_of(book, "old") == "ordinary"
    r = suitability.check(book, clerk, "old", "OPT5")
    assert r["investor_type"] == "ordinary" and r["verdict"] == "forbidden"
    assert any("无有效风险测评" in x for x in r["reasons"])
    out = json.loads(run("suitability", "check", "old", "OPT5", "--json", "--as", "clerk").output)
    assert out["verdict"] == "forbidden" and out["investor_type"] == "ordinary"


def test_no_reviewed_evidence_is_ordinary_and_says_so(book, admin):
    add_client(book, "c1", assets=50_000_000, investment_years=10, income=5_000_000)
    info = it.show(book, admin, "c1")
    assert info["type"] == "ordinary" and "no reviewed evidence" in info["reason"]


# -- maker–checker --------------------------------------------------------------------------------

def test_evidence_counts_only_after_a_second_operator_reviews_it(book, clerk, checker, actors, run):
    add_client(book, "c1")
    rec = evidence(book, clerk, "c1")
    assert rec["state"] == "pending" and rec["eligible"]
    assert kind_of(book, "c1") == "ordinary"
    assert suitability.check(book, clerk, "c1", "OPT5")["verdict"] == "forbidden"
    with pytest.raises(Forbidden, match="maker–checker"):
        it.review(book, clerk, rec["id"], approve=True)
    with pytest.raises(Forbidden, match="own branch only"):
        it.review(book, actors("bj", branch="BJ01"), rec["id"], approve=True)
    with pytest.raises(Conflict, match="already pending"):
        evidence(book, clerk, "c1", document="DOC-2")
    done = it.review(book, checker, rec["id"], approve=True, note="原件已核")
    assert done["state"] == "approved" and done["reviewed_by"] == "checker"
    assert done["valid_until"] == "2028-06-30" and done["recheck_at"] == "2028-05-31"
    assert kind_of(book, "c1") == "professional"
    r = suitability.check(book, clerk, "c1", "OPT5")
    assert r["verdict"] == "match" and r["investor_type"] == "professional"
    with pytest.raises(Conflict, match="already reviewed"):
        it.review(book, checker, rec["id"], approve=False, note="x")
    # The audit log names the acts, never the figures.
    rows = book.execute("SELECT action, detail FROM audit_log WHERE action LIKE 'investor_type.%' ORDER BY id").fetchall()
    assert [a for a, _ in rows] == ["investor_type.grant", "investor_type.approve"]
    assert all("6000000" not in (d or "") for _, d in rows)


def test_ineligible_evidence_cannot_be_approved_and_rejection_needs_a_reason(book, clerk, checker):
    add_client(book, "c1")
    rec = evidence(book, clerk, "c1", financial_assets=4_999_999)
    assert not rec["eligible"]
    with pytest.raises(Conflict, match="not eligible"):
        it.review(book, checker, rec["id"], approve=True)
    with pytest.raises(BrokerCRMError, match="reason"):
        it.review(book, checker, rec["id"], approve=False)
    assert it.review(book, checker, rec["id"], approve=False, note="资产不足")["state"] == "rejected"
    assert kind_of(book, "c1") == "ordinary"


# -- Art. 8(5): the individual's thresholds and routes ------------------------------------------------

@pytest.mark.parametrize("figures,eligible", [
    ({"financial_assets": 5_000_000, "investment_years": 2}, True),
    ({"financial_assets": 4_999_999, "investment_years": 2}, False),
    ({"financial_assets": 5_000_000, "investment_years": 1.9}, False),
    # the 3-year AVERAGE: one good year is not enough
    ({"income": "900000,400000,200000", "investment_years": 2}, True),       # average 500,000
    ({"income": "600000,600000,200000", "investment_years": 2}, False),      # average 466,667
    # the work-experience and qualification routes stand in for investment experience
    ({"financial_assets": 5_000_000, "investment_years": 0, "work_years": 2}, True),
    ({"financial_assets": 5_000_000, "work_years": 1.5}, False),
    ({"financial_assets": 5_000_000, "qualification": "cpa"}, True),
    ({"financial_assets": 5_000_000, "qualification": "pilot"}, False),
])
def test_art_8_5_thresholds_average_income_and_routes(book, clerk, figures, eligible):
    add_client(book, "c1")
    base = {"financial_assets": None, "investment_years": None}
    rec = evidence(book, clerk, "c1", **{**base, **figures})
    assert rec["eligible"] is eligible, rec["eligibility"]


def test_income_needs_each_of_the_three_years(book, clerk):
    add_client(book, "c1")
    with pytest.raises(BrokerCRMError, match="last 3 years"):
        evidence(book, clerk, "c1", financial_assets=None, income="900000")
    assert book.execute("SELECT count(*) FROM investor_status").fetchone()[0] == 0


@pytest.mark.parametrize("period_end,message", [
    ("2026-07-01", "in the future"), ("2024-12-29", "older than 18 months"), ("", "as of"), ("2026-13-01", "not a date"),
])
def test_the_evidence_period_must_be_past_and_recent(book, clerk, period_end, message):
    add_client(book, "c1")
    with pytest.raises(BrokerCRMError, match=message):
        evidence(book, clerk, "c1", period_end=period_end)


# -- Art. 8(1)–(4): institutions ------------------------------------------------------------------------

def test_institution_thresholds_and_kind(book, clerk):
    # One client per record: evidence is kept for the retention period (archive), never deleted to start over.
    add_client(book, "corp", kind="institution")
    add_client(book, "corp2", kind="institution")
    add_client(book, "person")
    ok = dict(net_assets=20_000_000, financial_assets=10_000_000, investment_years=2)
    assert evidence(book, clerk, "corp", "8.4", **ok)["eligible"]
    assert not evidence(book, clerk, "corp2", "8.4", **{**ok, "net_assets": 19_999_999})["eligible"]
    rec = evidence(book, clerk, "person", "8.4", **ok)
    assert not rec["eligible"] and "another kind of client" in rec["eligibility"][0]


def test_listed_institutions_by_type(book, clerk, checker):
    add_client(book, "fund", kind="institution")
    add_client(book, "shop", kind="institution")
    rec = evidence(book, clerk, "fund", "8.3", financial_assets=None, investment_years=None, institution_type="qfii",
                   evidence_kind="QFII 资格证书")
    assert rec["eligible"]
    it.review(book, checker, rec["id"], approve=True)
    assert kind_of(book, "fund") == "professional"
    assert not evidence(book, clerk, "shop", "8.1", financial_assets=None, institution_type="restaurant")["eligible"]


def test_unknown_category_names_the_choices(book, clerk):
    add_client(book, "c1")
    with pytest.raises(BrokerCRMError, match="8.5"):
        evidence(book, clerk, "c1", category="9.9")


# -- validity and re-check ---------------------------------------------------------------------------

def test_status_lapses_to_ordinary_and_recheck_lists_it_and_opens_one_task(book, clerk, checker, admin):
    add_client(book, "c1")
    it.review(book, checker, evidence(book, clerk, "c1")["id"], approve=True)
    assert kind_of(book, "c1", today=dt.date(2028, 6, 29)) == "professional"
    assert kind_of(book, "c1", today=dt.date(2028, 6, 30)) == "ordinary"
    lapsed = suitability.check(book, clerk, "c1", "OPT5", today=dt.date(2028, 7, 1), record=False)
    assert lapsed["investor_type"] == "ordinary" and lapsed["verdict"] == "forbidden"
    assert it.recheck(book, admin, today=dt.date(2028, 5, 30)) == []
    due = it.recheck(book, admin, today=dt.date(2028, 5, 31), open_tasks=True)
    assert [(d["client_id"], d["state"]) for d in due] == [("c1", "due")]
    again = it.recheck(book, clerk, today=dt.date(2028, 7, 1), open_tasks=True)
    assert [d["state"] for d in again] == ["lapsed"] and again[0]["task_event"] == due[0]["task_event"]
    tasks = book.execute("SELECT kind FROM tasks WHERE client_id = 'c1'").fetchall()
    assert tasks == [("recheck",)]


# -- Art. 11/12: ordinary → professional ----------------------------------------------------------------

def conversion(db, actor, client_id, **over):
    args = dict(category="11.2", application="APP-1", acknowledgement="ACK-1", test_score=90, evidence_kind="资产证明",
                document="DOC-1", period_end="2026-05-31", financial_assets=3_000_000, investment_years=1)
    args.update(over)
    return it.convert(db, actor, client_id, **args)


@pytest.mark.parametrize("missing,message", [
    ({"application": ""}, "--application"), ({"acknowledgement": None}, "--acknowledgement"),
    ({"test_score": None}, "prudent assessment"), ({"simulation": "SIM-1"}, "prudent assessment"),
])
def test_conversion_needs_application_acknowledgement_and_one_prudent_assessment(book, clerk, missing, message):
    add_client(book, "c1")
    with pytest.raises(BrokerCRMError, match=message):
        conversion(book, clerk, "c1", **missing)
    assert book.execute("SELECT count(*) FROM investor_status").fetchone()[0] == 0


def test_conversion_review_needs_the_notice_and_a_passed_test(book, clerk, checker):
    add_client(book, "c1")
    add_client(book, "c2")
    rec = conversion(book, clerk, "c1", test_score=None, simulation="SIM-7")
    with pytest.raises(BrokerCRMError, match="--notice"):
        it.review(book, checker, rec["id"], approve=True)
    it.review(book, checker, rec["id"], approve=True, notice="NOTICE-1")
    assert kind_of(book, "c1") == "professional"
    failed = conversion(book, clerk, "c2", test_score=79)
    assert not failed["eligible"] and "knowledge test" in failed["eligibility"][0]
    with pytest.raises(Conflict, match="not eligible"):
        it.review(book, checker, failed["id"], approve=True, notice="N-2")
    with pytest.raises(Conflict, match="already professional"):
        conversion(book, clerk, "c1")


# -- Art. 11: professional → ordinary --------------------------------------------------------------------

def test_an_8_5_professionals_written_choice_to_be_ordinary_is_honoured_at_once(book, clerk, checker):
    add_client(book, "c1")
    it.review(book, checker, evidence(book, clerk, "c1")["id"], approve=True)
    rec = it.opt_down(book, clerk, "c1", document="LETTER-1")
    assert rec["state"] == "approved" and rec["target"] == "ordinary"
    assert kind_of(book, "c1") == "ordinary"
    assert suitability.check(book, clerk, "c1", "OPT5")["verdict"] == "forbidden"   # now needs an assessment
    add_assessment(book, "c1", "C5")
    assert suitability.check(book, clerk, "c1", "OPT5")["verdict"] == "match"
    with pytest.raises(Conflict, match="already ordinary"):
        it.opt_down(book, clerk, "c1", document="LETTER-2")


def test_art_8_1_to_3_professionals_cannot_opt_down(book, clerk, checker):
    add_client(book, "bank", kind="institution")
    rec = evidence(book, clerk, "bank", "8.1", financial_assets=None, institution_type="commercial_bank")
    it.review(book, checker, rec["id"], approve=True)
    with pytest.raises(Forbidden, match=r"Art. 8\(1\)"):
        it.opt_down(book, clerk, "bank", document="LETTER-1")
    assert kind_of(book, "bank") == "professional"


def test_scan_reads_the_same_status(book, clerk, checker, admin):
    add_client(book, "pro")
    add_client(book, "plain", assets=90_000_000, investment_years=20)
    for cid in ("pro", "plain"):
        book.execute("INSERT INTO holdings (client_id, product_code, amount, since, imported_at)"
                     " VALUES (?, 'OPT5', 1, '2026-01-01', '2026-01-01')", [cid])
    it.review(book, checker, evidence(book, clerk, "pro")["id"], approve=True)
    suitability_scan.scan(book, admin)
    found = dict(book.execute("SELECT client_id, investor_type FROM suitability_exceptions").fetchall())
    assert found == {"plain": "ordinary"}


# -- the command line -------------------------------------------------------------------------------

def test_cli_evidence_review_status_and_refusals(book, run, clerk, checker):
    add_client(book, "c1")
    out = run("suitability", "investor", "evidence", "c1", "--category", "8.5", "--kind", "收入证明",
              "--document", "D-9", "--income", "900000,400000,200000", "--work-years", "3",
              "--period-end", "2025-12-31", "--json", "--as", "clerk")
    rec = json.loads(out.output)
    assert rec["state"] == "pending" and rec["figures"]["average_income"] == 500_000
    refused = run("suitability", "investor", "review", rec["id"], "--approve", "--as", "clerk", ok=False)
    assert refused.exit_code != 0 and "maker–checker" in refused.output and "Traceback" not in refused.output
    bad = run("suitability", "investor", "evidence", "c1", "--category", "8.5", "--kind", "x", "--document", "D",
              "--financial-assets", "lots", "--period-end", "2026-01-01", "--as", "clerk", ok=False)
    assert bad.exit_code != 0 and "--financial-assets" in bad.output and "not a number" in bad.output
    run("suitability", "investor", "review", rec["id"], "--approve", "--as", "checker")
    status = json.loads(run("suitability", "investor", "status", "c1", "--json", "--as", "clerk").output)
    assert status["type"] == "professional" and status["history"][0]["figures"] is None
    text = run("suitability", "investor", "status", "c1", "--as", "clerk").output
    assert "专业投资者" in text
    listed = json.loads(run("suitability", "investor", "list", "--json").output)
    assert [r["state"] for r in listed] == ["approved"]
    assert "re-check" in run("suitability", "investor", "recheck").output or "复核" in run(
        "suitability", "investor", "recheck").output


# -- migration ------------------------------------------------------------------------------------------

def test_migration_carries_old_approved_requests_as_lapsing_legacy_records(tmp_path):
    """Before issue 11 an approved request (maker + another checker) decided the type; it is carried over."""
    import sqlite_utils

    from brokercrm.kernel.registry import registry
    from brokercrm.suitability import schema

    old = sqlite_utils.Database(tmp_path / "old.db")
    for migrations in registry().migrations:
        if migrations is schema.migrations:
            migrations.apply(old, stop_before="m_k11a_investor_status")
        else:
            migrations.apply(old)
    old.execute("INSERT INTO branches (code, name, created_at) VALUES ('TY01', '太原', '2024-01-01')")
    old.execute("INSERT INTO clients (client_id, kind, name, branch_id, created_at, updated_at)"
                " VALUES ('c1', 'individual', '张三', 'TY01', '2024-01-01', '2024-01-01')")
    for status in ("approved", "rejected"):
        old.execute("INSERT INTO investor_type_requests (client_id, target, evidence, eligible, eligibility,"
                    " requested_by, requested_at, status, decided_by, decided_at)"
                    " VALUES ('c1', 'professional', 'EV-1', 1, '[]', 'clerk', '2025-03-01T09:00:00+08:00', ?,"
                    " 'boss', '2025-03-02T10:00:00+08:00')", [status])
    schema.migrations.apply(old)
    rows = old.execute("SELECT action, target, state, recorded_by, reviewed_by, valid_until, recheck_at"
                       " FROM investor_status").fetchall()
    assert rows == [("legacy", "professional", "approved", "clerk", "boss", "2027-03-02", "2027-01-31")]


@pytest.mark.parametrize("args,message", [
    (["evidence", "c1", "--category", "8.5", "--kind", "资产证明", "--period-end", "2026-05-31",
      "--financial-assets", "6000000", "--investment-years", "3"], "--document"),
    (["evidence", "c1", "--category", "7", "--kind", "k", "--document", "D", "--period-end", "2026-05-31"], "8.5"),
    (["evidence", "nobody", "--category", "8.5", "--kind", "k", "--document", "D", "--period-end", "2026-05-31"],
     "nobody"),
    (["convert", "c1", "--category", "11.2", "--acknowledgement", "A", "--test-score", "90", "--kind", "k",
      "--document", "D", "--period-end", "2026-05-31", "--financial-assets", "3000000"], "--application"),
    (["review", "999", "--approve"], "999"),
    (["opt-down", "c1", "--document", "L-1"], "already ordinary"),
])
def test_cli_refusals_name_what_and_why_and_change_nothing(book, run, clerk, args, message):
    add_client(book, "c1")
    before = book.execute("SELECT count(*) FROM investor_status").fetchone()[0]
    out = run("suitability", "investor", *args, "--as", "clerk", ok=False)
    assert out.exit_code != 0 and message in out.output and "Traceback" not in out.output, out.output
    assert book.execute("SELECT count(*) FROM investor_status").fetchone()[0] == before
