"""Incremental runs must agree with a full run: every way a result can change is caught."""

import datetime as dt

from brokercrm.policy import sets as policy
from brokercrm.classify.engine import class_counts, classify
from conftest import add_client
from test_classify import add_assessment, current

DAY = dt.date(2026, 6, 30)


def book(db, admin):
    add_client(db, "I1", assets=2_000_000, turnover=4)
    add_client(db, "I2", assets=20_000, birth="1986-07-02", education="本科")  # turns 40 on 2026-07-02
    add_client(db, "I3", assets=600_000)
    add_assessment(db, "I3", "2024-07-01", "2026-07-01", "C4")
    first = classify(db, actor=admin, today=DAY)
    assert first.mode == "full" and first.changed == 3


def assert_full_run_agrees(db, admin, today):
    check = classify(db, actor=admin, today=today, full=True, dry_run=True)
    assert check.changed == 0, check.moves


def test_nothing_changed_examines_nobody(db, admin):
    book(db, admin)
    again = classify(db, actor=admin, today=DAY)
    assert (again.mode, again.examined, again.changed) == ("incremental", 0, 0)


def test_updated_client_is_reclassified(db, admin):
    book(db, admin)
    db.execute("UPDATE clients SET total_assets = 5000 WHERE client_id = 'I1'")
    run = classify(db, actor=admin, today=DAY)
    assert (run.mode, run.examined, run.moves) == ("incremental", 1, {"A → G": 1})
    assert run.classes == class_counts(db) == {"D": 1, "F": 1, "G": 1}
    assert db.execute("SELECT count(*) FROM classify_queue").fetchone()[0] == 0
    assert_full_run_agrees(db, admin, DAY)


def test_irrelevant_update_does_not_queue(db, admin):
    book(db, admin)
    db.execute("UPDATE clients SET phone = '13900000000' WHERE client_id = 'I1'")
    assert classify(db, actor=admin, today=DAY).examined == 0


def test_new_client_and_new_assessment_are_picked_up(db, admin):
    book(db, admin)
    add_client(db, "I4", assets=6_000_000, turnover=5)
    add_assessment(db, "I1", "2026-06-01", "2028-06-01", "C5")
    run = classify(db, actor=admin, today=DAY)
    assert run.mode == "incremental" and run.examined == 2
    assert current(db, "I4") == "A+" and current(db, "I1", "risk_level") == "C5"
    assert run.classes == class_counts(db)
    assert_full_run_agrees(db, admin, DAY)


def test_expiry_and_birthdays_between_runs(db, admin):
    book(db, admin)
    later = DAY + dt.timedelta(days=3)
    run = classify(db, actor=admin, today=later)
    assert run.mode == "incremental"
    assert current(db, "I3", "risk_level") == "expired"          # expired on 07-01
    assert current(db, "I2", "value_segment") == "自由型"          # 40 on 07-02: no longer 明日之星
    assert_full_run_agrees(db, admin, later)


def test_year_end_wraps_anniversaries(db, admin):
    add_client(db, "W1", assets=20_000, birth="1987-01-02", education="本科")
    classify(db, actor=admin, today=dt.date(2026, 12, 30))
    assert current(db, "W1", "value_segment") == "明日之星"
    run = classify(db, actor=admin, today=dt.date(2027, 1, 3))
    assert run.mode == "incremental" and current(db, "W1", "value_segment") == "自由型"


def test_new_policy_or_earlier_date_forces_full(db, admin, tmp_path):
    book(db, admin)
    earlier = classify(db, actor=admin, today=DAY - dt.timedelta(days=1))
    assert earlier.mode == "full"
    body = (policy.default_policy_dir() / "classification.toml").read_text(encoding="utf-8")
    path = tmp_path / "classification.toml"
    path.write_text(body.replace("turnover_threshold = 3.0", "turnover_threshold = 5.0"), encoding="utf-8")
    policy.publish(db, path, admin)
    run = classify(db, actor=admin, today=DAY)
    assert run.mode == "full" and run.moves == {"A → B": 1} and run.policy_version == 2


def test_branch_run_is_full_for_its_branch_and_keeps_others_queued(db, admin):
    book(db, admin)
    add_client(db, "O1", branch="BJ01", assets=2_000_000)
    classify(db, actor=admin, today=DAY)
    db.execute("UPDATE clients SET total_assets = 1 WHERE client_id IN ('I1', 'O1')")
    run = classify(db, actor=admin, branch="TY01", today=DAY)
    assert run.mode == "full" and run.moves == {"A → G": 1}
    assert [r[0] for r in db.execute("SELECT client_id FROM classify_queue")] == ["O1"]
    assert classify(db, actor=admin, today=DAY).moves == {"B → G": 1}
