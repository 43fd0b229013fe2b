"""Behaviour-driven re-rating: the ST-stock rule at its edges, alerts, never blocking."""

import datetime as dt
import json

import pytest

from brokercrm.suitability import behaviour
from brokercrm.book import clients
from brokercrm.kernel.errors import ValidationFailed
from conftest import add_client

TODAY = dt.date(2026, 6, 30)


def behaviour_file(tmp_path, rows, name="b.csv"):
    path = tmp_path / name
    lines = ["client_id,date,turnover_pct,st_share"] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def days(client_id, n, *, turnover=250, share=0.6, start=1):
    return [(client_id, (TODAY - dt.timedelta(days=start + i)).isoformat(), turnover, share) for i in range(n)]


def alerts(db):
    return db.execute("SELECT client_id, detail FROM events WHERE kind = 'behaviour_alert'").fetchall()


def test_twenty_days_flags_nineteen_do_not(db, admin, tmp_path):
    add_client(db, "hot")
    add_client(db, "warm")
    f = behaviour_file(tmp_path, days("hot", 20) + days("warm", 19))
    result = behaviour.import_behaviour(db, f, actor=admin)
    assert result.extra["flags"] == {"flagged": 1, "cleared": 0, "kept": 0}
    flags = behaviour.flags(db)
    assert [f["client_id"] for f in flags] == ["hot"]
    assert flags[0]["label"] == "进取型" and flags[0]["evidence"]["days"] == 20
    (cid, detail), = alerts(db)
    assert cid == "hot" and json.loads(detail)["message"] == "近期交易行为与风险等级存在偏差"
    assert clients.show(db, admin, "hot")["suitability"]["behaviour_flag"]["flag"] == "aggressive"


@pytest.mark.parametrize("turnover,share,flagged", [
    (200, 0.6, False),    # turnover must be above 200%
    (200.5, 0.6, True),
    (250, 0.5, False),    # ST share must be above half
    (250, "51%", True),
])
def test_thresholds_at_their_edges(db, admin, tmp_path, turnover, share, flagged):
    add_client(db, "c1")
    behaviour.import_behaviour(db, behaviour_file(tmp_path, days("c1", 25, turnover=turnover, share=share)),
                               actor=admin)
    assert bool(behaviour.flags(db)) is flagged


def test_window_is_180_days(db, admin, tmp_path):
    add_client(db, "c1")
    # 19 days inside the window, the 20th exactly 180 days ago (outside: the window is (today-180, today]).
    rows = days("c1", 19) + [("c1", (TODAY - dt.timedelta(days=180)).isoformat(), 300, 0.9)]
    behaviour.import_behaviour(db, behaviour_file(tmp_path, rows), actor=admin)
    assert behaviour.flags(db) == []
    rows = [("c1", (TODAY - dt.timedelta(days=179)).isoformat(), 300, 0.9)]
    behaviour.import_behaviour(db, behaviour_file(tmp_path, rows, "b2.csv"), actor=admin)
    assert [f["client_id"] for f in behaviour.flags(db)] == ["c1"]


def test_reimport_keeps_flag_without_new_alert_and_clears_later(db, admin, tmp_path):
    add_client(db, "c1")
    f = behaviour_file(tmp_path, days("c1", 20))
    behaviour.import_behaviour(db, f, actor=admin)
    again = behaviour.import_behaviour(db, f, actor=admin)
    assert again.extra["flags"]["kept"] == 1 and len(alerts(db)) == 1
    # Half a year later the window no longer holds those days: the flag clears, with history.
    counts = behaviour.evaluate(db, admin, today=TODAY + dt.timedelta(days=200))
    assert counts["cleared"] == 1 and behaviour.flags(db) == []
    history = db.execute("SELECT old_flag, new_flag FROM behaviour_flag_history ORDER BY id").fetchall()
    assert history == [(None, "aggressive"), ("aggressive", None)]


def test_bad_rows_import_nothing(db, admin, tmp_path):
    add_client(db, "c1")
    f = behaviour_file(tmp_path, [("c1", "2026-06-01", 250, 0.6), ("c1", "2026-13-01", 1, 0.1),
                                  ("zz", "2026-06-01", 1, 0.1), ("c1", "2026-06-02", -1, 1.5),
                                  ("c1", "2026-06-01", 1, 0.1), ("c1", "2026-07-05", 1, 0.1)])
    with pytest.raises(ValidationFailed) as e:
        behaviour.import_behaviour(db, f, actor=admin)
    text = "\n".join(e.value.problems)
    for expected in ("b.csv:3:date", "b.csv:4:client_id", "b.csv:5:turnover_pct", "b.csv:5:st_share",
                     "b.csv:6:key", "b.csv:7:date"):
        assert expected in text, expected
    assert db.execute("SELECT count(*) FROM behaviour_daily").fetchone()[0] == 0


def test_plugin_rule_can_add_a_flag(db, admin, tmp_path):
    add_client(db, "c1")
    extra = [{"name": "margin_heavy", "flag": "aggressive", "label": "进取型", "window_days": 30, "min_days": 3,
              "message": "近期交易行为与风险等级存在偏差", "reason": "30天内3天日换手率>100%",
              "all": [{"field": "turnover_pct", "op": ">", "value": 100}]}]
    f = behaviour_file(tmp_path, days("c1", 3, turnover=150, share=0))
    behaviour.import_behaviour(db, f, actor=admin)
    assert behaviour.flags(db) == []
    behaviour.evaluate(db, admin, extra_rules=extra)
    assert behaviour.flags(db)[0]["rule"] == "margin_heavy"


def test_cli_import_behaviour_and_flags(run, db, tmp_path):
    add_client(db, "c1")
    out = json.loads(run("import", "behaviour", str(behaviour_file(tmp_path, days("c1", 20))), "--json").output)
    assert out["flags"]["flagged"] == 1
    listed = json.loads(run("suitability", "flags", "--json").output)
    assert listed[0]["client_id"] == "c1"


def test_cli_rerate_as_of_clears_old_flags(run, db, tmp_path):
    add_client(db, "c1")
    run("import", "behaviour", str(behaviour_file(tmp_path, days("c1", 20))))
    out = json.loads(run("suitability", "rerate", "--as-of", "2027-06-30", "--json").output)
    assert out == {"flagged": 0, "cleared": 1, "kept": 0}
    assert "解除 (cleared) 0" in run("suitability", "rerate").output


MARGIN_WATCH = """
# A branch plugin adding a behaviour rule through the policy hook.
from brokercrm.hookspecs import hookimpl

@hookimpl
def behaviour_rules(branch):
    return [{"name": "high_turnover", "flag": "aggressive", "label": "进取型", "window_days": 30, "min_days": 3,
             "message": "近期交易行为与风险等级存在偏差", "reason": "30天内3天日换手率>100%",
             "all": [{"field": "turnover_pct", "op": ">", "value": 100}]}]
"""


def test_plugin_behaviour_rule_binds_only_its_approved_branch(db, admin, tmp_path, plugin_site, approve_plugin):
    add_client(db, "ty", branch="TY01")
    add_client(db, "bj", branch="BJ01")
    plugin_site.install("margin-watch", MARGIN_WATCH, version="1.0")
    rows = days("ty", 3, turnover=150, share=0) + days("bj", 3, turnover=150, share=0)
    with plugin_site.host() as plugins:
        behaviour.import_behaviour(db, behaviour_file(tmp_path, rows), actor=admin, plugins=plugins)
        assert behaviour.flags(db) == []  # installed, not approved
        approve_plugin(plugins, "margin-watch", "TY01")
        behaviour.evaluate(db, admin, plugins=plugins)
    flags = behaviour.flags(db)
    assert [f["client_id"] for f in flags] == ["ty"]
    assert flags[0]["rule"] == "margin-watch:high_turnover"
