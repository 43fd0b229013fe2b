"""The task engine: touchpoint deadlines at their edges, overdue, done, report, plugin follow-ups."""

import json

import pytest

from brokercrm.kernel import events
from brokercrm.service import tasks
from brokercrm.service import policy as sp
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.plugins import use as use_plugins
from brokercrm.kernel.timeutil import iso, parse_moment

from conftest import add_client


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def at(monkeypatch, moment):
    monkeypatch.setenv("BROKERCRM_NOW", moment)


def overdue_ids(db, actor):
    return [t["id"] for t in tasks.list_tasks(db, actor, overdue=True)]


@pytest.mark.parametrize("kind, start, inside, outside", [
    # account opened → callback within 24 hours
    ("account_opened", "2026-06-30T10:00:00+08:00", "2026-07-01T09:59:00+08:00", "2026-07-01T10:01:00+08:00"),
    # abnormal order → human review within 10 minutes
    ("abnormal_order", "2026-06-30T10:00:00+08:00", "2026-06-30T10:09:59+08:00", "2026-06-30T10:10:01+08:00"),
    # complaint → solution within 48 hours
    ("complaint_received", "2026-06-30T10:00:00+08:00", "2026-07-02T09:59:00+08:00", "2026-07-02T10:01:00+08:00"),
    # behaviour alert → manager contact within 3 days
    ("behaviour_alert", "2026-06-30T10:00:00+08:00", "2026-07-03T09:59:00+08:00", "2026-07-03T10:01:00+08:00"),
    # high-risk sale → callback within 5 working days: Tue 30 Jun → Tue 7 Jul
    ("high_risk_sale", "2026-06-30T10:00:00+08:00", "2026-07-07T09:59:00+08:00", "2026-07-07T10:01:00+08:00"),
])
def test_each_touchpoint_deadline_at_its_edge(db, monkeypatch, kind, start, inside, outside, admin):
    add_client(db, "C1")
    at(monkeypatch, start)
    with db.atomic():
        events.emit(db, kind, "C1")
    [task] = tasks.list_tasks(db, admin, client_id="C1")
    assert task["origin"] == f"touchpoint:{kind}"
    assert task["created_at"] == start
    at(monkeypatch, inside)
    assert overdue_ids(db, admin) == []
    at(monkeypatch, outside)
    assert overdue_ids(db, admin) == [task["id"]]


def test_24h_callback_edges_23h59_and_24h01(db, monkeypatch, admin):
    add_client(db, "C1")
    events.emit(db, "account_opened", "C1", at="2026-06-30T08:00:00+08:00")
    [task] = tasks.list_tasks(db, admin)
    assert task["due_at"] == "2026-07-01T08:00:00+08:00"
    at(monkeypatch, "2026-07-01T07:59:00+08:00")  # 23h59 after opening
    assert not tasks.get(db, task["id"])["overdue"]
    at(monkeypatch, "2026-07-01T08:01:00+08:00")  # 24h01
    assert tasks.get(db, task["id"])["overdue"]
    assert tasks.get(db, task["id"])["state"] == "open past due"


def test_working_days_skip_weekends_holidays_and_count_make_up_days(db):
    policy = sp.load(db)
    friday = parse_moment("2026-07-03T16:30:00")
    assert iso(policy.due(friday, "5wd")) == "2026-07-10T16:30:00+08:00"
    saturday = parse_moment("2026-07-04T10:00:00")
    assert iso(policy.due(saturday, "1wd")) == "2026-07-06T10:00:00+08:00"
    # National Day: 1–7 Oct off, Sat 10 Oct is a make-up working day.
    before = parse_moment("2026-09-30T10:00:00")
    assert iso(policy.due(before, "1wd")) == "2026-10-08T10:00:00+08:00"
    assert iso(policy.due(before, "3wd")) == "2026-10-10T10:00:00+08:00"
    assert iso(policy.due(before, "5wd")) == "2026-10-13T10:00:00+08:00"


def test_high_risk_sale_over_a_holiday_edge(db, monkeypatch, admin):
    add_client(db, "C1")
    events.emit(db, "high_risk_sale", "C1", at="2026-09-30T10:00:00+08:00")
    [task] = tasks.list_tasks(db, admin)
    assert task["due_at"] == "2026-10-13T10:00:00+08:00"
    at(monkeypatch, "2026-10-13T09:59:00+08:00")
    assert overdue_ids(db, admin) == []
    at(monkeypatch, "2026-10-13T10:01:00+08:00")
    assert overdue_ids(db, admin) == [task["id"]]


def test_historic_account_opening_opens_no_task(db, admin):
    """Loading an existing book: a 40-day-old opening is past the touchpoint's ignore_after (30d)."""
    add_client(db, "OLD")
    add_client(db, "NEW")
    events.emit(db, "account_opened", "OLD", at="2026-05-20T10:00:00+08:00")
    events.emit(db, "account_opened", "NEW", at="2026-06-29T10:00:00+08:00")
    assert [t["client_id"] for t in tasks.list_tasks(db, admin)] == ["NEW"]


def test_event_without_touchpoint_opens_nothing(db, admin):
    add_client(db, "C1")
    events.emit(db, "something_else", "C1")
    assert tasks.list_tasks(db, admin) == []


def test_done_on_time_late_and_report_per_branch(db, monkeypatch, actors, admin):
    add_client(db, "T1", branch="TY01")
    add_client(db, "T2", branch="TY01")
    add_client(db, "T3", branch="TY01")
    add_client(db, "B1", branch="BJ01")
    for client in ("T1", "T2", "T3", "B1"):
        events.emit(db, "account_opened", client, at="2026-06-30T10:00:00+08:00")
    ids = {t["client_id"]: t["id"] for t in tasks.list_tasks(db, admin)}
    m1 = actors("m1", branch="TY01")
    at(monkeypatch, "2026-07-01T09:00:00+08:00")
    assert tasks.done(db, m1, ids["T1"], note="已回访")["state"] == "done on time"
    at(monkeypatch, "2026-07-01T11:00:00+08:00")
    assert tasks.done(db, m1, ids["T2"], note="晚了")["state"] == "done late"
    with pytest.raises(BrokerCRMError, match="already done"):
        tasks.done(db, m1, ids["T2"], note="again")
    with pytest.raises(BrokerCRMError, match="note"):
        tasks.done(db, m1, ids["T3"], note=" ")
    report = {r["branch_id"]: r for r in tasks.report(db, admin)["branches"]}
    assert report["TY01"] | {} == {"branch_id": "TY01", "on_time": 1, "late": 1, "open_past_due": 1, "open": 0,
                                   "total": 3, "on_time_rate": 0.5}
    assert report["BJ01"]["open_past_due"] == 1
    assert tasks.list_tasks(db, admin, branch="BJ01", overdue=True)[0]["client_id"] == "B1"


def test_tasks_cli_list_overdue_done_report(db, run, monkeypatch, actors):
    add_client(db, "C1")
    add_client(db, "C2", branch="BJ01")
    result = run("orders", "flag", "C1", "--note", "大额撤单异常", "--order-id", "O-77", "--json")
    [task] = json.loads(result.output)["tasks"]
    assert task["kind"] == "review" and task["due_at"] == "2026-06-30T10:10:00+08:00"
    events.emit(db, "account_opened", "C2", at="2026-06-30T10:00:00+08:00")
    at(monkeypatch, "2026-06-30T10:11:00+08:00")
    overdue = json.loads(run("tasks", "list", "--overdue", "--json").output)
    assert [t["client_id"] for t in overdue] == ["C1"]
    assert json.loads(run("tasks", "list", "--branch", "BJ01", "--json").output)[0]["client_id"] == "C2"
    assert "逾期 OVERDUE" in run("tasks", "list").output
    actors("r1", branch="TY01")  # a reviewer of the client's branch
    run("tasks", "done", str(task["id"]), "--note", "已人工复核, 系客户误操作", "--as", "r1")
    report = json.loads(run("tasks", "report", "--json").output)
    rows = {r["branch_id"]: r for r in report["branches"]}
    assert rows["TY01"]["late"] == 1 and rows["TY01"]["open_past_due"] == 0
    assert rows["BJ01"]["open"] == 1
    assert "TY01" in run("tasks", "report").output
    result = run("tasks", "done", "999", "--note", "x", ok=False)
    assert result.exit_code == 1 and "no such task" in result.output
    result = run("orders", "flag", "NOPE", "--note", "x", ok=False)
    assert result.exit_code == 1 and "no such client" in result.output


# -- a branch plugin adding a follow-up through the interaction hook ----------------

VIP_FOLLOW_UPS = """
# 太原营业部: after an abnormal order, the branch head calls the client within 2 hours.
from brokercrm.hookspecs import hookimpl

@hookimpl
def interaction_follow_ups(event):
    if event["kind"] == "abnormal_order":
        return [{"kind": "call", "due_in_hours": 2, "note": "营业部负责人致电客户 (branch head calls)"}]
    return []
"""


def test_approved_plugin_adds_a_follow_up_task_only_for_its_branch(db, plugin_site, approve_plugin, admin):
    add_client(db, "T1", branch="TY01")
    add_client(db, "B1", branch="BJ01")
    plugin_site.install("ty-followups", VIP_FOLLOW_UPS, version="1.0")
    host = plugin_site.host()
    use_plugins(host)
    try:
        events.emit(db, "abnormal_order", "T1", at="2026-06-30T10:00:00+08:00")
        assert [t["origin"] for t in tasks.list_tasks(db, admin)] == ["touchpoint:abnormal_order"], "not approved yet"

        approve_plugin(host, "ty-followups", "TY01")
        events.emit(db, "abnormal_order", "T1", at="2026-06-30T10:00:00+08:00")
        events.emit(db, "abnormal_order", "B1", at="2026-06-30T10:00:00+08:00")
    finally:
        host.close()
    followups = [t for t in tasks.list_tasks(db, admin) if t["origin"].startswith("plugin:")]
    assert len(followups) == 1
    [task] = followups
    assert task["client_id"] == "T1" and task["origin"] == "plugin:ty-followups" and task["kind"] == "call"
    assert task["due_at"] == "2026-06-30T12:00:00+08:00"


BROKEN_FOLLOW_UPS = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def interaction_follow_ups(event):
    raise RuntimeError("boom")
"""


def test_failing_plugin_is_recorded_and_does_not_lose_the_event(db, plugin_site, approve_plugin, admin):
    """The failure is kept in plugin_errors (plugin, branch, hook, error), append-only; the task still opens."""
    add_client(db, "T1", branch="TY01")
    plugin_site.install("ty-broken", BROKEN_FOLLOW_UPS, version="1.0")
    with plugin_site.host() as host:
        use_plugins(host)
        approve_plugin(host, "ty-broken", "TY01")
        events.emit(db, "account_opened", "T1", at="2026-06-30T10:00:00+08:00")
    assert [t["origin"] for t in tasks.list_tasks(db, admin)] == ["touchpoint:account_opened"]
    [(plugin, branch, hook, error)] = db.execute("SELECT plugin, branch, hook, error FROM plugin_errors").fetchall()
    assert (plugin, branch, hook) == ("ty-broken", "TY01", "interaction_follow_ups")
    assert "RuntimeError" in error and "boom" in error


def test_client_import_opens_callbacks_for_new_accounts_only(db, run, tmp_path, admin):
    """The importer hands account_opened over in batches (on_event.batch)."""
    from conftest import make_id

    path = tmp_path / "clients.csv"
    rows = ["client_id,kind,name,id_number,phone,birth_date,branch_id,opened_at"]
    for cid, branch, opened in [("N1", "TY01", "2026-06-30"), ("N2", "BJ01", "2026-06-29"), ("OLD", "TY01", "2019-03-01")]:
        rows.append(f"{cid},individual,张三,{make_id('1980-05-06')},13800001111,1980-05-06,{branch},{opened}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run("import", "clients", str(path))
    got = {t["client_id"]: t for t in tasks.list_tasks(db, admin)}
    assert set(got) == {"N1", "N2"}
    assert got["N1"]["due_at"] == "2026-07-01T00:00:00+08:00" and got["N1"]["branch_id"] == "TY01"
    assert got["N2"]["due_at"] == "2026-06-30T00:00:00+08:00" and got["N2"]["overdue"]
    run("import", "clients", str(path))  # re-import: nothing new, no new events, no new tasks
    assert len(tasks.list_tasks(db, admin)) == 2


def test_confirmed_high_risk_sale_opens_a_callback_in_5_working_days(db, actors):
    """End to end with the suitability engine: a confirmed mismatch emits high_risk_sale."""
    from brokercrm.suitability import engine as suitability
    from conftest import add_assessment, add_product

    add_client(db, "C1")
    add_assessment(db, "C1", "C2")
    add_product(db, "PR4", "R4")
    op1 = actors("op1", branch="TY01")
    suitability.confirm(db, op1, "C1", "PR4", "WARN-2026-007")
    [task] = tasks.list_tasks(db, op1)
    assert (task["origin"], task["kind"]) == ("touchpoint:high_risk_sale", "callback")
    assert task["due_at"] == "2026-07-07T10:00:00+08:00"  # Tue 30 Jun + 5 working days


def test_deadlines_follow_the_published_policy_and_old_databases_fall_back(db, tmp_path, admin):
    from brokercrm.policy import sets as policy_lib

    add_client(db, "C1")
    body = (policy_lib.default_policy_dir() / "service.toml").read_text(encoding="utf-8")
    edited = tmp_path / "service.toml"
    edited.write_text(body.replace('within = "24h"', 'within = "12h"', 1), encoding="utf-8")
    policy_lib.publish(db, edited, admin)
    events.emit(db, "account_opened", "C1", at="2026-06-30T08:00:00+08:00")
    assert tasks.list_tasks(db, admin)[0]["due_at"] == "2026-06-30T20:00:00+08:00"
    # A set published before service.toml shipped: the shipped default file is used.
    import shutil

    from brokercrm.kernel.db import connect
    from brokercrm.trust import keys, operators
    from brokercrm.trust import root as trust_root

    core_only = tmp_path / "core-policies"
    core_only.mkdir()
    for name in ("classification.toml", "questionnaire.toml"):
        shutil.copy(policy_lib.default_policy_dir() / name, core_only)
    old = connect(tmp_path / "old.db")
    old_admin = operators.bootstrap(old, "admin", trust_root.root_path(tmp_path / "old.db"), keys.generate())
    policy_lib.publish_defaults(old, old_admin, directory=core_only)
    old.execute("INSERT INTO branches (code, name, created_at) VALUES ('TY01', 'x', 'x')")
    add_client(old, "C1")
    assert sp.load(old).source.startswith("默认文件")
    events.emit(old, "account_opened", "C1", at="2026-06-30T08:00:00+08:00")
    assert tasks.list_tasks(old, old_admin)[0]["due_at"] == "2026-07-01T08:00:00+08:00"
    old.close()


def test_behaviour_alert_opens_a_manager_contact_in_3_days(db, tmp_path, admin):
    """End to end with the behaviour rules (the ST-stock example): the alert becomes a task."""
    import datetime as dt

    from brokercrm.suitability import behaviour

    add_client(db, "HOT")
    rows = ["client_id,date,turnover_pct,st_share"] + [
        f"HOT,{dt.date(2026, 6, 30) - dt.timedelta(days=i)},250,0.6" for i in range(1, 21)]
    path = tmp_path / "behaviour.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    behaviour.import_behaviour(db, path, actor=admin)
    [task] = tasks.list_tasks(db, admin)
    assert (task["client_id"], task["origin"], task["kind"]) == ("HOT", "touchpoint:behaviour_alert", "contact")
    assert "交易行为与风险等级" in task["title"]
    assert task["due_at"] == "2026-07-03T10:00:00+08:00"
