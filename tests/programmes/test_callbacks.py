"""Callbacks (回访, issue 14 item 5): versioned scripts, random sampling, records with flags."""

import json

import pytest

from brokercrm.kernel import events
from brokercrm.kernel.errors import BrokerCRMError, Forbidden, NotFound
from brokercrm.policy.sets import PolicyError, default_policy_dir, parse, publish
from brokercrm.programmes import callbacks
from brokercrm.service import exits, tasks

from conftest import add_client

NEW = ["identity", "risk_result", "market_risk", "password_safety", "service_channels", "satisfaction"]


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def _open(db, *ids, branch="TY01"):
    for cid in ids:
        add_client(db, cid, branch=branch)
        events.emit(db, "account_opened", cid, detail={"branch_id": branch})


def test_sample_draws_the_rate_at_random_reproducibly_and_only_once(db, admin):
    _open(db, *(f"N{i:02d}" for i in range(10)))
    [run] = callbacks.sample(db, admin, script="new_account", seed=7)
    assert (run["population"], run["rate"], run["sampled"]) == (10, 0.3, 3)  # ceil(10 × 0.3)
    sampled = [c["client_id"] for c in run["clients"]]
    for c in run["clients"]:
        task = tasks.get(db, c["task_id"])
        assert task["kind"] == "callback" and task["origin"] == "callback:new_account"
        assert task["due_at"] == "2026-07-07T10:00:00+08:00"  # 5 working days after Tue 2026-06-30
    # the same seed over the same population draws the same clients: the run can be checked
    # anyone can redo the draw from the recorded seed: Random(seed).sample over the population in event order
    import random
    population = db.execute("SELECT id, client_id, 'TY01' FROM events WHERE kind = 'account_opened' ORDER BY id").fetchall()
    assert sampled == [c for _, c, _ in sorted(random.Random(7).sample(population, 3))]
    # a second run sees only events after the first: nothing new, nothing drawn
    [again] = callbacks.sample(db, admin, script="new_account")
    assert (again["population"], again["sampled"]) == (0, 0)
    _open(db, "N10")
    [third] = callbacks.sample(db, admin, script="new_account")
    assert (third["population"], third["sampled"]) == (1, 1)


def test_sample_is_random_not_the_first_ones(db, admin):
    _open(db, *(f"N{i:02d}" for i in range(40)))
    drawn = {c["client_id"] for c in callbacks.sample(db, admin, script="new_account", seed=1)[0]["clients"]}
    assert len(drawn) == 12 and drawn != {f"N{i:02d}" for i in range(12)}


def test_departed_clients_are_never_sampled(db, actors, admin):
    _open(db, "N1", "N2")
    m1 = actors("m1", branch="TY01")
    exits.request(db, m1, "N2", "closure", channel="counter", note="销户")
    exits.complete(db, m1, "N2", note="已销户")
    body = (default_policy_dir() / "programmes.toml").read_text(encoding="utf-8").replace(
        "sample_rate = 0.3", "sample_rate = 1.0")
    [run] = _with_policy(db, admin, body, lambda: callbacks.sample(db, admin, script="new_account", seed=3))
    assert run["population"] == 1 and [c["client_id"] for c in run["clients"]] == ["N1"]


def _with_policy(db, admin, body, then):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "programmes.toml"
        path.write_text(body, encoding="utf-8")
        publish(db, path, admin)
    return then()


def test_record_answers_the_sampled_task_and_flags_a_missing_required_item(db, run, actors, admin):
    _open(db, "N1")
    body = (default_policy_dir() / "programmes.toml").read_text(encoding="utf-8").replace(
        "sample_rate = 0.3", "sample_rate = 1.0")
    [s] = _with_policy(db, admin, body, lambda: callbacks.sample(db, admin, script="new_account", seed=1))
    task_id = s["clients"][0]["task_id"]
    actors("m1", branch="TY01")
    out = run("callbacks", "record", "N1", "--script", "new_account", "--covered", "identity,risk_result,satisfaction",
              "--note", "已回访", "--json", "--as", "m1")
    r = json.loads(out.output)
    assert r["flagged"] and r["missing"] == ["market_risk", "password_safety"]
    assert r["covered"] == ["identity", "risk_result", "satisfaction"] and r["script_version"] == "2026.1"
    assert r["sample_id"] is not None and tasks.get(db, task_id)["status"] == "done"
    assert "callback_incomplete" in [k for (k,) in db.execute("SELECT kind FROM events WHERE client_id = 'N1'")]
    # a complete callback is not flagged; an ad-hoc one (no sample) is recorded too
    full = callbacks.record(db, admin, "N1", script="new_account", covered=NEW, note="补充回访")
    assert not full["flagged"] and full["missing"] == [] and full["sample_id"] is None
    flagged = json.loads(run("callbacks", "list", "--flagged", "--json").output)
    assert [f["id"] for f in flagged] == [r["id"]]
    report = json.loads(run("callbacks", "report", "--json").output)["rows"]
    assert report == [{"branch_id": "TY01", "script": "new_account", "sampled": 1, "done": 1, "open": 0,
                       "open_past_due": 0, "records": 2, "flagged": 1}]


def test_unknown_item_or_script_is_refused_and_nothing_is_written(db, run, admin):
    _open(db, "N1")
    before = db.execute("SELECT count(*) FROM interactions").fetchone()[0]
    with pytest.raises(BrokerCRMError, match="unknown item"):
        callbacks.record(db, admin, "N1", script="new_account", covered=["identity", "weather"], note="x")
    with pytest.raises(NotFound, match="no such callback script"):
        callbacks.record(db, admin, "N1", script="nope", covered=["identity"], note="x")
    out = run("callbacks", "record", "N1", "--script", "new_account", "--covered", "weather", "--note", "x", ok=False)
    assert out.exit_code != 0 and "weather" in out.output
    assert db.execute("SELECT count(*) FROM interactions").fetchone()[0] == before
    assert db.execute("SELECT count(*) FROM callback_records").fetchone()[0] == 0


def test_script_version_is_recorded_and_a_new_version_is_published(db, admin):
    _open(db, "N1")
    body = (default_policy_dir() / "programmes.toml").read_text(encoding="utf-8").replace(
        'version = "2026.1"', 'version = "2026.2"', 1)
    first = callbacks.record(db, admin, "N1", script="new_account", covered=NEW, note="v1")
    second = _with_policy(db, admin, body,
                          lambda: callbacks.record(db, admin, "N1", script="new_account", covered=NEW, note="v2"))
    assert (first["script_version"], second["script_version"]) == ("2026.1", "2026.2")
    assert first["policy"] != second["policy"]


def test_who_may_sample_and_record(db, actors):
    _open(db, "B1", branch="BJ01")
    ty = actors("ty", branch="TY01")
    with pytest.raises(Forbidden):
        callbacks.sample(db, ty)
    with pytest.raises(Forbidden):
        callbacks.record(db, ty, "B1", script="new_account", covered=NEW, note="x")


SCRIPT = """[policy]
name = "programmes"
[callbacks]
[[callbacks.scripts]]
code = "s"
name = "S"
version = "1"
population = "account_opened"
sample_rate = {rate}
within = "{within}"
[[callbacks.scripts.items]]
code = "a"
text = "A"
required = {required}
risk_disclosure = true
[prospects]
sources = ["x"]
""" + "".join(f'[[prospects.grades]]\ncode = "{g}"\nname = "{g}"\nfollow_up_days = 7\n' for g in "ABCDE") + """
[[vip.levels]]
code = "v"
name = "V"
when = {{ field = "total_assets", op = ">=", value = 1 }}
benefits = ["b"]
[education]
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


@pytest.mark.parametrize("kwargs, error", [
    ({"rate": 0}, "sample_rate"),
    ({"rate": 1.5}, "sample_rate"),
    ({"within": "soon"}, "within"),
    ({"required": "false"}, "at least one item must be required"),
    ({"required": '"yes"'}, "boolean"),
])
def test_programmes_policy_validation(kwargs, error):
    values = {"rate": 0.5, "within": "5wd", "required": "true", **kwargs}
    with pytest.raises(PolicyError, match=error):
        parse(SCRIPT.format(**values), "programmes.toml")


def test_the_shipped_policy_is_valid():
    parse((default_policy_dir() / "programmes.toml").read_text(encoding="utf-8"), "programmes.toml")
    parse(SCRIPT.format(rate=0.5, within="5wd", required="true"), "programmes.toml")
