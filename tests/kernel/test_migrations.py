import sqlite3

import pytest
import sqlite_utils

from brokercrm.kernel.db import connect
from brokercrm.kernel.migrations import apply_all, core
from brokercrm.kernel.registry import registry

CORE_TABLES = {"branches", "clients", "client_changes", "assessments", "classifications",
               "classification_history", "runs", "audit_log", "policy_versions", "policy_files", "events"}


def schema(db):
    return {r[0]: r[1] for r in db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}


def test_builds_on_an_empty_file(tmp_path):
    db = connect(tmp_path / "empty.db")
    assert CORE_TABLES <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert not any(m.pending(db) for m in [core])


def test_upgrades_from_the_previous_schema(tmp_path):
    """A database left at the previous core migration upgrades to the same schema as a fresh one."""
    names = [m.name for m in core._migrations]
    old = sqlite_utils.Database(tmp_path / "old.db")
    core.apply(old, stop_before=names[-1])
    assert [m.name for m in core.pending(old)] == [names[-1]]
    old.close()
    upgraded = connect(tmp_path / "old.db")
    fresh = connect(tmp_path / "fresh.db")
    assert schema(upgraded) == schema(fresh)


def test_foreign_keys_are_enforced(tmp_path):
    db = connect(tmp_path / "fk.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO clients (client_id, kind, name, branch_id, created_at, updated_at)"
            " VALUES ('C1', 'individual', '张三', 'NOPE', '', '')"
        )


def test_reapplying_is_a_no_op(tmp_path):
    db = connect(tmp_path / "again.db")
    before = schema(db)
    apply_all(db)
    assert schema(db) == before


def test_migration_set_names_never_change():
    # Every database records the sets applied to it by name: a renamed set would run again.
    assert [m.name for m in registry().migrations] == [
        "brokercrm", "brokercrm.operators", "brokercrm.trust", "brokercrm.staff", "brokercrm.plugins", "brokercrm.approvals",
        "brokercrm.service", "brokercrm.lifecycle", "brokercrm.suitability", "brokercrm.suitability.evidence",
        "brokercrm.programmes", "brokercrm.kyc", "brokercrm.archive"]
