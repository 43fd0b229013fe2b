"""Interactions: logging with aliases, side effects, import (all or nothing), satisfaction, clients show."""

import json

import pytest

from brokercrm.service import interactions
from brokercrm.service import tasks
from brokercrm.kernel.errors import BrokerCRMError, ValidationFailed

from conftest import add_client


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


@pytest.fixture
def m1(actors):
    """An account manager of TY01."""
    return actors("m1", branch="TY01")


def test_log_accepts_chinese_kinds_and_channels(db, m1):
    add_client(db, "C1")
    r = interactions.log(db, m1, "C1", kind="回访", channel="电话", note="开户回访, 客户无疑问")
    assert (r["kind"], r["channel"], r["manager"], r["branch_id"]) == ("callback", "phone", "m1", "TY01")
    for kind, expected in [("投资者教育", "education"), ("关怀", "care"), ("visit", "visit"), ("MESSAGE", "message")]:
        assert interactions.log(db, m1, "C1", kind=kind, channel="app", note="x")["kind"] == expected
    assert interactions.log(db, m1, "C1", kind="call", channel="短信", note="x")["channel"] == "sms"
    assert interactions.log(db, m1, "C1", kind="call", channel="柜台", note="x")["channel"] == "counter"
    assert interactions.log(db, m1, "C1", kind="call", channel="网上", note="x")["channel"] == "online"


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "gossip"}, "unknown kind"),
    ({"channel": "pigeon"}, "unknown channel"),
    ({"satisfaction": 6}, "1–5"),
    ({"satisfaction": 0}, "1–5"),
    ({"note": "  "}, "note"),
    ({"at": "2026-07-01T10:00:00"}, "future"),
])
def test_log_refuses_bad_input_and_writes_nothing(db, kwargs, message, m1):
    add_client(db, "C1")
    args = {"kind": "call", "channel": "phone", "note": "ok", **kwargs}
    with pytest.raises(BrokerCRMError, match=message):
        interactions.log(db, m1, "C1", **args)
    assert db.execute("SELECT count(*) FROM interactions").fetchone()[0] == 0


def test_log_unknown_client(db, admin):
    with pytest.raises(BrokerCRMError, match="no such client"):
        interactions.log(db, admin, "NOPE", kind="call", channel="phone", note="x")


def test_low_satisfaction_opens_a_callback_and_complaint_opens_a_case(db, m1):
    add_client(db, "C1")
    interactions.log(db, m1, "C1", kind="call", channel="phone", note="还行", satisfaction=3)
    # (C1 has no risk questionnaire: its prompt is tests/service/test_routing_questionnaire.py's concern)
    assert [t for t in tasks.list_tasks(db, m1) if t["kind"] != "questionnaire"] == []
    interactions.log(db, m1, "C1", kind="call", channel="phone", note="很不满意", satisfaction=2)
    [task] = [t for t in tasks.list_tasks(db, m1) if t["kind"] != "questionnaire"]
    assert task["origin"] == "touchpoint:low_satisfaction" and task["due_at"] == "2026-07-02T10:00:00+08:00"
    r = interactions.log(db, m1, "C1", kind="投诉", channel="counter", note="佣金收取有误")
    assert r["complaint"] == 1
    assert {t["origin"] for t in tasks.list_tasks(db, m1)} == {"touchpoint:low_satisfaction",
                                                           "touchpoint:complaint_received",
                                                           "touchpoint:questionnaire_missing"}


def test_logging_with_task_closes_it(db, m1):
    add_client(db, "C1")
    from brokercrm.kernel import events

    events.emit(db, "account_opened", "C1", at="2026-06-30T09:00:00+08:00")
    [task] = tasks.list_tasks(db, m1)
    interactions.log(db, m1, "C1", kind="callback", channel="phone", note="已回访", task_id=task["id"])
    done = tasks.get(db, task["id"])
    assert done["state"] == "done on time" and done["done_by"] == "m1"
    add_client(db, "C2")
    with pytest.raises(BrokerCRMError, match="another client"):
        interactions.log(db, m1, "C2", kind="callback", channel="phone", note="x", task_id=task["id"])


def test_satisfaction_averages_per_branch_and_manager(db, run, admin):
    add_client(db, "T1", branch="TY01")
    add_client(db, "B1", branch="BJ01")
    for client, manager, score in [("T1", "wang", 5), ("T1", "wang", 4), ("T1", "li", 3), ("B1", "zhao", 2)]:
        interactions.log(db, admin, client, kind="callback", channel="phone", note="满意度调查", satisfaction=score,
                         manager=manager)
    interactions.log(db, admin, "T1", kind="call", channel="phone", note="no score", manager="wang")
    report = json.loads(run("interactions", "satisfaction", "--json").output)
    assert report["by_branch"] == [{"branch_id": "BJ01", "count": 1, "average": 2.0},
                                   {"branch_id": "TY01", "count": 3, "average": 4.0}]
    assert {r["manager"]: r["average"] for r in report["by_manager"]} == {"li": 3.0, "wang": 4.5, "zhao": 2.0}
    assert "4.50" in run("interactions", "satisfaction").output


def test_cli_log_and_clients_show_lists_newest_first(db, run, monkeypatch, m1):
    add_client(db, "C1")
    run("interactions", "log", "C1", "--kind", "call", "--channel", "phone", "--note", "第一次",
        "--at", "2026-06-29 09:00", "--as", "m1")
    run("interactions", "log", "C1", "--kind", "visit", "--channel", "counter", "--note", "第二次", "--as", "m1")
    run("interactions", "log", "C1", "--kind", "education", "--channel", "app", "--note", "最早",
        "--at", "2026-06-01")
    shown = json.loads(run("clients", "show", "C1", "--json").output)
    assert [i["note"] for i in shown["interactions"]] == ["第二次", "第一次", "最早"]
    assert shown["service_package"]["code"]
    text = run("clients", "show", "C1").output
    assert "接触记录" in text and text.index("第二次") < text.index("第一次") < text.index("最早")
    listed = json.loads(run("interactions", "list", "--client", "C1", "--json").output)
    assert [i["note"] for i in listed] == ["第二次", "第一次", "最早"]
    by_kind = json.loads(run("interactions", "list", "--kind", "投资者教育", "--json").output)
    assert [i["note"] for i in by_kind] == ["最早"]
    assert json.loads(run("interactions", "list", "--branch", "BJ01", "--json").output) == []
    bad = run("interactions", "log", "C1", "--kind", "chat", "--channel", "phone", "--note", "x", ok=False)
    assert bad.exit_code == 1 and "unknown kind" in bad.output and "Traceback" not in bad.output


def test_import_interactions_all_or_nothing(db, run, tmp_path, admin):
    add_client(db, "C1")
    add_client(db, "C2", branch="BJ01")
    good = tmp_path / "good.csv"
    good.write_text(
        "客户号,类型,渠道,内容,满意度,时间,客户经理\n"
        "C1,回访,电话,开户回访,5,2026-06-29 10:00,wang\n"
        "C2,投诉,柜台,对服务不满,1,2026-06-29 11:00,zhao\n"
        "C1,education,app,推送投教课程,,,\n",
        encoding="utf-8",
    )
    result = json.loads(run("import", "interactions", str(good), "--json").output)
    assert result["rows"] == 3 and result["inserted"] == 3
    assert db.execute("SELECT count(*) FROM complaints").fetchone()[0] == 1
    sources = [r[0] for r in db.execute("SELECT source FROM interactions ORDER BY id")]
    assert sources[0].endswith("good.csv:2")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "client_id,kind,channel,note,satisfaction\n"
        "C1,call,phone,ok,3\n"
        "C9,call,phone,ok,\n"
        "C1,chat,phone,ok,\n"
        "C1,call,phone,,7\n",
        encoding="gbk",
    )
    before = db.execute("SELECT count(*) FROM interactions").fetchone()[0]
    with pytest.raises(ValidationFailed) as e:
        interactions.import_file(db, admin, bad)
    lines = "\n".join(e.value.problems)
    assert f"{bad}:3:client_id" in lines and f"{bad}:4:kind" in lines
    assert f"{bad}:5:note" in lines and f"{bad}:5:satisfaction" in lines
    assert db.execute("SELECT count(*) FROM interactions").fetchone()[0] == before
    out = run("import", "interactions", str(bad), ok=False)
    assert out.exit_code == 1 and "bad.csv:3:client_id" in out.output


def test_import_interactions_skip_invalid_writes_rejects(db, run, tmp_path):
    add_client(db, "C1")
    path = tmp_path / "mixed.csv"
    path.write_text("client_id,kind,channel,note\nC1,call,phone,ok\nC9,call,phone,ok\nC1,visit,counter,好\n",
                    encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    out = json.loads(run("import", "interactions", str(path), "--skip-invalid", "--rejects", str(rejects),
                         "--json").output)
    assert (out["rows"], out["inserted"], out["rejected"]) == (3, 2, 1)
    assert "C9" in rejects.read_text(encoding="utf-8-sig") and "no such client" in rejects.read_text(encoding="utf-8-sig")
    assert db.execute("SELECT count(*) FROM interactions").fetchone()[0] == 2
    half = run("import", "interactions", str(path), "--skip-invalid", ok=False)
    assert half.exit_code == 1 and "--rejects" in half.output
