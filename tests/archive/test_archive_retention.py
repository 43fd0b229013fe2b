"""Retention (办法 Art. 32, ≥ 20 years) inside SQLite, and the catalogue that says what is kept."""

import sqlite3

import pytest

from brokercrm.archive import catalogue, retention
from brokercrm.archive import schema as archive_schema
from brokercrm.kernel.errors import Conflict, Forbidden, PolicyError
from brokercrm.policy import sets
from brokercrm.service import interactions
from conftest import add_client

OLD = "2001-01-01T09:00:00+08:00"      # more than 20 years before any test run


def test_every_table_with_client_records_is_declared(db):
    """A new table keyed by client must be declared in archive/catalogue.py (section, label, retention)."""
    assert catalogue.undeclared(db) == [], (
        "declare these tables in core/archive/catalogue.py: TABLES (section, Chinese label, retained and the "
        "time column the period counts from) or EXCLUDED (with the reason); a retained table that is not "
        "append-only also needs its trigger from a new migration in core/archive/schema.py (docs/archive.md)")


def test_every_declared_table_exists(db):
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(catalogue.TABLES) - catalogue.OPTIONAL - tables == set()
    assert set(catalogue.EXCLUDED) - tables == set()


def test_every_retained_table_has_its_trigger(db):
    """A table declared retained gets its trigger from a migration of brokercrm.archive, unless it is
    append-only already (its own trigger refuses every DELETE, stricter than the period)."""
    triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    for table, entry in catalogue.TABLES.items():
        if not entry.retained or table in catalogue.OPTIONAL:
            continue
        if f"{table}_no_delete" in triggers:
            assert table not in archive_schema.RETAINED, table
            continue
        assert f"archive_retain_{table}" in triggers, (table, "a new migration in core/archive/schema.py: "
                                                              "retention.install(db, {table: time column})")
        assert archive_schema.RETAINED.get(table) == entry.since, table
        columns = catalogue.columns(db, table)
        assert entry.since in columns, table


def raw(db_path):
    return sqlite3.connect(db_path)


@pytest.fixture
def logged(db, admin):
    add_client(db, "c1")
    interactions.log(db, admin, "c1", kind="call", channel="phone", note="n")
    return db


def test_a_recent_record_cannot_be_deleted_even_with_raw_sqlite(logged, db_path):
    conn = raw(db_path)
    try:
        for sql in ("DELETE FROM interactions", "DELETE FROM clients", "DELETE FROM archive_retention"):
            with pytest.raises(sqlite3.IntegrityError, match="retention"):
                conn.execute(sql)
        assert conn.execute("SELECT count(*) FROM interactions").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM clients").fetchone()[0] == 1
        assert conn.execute("SELECT years FROM archive_retention").fetchone()[0] == 20
        with pytest.raises(sqlite3.IntegrityError, match="only grow"):
            conn.execute("UPDATE archive_retention SET years = 5")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE archive_retention SET years = 19")   # the CHECK floor as well as the trigger
    finally:
        conn.close()


def test_a_record_older_than_the_period_may_be_deleted(logged, db_path):
    """The rule is the period, not a blanket ban: a row from 2001 is past 20 years."""
    conn = raw(db_path)
    try:
        conn.execute("INSERT INTO care_moments (client_id, kind, on_date, yearly, note, recorded_by, recorded_at)"
                     " VALUES ('c1', 'exam', '2001-06-07', 0, NULL, 'admin', ?)", [OLD])
        conn.execute("DELETE FROM care_moments WHERE recorded_at = ?", [OLD])
        assert conn.execute("SELECT count(*) FROM care_moments").fetchone()[0] == 0
        # A row whose time cannot be read is kept.
        conn.execute("INSERT INTO care_moments (client_id, kind, on_date, yearly, note, recorded_by, recorded_at)"
                     " VALUES ('c1', 'exam', '2001-06-07', 0, NULL, 'admin', 'not a time')")
        with pytest.raises(sqlite3.IntegrityError, match="retention"):
            conn.execute("DELETE FROM care_moments")
    finally:
        conn.close()


def publish_years(db, admin, tmp_path, years):
    path = tmp_path / "retention.toml"
    path.write_text((sets.default_policy_dir() / "retention.toml").read_text(encoding="utf-8").replace(
        "years = 20", f"years = {years}"), encoding="utf-8")
    sets.publish(db, path, admin)


def test_policy_refuses_less_than_twenty_years():
    body = (sets.default_policy_dir() / "retention.toml").read_text(encoding="utf-8")
    with pytest.raises(PolicyError, match="retention.years"):
        sets.parse(body.replace("years = 20", "years = 19"), "retention.toml")


def test_a_longer_period_from_policy_is_applied_and_enforced(logged, admin, tmp_path, db_path, actors):
    publish_years(logged, admin, tmp_path, 30)
    with pytest.raises(Forbidden):
        retention.apply(logged, actors("ty", branch="TY01"))
    assert retention.apply(logged, admin)["years"] == 30
    assert retention.years_in_force(logged) == 30
    conn = raw(db_path)
    try:
        conn.execute("INSERT INTO care_moments (client_id, kind, on_date, yearly, note, recorded_by, recorded_at)"
                     " VALUES ('c1', 'exam', '2001-06-07', 0, NULL, 'admin', ?)", [OLD])
        with pytest.raises(sqlite3.IntegrityError, match="retention"):   # 2001 is inside 30 years
            conn.execute("DELETE FROM care_moments")
    finally:
        conn.close()
    assert retention.apply(logged, admin)["changed"] is False


def test_cli_retention(logged, run, tmp_path, admin):
    assert "20 年" in run("clients", "archive-retention").output
    publish_years(logged, admin, tmp_path, 25)
    assert "25 年" in run("clients", "archive-retention").output
    bad = run("clients", "archive-retention", "--as", "ty", ok=False)
    assert bad.exit_code == 1


def test_the_period_never_shrinks_through_apply(logged, admin, tmp_path):
    publish_years(logged, admin, tmp_path, 30)
    retention.apply(logged, admin)
    publish_years(logged, admin, tmp_path, 25)
    with pytest.raises(Conflict, match="只能延长"):
        retention.apply(logged, admin)


def test_every_client_table_is_read_through_an_index(db):
    """An archive reads one client's rows: no table may be read whole (the audit log grows without
    bound). A new client table without an index on its client column fails here."""
    small = {"evidence_templates"}   # a handful of template versions
    for table, found in catalogue.discover(db).items():
        if table in small:
            continue
        plan = db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM [{table}] WHERE {found.where}", {"cid": "c"}).fetchall()
        scans = [row[-1] for row in plan if str(row[-1]).startswith("SCAN")]
        assert not scans, (table, scans, "add an index on its client column (in its own migration, or a new "
                                         "migration of core/archive/schema.py)")
