"""Assessments over time: expired / expiring per branch, renewal flags from client changes."""

import json

from brokercrm.suitability import assessments as assessment_reports
from brokercrm.suitability import engine as suitability
from conftest import NOW, add_assessment, add_client, add_product


def change(db, client_id, field, old, new, at="2026-06-01T10:00:00+08:00"):
    db.execute("INSERT INTO client_changes (client_id, field, old_value, new_value, source, changed_at)"
               " VALUES (?, ?, ?, ?, 'clients.csv', ?)", [client_id, field, old, new, at])


def test_expired_and_expiring_per_branch(db):
    add_client(db, "gone", branch="TY01")
    add_client(db, "today", branch="TY01")
    add_client(db, "soon", branch="TY01")
    add_client(db, "edge", branch="BJ01")
    add_client(db, "later", branch="BJ01")
    add_client(db, "none", branch="BJ01")
    add_assessment(db, "gone", "C3", expires="2026-01-01")
    add_assessment(db, "today", "C3", expires="2026-06-30")   # expires today: expired
    add_assessment(db, "soon", "C3", expires="2026-07-01")
    add_assessment(db, "edge", "C3", expires="2026-07-30")    # 30 days ahead: expiring
    add_assessment(db, "later", "C3", expires="2026-07-31")   # 31 days ahead: valid
    report = assessment_reports.expiry_report(db)
    by = {b["branch_id"]: b for b in report["branches"]}
    assert (by["TY01"]["expired"], by["TY01"]["expiring"]) == (2, 1)
    assert (by["BJ01"]["expiring"], by["BJ01"]["valid"], by["BJ01"]["unassessed"]) == (1, 1, 1)
    assert [a["client_id"] for a in report["expired"]] == ["gone", "today"]
    assert {a["client_id"]: a["days_left"] for a in report["expiring"]} == {"edge": 30, "soon": 1}
    only = assessment_reports.expiry_report(db, branch="BJ01")
    assert [b["branch_id"] for b in only["branches"]] == ["BJ01"] and only["expired"] == []


def test_renewal_flag_when_band_changes_after_assessment(db, admin):
    for cid in ("rich", "raise", "older", "before", "retaken"):
        add_client(db, cid)
        add_assessment(db, cid, "C3", imported="2026-03-01T09:00:00+08:00")
    change(db, "rich", "total_assets", "400000", "600000")       # 100k–500k → 500k–1M
    change(db, "raise", "annual_income", "120000", "150000")    # same band: no flag
    change(db, "older", "birth_date", "1980-01-01", "1955-01-01")  # age band 45–65 → ≥70
    change(db, "before", "total_assets", "400000", "6000000", at="2026-02-01T10:00:00+08:00")  # before assessment
    change(db, "retaken", "annual_income", "50000", "900000")
    add_assessment(db, "retaken", "C4", answered="2026-06-15", imported="2026-06-15T09:00:00+08:00")
    flags = {f["client_id"]: f for f in assessment_reports.renewal_flags(db)}
    assert set(flags) == {"rich", "older"}
    assert flags["rich"]["changes"][0]["from"] == "100,000–500,000"
    assert flags["older"]["changes"][0] == {"field": "birth_date", "from": "45–65", "to": "≥70",
                                            "changed_at": "2026-06-01T10:00:00+08:00"}
    assert "1955" not in json.dumps(flags["older"])  # birth dates never shown, only bands
    add_product(db, "P1", "R1")
    assert any("Art. 21" in n for n in suitability.check(db, admin, "rich", "P1")["notes"])


def test_cli_assessments_report(run, db):
    add_client(db, "gone")
    add_assessment(db, "gone", "C2", expires="2026-06-01")
    out = json.loads(run("suitability", "assessments", "--json").output)
    assert out["expired"][0]["client_id"] == "gone" and out["today"] == NOW[:10]
    text = run("suitability", "assessments").output
    assert "gone" in text and "已过期" in text


def test_cli_investor_conversion(run, db, actors):
    # Art. 11/12 through the command line (the library's every path: test_investor_status.py).
    add_client(db, "c1")
    actors("boss")                    # head office
    actors("clerk", branch="TY01")
    req = json.loads(run("suitability", "investor", "convert", "c1", "--category", "11.2", "--application", "APP-1",
                         "--acknowledgement", "ACK-1", "--test-score", "85", "--kind", "资产证明", "--document", "EV-1",
                         "--financial-assets", "3000000", "--investment-years", "1", "--period-end", "2026-06-01",
                         "--as", "clerk", "--json").output)
    self_ok = run("suitability", "investor", "review", str(req["id"]), "--approve", "--notice", "N-1", "--as", "clerk",
                  ok=False)
    assert self_ok.exit_code == 1 and "maker–checker" in self_ok.output
    no_notice = run("suitability", "investor", "review", str(req["id"]), "--approve", "--as", "boss", ok=False)
    assert no_notice.exit_code == 1 and "--notice" in no_notice.output
    done = json.loads(run("suitability", "investor", "review", str(req["id"]), "--approve", "--notice", "N-1",
                          "--as", "boss", "--json").output)
    assert done["state"] == "approved" and done["notice_ref"] == "N-1"
    info = json.loads(run("suitability", "investor", "status", "c1", "--json").output)
    assert info["type"] == "professional"
    assert json.loads(run("suitability", "investor", "list", "--json").output)[0]["reviewed_by"] == "boss"


def test_renewal_band_edges(db):
    for cid, old, new in (("up", "499999", "500000"), ("same", "500000", "999999"), ("down", "100000", "99999")):
        add_client(db, cid)
        add_assessment(db, cid, "C3", imported="2026-03-01T09:00:00+08:00")
        change(db, cid, "total_assets", old, new)
    assert {f["client_id"] for f in assessment_reports.renewal_flags(db)} == {"up", "down"}
