"""VIP clients (贵宾客户, issue 14 item 5): entry and exit criteria, benefits, who qualifies, who lost it."""

import json

import pytest

from brokercrm.classify import engine as classify
from brokercrm.kernel.errors import Forbidden
from brokercrm.policy.sets import PolicyError, parse
from brokercrm.programmes import vip
from brokercrm.service import exits

from conftest import add_client


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def _assets(db, client_id, amount):
    db.execute("UPDATE clients SET total_assets = ? WHERE client_id = ?", [amount, client_id])


def test_entry_keep_and_loss(db, admin, run):
    add_client(db, "RICH", assets=6_000_000)
    add_client(db, "GOLD", assets=1_200_000)
    add_client(db, "POOR", assets=50_000)
    classify.classify(db, actor=admin)
    r = vip.refresh(db, admin)
    assert (r["entered"], r["changed"], r["lost"]) == (2, 0, 0)
    assert {v["client_id"]: v["level"] for v in vip.list_vips(db, admin)} == {"RICH": "diamond", "GOLD": "gold"}
    assert vip.refresh(db, admin) == {**r, "entered": 0}  # nothing moved
    # a small dip keeps the level (exit criteria are looser than entry)
    _assets(db, "RICH", 4_500_000)
    _assets(db, "GOLD", 900_000)
    assert vip.refresh(db, admin)["changed"] == 0
    # below the diamond keep line but above gold's entry: diamond → gold; below gold's keep: lost
    _assets(db, "RICH", 3_000_000)
    _assets(db, "GOLD", 700_000)
    r = vip.refresh(db, admin)
    assert (r["changed"], r["lost"]) == (1, 1)
    lost = json.loads(run("vip", "lost", "--json").output)
    assert {(x["client_id"], x["from"], x["to"]) for x in lost} == {("RICH", "diamond", "gold"), ("GOLD", "gold", None)}
    shown = json.loads(run("vip", "show", "RICH", "--json").output)
    assert shown["level"] == "gold" and shown["benefits"] and len(shown["history"]) == 2
    kinds = {(c, k) for c, k in db.execute("SELECT client_id, kind FROM events WHERE kind LIKE 'vip_%'")}
    assert kinds == {("RICH", "vip_entered"), ("GOLD", "vip_entered"), ("RICH", "vip_changed"), ("GOLD", "vip_lost")}


def test_gold_keep_applies_to_a_former_diamond(db, admin):
    """A diamond falling to 900k holds gold (it keeps 'this level or a higher one')."""
    add_client(db, "C1", assets=6_000_000)
    vip.refresh(db, admin)
    _assets(db, "C1", 900_000)
    vip.refresh(db, admin)
    assert vip.show(db, admin, "C1")["level"] == "gold"


def test_class_is_an_entry_criterion_and_departed_clients_hold_no_level(db, admin, actors):
    add_client(db, "C1", assets=6_000_000)
    add_client(db, "C2", assets=6_000_000)
    vip.refresh(db, admin)
    m1 = actors("m1", branch="TY01")
    exits.request(db, m1, "C2", "closure", channel="counter", note="销户")
    exits.complete(db, m1, "C2", note="已销户")
    assert vip.refresh(db, admin)["lost"] == 1
    assert [v["client_id"] for v in vip.list_vips(db, admin)] == ["C1"]


def test_branch_scope_and_scheduled_refresh(db, actors, admin):
    add_client(db, "B1", branch="BJ01", assets=6_000_000)
    vip.refresh(db, admin)
    ty = actors("ty", branch="TY01")
    with pytest.raises(Forbidden):
        vip.refresh(db, ty)
    assert vip.list_vips(db, ty) == []
    with pytest.raises(Forbidden):
        vip.show(db, ty, "B1")


def test_unknown_level_refused(run):
    out = run("vip", "list", "--level", "platinum", ok=False)
    assert out.exit_code != 0 and "no such VIP level" in out.output


BASE = """[policy]
name = "programmes"
[callbacks]
[[callbacks.scripts]]
code = "s"
name = "S"
version = "1"
population = "account_opened"
sample_rate = 1
within = "5wd"
items = [{ code = "a", text = "A", required = true, risk_disclosure = true }]
[prospects]
sources = ["x"]
""" + "".join(f'[[prospects.grades]]\ncode = "{g}"\nname = "{g}"\nfollow_up_days = 7\n' for g in "ABCDE")


EXTRA = """[education]
sessions_per_year = 1
coverage_target = 0.5
topics = ["t"]
[events]
kinds = ["k"]
[points]
assets_per_10k = 1
tier_window_months = 12
[[points.tiers]]
code = "m"
name = "M"
min_points = 0
benefits = ["b"]
[[points.redeem]]
code = "r"
name = "R"
points_per_yuan = 100
"""


@pytest.mark.parametrize("level, error", [
    ('code = "v"\nname = "V"\nbenefits = ["b"]\n', "entry condition is required"),
    ('code = "v"\nname = "V"\nwhen = { field = "shoe_size", op = ">", value = 1 }\nbenefits = ["b"]\n', "unknown field"),
    ('code = "v"\nname = "V"\nwhen = { field = "total_assets", op = ">", value = 1 }\n', "benefits"),
])
def test_vip_policy_validation(level, error):
    with pytest.raises(PolicyError, match=error):
        parse(BASE + EXTRA + "[[vip.levels]]\n" + level, "programmes.toml")


def test_moving_up_is_not_a_loss(db, admin):
    add_client(db, "C1", assets=1_200_000)
    vip.refresh(db, admin)
    _assets(db, "C1", 6_000_000)
    assert vip.refresh(db, admin)["changed"] == 1
    assert vip.show(db, admin, "C1")["level"] == "diamond" and vip.lost(db, admin) == []
