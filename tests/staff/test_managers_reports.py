"""The per-manager report, the daily new-account risk report, and the year-end threshold review."""

import csv
import json

import pytest
from python_calamine import CalamineWorkbook

from brokercrm.imports import import_assessments
from brokercrm.kernel import events
from brokercrm.plugins import use as use_plugins
from brokercrm.service import interactions, tasks
from brokercrm.staff import managers

from conftest import HIGHEST, add_client, answers, write_csv


@pytest.fixture(autouse=True)
def people(actors, plugin_site):
    for op in ("am1", "am2"):
        actors(op, branch="TY01", role="account_manager")
    actors("bj1", branch="BJ01", role="account_manager")
    with plugin_site.host() as host:
        use_plugins(host)
        try:
            yield
        finally:
            use_plugins(None)


# -- managers report ---------------------------------------------------------------------------------


def test_managers_report_book_overdue_satisfaction_callbacks(db, admin, actors, run, monkeypatch):
    for c, m, assets in (("C1", "am1", 2_000_000), ("C2", "am1", 50_000), ("C3", "am2", 50_000), ("C4", None, 0)):
        add_client(db, c, assets=assets, turnover=1.0)
        if m:
            managers.assign(db, admin, c, m, reason="分配")
    run("classify")
    with db.atomic():
        events.emit(db, "account_opened", "C1", at="2026-06-30T09:00:00+08:00")   # callback due 07-01 09:00
        events.emit(db, "account_opened", "C2", at="2026-06-30T09:00:00+08:00")
        events.emit(db, "behaviour_alert", "C3", at="2026-06-20T09:00:00+08:00")  # contact due 06-23: overdue
    callbacks = {t["client_id"]: t["id"] for t in tasks.list_tasks(db, admin) if t["kind"] == "callback"}
    tasks.done(db, admin, callbacks["C1"], note="已回访")                          # on time
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-02T10:00:00+08:00")
    tasks.done(db, admin, callbacks["C2"], note="已回访")                          # late
    for c, score in (("C1", 5), ("C2", 3), ("C3", 4)):
        interactions.log(db, admin, c, kind="call", channel="phone", note="回访", satisfaction=score)
    report = json.loads(run("managers", "report", "--branch", "TY01", "--json").output)
    by = {r["manager"]: r for r in report["managers"]}
    assert set(by) == {"am1", "am2", None}
    assert by["am1"]["clients"] == 2 and sum(by["am1"]["by_class"].values()) == 2
    assert by["am1"]["callbacks_on_time"] == 1 and by["am1"]["callbacks_late"] == 1
    assert by["am1"]["callback_on_time_rate"] == 0.5
    assert by["am1"]["satisfaction_avg"] == 4.0 and by["am1"]["satisfaction_count"] == 2
    assert by["am2"]["overdue_tasks"] == 1 and by["am2"]["satisfaction_avg"] == 4.0
    assert by[None]["clients"] == 1            # a client without a manager shows, not hidden
    text = run("managers", "report", "--as", "am1").output
    assert "am1" in text and "50%" in text
    # a branch's manager sees their own branch only
    out = run("managers", "report", "--branch", "TY01", "--as", "bj1", ok=False)
    assert out.exit_code != 0 and "own branch" in out.output


# -- new accounts of a day ----------------------------------------------------------------------------


def day_book(db, tmp_path, admin):
    add_client(db, "N1", opened_at="2026-06-29", account_manager=None)
    add_client(db, "N2", opened_at="2026-06-29")
    add_client(db, "N3", opened_at="2026-06-29", branch="BJ01")
    add_client(db, "OLD", opened_at="2020-01-01")
    import_assessments(db, write_csv(tmp_path / "a.csv", [answers("N1", "2026-06-29", **HIGHEST)]), actor=admin)


def test_new_accounts_report_lists_each_with_its_risk_result(db, tmp_path, admin, run):
    day_book(db, tmp_path, admin)
    report = json.loads(run("reports", "new-accounts", "--date", "2026-06-29", "--json").output)
    assert [a["client_id"] for a in report["accounts"]] == ["N3", "N1", "N2"]
    n1 = next(a for a in report["accounts"] if a["client_id"] == "N1")
    assert n1["status"] == "assessed" and n1["level"] and n1["score"] == 48 and n1["name"] != "测试客户"
    assert report["summary"]["missing"] == 2 and report["summary"]["assessed"] == 1
    ty = json.loads(run("reports", "new-accounts", "--date", "2026-06-29", "--branch", "TY01", "--json").output)
    assert ty["summary"]["accounts"] == 2


def test_new_accounts_report_for_the_directors_and_as_files(db, tmp_path, admin, actors, run):
    day_book(db, tmp_path, admin)
    actors("ops", branch="TY01", role="ops_director")
    out = run("reports", "new-accounts", "--date", "2026-06-29", "--out", tmp_path / "d.xlsx", "--as", "ops").output
    assert "未测评 1" in out and "N3" not in out      # own branch only
    rows = CalamineWorkbook.from_path(str(tmp_path / "d.xlsx")).get_sheet_by_index(0).to_python()
    assert rows[1][0] == "客户号" and [r[0] for r in rows[2:4]] == ["N1", "N2"]
    run("reports", "new-accounts", "--date", "2026-06-29", "--out", tmp_path / "d.csv", "--as", "ops")
    with open(tmp_path / "d.csv", encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0][0] == "客户号" and len(table) == 3 and table[2][6] == "未测评"
    # an account manager is not sent this report
    out = run("reports", "new-accounts", "--date", "2026-06-29", "--as", "am1", ok=False)
    assert out.exit_code != 0 and "report.new_accounts" in out.output


def test_new_accounts_report_refuses_a_bad_date_cleanly(run):
    out = run("reports", "new-accounts", "--date", "2026-02-30", ok=False)
    assert out.exit_code != 0 and "YYYY-MM-DD" in out.output and "Traceback" not in out.output


# -- year-end threshold review ---------------------------------------------------------------------


def changes(db, client_id, field, rows):
    for old, new, at in rows:
        db.execute("INSERT INTO client_changes (client_id, field, old_value, new_value, source, operator, changed_at)"
                   " VALUES (?, ?, ?, ?, 'test', 'admin', ?)", [client_id, field, old, new, at])


def test_threshold_from_the_three_years_average_as_a_draft_not_applied(db, tmp_path, run):
    # T1 since 2022: turnover 2.0 through 2024, 4.0 from mid-2025, 5.0 now (changed in 2026-03)
    add_client(db, "T1", opened_at="2022-01-01", turnover=5.0, assets=100)
    changes(db, "T1", "turnover_rate", [("2.0", "4.0", "2025-06-01T10:00:00+08:00"),
                                        ("4.0", "5.0", "2026-03-01T10:00:00+08:00")])
    # T2 opened in 2025 with 1.0, unchanged
    add_client(db, "T2", opened_at="2025-02-01", turnover=1.0, assets=300)
    result = json.loads(run("policy", "threshold-review", "--year", "2026", "--json").output)
    years = {y["year"]: y for y in result["years"]}
    assert years[2024] == {"year": 2024, "clients": 1, "mean": 2.0, "weighted": 2.0}
    assert years[2025]["mean"] == 2.5 and years[2026]["mean"] == 3.0
    assert result["proposed_threshold"] == 2.5 and result["current_threshold"] == 3.0
    weighted = json.loads(run("policy", "threshold-review", "--year", "2026", "--method", "weighted",
                              "--json").output)
    assert weighted["proposed_threshold"] == round((2.0 + (4 * 100 + 300) / 400 + (5 * 100 + 300) / 400) / 3, 2)
    draft = tmp_path / "classification-2026.toml"
    out = run("policy", "threshold-review", "--year", "2026", "--out", draft).output
    assert "2.5" in out and "policy publish" in out
    assert "turnover_threshold = 2.5" in draft.read_text(encoding="utf-8")
    # a draft only: the threshold in force is unchanged until head office publishes it
    shown = json.loads(run("policy", "show", "--json", "--body", operator=None).output)
    assert "turnover_threshold = 3.0" in shown["files"]["classification"]["body"]
    run("policy", "check", draft, operator=None)
    run("policy", "publish", draft, "--note", "年末复核")
    shown = json.loads(run("policy", "show", "--json", "--body", operator=None).output)
    assert "turnover_threshold = 2.5" in shown["files"]["classification"]["body"]


def test_threshold_review_is_head_office_only_and_needs_data(db, run, actors):
    actors("ty", branch="TY01")
    out = run("policy", "threshold-review", "--year", "2026", "--as", "ty", ok=False)
    assert out.exit_code != 0 and "threshold.review" in out.output
    out = run("policy", "threshold-review", "--year", "2026", ok=False)
    assert out.exit_code != 0 and "no turnover data" in out.output


# -- the site's manager view ---------------------------------------------------------------------------


def test_published_manager_book_per_manager_and_branch(db, db_path, tmp_path, admin, run):
    import sqlite3

    from brokercrm.site.publish import publish

    for c, m in (("C1", "am1"), ("C2", "am1"), ("C3", "am2"), ("C4", None)):
        add_client(db, c, assets=50_000)
        if m:
            managers.assign(db, admin, c, m, reason="分配")
    add_client(db, "B1", branch="BJ01")
    managers.assign(db, admin, "B1", "bj1", reason="分配")
    run("classify")
    with db.atomic():
        events.emit(db, "behaviour_alert", "C3", at="2026-06-20T09:00:00+08:00")   # overdue, am2's
    interactions.log(db, admin, "C1", kind="call", channel="phone", note="回访", satisfaction=4)
    out = tmp_path / "site"
    publish(db_path, out, actor=admin)
    hq = sqlite3.connect(out / "hq.db")
    rows = {r[1]: r for r in hq.execute(
        "SELECT branch_id, manager, clients, overdue_tasks, satisfaction FROM summary_manager_book")}
    assert rows["am1"] == ("TY01", "am1", 2, 0, 4.0)
    assert rows["am2"][3] == 1 and rows["(未指派)"][2] == 1 and rows["bj1"][0] == "BJ01"
    [ty] = [p for p in out.glob("*TY01*.db")]
    assert {r[0] for r in sqlite3.connect(ty).execute("SELECT manager FROM summary_manager_book")} == {
        "am1", "am2", "(未指派)"}
