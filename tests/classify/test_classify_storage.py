"""Storage changes of the classification engine: age as a birth_date compare, the side query,
the latest assessment kept on the client (m006), lean classifications keyed by the client (m007), first runs."""

import datetime as dt
import sqlite3

import pytest
import sqlite_utils

from brokercrm.classify.engine import classify
from brokercrm.kernel.client_fields import age_sql, client_fields
from brokercrm.kernel.db import connect
from brokercrm.kernel.errors import PolicyError
from brokercrm.imports import import_assessments, import_clients
from brokercrm.kernel.migrations import core
from brokercrm.kernel.rules import compile_condition
from brokercrm.kernel.side_query import SideQuery

from conftest import HIGHEST, LOWEST, add_client, answers, person, write_csv

# -- age: the compiled birth_date compare against the plain arithmetic ----------------------

TODAYS = [dt.date(2028, 2, 29), dt.date(2027, 2, 28), dt.date(2027, 3, 1), dt.date(2026, 6, 30),
          dt.date(2025, 12, 31), dt.date(2026, 1, 1)]
OPS = ["<", "<=", ">", ">=", "=", "==", "!="]
YEARS = [0, 1, 3, 4, 17, 18, 40, 70, 40.0]


def birth_table(today):
    """Births on and around today's month-day (and the leap-day ones) for 80 years back, plus NULL."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE c (birth_date)")
    days = {today - dt.timedelta(days=d) for d in (-1, 0, 1)}
    month_days = {(d.month, d.day) for d in days} | {(2, 28), (2, 29), (3, 1), (1, 1), (12, 31)}
    births = [None]
    for year in range(today.year - 80, today.year + 2):
        for m, d in month_days:
            try:
                births.append(dt.date(year, m, d).isoformat())
            except ValueError:  # 29 February of a common year
                pass
    conn.executemany("INSERT INTO c VALUES (?)", [(b,) for b in births])
    return conn


def both(conn, today, op, value):
    """[(birth, compiled, plain)] for ``age <op> value`` over every birth."""
    sql, params = compile_condition({"field": "age", "op": op, "value": value}, client_fields(today))
    plain = f"{age_sql(today)} {'=' if op == '==' else op} ?"
    return conn.execute(f"SELECT birth_date, ({sql}), ({plain}) FROM c c", [*params, value]).fetchall()


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_age_compare_matches_the_arithmetic(today):
    conn = birth_table(today)
    for op in OPS:
        for n in YEARS:
            field = client_fields(today)["age"]
            assert field.compare(op, n) is not None, (op, n)  # the cheap form is really taken
            rows = both(conn, today, op, n)
            wrong = [r for r in rows if r[1] != r[2]]
            assert not wrong, (today, op, n, wrong[:5])
            assert [r[1:] for r in rows if r[0] is None] == [(None, None)]


@pytest.mark.parametrize("today", [dt.date(2028, 2, 29), dt.date(2026, 6, 30)], ids=str)
def test_age_fractional_and_bool_use_the_plain_form(today):
    field = client_fields(today)["age"]
    conn = birth_table(today)
    for op in OPS:
        assert field.compare(op, 40.5) is None and field.compare(op, True) is None
        sql, _ = compile_condition({"field": "age", "op": op, "value": 40.5}, client_fields(today))
        assert "substr" in sql
        assert all(r[1] == r[2] for r in both(conn, today, op, 40.5))
    with pytest.raises(PolicyError):  # a bool never reaches the field
        compile_condition({"field": "age", "op": ">=", "value": True}, client_fields(today))


# -- SideQuery ------------------------------------------------------------------------------

def test_side_query_needs_a_write_transaction(tmp_path):
    db = connect(tmp_path / "x.db")
    with pytest.raises(RuntimeError):
        SideQuery(db, "SELECT 1")


@pytest.mark.parametrize("name", ["x.db", "营业部 #1?.db"])  # URI characters in a file name
def test_side_query_reads_the_committed_data_on_its_own_connection(tmp_path, name):
    db = connect(tmp_path / name)
    db.execute("CREATE TABLE t (n INTEGER)")
    db.execute("INSERT INTO t VALUES (1), (2)")
    with db.atomic():
        db.execute("INSERT INTO t VALUES (10)")  # the caller's uncommitted row
        side = SideQuery(db, "SELECT count(*), sum(n) FROM t WHERE n >= ?", [1])
        assert side.rows() == [(2, 3)]
        assert db.execute("SELECT count(*), sum(n) FROM t WHERE n >= 1").fetchall() == [(3, 13)]
        # What the side connection cannot see (a temp table) falls back to the caller's connection.
        db.execute("CREATE TEMP TABLE mine AS SELECT 7 AS v")
        assert SideQuery(db, "SELECT v FROM mine").rows() == [(7,)]


def test_side_query_without_a_file_runs_on_the_caller_connection():
    db = sqlite_utils.Database(sqlite3.connect(":memory:"))
    db.execute("CREATE TABLE t (n INTEGER)")
    with db.atomic():
        db.execute("INSERT INTO t VALUES (5), (6)")
        rows = SideQuery(db, "SELECT count(*), sum(n) FROM t").rows()
        assert rows == db.execute("SELECT count(*), sum(n) FROM t").fetchall() == [(2, 11)]


# -- m006: the latest assessment kept on the client -----------------------------------------

LATEST = ("SELECT level, lowest_category, expires_at FROM assessments WHERE client_id = ?"
          " ORDER BY answered_at DESC, id DESC LIMIT 1")
ON_CLIENT = "SELECT assessment_level, assessment_lowest, assessment_expires_at FROM clients WHERE client_id = ?"


def assert_in_step(db, ids):
    for cid in ids:
        latest = db.execute(LATEST, [cid]).fetchone()
        assert db.execute(ON_CLIENT, [cid]).fetchone() == (tuple(latest) if latest else (None, None, None)), cid


def risk(db, cid):
    return db.execute("SELECT risk_level, lowest_category FROM classifications WHERE client_id = ?",
                      [cid]).fetchone()


def test_imported_assessments_keep_the_latest_on_the_client(db, admin, tmp_path):
    ids = ["C001", "C002", "C003", "C004"]
    people = [person(cid, birth=f"19{70 + i}-05-0{i + 1}") for i, cid in enumerate(ids)]
    assert import_clients(db, write_csv(tmp_path / "c.csv", people), actor=admin).inserted == 4
    import_assessments(db, write_csv(tmp_path / "a1.csv", [
        answers("C001", "2025-01-15", **HIGHEST), answers("C002", "2025-03-01"),
        answers("C003", "2024-01-10", **HIGHEST),  # expired by 2026-06-30
    ]), actor=admin)
    assert_in_step(db, ids)
    assert db.execute(ON_CLIENT, ["C001"]).fetchone() == ("C5", 0, "2027-01-15")
    # An older assessment imported later does not win; a newer one does.
    import_assessments(db, write_csv(tmp_path / "a2.csv", [
        answers("C001", "2024-12-01"), answers("C002", "2025-06-01", **HIGHEST),
    ]), actor=admin)
    assert_in_step(db, ids)
    assert db.execute(ON_CLIENT, ["C001"]).fetchone() == ("C5", 0, "2027-01-15")
    assert db.execute(ON_CLIENT, ["C002"]).fetchone() == ("C5", 0, "2027-06-01")
    classify(db, actor=admin)
    assert [risk(db, c) for c in ids] == [("C5", 0), ("C5", 0), ("expired", 0), ("unassessed", 0)]
    # Corrected answers for the same day: the later row wins, and an incremental run follows it.
    import_assessments(db, write_csv(tmp_path / "a3.csv", [answers("C002", "2025-06-01", **LOWEST)]),
                       actor=admin)
    assert_in_step(db, ids)
    assert classify(db, actor=admin).mode == "incremental"
    assert risk(db, "C002") == ("C1", 1)


def test_upgrade_to_lean_classifications_and_assessment_columns(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    core.apply(old, stop_before="m006_latest_assessment_on_client")
    old.execute("INSERT INTO branches VALUES ('TY01', '太原营业部', '2025-01-01')")
    old.execute("INSERT INTO clients (client_id, kind, name, branch_id, created_at, updated_at)"
                " VALUES ('C1', 'individual', '张三', 'TY01', '2025-01-01', '2025-01-01')")
    insert = ("INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version,"
              " answered_at, expires_at, imported_at) VALUES ('C1', '{}', ?, ?, ?, 1, ?, ?, '2025-06-01')")
    old.execute(insert, [30, "C3", 0, "2025-05-01", "2027-05-01"])
    old.execute(insert, [12, "C1", 1, "2024-05-01", "2026-05-01"])  # older, inserted later
    row = ["C1", "TY01", "B", "C3", 0, "swing", "silver", "mid", None, 1, 1]
    old.execute("INSERT INTO classifications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '2025-06-01T00:00:00')", row)

    rowid = old.execute("SELECT rowid FROM clients WHERE client_id = 'C1'").fetchone()[0]
    old.conn.commit()
    old.close()

    db = connect(path)
    assert "updated_at" not in db["classifications"].columns_dict
    # m007: clients keep their rowid as the declared integer key, and the row is keyed by it.
    assert db.execute("SELECT id FROM clients WHERE client_id = 'C1'").fetchone()[0] == rowid
    assert [list(r) for r in db.execute("SELECT * FROM classifications")] == [[rowid, *row]]
    assert db.execute(ON_CLIENT, ["C1"]).fetchone() == ("C3", 0, "2027-05-01")
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO classifications SELECT * FROM classifications")
    with pytest.raises(sqlite3.IntegrityError):  # client_id stays unique: other tables refer to it
        db.execute("INSERT INTO clients (client_id, kind, name, branch_id, created_at, updated_at)"
                    " VALUES ('C1', 'individual', '李四', 'TY01', '2025-01-01', '2025-01-01')")
    # The clients table's own index and trigger came through the rebuild.
    assert {"clients_branch"} <= {r[1] for r in db.execute("PRAGMA index_list(clients)")}
    db.execute("UPDATE clients SET total_assets = 5 WHERE client_id = 'C1'")
    assert db.execute("SELECT client_id FROM classify_queue").fetchall() == [("C1",)]
    db.execute(insert, [48, "C5", 0, "2025-09-01", "2027-09-01"])  # the new trigger keeps them from now on
    assert db.execute(ON_CLIENT, ["C1"]).fetchone() == ("C5", 0, "2027-09-01")


# -- first run into an empty table ----------------------------------------------------------

def keyed_by_client(db):
    """Every current row sits at its client's integer key, with that client's id."""
    return db.execute("SELECT count(*) FROM classifications k LEFT JOIN clients c ON c.id = k.client_key"
                      " WHERE c.client_id IS NOT k.client_id").fetchone()[0] == 0


def table_counts(db, branch=None):
    where, params = (" WHERE branch_id = ?", [branch]) if branch else ("", [])
    return dict(db.execute(f"SELECT class, count(*) FROM classifications{where} GROUP BY class", params).fetchall())


def some_clients(db):
    for i, (assets, turnover) in enumerate([(0, 0), (20_000, 1), (600_000, 4), (2_000_000, 4), (2_000_000, 1)]):
        for branch in ("TY01", "BJ01"):
            add_client(db, f"{branch}-{i}", branch=branch, assets=assets, turnover=turnover)


def test_first_run_keys_rows_by_client_and_counts_what_it_wrote(db, admin):
    some_clients(db)
    add_client(db, "TY01-x", assets=2_000_000, turnover=4)
    result = classify(db, actor=admin)
    assert keyed_by_client(db)
    assert result.classes == table_counts(db) and sum(result.classes.values()) == 11 == result.changed


def test_branch_scoped_first_runs_count_their_branch(db, admin):
    some_clients(db)
    first = classify(db, actor=admin, branch="TY01")  # empty table
    second = classify(db, actor=admin, branch="BJ01")  # fresh for the branch, into a non-empty table
    assert keyed_by_client(db)
    assert first.classes == table_counts(db, "TY01") and second.classes == table_counts(db, "BJ01")


@pytest.mark.parametrize("trigger", [
    "BEFORE INSERT ON classifications WHEN NEW.client_id = 'BJ01-3'",  # while writing rows
    "BEFORE INSERT ON audit_log WHEN NEW.action = 'classify.run'",  # after every row was written
])
def test_failing_first_run_leaves_nothing(db, admin, trigger):
    some_clients(db)
    db.execute(f"CREATE TEMP TRIGGER boom {trigger} BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    with pytest.raises(Exception, match="disk on fire"):
        classify(db, actor=admin)
    assert keyed_by_client(db)
    assert db.execute("SELECT count(*) FROM classifications").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    db.execute("DROP TRIGGER temp.boom")
    assert classify(db, actor=admin).classes == table_counts(db) and keyed_by_client(db)


def test_first_run_inside_a_caller_transaction_counts_its_clients(db, admin):
    add_client(db, "A1", assets=2_000_000, turnover=4)
    with db.atomic():
        add_client(db, "A2")
        result = classify(db, actor=admin)
    assert result.classes == table_counts(db)


def test_tier_thresholds_must_differ():
    """Two tiers with one lower bound would make the tier of a client without assets ambiguous."""
    import tomllib

    from brokercrm.classify.compile import validate
    from brokercrm.kernel.errors import PolicyError
    from brokercrm.policy.sets import default_policy_dir

    doc = tomllib.loads((default_policy_dir() / "classification.toml").read_text(encoding="utf-8"))
    validate(doc)
    lowest = min(doc["tier"]["individual"], key=doc["tier"]["individual"].get)
    doc["tier"]["individual"]["extra"] = doc["tier"]["individual"][lowest]
    with pytest.raises(PolicyError, match="tier.individual"):
        validate(doc)


def test_clients_without_assets_get_the_lowest_tier(db, admin):
    """Tiers compare total_assets without COALESCE: a NULL figure must still land in the lowest tier."""
    add_client(db, "N1", assets=None)
    add_client(db, "N2", kind="institution", assets=None)
    add_client(db, "Z1", assets=0.0)
    classify(db, actor=admin)
    tiers = dict(db.execute("SELECT client_id, tier FROM classifications").fetchall())
    assert tiers == {"N1": "bronze", "N2": "small", "Z1": "bronze"}


def test_upgrade_keeps_queued_clients_with_their_key(tmp_path):
    """m008: clients queued before the upgrade stay queued, now with their integer key."""
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    core.apply(old, stop_before="m008_queue_by_client_key")
    old.execute("INSERT INTO branches VALUES ('TY01', '太原营业部', '2025-01-01')")
    for cid in ("C1", "C2"):
        old.execute("INSERT INTO clients (client_id, kind, name, branch_id, created_at, updated_at)"
                    " VALUES (?, 'individual', '张三', 'TY01', '2025-01-01', '2025-01-01')", [cid])
    old.execute("UPDATE clients SET total_assets = 5 WHERE client_id = 'C2'")
    old.conn.commit()
    old.close()

    db = connect(path)
    key = db.execute("SELECT id FROM clients WHERE client_id = 'C2'").fetchone()[0]
    assert db.execute("SELECT client_key, client_id FROM classify_queue").fetchall() == [(key, "C2")]
    db.execute("UPDATE clients SET total_assets = 7 WHERE client_id = 'C1'")
    assert [r[0] for r in db.execute("SELECT client_id FROM classify_queue ORDER BY client_key")] == ["C1", "C2"]
