"""Prospects (潜在客户, issue 14 item 5): grades A–E, follow-ups, conversion into a client."""

import json

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden
from brokercrm.programmes import prospects

from conftest import add_client


def test_add_follow_up_regrade_and_convert(db, run, actors, monkeypatch):
    m1 = actors("m1", branch="TY01")
    p = prospects.add(db, m1, branch="TY01", name="李四", phone="139 1234 5678", source="referral", grade="b")
    assert (p["grade"], p["source"], p["manager"]) == ("B", "转介绍 referral", "m1")
    assert p["next_follow_up"] == "2026-07-14"  # B: 14 days (policy)
    assert p["name"] == "李*" and p["phone"] == "139****5678"  # masked in every listing
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-15T09:00:00+08:00")
    assert [x["id"] for x in prospects.list_prospects(db, m1, due=True)] == [p["id"]]
    up = prospects.follow_up(db, m1, p["id"], note="有明确开户意向", grade="A")
    assert (up["grade"], up["next_follow_up"], up["due"]) == ("A", "2026-07-22", False)  # A: 7 days
    add_client(db, "C9")
    done = json.loads(run("prospects", "convert", str(p["id"]), "C9", "--json", "--as", "m1").output)
    assert (done["state"], done["client_id"], done["next_follow_up"]) == ("converted", "C9", None)
    assert [s["kind"] for s in done["steps"]] == ["created", "follow_up", "converted"]
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'prospect_converted' AND client_id = 'C9'"
                      ).fetchone()[0] == 1
    with pytest.raises(Conflict, match="not open"):
        prospects.follow_up(db, m1, p["id"], note="x")
    # the prospect's name and phone never reach the audit log
    details = " ".join(d or "" for (d,) in db.execute("SELECT detail FROM audit_log WHERE action LIKE 'prospect.%'"))
    assert "李四" not in details and "5678" not in details


def test_conversion_rules(db, actors):
    m1 = actors("m1", branch="TY01")
    add_client(db, "C1")
    add_client(db, "B1", branch="BJ01")
    a = prospects.add(db, m1, branch="TY01", name="甲", source="walk-in", grade="A")
    b = prospects.add(db, m1, branch="TY01", name="乙", source="walk-in", grade="C")
    with pytest.raises(Conflict, match="different branches"):
        prospects.convert(db, m1, a["id"], "B1")
    prospects.convert(db, m1, a["id"], "C1")
    with pytest.raises(Conflict, match="already converted"):
        prospects.convert(db, m1, b["id"], "C1")
    lost = prospects.lose(db, m1, b["id"], note="已在他券商开户")
    assert lost["state"] == "lost"


@pytest.mark.parametrize("kwargs, error", [
    ({"grade": "F"}, "grade must be one of"),
    ({"source": "billboard"}, "unknown source"),
    ({"phone": "12345"}, "mobile"),
    ({"name": " "}, "name is required"),
])
def test_bad_input_is_refused_and_nothing_is_written(db, actors, kwargs, error):
    m1 = actors("m1", branch="TY01")
    args = {"branch": "TY01", "name": "丙", "source": "online", "grade": "B", **kwargs}
    with pytest.raises(BrokerCRMError, match=error):
        prospects.add(db, m1, **args)
    assert db.execute("SELECT count(*) FROM prospects").fetchone()[0] == 0


def test_branch_scope(db, actors):
    ty = actors("ty", branch="TY01")
    bj = actors("bj", branch="BJ01")
    with pytest.raises(Forbidden):
        prospects.add(db, ty, branch="BJ01", name="丁", source="online", grade="A")
    p = prospects.add(db, bj, branch="BJ01", name="丁", source="online", grade="A")
    with pytest.raises(Forbidden):
        prospects.follow_up(db, ty, p["id"], note="x")
    assert prospects.list_prospects(db, ty) == []


def test_report_is_the_funnel(db, run, actors):
    m1 = actors("m1", branch="TY01")
    add_client(db, "C1")
    ids = [prospects.add(db, m1, branch="TY01", name=f"客{i}", source=src, grade=g)["id"]
           for i, (src, g) in enumerate([("referral", "A"), ("referral", "A"), ("online", "D"), ("online", "E")])]
    prospects.convert(db, m1, ids[0], "C1")
    prospects.lose(db, m1, ids[3], note="无需求")
    r = json.loads(run("prospects", "report", "--json").output)
    assert r["branches"] == [{"branch_id": "TY01", "open": {"A": 1, "B": 0, "C": 0, "D": 1, "E": 0}, "due": 0,
                              "converted": 1, "lost": 1, "total": 4, "conversion_rate": 0.5}]
    assert {s["source"]: (s["prospects"], s["converted"]) for s in r["sources"]} == {
        "转介绍 referral": (2, 1), "网上 online": (2, 0)}
    listed = run("prospects", "list", "--state", "open").output
    assert listed.index("客*") >= 0 and "客1" not in listed  # masked


def test_reveal_is_a_staff_act_and_audited(db, run, actors):
    m1 = actors("m1", branch="TY01")
    svc = actors("svc", role="service")
    p = prospects.add(db, m1, branch="TY01", name="李四", phone="13912345678", source="referral", grade="A")
    shown = json.loads(run("prospects", "show", p["id"], "--reveal", "--json", "--as", "m1").output)
    assert (shown["name"], shown["phone"]) == ("李四", "13912345678")
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'prospect.reveal'").fetchone()[0] == 1
    assert prospects.get(db, svc, p["id"])["name"] == "李*"  # a service account reads, masked
    with pytest.raises(Forbidden):
        prospects.get(db, svc, p["id"], reveal=True)
