"""Client status through exit (issue 14 item 3): requests, completion, withdrawal, reasons, and
what leaving changes (care, packages) and does not (records)."""

import json

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden
from brokercrm.service import care, exits, interactions, lifecycle, retention, tasks
from brokercrm.service import packages as service_packages

from conftest import add_client


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def _events(db, client_id):
    return [r[0] for r in db.execute("SELECT kind FROM events WHERE client_id = ? ORDER BY id", [client_id])]


def test_request_changes_status_at_once_and_is_an_event_and_an_audited_act(db, actors):
    add_client(db, "C1")
    m1 = actors("m1", branch="TY01")
    assert lifecycle.current(db, "C1") == "active"
    interactions.log(db, m1, "C1", kind="转户", channel="counter", note="要求转户")
    s = lifecycle.for_client(db, "C1")
    assert (s["status"], s["label"]) == ("transfer_requested", "转户申请中")
    assert s["history"][0]["from"] == "active" and s["history"][0]["source"] == "request"
    assert "client_exit_requested" in _events(db, "C1")
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'client.status' AND target = 'C1'").fetchone()[0] == 1
    # switching to closure while the transfer is pending is a new request, same open case
    interactions.log(db, m1, "C1", kind="销户", channel="phone", note="改为销户")
    assert lifecycle.current(db, "C1") == "closure_requested"
    assert db.execute("SELECT count(*) FROM retention_cases WHERE client_id = 'C1'").fetchone()[0] == 1


@pytest.mark.parametrize("retention_state", ["nothing", "open case, no attempt", "attempts, no reason",
                                             "earlier case retained", "reason recorded"])
def test_request_and_completion_proceed_whatever_retention_records(db, actors, admin, retention_state):
    """Retention never blocks or delays: request → complete works in every retention state."""
    add_client(db, "C1")
    m1 = actors("m1", branch="TY01")
    if retention_state == "earlier case retained":
        case = exits.request(db, m1, "C1", "closure", channel="counter", note="第一次")["retention_case"]
        retention.attempt(db, m1, case, note="挽留")
        retention.close(db, m1, case, outcome="retained")
        assert lifecycle.current(db, "C1") == "active"
    r = exits.request(db, m1, "C1", "closure", channel="counter", note="要求销户",
                      reason="commission" if retention_state == "reason recorded" else None)
    assert r["status"] == "closure_requested"
    if retention_state == "attempts, no reason":
        retention.attempt(db, m1, r["retention_case"], note="介绍优惠")
    done = exits.complete(db, m1, "C1", note="已办结销户")
    assert done["status"] == "closed" and done["departed"]
    case = retention.get(db, r["retention_case"])
    assert (case["state"], case["outcome"]) == ("closed", "closed")
    # the retention task is answered, not left to fall overdue; the follow-up callback is due
    open_kinds = {t["kind"] for t in tasks.list_tasks(db, m1, client_id="C1", status="open")}
    assert "retention" not in open_kinds and "callback" in open_kinds


def test_complete_needs_a_pending_request_and_leaving_is_final(db, actors):
    add_client(db, "C1")
    m1 = actors("m1", branch="TY01")
    with pytest.raises(Conflict, match="no pending transfer or closure request"):
        exits.complete(db, m1, "C1", note="x")
    exits.request(db, m1, "C1", "transfer", channel="counter", note="转户")
    assert exits.complete(db, m1, "C1", note="已转出")["status"] == "transferred"
    with pytest.raises(Conflict, match="has left already"):
        exits.request(db, m1, "C1", "closure", channel="counter", note="再销户")
    with pytest.raises(Conflict, match="cannot move"):
        interactions.log(db, m1, "C1", kind="销户", channel="phone", note="再销户")
    assert lifecycle.current(db, "C1") == "transferred"


def test_withdraw_goes_back_to_active_and_retention_outcome_sets_status(db, actors):
    add_client(db, "C1")
    add_client(db, "C2")
    m1 = actors("m1", branch="TY01")
    r = exits.request(db, m1, "C1", "transfer", channel="phone", note="转户")
    w = exits.withdraw(db, m1, "C1", note="客户接受优惠, 撤回申请")
    assert w["status"] == "active" and retention.get(db, r["retention_case"])["outcome"] == "retained"
    assert "client_exit_withdrawn" in _events(db, "C1")
    with pytest.raises(Conflict):
        exits.withdraw(db, m1, "C1", note="again")
    case = exits.request(db, m1, "C2", "closure", channel="phone", note="销户")["retention_case"]
    retention.attempt(db, m1, case, note="挽留未果")
    retention.close(db, m1, case, outcome="closed")
    assert lifecycle.current(db, "C2") == "closed"


def test_exit_reason_is_policy_data_and_bad_reason_changes_nothing(db, actors, run):
    add_client(db, "C1")
    m1 = actors("m1", branch="TY01")
    before = db.execute("SELECT count(*) FROM interactions").fetchone()[0]
    with pytest.raises(BrokerCRMError, match="unknown reason for leaving"):
        exits.request(db, m1, "C1", "closure", channel="counter", note="销户", reason="moon")
    assert db.execute("SELECT count(*) FROM interactions").fetchone()[0] == before
    assert lifecycle.current(db, "C1") == "active"
    exits.request(db, m1, "C1", "closure", channel="counter", note="销户", reason="佣金费率")  # the name works too
    exits.record_reason(db, m1, "C1", "relocation", note="调往外地工作")
    s = lifecycle.for_client(db, "C1")
    assert s["exit_reason"]["code"] == "relocation"  # the latest counts; the first stays in the table
    assert db.execute("SELECT count(*) FROM exit_reasons WHERE client_id = 'C1'").fetchone()[0] == 2
    report = json.loads(run("status", "report", "--json").output)
    assert report["exit_reasons"] == [{"branch_id": "TY01", "reason": "relocation", "name": "迁居或工作调动 (moving away)",
                                       "clients": 1}]
    out = run("status", "reason", "C1", "--reason", "nonsense", ok=False)
    assert out.exit_code != 0 and "未知离开原因" in out.output


def test_departed_clients_leave_care_and_packages_but_records_stay(db, actors, admin, run, monkeypatch):
    monkeypatch.setenv("BROKERCRM_NOW", "2026-06-01T09:00:00+08:00")
    for cid in ("C1", "C2"):
        add_client(db, cid, birth="1980-06-10", investment_years=0, assets=1_500_000)  # gold: holiday greetings
        care.record_moment(db, admin, cid, kind="高考", on_date="2026-06-07", note="孩子高考")
    from brokercrm.classify import engine as classify

    classify.classify(db, actor=admin)
    m1 = actors("m1", branch="TY01")
    exits.request(db, m1, "C2", "closure", channel="counter", note="销户")
    exits.complete(db, m1, "C2", note="已销户")
    kept = {t: db.execute(f"SELECT count(*) FROM {t} WHERE client_id = 'C2'").fetchone()[0]
            for t in ("interactions", "tasks", "care_moments", "classifications", "retention_cases")}
    made = care.generate(db, admin, days=30)
    by_client = dict(db.execute("SELECT client_id, count(*) FROM tasks WHERE kind = 'care' GROUP BY client_id"))
    assert by_client.get("C1", 0) >= 2 and "C2" not in by_client  # birthday + moment (+ holiday) for C1 only
    assert made["created"] == {"birthday": 1, "holiday": 1, "moment": 1}  # 端午 2026-06-19, C1 only
    assert service_packages.for_client(db, "C1")["code"] == "novice"
    left = service_packages.for_client(db, "C2")
    assert left["code"] is None and left["actions"] == []
    assert service_packages.distribution(db, admin)["rows"] == [{"branch_id": "TY01", "package": "novice",
                                                                 "clients": 1}]
    # nothing of C2 is deleted: the records stay for the retention period
    assert all(kept.values())
    for table, n in kept.items():
        assert db.execute(f"SELECT count(*) FROM {table} WHERE client_id = 'C2'").fetchone()[0] == n
    shown = json.loads(run("clients", "show", "C2", "--json").output)
    assert shown["client_id"] == "C2" and shown["interactions"]


def _trade(db, client_id, day, pct):
    db.execute("INSERT INTO behaviour_daily (client_id, date, turnover_pct, st_share, imported_at)"
               " VALUES (?, ?, ?, 0, ?)", [client_id, day, pct, day])


def test_dormancy_no_trade_and_no_contact_for_the_policy_months(db, actors, admin, run):
    # today 2026-06-30, 6 months: the window starts 2025-12-30
    for cid in ("QUIET", "TALKED", "TRADED", "ZERO", "NEW"):
        add_client(db, cid, opened_at="2026-05-01" if cid == "NEW" else "2020-01-01")
    interactions.log(db, admin, "TALKED", kind="call", channel="phone", note="问候", at="2026-02-01T10:00:00")
    interactions.log(db, admin, "QUIET", kind="call", channel="phone", note="很久以前", at="2025-12-01T10:00:00")
    _trade(db, "TRADED", "2026-03-02", 12.5)
    _trade(db, "ZERO", "2026-03-02", 0.0)  # a day with no turnover is no trade
    r = lifecycle.refresh(db, admin)
    assert (r["cutoff"], r["dormant"], r["reactivated"]) == ("2025-12-30", 2, 0)
    assert {c["client_id"] for c in lifecycle.list_by_status(db, admin, status="dormant")} == {"QUIET", "ZERO"}
    assert lifecycle.refresh(db, admin)["dormant"] == 0  # idempotent
    assert _events(db, "QUIET").count("client_dormant") == 1
    # a trade in the window wakes a dormant client at the next refresh
    _trade(db, "ZERO", "2026-06-29", 3.0)
    assert lifecycle.refresh(db, admin)["reactivated"] == 1 and lifecycle.current(db, "ZERO") == "active"
    # a contact wakes one at once
    interactions.log(db, admin, "QUIET", kind="visit", channel="counter", note="来访")
    assert lifecycle.current(db, "QUIET") == "active"
    assert lifecycle.for_client(db, "QUIET")["history"][0]["source"] == "contact"
    listed = json.loads(run("clients", "list", "--status", "active", "--json").output)
    assert {c["client_id"] for c in listed} == {"QUIET", "TALKED", "TRADED", "ZERO", "NEW"}


def test_dormancy_months_are_policy(db, admin, tmp_path):
    from brokercrm.policy.sets import default_policy_dir, publish

    add_client(db, "C1", opened_at="2020-01-01")
    interactions.log(db, admin, "C1", kind="call", channel="phone", note="x", at="2026-03-01T10:00:00")
    assert lifecycle.refresh(db, admin)["dormant"] == 0
    body = (default_policy_dir() / "lifecycle.toml").read_text(encoding="utf-8").replace("months = 6", "months = 3")
    (tmp_path / "lifecycle.toml").write_text(body, encoding="utf-8")
    publish(db, tmp_path / "lifecycle.toml", admin)
    r = lifecycle.refresh(db, admin)
    assert (r["months"], r["dormant"]) == (3, 1)


def test_a_touchpoint_can_react_to_a_status_event(db, admin, tmp_path):
    """Transitions are events: a head-office touchpoint on client_dormant opens a task."""
    from brokercrm.policy.sets import default_policy_dir, publish

    body = (default_policy_dir() / "service.toml").read_text(encoding="utf-8")
    body += ('\n[[touchpoints]]\nevent = "client_dormant"\ntask = "contact"\ntitle = "休眠客户唤醒 (wake a dormant'
             ' client)"\nwithin = "5wd"\n')
    (tmp_path / "service.toml").write_text(body, encoding="utf-8")
    publish(db, tmp_path / "service.toml", admin)
    add_client(db, "C1", opened_at="2020-01-01")
    lifecycle.refresh(db, admin)
    [task] = tasks.list_tasks(db, admin, client_id="C1")
    assert task["kind"] == "contact" and task["origin"] == "touchpoint:client_dormant"


@pytest.mark.parametrize("body, error", [
    ('[dormancy]\nmonths = 2.5\nmin_turnover_pct = 0\n[[exit_reasons]]\ncode = "a"\nname = "A"\n', "whole number"),
    ('[dormancy]\nmonths = 6\nmin_turnover_pct = 0\n[[exit_reasons]]\ncode = "a"\nname = "A"\n'
     '[[exit_reasons]]\ncode = "a"\nname = "B"\n', "duplicate reason code"),
    ('[dormancy]\nmonths = 6\nmin_turnover_pct = 0\n', "exit_reasons"),
    ('[dormancy]\nmonths = 0\nmin_turnover_pct = 0\n[[exit_reasons]]\ncode = "a"\nname = "A"\n', "months"),
])
def test_lifecycle_policy_validation(body, error):
    from brokercrm.policy.sets import PolicyError, parse

    with pytest.raises(PolicyError, match=error):
        parse('[policy]\nname = "lifecycle"\n' + body, "lifecycle.toml")


def test_who_may_change_status(db, actors):
    add_client(db, "C1", branch="BJ01")
    ty = actors("ty", branch="TY01")
    bj = actors("bj", branch="BJ01")
    with pytest.raises(Forbidden):
        exits.request(db, ty, "C1", "closure", channel="counter", note="x")
    exits.request(db, bj, "C1", "closure", channel="counter", note="x")
    with pytest.raises(Forbidden):
        exits.complete(db, ty, "C1", note="x")
    with pytest.raises(Forbidden):
        lifecycle.refresh(db, bj)  # nightly work: head office or a service account
    assert lifecycle.list_by_status(db, ty) == []  # a branch sees its own clients only


def test_cli_status_commands(db, run, actors):
    add_client(db, "C1", opened_at="2020-01-01")
    add_client(db, "C2", opened_at="2020-01-01")
    actors("m1", branch="TY01")
    out = run("status", "request", "C1", "--kind", "closure", "--note", "销户", "--reason", "service", "--json",
              "--as", "m1")
    assert json.loads(out.output)["status"] == "closure_requested"
    refused = run("status", "complete", "C2", "--note", "x", "--as", "m1", ok=False)
    assert refused.exit_code != 0 and "没有待办" in refused.output
    run("status", "complete", "C1", "--note", "已销户", "--as", "m1")
    shown = json.loads(run("clients", "status", "C1", "--json").output)
    assert shown["status"] == "closed" and shown["exit_reason"]["code"] == "service"
    assert "已销户" in run("clients", "status", "C1").output
    r = json.loads(run("status", "refresh", "--json").output)
    assert r["dormant"] == 1  # C2; C1 has left and is not dormant
    assert [c["client_id"] for c in json.loads(run("clients", "list", "--status", "休眠", "--json").output)] == ["C2"]
    assert [c["client_id"] for c in json.loads(run("clients", "list", "--status", "closed", "--json").output)] == ["C1"]
    bad = run("clients", "list", "--status", "sleeping", ok=False)
    assert bad.exit_code != 0 and "未知客户状态" in bad.output
    report = json.loads(run("status", "report", "--json").output)
    assert report["branches"] == [{"branch_id": "TY01", "active": 0, "dormant": 1, "transfer_requested": 0,
                                   "closure_requested": 0, "closed": 1, "transferred": 0}]
    assert "休眠" in run("status", "list").output
