"""Investor education and client events (issue 14 item 5): sessions, invitations, attendance, reports."""

import json

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound
from brokercrm.programmes import client_events, education, vip
from brokercrm.service import exits

from conftest import add_client


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def test_education_sessions_attendance_and_coverage(db, run, actors, admin):
    for i in range(10):
        add_client(db, f"T{i}")
    add_client(db, "B1", branch="BJ01")
    m1 = actors("m1", branch="TY01")
    s = education.add(db, m1, branch="TY01", title="防范非法证券活动", topic="防范非法证券活动与诈骗 (illegal securities"
                      " activity and fraud)", held_on="2026-06-20", capacity=50)
    education.invite(db, m1, s["id"], ["T0", "T1", "T2"])
    out = education.attend(db, m1, s["id"], ["T0", "T1", "T5"])
    assert (out["invited"], out["attended"], out["no_shows"], out["walk_ins"]) == (3, 3, 1, ["T5"])
    s2 = education.add(db, m1, branch="TY01", title="基础知识", topic="basics of investing", held_on="2026-03-01")
    education.attend(db, m1, s2["id"], ["T0"])  # the same client twice counts once for coverage
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'education_attended'").fetchone()[0] == 4
    r = json.loads(run("education", "report", "--year", "2026", "--json").output)
    ty = {b["branch_id"]: b for b in r["branches"]}["TY01"]
    assert (ty["sessions"], ty["planned"], ty["clients"], ty["reached"], ty["coverage"]) == (2, 12, 10, 3, 0.3)
    assert ty["target"] == 0.3 and ty["meets_plan"] is False  # 2 of 12 sessions
    bj = {b["branch_id"]: b for b in r["branches"]}["BJ01"]
    assert (bj["sessions"], bj["reached"], bj["coverage"]) == (0, 0, 0.0)
    # a client who has left leaves the denominator and the count
    exits.request(db, m1, "T9", "closure", channel="counter", note="销户")
    exits.complete(db, m1, "T9", note="已销户")
    ty = {b["branch_id"]: b for b in education.coverage(db, admin, year=2026)["branches"]}["TY01"]
    assert (ty["clients"], ty["coverage"]) == (9, round(3 / 9, 4))
    assert education.coverage(db, admin, year=2025)["branches"][0]["reached"] == 0


def test_bad_session_input_is_refused(db, actors, run):
    add_client(db, "T1")
    add_client(db, "B1", branch="BJ01")
    m1 = actors("m1", branch="TY01")
    with pytest.raises(BrokerCRMError, match="unknown topic"):
        education.add(db, m1, branch="TY01", title="x", topic="astrology", held_on="2026-06-01")
    with pytest.raises(BrokerCRMError, match="not a date"):
        education.add(db, m1, branch="TY01", title="x", topic="basics of investing", held_on="June")
    s = education.add(db, m1, branch="TY01", title="x", topic="basics of investing", held_on="2026-06-01", capacity=1)
    with pytest.raises(Conflict, match="another branch"):
        education.attend(db, m1, s["id"], ["T1", "B1"])
    assert education.get(db, m1, s["id"])["attended"] == 0  # all or nothing
    add_client(db, "T2")
    with pytest.raises(Conflict, match="over capacity"):
        education.attend(db, m1, s["id"], ["T1", "T2"])
    with pytest.raises(NotFound):
        education.attend(db, m1, s["id"], ["NOPE"])
    with pytest.raises(NotFound, match="no such event session"):
        client_events.get(db, m1, s["id"])  # an education session is not a client event
    out = run("education", "attend", s["id"], "--clients", "B1", "--as", "m1", ok=False)
    assert out.exit_code != 0 and "another branch" in out.output


def test_client_event_invitations_by_vip_and_class_never_the_departed(db, run, actors, admin):
    add_client(db, "V1", assets=6_000_000)
    add_client(db, "V2", assets=6_000_000)
    add_client(db, "V3", assets=6_000_000)
    add_client(db, "G1", assets=1_200_000)  # gold, not diamond
    add_client(db, "P1", assets=10_000)
    vip.refresh(db, admin)
    m1 = actors("m1", branch="TY01")
    exits.request(db, m1, "V3", "closure", channel="counter", note="销户")
    exits.complete(db, m1, "V3", note="已销户")  # still diamond until the next vip refresh
    e = client_events.add(db, m1, branch="TY01", title="年度贵宾答谢会", kind="VIP appreciation",
                          held_on="2026-07-10", place="营业部三楼")
    r = json.loads(run("client-events", "invite", e["id"], "--vip", "diamond", "--json", "--as", "m1").output)
    assert r["invited"] == 2  # V1, V2; not the gold G1; never V3, who has left
    with pytest.raises(Conflict, match="have left"):
        client_events.invite(db, m1, e["id"], client_ids=["V3"])
    again = client_events.invite(db, m1, e["id"], client_ids=["V1", "P1"])
    assert (again["invited"], again["total_invited"]) == (1, 3)  # V1 already invited
    client_events.attend(db, m1, e["id"], ["V1", "P1"])
    report = json.loads(run("client-events", "report", "--json").output)["branches"]
    assert report == [{"branch_id": "TY01", "events": 1, "invited": 3, "attended": 2, "no_shows": 1, "walk_ins": 0,
                       "attendance_rate": round(2 / 3, 4)}]
    with pytest.raises(BrokerCRMError, match="say whom to invite"):
        client_events.invite(db, m1, e["id"])
    bad = run("client-events", "invite", e["id"], "--vip", "platinum", "--as", "m1", ok=False)
    assert bad.exit_code != 0 and "no such VIP level" in bad.output


def test_session_branch_scope(db, actors):
    add_client(db, "B1", branch="BJ01")
    ty = actors("ty", branch="TY01")
    bj = actors("bj", branch="BJ01")
    with pytest.raises(Forbidden):
        education.add(db, ty, branch="BJ01", title="x", topic="basics of investing", held_on="2026-06-01")
    s = client_events.add(db, bj, branch="BJ01", title="沙龙", kind="client salon", held_on="2026-06-01")
    with pytest.raises(Forbidden):
        client_events.attend(db, ty, s["id"], ["B1"])
    assert client_events.list_events(db, ty) == []
