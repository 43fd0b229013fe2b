"""Points and membership (issue 14 item 5): append-only ledger, accrual by policy, tiers, redemption."""

import json

import pytest

from brokercrm.kernel import events
from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound
from brokercrm.programmes import points
from brokercrm.service import exits

from conftest import add_client


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def test_accrual_by_event_and_assets_is_idempotent(db, run, admin):
    add_client(db, "C1", assets=255_000)
    add_client(db, "C2", assets=5_000)
    events.emit(db, "account_opened", "C1", detail={"branch_id": "TY01"})
    events.emit(db, "education_attended", "C1", detail={"branch_id": "TY01"})
    r = json.loads(run("points", "accrue", "--json").output)
    assert r["month"] == "2026-06" and r["rows"]["account_opened"] == 1 and r["rows"]["education_attended"] == 1
    assert r["rows"]["assets"] == 1  # C1: 25 × 1; C2 has under 10,000 yuan
    assert points.balance(db, "C1")["balance"] == 100 + 20 + 25
    again = points.accrue(db, admin)
    assert sum(again["rows"].values()) == 0  # nothing paid twice
    points.accrue(db, admin, month="2026-07")
    assert points.balance(db, "C1")["balance"] == 145 + 25
    with pytest.raises(BrokerCRMError, match="YYYY-MM"):
        points.accrue(db, admin, month="2026-13")


def test_ledger_is_append_only(db, admin):
    add_client(db, "C1", assets=100_000)
    points.accrue(db, admin)
    with pytest.raises(Exception, match="append-only"):
        db.execute("UPDATE points_ledger SET points = 1000")
    with pytest.raises(Exception, match="append-only"):
        db.execute("DELETE FROM points_ledger")


def test_tiers_follow_points_earned_and_redemption_does_not_lower_them(db, run, actors, admin):
    add_client(db, "C1", assets=6_000_000)  # 600 a month: silver
    points.accrue(db, admin)
    p = points.balance(db, "C1")
    assert (p["balance"], p["tier"]) == (600, "silver") and p["benefits"]
    m1 = actors("m1", branch="TY01")
    out = json.loads(run("points", "redeem", "C1", "--points", "500", "--for", "fee_offset", "--json",
                         "--as", "m1").output)
    assert (out["balance"], out["tier"], out["value_yuan"]) == (100, "silver", 5.0)
    with pytest.raises(Conflict, match="not enough points"):
        points.redeem(db, m1, "C1", points=101, option="fee_offset")
    with pytest.raises(NotFound, match="no such redemption"):
        points.redeem(db, m1, "C1", points=1, option="cash")
    for month in ("2026-07", "2026-08", "2026-09"):
        points.accrue(db, admin, month=month)
    assert points.balance(db, "C1")["tier"] == "gold"  # 2400 earned in the window
    report = json.loads(run("points", "report", "--json").output)["branches"]
    assert report == [{"branch_id": "TY01", "earned": 2400, "redeemed": 500, "outstanding": 1900,
                       "tiers": {"member": 0, "silver": 0, "gold": 1}}]


def test_departed_clients_earn_nothing(db, actors, admin):
    add_client(db, "C1", assets=100_000)
    events.emit(db, "account_opened", "C1", detail={"branch_id": "TY01"})
    m1 = actors("m1", branch="TY01")
    exits.request(db, m1, "C1", "closure", channel="counter", note="销户")
    exits.complete(db, m1, "C1", note="已销户")
    points.accrue(db, admin)
    assert points.balance(db, "C1")["balance"] == 0


def test_adjust_is_head_office_and_never_below_zero(db, actors, admin):
    add_client(db, "C1")
    m1 = actors("m1", branch="TY01")
    with pytest.raises(Forbidden):
        points.adjust(db, m1, "C1", points=100, reason="补发")
    points.adjust(db, admin, "C1", points=100, reason="活动补发")
    with pytest.raises(Conflict, match="below zero"):
        points.adjust(db, admin, "C1", points=-101, reason="更正")
    assert points.balance(db, "C1")["balance"] == 100
    with pytest.raises(Forbidden):
        points.accrue(db, m1)


BASE_POINTS = """[points]
assets_per_10k = 1
tier_window_months = 12
{earn}
[[points.tiers]]
code = "m"
name = "M"
min_points = {first}
benefits = ["b"]
[[points.tiers]]
code = "s"
name = "S"
min_points = {second}
benefits = ["b"]
[[points.redeem]]
code = "r"
name = "R"
points_per_yuan = 100
"""


@pytest.mark.parametrize("kwargs, error", [
    ({"first": 10}, "first tier starts at 0"),
    ({"second": 0}, "each next one is higher"),
    ({"earn": '[[points.earn]]\nevent = "x"\nname = "X"\npoints = 0\n'}, "points"),
    ({"earn": '[[points.earn]]\nevent = "x"\nname = "X"\npoints = 1\n[[points.earn]]\nevent = "x"\nname = "Y"\n'
              'points = 2\n'}, "duplicate event kind"),
])
def test_points_policy_validation(kwargs, error):
    from brokercrm.policy.sets import PolicyError, default_policy_dir, parse

    shipped = (default_policy_dir() / "programmes.toml").read_text(encoding="utf-8")
    head = shipped[:shipped.index("[points]")]
    values = {"first": 0, "second": 100, "earn": "", **kwargs}
    with pytest.raises(PolicyError, match=error):
        parse(head + BASE_POINTS.format(**values), "programmes.toml")


def test_clients_show_has_the_programmes(db, run, admin):
    add_client(db, "C1", assets=6_000_000)
    from brokercrm.programmes import vip

    vip.refresh(db, admin)
    points.accrue(db, admin)
    shown = json.loads(run("clients", "show", "C1", "--json").output)["programmes"]
    assert shown["vip"]["level"] == "diamond" and shown["points"]["balance"] == 600
    text = run("clients", "show", "C1").output
    assert "积分 (points): 600" in text and "钻石贵宾" in text
