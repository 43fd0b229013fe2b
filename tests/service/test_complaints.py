"""Complaints: the state machine (no skipping, no self-approval), audit, deadline flag."""

import json

import pytest

from brokercrm.service import complaints
from brokercrm.service import interactions
from brokercrm.trust import operators
from brokercrm.service import tasks
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.plugins import Plugins
from brokercrm.plugins import use as use_plugins

from conftest import add_client


@pytest.fixture(autouse=True)
def setup(db):
    use_plugins(Plugins())
    add_client(db, "C1")
    operators.bootstrap(db, "admin")
    operators.add(db, "handler", "branch", branch="TY01", by="admin")
    operators.add(db, "boss", "branch", branch="TY01", by="admin")
    operators.add(db, "bjboss", "branch", branch="BJ01", by="admin")
    yield
    use_plugins(None)


def open_complaint(db):
    return interactions.log(db, "C1", kind="complaint", channel="phone", note="两融利息计算有误",
                            operator="handler")["complaint"]


def test_full_path_each_step_timestamped_audited_and_task_closed(db, monkeypatch):
    cid = open_complaint(db)
    c = complaints.get(db, cid)
    assert c["state"] == "received" and c["due_at"] == "2026-07-02T10:00:00+08:00"
    assert tasks.get(db, c["task_id"])["kind"] == "solution"
    monkeypatch.setenv("BROKERCRM_NOW", "2026-06-30T11:00:00+08:00")
    complaints.investigate(db, cid, operator="handler", note="调取对账单")
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-01T09:00:00+08:00")
    complaints.propose(db, cid, solution="退还多收利息 326.40 元", operator="handler")
    complaints.approve(db, cid, operator="boss")
    complaints.resolve(db, cid, operator="handler", note="已退款")
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-01T15:00:00+08:00")
    c = complaints.inform(db, cid, operator="handler", note="电话告知, 客户表示满意")
    assert c["state"] == "informed" and c["approved_by"] == "boss" and not c["overdue"]
    assert [s["to"] for s in c["steps"]] == complaints.STATES
    assert [s["at"] for s in c["steps"]][1:3] == ["2026-06-30T11:00:00+08:00", "2026-07-01T09:00:00+08:00"]
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE target = ? ORDER BY id", [f"complaint {cid}"])]
    assert actions == [f"complaint.{s}" for s in complaints.STATES]
    assert tasks.get(db, c["task_id"])["state"] == "done on time"
    with pytest.raises(BrokerCRMError, match="already closed"):
        complaints.investigate(db, cid, operator="handler")


@pytest.mark.parametrize("step", ["propose", "approve", "resolve", "inform"])
def test_no_skipping_from_received(db, step):
    cid = open_complaint(db)
    kwargs = {"propose": {"solution": "x"}, "approve": {}, "resolve": {"note": "x"}, "inform": {"note": "x"}}[step]
    with pytest.raises(BrokerCRMError, match="no skipping"):
        getattr(complaints, step)(db, cid, operator="boss", **kwargs)
    assert complaints.get(db, cid)["state"] == "received"


def test_no_skipping_approval(db):
    cid = open_complaint(db)
    complaints.investigate(db, cid, operator="handler")
    complaints.propose(db, cid, solution="道歉并退费", operator="handler")
    with pytest.raises(BrokerCRMError, match="next step is approved"):
        complaints.resolve(db, cid, operator="handler", note="x")


def test_handler_cannot_approve_own_proposal(db):
    cid = open_complaint(db)
    complaints.investigate(db, cid, operator="handler")
    complaints.propose(db, cid, solution="道歉并退费", operator="handler")
    with pytest.raises(BrokerCRMError, match="cannot approve their own"):
        complaints.approve(db, cid, operator="handler")
    with pytest.raises(BrokerCRMError, match="own branch"):
        complaints.approve(db, cid, operator="bjboss")
    with pytest.raises(BrokerCRMError, match="unknown operator"):
        complaints.approve(db, cid, operator="stranger")
    assert complaints.get(db, cid)["state"] == "proposed"
    assert complaints.approve(db, cid, operator="admin")["approved_by"] == "admin"


def test_supervisor_sends_proposal_back(db):
    cid = open_complaint(db)
    complaints.investigate(db, cid, operator="handler")
    complaints.propose(db, cid, solution="口头道歉", operator="handler")
    with pytest.raises(BrokerCRMError, match="supervisor"):
        complaints.reject(db, cid, operator="handler", reason="x")
    c = complaints.reject(db, cid, operator="boss", reason="须退还费用")
    assert c["state"] == "investigating" and c["proposal"] is None
    complaints.propose(db, cid, solution="退还费用并道歉", operator="handler")
    assert complaints.approve(db, cid, operator="boss")["state"] == "approved"


def test_steps_need_an_operator(db):
    cid = open_complaint(db)
    with pytest.raises(BrokerCRMError, match="operator"):
        complaints.investigate(db, cid, operator=None)


def test_past_deadline_is_flagged(db, run, monkeypatch):
    cid = open_complaint(db)
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-02T09:59:00+08:00")
    assert json.loads(run("complaints", "list", "--overdue", "--json").output) == []
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-02T10:01:00+08:00")
    [c] = json.loads(run("complaints", "list", "--overdue", "--json").output)
    assert c["id"] == cid and c["flag"].startswith("OVERDUE")
    assert "OVERDUE" in run("complaints", "show", str(cid)).output
    # Closed after the deadline: still flagged, as late.
    for args in (["investigate"], ["propose", "--solution", "退费"]):
        run("complaints", args[0], str(cid), *args[1:], "--as", "handler")
    run("complaints", "approve", str(cid), "--as", "boss")
    run("complaints", "resolve", str(cid), "--note", "已退费", "--as", "handler")
    run("complaints", "inform", str(cid), "--note", "短信告知", "--as", "handler")
    [c] = json.loads(run("complaints", "list", "--overdue", "--json").output)
    assert c["state"] == "informed" and c["flag"].startswith("late")
    assert tasks.get(db, c["task_id"])["state"] == "done late"


def test_cli_refusals_are_clean(db, run):
    cid = open_complaint(db)
    out = run("complaints", "approve", str(cid), "--as", "boss", ok=False)
    assert out.exit_code == 1 and "no skipping" in out.output and "Traceback" not in out.output
    out = run("complaints", "show", "999", ok=False)
    assert out.exit_code == 1 and "no such complaint" in out.output


def test_published_summary_counts_overdue_as_the_complaints_module_does(db, db_path, tmp_path, monkeypatch):
    """Resolved but not yet told to the client is still overdue after the deadline (seed 000: 48 h to the client)."""
    import sqlite3

    from brokercrm.site.publish import publish

    cid = open_complaint(db)
    complaints.investigate(db, cid, operator="handler", note="查")
    complaints.propose(db, cid, solution="退费", operator="handler")
    complaints.approve(db, cid, operator="boss")
    complaints.resolve(db, cid, operator="handler", note="已退款")
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-03T10:00:00+08:00")  # past the 48 h, client not told
    assert complaints.get(db, cid)["overdue"]
    out = tmp_path / "site"
    publish(db_path, out)
    row = sqlite3.connect(out / "hq.db").execute(
        "SELECT state, overdue FROM summary_complaints_by_state WHERE branch_id = 'TY01'").fetchone()
    assert row == ("resolved", 1)
