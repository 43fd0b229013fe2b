"""The trust layer's schema: certified operators and the hash-chained audit log.

Its own named Migrations set (``brokercrm.trust``), applied after the core
set and the first operators set. Existing operators keep their rows but have no
certificate, so they are not trusted until re-enrolled (docs/security.md).
"""

from sqlite_utils.migrations import Migrations

from . import audit

# The first operators table (set name kept: it is stored in users' databases).
operators = Migrations("brokercrm.operators")
migrations = Migrations("brokercrm.trust")


@operators()
def m001_operators(db):
    db.execute(
        """CREATE TABLE operators (
            id TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('headoffice', 'branch')),
            branch TEXT REFERENCES branches(code),
            created_at TEXT NOT NULL,
            created_by TEXT,
            CHECK ((role = 'branch') = (branch IS NOT NULL))
        )"""
    )


@migrations()
def m001_certified_operators(db):
    # The role CHECK of the first operators table knew two roles; roles are now
    # the authorisation table's to define, so the table is rebuilt without it.
    db.executescript(
        """
        CREATE TABLE operators_new (
            id TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            branch TEXT REFERENCES branches(code),
            created_at TEXT NOT NULL,
            created_by TEXT,
            public_key TEXT UNIQUE,
            issued_by TEXT,
            issued_at TEXT,
            key_custody TEXT,
            certificate TEXT
        );
        INSERT INTO operators_new (id, role, branch, created_at, created_by)
            SELECT id, role, branch, created_at, created_by FROM operators;
        DROP TABLE operators;
        ALTER TABLE operators_new RENAME TO operators;
        CREATE TRIGGER operators_no_delete BEFORE DELETE ON operators
        BEGIN SELECT RAISE(ABORT, 'operators are never deleted; revoke instead'); END;
        CREATE TRIGGER operators_no_update BEFORE UPDATE ON operators
        BEGIN SELECT RAISE(ABORT, 'an operator''s certificate is immutable; revoke and re-enrol'); END;
        """
    )


@migrations()
def m002_audit_chain(db):
    # Rows written before the chain existed carry no signature: they are kept,
    # read-only, in audit_log_legacy, and the chain starts empty.
    if db.execute("SELECT count(*) FROM audit_log").fetchone()[0]:
        db.executescript(
            """
            CREATE TABLE audit_log_legacy AS SELECT * FROM audit_log;
            DROP TRIGGER IF EXISTS audit_log_no_delete;
            DELETE FROM audit_log;
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
            """
        )
    for col in ("key_fingerprint", "prev_hash", "row_hash", "signature"):
        db.execute(f"ALTER TABLE audit_log ADD COLUMN {col} TEXT")
    db.executescript(
        f"""
        CREATE INDEX IF NOT EXISTS audit_log_action_target ON audit_log(action, target);
        CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
        WHEN NEW.id IS NOT (SELECT COALESCE(max(id), 0) + 1 FROM audit_log)
          OR NEW.prev_hash IS NOT COALESCE((SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1), '{audit.GENESIS}')
          OR NEW.row_hash IS NULL OR NEW.signature IS NULL
        BEGIN SELECT RAISE(ABORT, 'audit_log is a hash chain: rows are only appended at its head'); END;
        """
    )


@migrations()
def m003_run_heads(db):
    # The audit chain head each run started from: kept beside the run, printed in its
    # summary, so a truncated log shows against any copy of a run's summary.
    db.execute("ALTER TABLE runs ADD COLUMN audit_head TEXT")
