"""The care calendar: birthdays, holidays, moments; lead times; idempotent generation."""

import json

import pytest

from brokercrm.service import care
from brokercrm.classify import engine as classify
from brokercrm.service import tasks
from brokercrm.kernel.errors import BrokerCRMError
from conftest import add_client


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def care_tasks(db, actor):
    return {(t["client_id"], t["origin"]): t for t in tasks.list_tasks(db, actor) if t["kind"] == "care"}


def test_birthdays_ahead_of_time_and_idempotent(db, run, admin):
    add_client(db, "SOON", birth="1980-07-10")
    add_client(db, "TOMORROW", birth="1975-07-01")
    add_client(db, "LATER", birth="1980-08-15")
    add_client(db, "ORG", kind="institution", birth="1990-07-05")
    result = json.loads(run("care", "generate", "--json").output)  # policy horizon: 30 days
    assert result["created"]["birthday"] == 2 and result["to"] == "2026-07-30"
    got = care_tasks(db, admin)
    assert got[("SOON", "care:birthday")]["due_at"] == "2026-07-07T23:59:59+08:00"  # 3 days ahead
    assert got[("TOMORROW", "care:birthday")]["due_at"] == "2026-06-30T23:59:59+08:00"  # never in the past
    assert "2026-07-10" in got[("SOON", "care:birthday")]["title"]
    again = json.loads(run("care", "generate", "--json").output)
    assert again["total"] == 0 and len(care_tasks(db, admin)) == 2
    assert care.generate(db, admin, days=60)["created"]["birthday"] == 1  # LATER now in range
    assert "生日 birthday 0" in run("care", "generate").output


def test_29_february_birthday_in_common_and_leap_years(db, monkeypatch, admin):
    add_client(db, "LEAP", birth="2000-02-29")
    monkeypatch.setenv("BROKERCRM_NOW", "2027-02-20T10:00:00+08:00")
    assert care.generate(db, admin, days=20)["created"]["birthday"] == 1
    [t] = tasks.list_tasks(db, admin)
    assert "2027-02-28" in t["title"]
    monkeypatch.setenv("BROKERCRM_NOW", "2028-02-20T10:00:00+08:00")
    care.generate(db, admin, days=20)
    titles = sorted(t["title"] for t in tasks.list_tasks(db, admin))
    assert len(titles) == 2 and "2028-02-29" in titles[1]


def test_important_moments_a_week_ahead(db, run, admin, actors):
    add_client(db, "C1")
    actors("m1", branch="TY01")  # the client's account manager
    run("care", "moment", "C1", "--kind", "高考", "--date", "2026-07-07", "--note", "孩子参加高考", "--as", "m1")
    run("care", "moment", "C1", "--kind", "wedding", "--date", "2010-07-20", "--yearly", "--note", "结婚纪念日")
    run("care", "moment", "C1", "--kind", "retirement", "--date", "2026-09-01")
    care.generate(db, admin, days=30)
    moments = sorted((t["due_at"], t["title"]) for t in tasks.list_tasks(db, admin) if t["origin"] == "care:moment")
    assert moments[0] == ("2026-06-30T23:59:59+08:00", "重要时刻关怀 (moment): exam 2026-07-07 · 孩子参加高考")
    assert moments[1][0] == "2026-07-13T23:59:59+08:00" and "2026-07-20" in moments[1][1]
    assert len(moments) == 2  # retirement is beyond 30 days
    shown = json.loads(run("clients", "show", "C1", "--json").output)
    assert [m["kind"] for m in shown["care_moments"]] == ["wedding", "exam", "retirement"]
    bad = run("care", "moment", "C1", "--kind", "party", "--date", "2026-07-01", ok=False)
    assert bad.exit_code == 1 and "unknown moment" in bad.output
    with pytest.raises(BrokerCRMError, match="not a date"):
        care.record_moment(db, admin, "C1", kind="exam", on_date="2026-02-30")


def test_holidays_from_the_policy_for_the_tiers_it_names(db, monkeypatch, admin):
    add_client(db, "RICH", assets=2_000_000)  # gold tier
    add_client(db, "SMALL", assets=20_000)  # bronze tier
    monkeypatch.setenv("BROKERCRM_NOW", "2026-09-20T10:00:00+08:00")
    classify.classify(db, actor=admin)
    result = care.generate(db, admin, days=14)
    assert result["created"]["holiday"] == 2  # Mid-Autumn 25 Sep and National Day 1 Oct, RICH only
    holidays = sorted(t["due_at"] for t in tasks.list_tasks(db, admin) if t["origin"] == "care:holiday")
    assert holidays == ["2026-09-22T23:59:59+08:00", "2026-09-28T23:59:59+08:00"]
    assert {t["client_id"] for t in tasks.list_tasks(db, admin) if t["origin"] == "care:holiday"} == {"RICH"}


def test_days_out_of_range(db, admin):
    with pytest.raises(BrokerCRMError, match="0–366"):
        care.generate(db, admin, days=400)
