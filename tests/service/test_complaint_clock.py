"""The complaint's clock stops when the solution is given to the client (seed 000), its task goes to the
投诉组 queue, and the client's opinion closes or reopens it (seed 001: 征询客户意见)."""

import json

import pytest

from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.plugins import use as use_plugins
from brokercrm.service import complaints, interactions, tasks

from conftest import add_client


@pytest.fixture(autouse=True)
def setup(db, actors, plugin_site):
    add_client(db, "C1")
    actors("am1", branch="TY01", role="account_manager")
    db.execute("UPDATE clients SET account_manager = 'am1' WHERE client_id = 'C1'")
    for op in ("handler", "boss"):
        actors(op, branch="TY01")
    actors("grp", branch="TY01", role="complaints_group")
    actors("bjgrp", branch="BJ01", role="complaints_group")
    with plugin_site.host() as host:
        use_plugins(host)
        try:
            yield
        finally:
            use_plugins(None)


def at(monkeypatch, moment):
    monkeypatch.setenv("BROKERCRM_NOW", moment)


def approved(db, actors):
    cid = interactions.log(db, actors("handler"), "C1", kind="complaint", channel="phone", note="佣金多收")["complaint"]
    complaints.investigate(db, actors("handler"), cid)
    complaints.propose(db, actors("handler"), cid, solution="退还多收佣金")
    complaints.approve(db, actors("boss"), cid)
    return cid


def test_the_clock_stops_when_the_client_is_told_not_when_the_work_is_done(db, monkeypatch, actors):
    cid = approved(db, actors)
    at(monkeypatch, "2026-07-02T09:00:00+08:00")          # inside the 48 hours
    c = complaints.inform(db, actors("handler"), cid, note="电话告知退费方案")
    assert c["informed_at"] == "2026-07-02T09:00:00+08:00" and not c["overdue"]
    assert tasks.get(db, c["task_id"])["state"] == "done on time"
    at(monkeypatch, "2026-07-06T10:00:00+08:00")          # the refund itself takes days
    c = complaints.resolve(db, actors("handler"), cid, note="已退款")
    assert c["state"] == "resolved" and not c["overdue"] and c["flag"] is None
    assert complaints.list_complaints(db, actors("boss"), overdue=True) == []


def test_the_work_done_but_the_client_not_told_is_overdue(db, monkeypatch, actors):
    cid = approved(db, actors)
    with pytest.raises(BrokerCRMError, match="next step is informed"):
        complaints.resolve(db, actors("handler"), cid, note="已退款")
    at(monkeypatch, "2026-07-02T10:01:00+08:00")
    [c] = complaints.list_complaints(db, actors("boss"), overdue=True)
    assert c["id"] == cid and c["flag"].startswith("OVERDUE")
    c = complaints.inform(db, actors("handler"), cid, note="告知")
    assert c["flag"].startswith("late") and tasks.get(db, c["task_id"])["state"] == "done late"


def test_complaint_task_goes_to_the_complaints_group_queue(db, actors, run):
    cid = approved(db, actors)
    task = tasks.get(db, complaints.get(db, cid)["task_id"])
    assert task["queue"] == "complaints_group" and task["assignee"] is None
    mine = json.loads(run("tasks", "list", "--mine", "--json", "--as", "grp").output)
    assert [t["id"] for t in mine] == [task["id"]]
    # not the client's manager's, and not another branch's group's
    am1 = json.loads(run("tasks", "list", "--mine", "--json", "--as", "am1").output)
    assert [t["kind"] for t in am1] == ["questionnaire"]   # C1 has no questionnaire: that one is the manager's
    assert json.loads(run("tasks", "list", "--mine", "--json", "--as", "bjgrp").output) == []


def test_a_touchpoint_without_a_queue_goes_to_the_clients_manager(db, actors):
    interactions.log(db, actors("handler"), "C1", kind="call", channel="phone", note="不满意", satisfaction=1)
    [task] = [t for t in tasks.list_tasks(db, actors("boss")) if t["origin"] == "touchpoint:low_satisfaction"]
    assert task["assignee"] == "am1" and task["queue"] is None


def test_satisfied_client_closes_the_complaint(db, actors, run):
    cid = approved(db, actors)
    complaints.inform(db, actors("handler"), cid, note="告知")
    with pytest.raises(BrokerCRMError, match="resolve first"):
        complaints.opinion(db, actors("handler"), cid, satisfied=True, note="满意")
    complaints.resolve(db, actors("handler"), cid, note="已退款")
    c = json.loads(run("complaints", "opinion", cid, "--satisfied", "--note", "客户满意", "--json",
                       "--as", "handler").output)
    assert c["state"] == "closed" and c["closed_at"] and c["opinions"] == [
        {"round": 1, "satisfied": 1, "note": "客户满意", "at": c["closed_at"], "operator": "handler"}]
    out = run("complaints", "investigate", cid, "--as", "handler", ok=False)
    assert out.exit_code != 0 and "already closed" in out.output


def test_unsatisfied_client_reopens_with_a_new_deadline_and_task_in_the_queue(db, monkeypatch, actors):
    cid = approved(db, actors)
    first_task = complaints.get(db, cid)["task_id"]
    complaints.inform(db, actors("handler"), cid, note="告知")
    at(monkeypatch, "2026-07-01T12:00:00+08:00")
    c = complaints.opinion(db, actors("handler"), cid, satisfied=False, note="退费金额不对")
    assert c["state"] == "investigating" and c["round"] == 2 and c["proposal"] is None
    assert c["informed_at"] is None and c["due_at"] == "2026-07-03T12:00:00+08:00"
    task = tasks.get(db, c["task_id"])
    assert task["id"] != first_task and task["status"] == "open" and task["queue"] == "complaints_group"
    assert task["due_at"] == c["due_at"]
    # a second round goes through a supervisor again
    complaints.propose(db, actors("handler"), cid, solution="按对账单补足差额")
    with pytest.raises(BrokerCRMError, match="next step is approved"):
        complaints.inform(db, actors("handler"), cid, note="x")
    complaints.approve(db, actors("boss"), cid)
    c = complaints.inform(db, actors("handler"), cid, note="告知新方案")
    assert tasks.get(db, c["task_id"])["status"] == "done"


def test_opinion_refusals(db, actors, run):
    cid = approved(db, actors)
    out = run("complaints", "opinion", cid, "--not-satisfied", "--note", "x", "--as", "handler", ok=False)
    assert out.exit_code != 0 and "not been told" in out.output
    out = run("complaints", "opinion", cid, "--note", "x", "--as", "handler", ok=False)
    assert out.exit_code != 0 and "--satisfied" in out.output
    assert db.execute("SELECT count(*) FROM complaint_opinions").fetchone()[0] == 0


def test_a_complaint_done_the_old_way_can_still_be_told(db, actors):
    """Before this order, work came before informing: such a complaint may still be informed."""
    cid = approved(db, actors)
    db.execute("UPDATE complaints SET state = 'resolved', resolved_at = updated_at WHERE id = ?", [cid])
    c = complaints.inform(db, actors("handler"), cid, note="告知")
    assert c["state"] == "informed" and c["informed_at"]
