"""Complaints: the state machine (no skipping, no self-approval), audit, deadline flag."""

import json

import pytest

from brokercrm.service import complaints
from brokercrm.service import interactions
from brokercrm.service import tasks
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.trust import identity, keys
from brokercrm.trust import root as trust_root
from brokercrm.plugins import use as use_plugins

from conftest import add_client


@pytest.fixture(autouse=True)
def setup(db, actors, plugin_site):
    """C1 of TY01; its branch's handler and supervisor, and a supervisor of BJ01; no plugins installed."""
    add_client(db, "C1")
    for op, branch in (("handler", "TY01"), ("boss", "TY01"), ("bjboss", "BJ01")):
        actors(op, branch=branch)
    with plugin_site.host() as host:
        use_plugins(host)
        try:
            yield
        finally:
            use_plugins(None)


@pytest.fixture
def handler(actors):
    return actors("handler")


@pytest.fixture
def boss(actors):
    return actors("boss")


def open_complaint(db, actors):
    return interactions.log(db, actors("handler"), "C1", kind="complaint", channel="phone",
                            note="两融利息计算有误")["complaint"]


def test_full_path_each_step_timestamped_audited_and_task_closed(db, monkeypatch, actors, handler, boss):
    cid = open_complaint(db, actors)
    c = complaints.get(db, cid)
    assert c["state"] == "received" and c["due_at"] == "2026-07-02T10:00:00+08:00"
    assert tasks.get(db, c["task_id"])["kind"] == "solution"
    monkeypatch.setenv("BROKERCRM_NOW", "2026-06-30T11:00:00+08:00")
    complaints.investigate(db, handler, cid, note="调取对账单")
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-01T09:00:00+08:00")
    complaints.propose(db, handler, cid, solution="退还多收利息 326.40 元")
    complaints.approve(db, boss, cid)
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-01T15:00:00+08:00")
    c = complaints.inform(db, handler, cid, note="电话告知方案")
    assert c["state"] == "informed" and c["approved_by"] == "boss" and not c["overdue"]
    assert tasks.get(db, c["task_id"])["state"] == "done on time"
    complaints.resolve(db, handler, cid, note="已退款")
    c = complaints.opinion(db, handler, cid, satisfied=True, note="客户表示满意")
    assert c["state"] == "closed" and c["opinions"][0]["satisfied"] == 1
    assert [s["to"] for s in c["steps"]] == complaints.STATES
    assert [s["at"] for s in c["steps"]][1:3] == ["2026-06-30T11:00:00+08:00", "2026-07-01T09:00:00+08:00"]
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE target = ? ORDER BY id", [f"complaint {cid}"])]
    assert actions == [f"complaint.{s}" for s in complaints.STATES]
    assert tasks.get(db, c["task_id"])["state"] == "done on time"
    with pytest.raises(BrokerCRMError, match="already closed"):
        complaints.investigate(db, handler, cid)


@pytest.mark.parametrize("step", ["propose", "approve", "inform", "resolve"])
def test_no_skipping_from_received(db, step, actors, boss):
    cid = open_complaint(db, actors)
    kwargs = {"propose": {"solution": "x"}, "approve": {}, "resolve": {"note": "x"}, "inform": {"note": "x"}}[step]
    with pytest.raises(BrokerCRMError, match="no skipping"):
        getattr(complaints, step)(db, boss, cid, **kwargs)
    assert complaints.get(db, cid)["state"] == "received"


def test_no_skipping_approval(db, actors, handler):
    cid = open_complaint(db, actors)
    complaints.investigate(db, handler, cid)
    complaints.propose(db, handler, cid, solution="道歉并退费")
    with pytest.raises(BrokerCRMError, match="next step is approved"):
        complaints.inform(db, handler, cid, note="x")


def test_handler_cannot_approve_own_proposal(db, actors, handler, admin):
    cid = open_complaint(db, actors)
    complaints.investigate(db, handler, cid)
    complaints.propose(db, handler, cid, solution="道歉并退费")
    with pytest.raises(BrokerCRMError, match="cannot approve their own"):
        complaints.approve(db, handler, cid)
    with pytest.raises(BrokerCRMError, match="own branch"):
        complaints.approve(db, actors("bjboss"), cid)
    # A name nobody registered cannot become an actor at all.
    with pytest.raises(identity.AuthenticationError, match="unknown operator"):
        identity.authenticate(db, "stranger", keys.generate(), trust_root.for_db(db))
    assert complaints.get(db, cid)["state"] == "proposed"
    assert complaints.approve(db, admin, cid)["approved_by"] == "admin"


def test_supervisor_sends_proposal_back(db, actors, handler, boss):
    cid = open_complaint(db, actors)
    complaints.investigate(db, handler, cid)
    complaints.propose(db, handler, cid, solution="口头道歉")
    with pytest.raises(BrokerCRMError, match="supervisor"):
        complaints.reject(db, handler, cid, reason="x")
    c = complaints.reject(db, boss, cid, reason="须退还费用")
    assert c["state"] == "investigating" and c["proposal"] is None
    complaints.propose(db, handler, cid, solution="退还费用并道歉")
    assert complaints.approve(db, boss, cid)["state"] == "approved"


def test_steps_need_an_operator(db, actors, run):
    """Every step needs an authenticated operator: none at all, or a name without its key, is refused."""
    cid = open_complaint(db, actors)
    out = run("complaints", "investigate", str(cid), operator=None, ok=False)
    assert out.exit_code == 1 and "an operator is required" in out.output
    out = run("complaints", "investigate", str(cid), "--as", "stranger", ok=False)
    assert out.exit_code == 1 and "needs their key" in out.output
    assert complaints.get(db, cid)["state"] == "received"


def test_past_deadline_is_flagged(db, run, monkeypatch, actors, admin):
    cid = open_complaint(db, actors)
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
    run("complaints", "inform", str(cid), "--note", "短信告知", "--as", "handler")
    run("complaints", "resolve", str(cid), "--note", "已退费", "--as", "handler")
    [c] = json.loads(run("complaints", "list", "--overdue", "--json").output)
    assert c["state"] == "resolved" and c["flag"].startswith("late")
    assert tasks.get(db, c["task_id"])["state"] == "done late"


def test_cli_refusals_are_clean(db, run, actors):
    cid = open_complaint(db, actors)
    out = run("complaints", "approve", str(cid), "--as", "boss", ok=False)
    assert out.exit_code == 1 and "no skipping" in out.output and "Traceback" not in out.output
    out = run("complaints", "show", "999", ok=False)
    assert out.exit_code == 1 and "no such complaint" in out.output


def test_published_summary_counts_overdue_as_the_complaints_module_does(db, db_path, tmp_path, monkeypatch, actors,
                                                                         handler, boss, admin):
    """Approved but not yet told to the client is still overdue after the deadline (seed 000: 48 h to the client)."""
    import sqlite3

    from brokercrm.site.publish import publish

    cid = open_complaint(db, actors)
    complaints.investigate(db, handler, cid, note="查")
    complaints.propose(db, handler, cid, solution="退费")
    complaints.approve(db, boss, cid)
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-03T10:00:00+08:00")  # past the 48 h, client not told
    assert complaints.get(db, cid)["overdue"]
    out = tmp_path / "site"
    publish(db_path, out, actor=admin)
    row = sqlite3.connect(out / "hq.db").execute(
        "SELECT state, overdue FROM summary_complaints_by_state WHERE branch_id = 'TY01'").fetchone()
    assert row == ("approved", 1)
