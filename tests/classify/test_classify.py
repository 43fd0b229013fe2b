import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from brokercrm.classify.engine import classify
from conftest import add_client


def current(db, client_id, column="class"):
    return db.execute(f"SELECT [{column}] FROM classifications WHERE client_id = ?", [client_id]).fetchone()[0]


# Every band edge (lower bound inclusive) on both sides of the turnover threshold.
GRID = [
    (0, 0, "G"), (9_999.99, 5, "G"), (10_000, 2.99, "F"), (10_000, 3.0, "E"),
    (99_999, 3.0, "E"), (100_000, 2.99, "D-"), (100_000, 3.0, "C-"), (499_999, 0, "D-"),
    (500_000, 0, "D"), (500_000, 3.0, "C"), (999_999.5, 3.1, "C"), (1_000_000, 1, "B"),
    (1_000_000, 3.0, "A"), (4_999_999, 2.999, "B"), (5_000_000, 2.999, "B+"), (5_000_000, 3.0, "A+"),
    (80_000_000, 12, "A+"),
]


@pytest.mark.parametrize("assets, turnover, expected", GRID)
def test_grid_band_edges_and_threshold(db, assets, turnover, expected, admin):
    add_client(db, "X1", assets=assets, turnover=turnover)
    classify(db, actor=admin)
    assert current(db, "X1") == expected


def test_all_eleven_classes_and_counts(db, admin):
    for i, (assets, turnover, _) in enumerate(GRID):
        add_client(db, f"C{i:02d}", assets=assets, turnover=turnover)
    result = classify(db, actor=admin)
    assert set(result.classes) == {"A+", "B+", "A", "B", "C", "D", "C-", "D-", "E", "F", "G"}
    assert sum(result.classes.values()) == len(GRID) == result.changed


@pytest.mark.parametrize("days, habit", [(None, "unknown"), (0, "short"), (29.9, "short"), (30, "swing"),
                                         (90, "swing"), (90.5, "value"), (1000, "value")])
def test_habit_edges(db, days, habit, admin):
    add_client(db, "H1", holding=days)
    classify(db, actor=admin)
    assert current(db, "H1", "habit") == habit


@pytest.mark.parametrize("kind, assets, tier", [
    ("individual", 99_999, "bronze"), ("individual", 100_000, "silver"), ("individual", 1_000_000, "gold"),
    ("individual", 5_000_000, "diamond"), ("institution", 4_999_999, "small"),
    ("institution", 5_000_000, "medium"), ("institution", 50_000_000, "large"),
])
def test_tier_edges(db, kind, assets, tier, admin):
    add_client(db, "T1", kind=kind, assets=assets)
    classify(db, actor=admin)
    assert current(db, "T1", "tier") == tier


def test_value_segments(db, admin):
    add_client(db, "V1", assets=1_000_000)                                    # current value
    add_client(db, "V2", assets=50_000, turnover=200)                         # volume 10M
    add_client(db, "V3", assets=5_000, income=300_000)                        # income
    add_client(db, "V4", assets=5_000, birth="1990-01-01", education="本科")  # young graduate
    add_client(db, "V5", assets=5_000, birth="1980-01-01", education="本科")  # 46: not young
    add_client(db, "V6", assets=100_000)
    add_client(db, "V7", assets=99_999)
    classify(db, actor=admin)
    got = {f"V{i}": current(db, f"V{i}", "value_segment") for i in range(1, 8)}
    assert got == {"V1": "黄金客户", "V2": "黄金客户", "V3": "明日之星", "V4": "明日之星",
                   "V5": "自由型", "V6": "维护型", "V7": "自由型"}


def add_assessment(db, client_id, answered, expires, level="C3", lowest=0):
    db.execute(
        "INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version,"
        " answered_at, expires_at, imported_at) VALUES (?, '{}', 30, ?, ?, 1, ?, ?, ?)",
        [client_id, level, lowest, answered, expires, answered],
    )


def test_risk_level_unassessed_valid_expired_and_latest_wins(db, admin):
    add_client(db, "R1")
    add_client(db, "R2")
    add_client(db, "R3")
    add_assessment(db, "R2", "2025-01-10", "2027-01-10", "C4")
    add_assessment(db, "R3", "2023-06-01", "2025-06-01", "C2")
    add_assessment(db, "R2", "2024-01-10", "2026-01-10", "C1", lowest=1)  # older, ignored
    classify(db, actor=admin, today=dt.date(2026, 6, 30))
    assert [current(db, c, "risk_level") for c in ("R1", "R2", "R3")] == ["unassessed", "C4", "expired"]
    assert current(db, "R2", "lowest_category") == 0


def test_expiry_edge(db, admin):
    add_client(db, "E1")
    add_assessment(db, "E1", "2024-06-30", "2026-06-30", "C3", lowest=1)
    classify(db, actor=admin, today=dt.date(2026, 6, 29))
    assert current(db, "E1", "risk_level") == "C3"
    assert current(db, "E1", "lowest_category") == 1
    classify(db, actor=admin, today=dt.date(2026, 6, 30))
    assert current(db, "E1", "risk_level") == "expired"


def test_history_only_where_something_changed(db, admin):
    add_client(db, "A1", assets=2_000_000, turnover=4)
    add_client(db, "A2", assets=20_000)
    first = classify(db, actor=admin)
    assert first.changed == 2 and first.moves == {"新 → A": 1, "新 → F": 1}
    again = classify(db, actor=admin)
    assert again.changed == 0
    db.execute("UPDATE clients SET turnover_rate = 1 WHERE client_id = 'A1'")
    third = classify(db, actor=admin)
    assert third.changed == 1 and third.moves == {"A → B": 1}
    from brokercrm.book.clients import show

    hist = show(db, admin, "A1")["history"]
    assert [(h["old_class"], h["new_class"]) for h in reversed(hist)] == [(None, "A"), ("A", "B")]
    latest = hist[0]
    assert latest["run_id"] == third.run_id and latest["changed"] == ["class"]
    assert "策略 v1" in latest["reason"] and "→ B" in latest["reason"] and "问卷" not in latest["reason"]
    assert latest["old"]["class"] == "A" and latest["new"]["class"] == "B"
    assert latest["policy_digest"] == third.policy_digest
    assert hist[-1]["run_id"] == first.run_id and hist[-1]["reason"].startswith("首次分类")
    assert db.execute("SELECT old_run_id FROM classification_history WHERE client_id = 'A1'").fetchone()[0] == first.run_id
    reasons = show(db, admin, "A1")["reasons"]
    assert set(reasons) == {"class", "risk_level", "lowest_category", "habit", "tier", "value_segment"}
    assert reasons["class"].endswith("→ B") and "周转率<3.0" in reasons["class"]
    run = db.execute("SELECT status, policy_version, policy_digest FROM runs WHERE id = ?", [third.run_id]).fetchone()
    assert run == ("ok", 1, third.policy_digest)


def test_dry_run_writes_nothing(db, admin):
    add_client(db, "D1", assets=2_000_000, turnover=4)
    tables = ("classifications", "classification_history", "runs", "audit_log")
    before = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    result = classify(db, actor=admin, dry_run=True)
    assert result.moves == {"新 → A": 1} and result.run_id is None
    assert {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables} == before


def test_branch_scope(db, admin):
    add_client(db, "B1", branch="TY01", assets=2_000_000)
    add_client(db, "B2", branch="BJ01", assets=2_000_000)
    result = classify(db, actor=admin, branch="TY01")
    assert result.scope == 1 and result.classes == {"B": 1}
    assert db.execute("SELECT client_id FROM classifications").fetchall() == [("B1",)]


def test_history_and_audit_are_append_only(db, admin):
    add_client(db, "P1")
    classify(db, actor=admin)
    db.execute("UPDATE clients SET total_assets = 20000 WHERE client_id = 'P1'")
    classify(db, actor=admin)
    assert db.execute("SELECT count(*) FROM classification_history").fetchone()[0] == 1
    for sql in ("UPDATE classification_history SET reason = 'x'", "DELETE FROM classification_history",
                "UPDATE audit_log SET operator = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            db.execute(sql)


def test_failing_run_leaves_previous_classifications_whole(db, admin):
    for i in range(5):
        add_client(db, f"F{i}", assets=2_000_000, turnover=4)
    classify(db, actor=admin)
    db.execute("UPDATE clients SET total_assets = 5000")
    # A real SQLite failure in the middle of the write: history for F3 is refused.
    db.execute(
        "CREATE TEMP TRIGGER boom BEFORE INSERT ON classification_history WHEN NEW.client_id = 'F3'"
        " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    with pytest.raises(Exception, match="disk on fire"):
        classify(db, actor=admin)
    assert {r[0] for r in db.execute("SELECT class FROM classifications")} == {"A"}
    assert db.execute("SELECT count(*) FROM classification_history").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time, pathlib
    from brokercrm.kernel.db import connect
    from brokercrm.classify.engine import classify
    from brokercrm.trust import identity, keys
    from brokercrm.trust import root as trust_root
    db = connect(sys.argv[1])
    marker = pathlib.Path(sys.argv[2])
    admin = identity.authenticate(db, "admin", keys.load_private(sys.argv[3]), trust_root.for_db(db))
    def pause():
        marker.write_text("writing")
        time.sleep(60)
        return 0
    db.conn.create_function("pause", 0, pause)
    db.execute("CREATE TEMP TRIGGER hold AFTER INSERT ON classification_history WHEN NEW.client_id = 'K7'"
               " BEGIN SELECT pause(); END")
    classify(db, actor=admin)
    """
)


def test_killed_run_leaves_previous_classifications_whole(db, db_path, tmp_path, admin, actors):
    for i in range(10):
        add_client(db, f"K{i}", assets=2_000_000, turnover=4)
    classify(db, actor=admin)
    db.execute("UPDATE clients SET total_assets = 5000")
    db.close()
    marker = tmp_path / "marker"
    key = actors.key_file("admin")
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(db_path), str(marker), str(key)],
                            env={**os.environ, "BROKERCRM_NOW": "2026-06-30T10:00:00+08:00"})
    try:
        deadline = time.time() + 30
        while not marker.exists():
            assert proc.poll() is None, "the run ended before it was killed"
            assert time.time() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-write: history rows K0..K7 are in the open transaction
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    from brokercrm.kernel.db import connect

    db2 = connect(db_path)
    assert {r[0] for r in db2.execute("SELECT class FROM classifications")} == {"A"}
    assert db2.execute("SELECT count(*) FROM classification_history").fetchone()[0] == 0
    assert db2.execute("SELECT count(*) FROM runs WHERE status != 'ok'").fetchone()[0] == 0
    assert db2.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert classify(db2, actor=admin).moves == {"A → G": 10}


def test_classify_cli_json_and_text(run, db):
    add_client(db, "J1", assets=6_000_000, turnover=5)
    text = run("classify", "--dry-run").output
    assert "试运行" in text and "新 → A+" in text
    out = json.loads(run("classify", "--json").output)
    assert out["changed"] == 1 and out["classes"] == {"A+": 1} and out["policy_version"] == 1
    listed = json.loads(run("clients", "list", "--json").output)
    assert listed[0]["class"] == "A+" and listed[0]["client_id"] == "J1"
    for key in ("client_id", "branch_id", "class", "risk_level", "lowest_category", "habit", "tier", "value_segment"):
        assert key in listed[0]


def test_unknown_branch_is_a_clear_error(run):
    result = run("classify", "--branch", "XX99", ok=False)
    assert result.exit_code == 1 and "XX99" in result.output and "Traceback" not in result.output


def test_clients_list_filters_and_streams_valid_json(run, db):
    for i, assets in enumerate([6_000_000, 2_000_000, 2_000_000]):
        add_client(db, f"L{i}", branch="TY01" if i < 2 else "BJ01", assets=assets)
    run("classify")
    assert json.loads(run("clients", "list", "--json", "--branch", "SH01").output) == []
    unknown = run("clients", "list", "--json", "--branch", "XX01", ok=False)  # an error, not an empty list
    assert unknown.exit_code == 1 and json.loads(unknown.stderr)["error"]["code"] == "not_found"
    rows = json.loads(run("clients", "list", "--json", "--class", "B").output)
    assert [r["client_id"] for r in rows] == ["L1", "L2"]
    assert {r["name"] for r in rows} == {"测***"}  # masked: listing is not a deliberate read of personal data
    rows = json.loads(run("clients", "list", "--json", "--class", "B", "--branch", "BJ01").output)
    assert [r["client_id"] for r in rows] == ["L2"]


def test_clients_show_masks_unless_revealed_and_audits_the_reveal(run, db, actors):
    add_client(db, "S1", assets=2_000_000)
    run("classify")
    masked = json.loads(run("clients", "show", "S1", "--json").output)
    assert masked["client"]["id_number"].count("*") == 8 and masked["client"]["name"] == "测***"
    assert masked["class"] == "B" and masked["reasons"]["class"].endswith("→ B")
    refused = run("clients", "show", "S1", "--reveal", operator=None, ok=False)
    assert refused.exit_code == 1 and "操作员" in refused.output
    actors("auditor1")  # a certified head-office operator, holding their key
    full = json.loads(run("clients", "show", "S1", "--reveal", "--as", "auditor1", "--json").output)
    assert full["client"]["name"] == "测试客户" and "*" not in full["client"]["id_number"]
    trace = db.execute("SELECT operator, target FROM audit_log WHERE action = 'client.reveal'").fetchall()
    assert trace == [("auditor1", "S1")]
