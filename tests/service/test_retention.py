"""Retention cases (转销户挽留) and service packages."""

import json

import pytest

from brokercrm.service import interactions
from brokercrm.service import retention
from brokercrm.service import packages as service_packages
from brokercrm.service import tasks
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.plugins import use as use_plugins
from brokercrm.policy.sets import PolicyError, parse

from conftest import add_client


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def test_transfer_request_opens_case_attempt_outcome_and_follow_up(db, run, monkeypatch, actors, admin):
    add_client(db, "C1")
    m1 = actors("m1", branch="TY01")
    r = interactions.log(db, m1, "C1", kind="转销户", channel="counter", note="客户要求转户至他券商")
    case_id = r["retention_case"]
    [task] = [t for t in tasks.list_tasks(db, m1) if t["kind"] != "questionnaire"]  # C1 has no questionnaire
    assert task["kind"] == "retention" and task["due_at"] == "2026-07-01T10:00:00+08:00"  # 1 working day
    # a second request while the case is open reuses it
    again = interactions.log(db, m1, "C1", kind="closure", channel="phone", note="再次要求")
    assert again["retention_case"] == case_id
    with pytest.raises(BrokerCRMError, match="retention attempt before closing"):
        retention.close(db, m1, case_id, outcome="retained")
    monkeypatch.setenv("BROKERCRM_NOW", "2026-06-30T15:00:00+08:00")
    run("retention", "attempt", str(case_id), "--note", "介绍佣金优惠与投顾服务", "--as", "m1")
    assert tasks.get(db, task["id"])["state"] == "done on time"
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-03T10:00:00+08:00")  # Friday
    closed = json.loads(run("retention", "close", str(case_id), "--outcome", "retained", "--json").output)
    assert closed["outcome"] == "retained" and len(closed["attempts"]) == 1
    follow = [t for t in tasks.list_tasks(db, m1) if t["origin"] == "touchpoint:retention_closed"]
    assert len(follow) == 1 and follow[0]["kind"] == "callback"
    assert follow[0]["due_at"] == "2026-07-10T10:00:00+08:00"  # 5 working days
    with pytest.raises(BrokerCRMError, match="already closed"):
        retention.attempt(db, m1, case_id, note="x")
    report = json.loads(run("retention", "report", "--json").output)
    assert report == [{"branch_id": "TY01", "open": 0, "retained": 1, "transferred": 0, "closed": 0}]
    # a later request opens a new case
    assert interactions.log(db, m1, "C1", kind="closure", channel="app", note="要求销户")["retention_case"] != case_id


def test_unknown_outcome_refused(db, run, admin):
    add_client(db, "C1")
    case_id = interactions.log(db, admin, "C1", kind="closure", channel="app", note="销户")["retention_case"]
    out = run("retention", "close", str(case_id), "--outcome", "vanished", ok=False)
    assert out.exit_code == 2


# -- service packages --------------------------------------------------------

@pytest.mark.parametrize("kwargs, code", [
    ({"kind": "institution", "assets": 100_000_000}, "institution"),
    ({"assets": 8_000_000, "investment_years": 10}, "hnw_entrepreneur"),
    ({"birth": "1950-01-01", "investment_years": 10}, "senior"),
    ({"investment_years": 0.5}, "novice"),
    ({"holding": 5, "investment_years": 3}, "aggressive"),
    ({"investment_years": 3, "birth": "1980-01-01"}, "standard"),
    ({"investment_years": 3, "birth": "1995-01-01"}, "young_investor"),
])
def test_package_by_type(db, kwargs, code, admin):
    add_client(db, "C1", **kwargs)
    from brokercrm.classify import engine as classify

    classify.classify(db, actor=admin)
    assert service_packages.for_client(db, "C1")["code"] == code


def test_package_actions_due_from_last_interaction(db, run, monkeypatch, admin):
    add_client(db, "C1", investment_years=0)  # novice
    p = service_packages.for_client(db, "C1")
    assert p["name"].startswith("新手投资者") and all(a["due"] for a in p["actions"])
    interactions.log(db, admin, "C1", kind="message", channel="sms", note="本周市场解读", at="2026-06-28T10:00:00")
    weekly = {a["kind"]: a for a in service_packages.for_client(db, "C1")["actions"]}["message"]
    assert (weekly["due_on"], weekly["due"]) == ("2026-07-05", False)
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-05T09:00:00+08:00")
    assert {a["kind"]: a for a in service_packages.for_client(db, "C1")["actions"]}["message"]["due"]
    text = run("clients", "show", "C1").output
    assert "服务包 (service package): 新手投资者" in text and "到期 DUE" in text
    report = json.loads(run("packages", "report", "--json").output)
    assert report["rows"] == [{"branch_id": "TY01", "package": "novice", "clients": 1}]


PREFER_SENIOR = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def choose_service_package(client, packages):
    return "senior" if "senior" in packages else None
"""


def test_approved_plugin_may_choose_another_package(db, plugin_site, approve_plugin):
    add_client(db, "C1", investment_years=0)
    plugin_site.install("ty-senior", PREFER_SENIOR, version="1.0")
    with plugin_site.host() as host:
        use_plugins(host)
        assert service_packages.for_client(db, "C1")["code"] == "novice"  # installed, not approved
        approve_plugin(host, "ty-senior", "TY01")
        p = service_packages.for_client(db, "C1")
        assert p["code"] == "senior" and "ty-senior" in p["chosen_by"]


def test_packages_policy_validation():
    body = """[policy]
name = "packages"
[[packages]]
code = "a"
name = "A"
services = ["x"]
when = { field = "nope", op = "=", value = 1 }
[[packages]]
code = "b"
name = "B"
services = ["y"]
"""
    with pytest.raises(PolicyError, match=r"packages\[0\].when.field"):
        parse(body, "packages.toml")
    with pytest.raises(PolicyError, match="last package"):
        parse(body.replace('when = { field = "nope", op = "=", value = 1 }\n', "")
              .replace('services = ["y"]', 'services = ["y"]\nwhen = { field = "age", op = ">", value = 1 }'),
              "packages.toml")
    with pytest.raises(PolicyError, match="unknown interaction kind"):
        parse(body.replace('when = { field = "nope", op = "=", value = 1 }',
                           'when = { field = "age", op = ">", value = 1 }\n'
                           'actions = [{ title = "t", kind = "telepathy", every_days = 7 }]'), "packages.toml")


def test_service_policy_validation():
    from brokercrm.policy.sets import default_policy_dir

    body = (default_policy_dir() / "service.toml").read_text(encoding="utf-8")
    parse(body, "service.toml")
    with pytest.raises(PolicyError, match=r"touchpoints\[0\].within"):
        parse(body.replace('within = "24h"', 'within = "a day"', 1), "service.toml")
    with pytest.raises(PolicyError, match=r"holidays\[0\].off"):
        parse(body.replace('off = ["2026-01-01", "2026-01-03"]', 'off = ["2026-01-03", "2026-01-01"]'), "service.toml")
    with pytest.raises(PolicyError, match="satisfaction.low_score"):
        parse(body.replace("low_score = 2", "low_score = 9"), "service.toml")
