"""The schema, as sqlite-utils Migrations.

One named set for the core. Feature modules (suitability, interactions, …)
keep their own named set and add it to ``SETS`` so ``apply_all`` runs it
after the core.
"""

import importlib

from sqlite_utils.migrations import Migrations

core = Migrations("brokercrm")

# "module:attribute" of each migration set, applied in this order.
SETS = [
    "brokercrm.migrations:core",
    "brokercrm.operators:migrations",
    "brokercrm.approvals:migrations",
    "brokercrm.suitability_schema:migrations",
    "brokercrm.service_schema:service",
]


def apply_all(db):
    for ref in SETS:
        module, _, attr = ref.partition(":")
        getattr(importlib.import_module(module), attr).apply(db)


def append_only(db, table):
    """Refuse UPDATE and DELETE on ``table`` inside SQLite itself."""
    for op in ("UPDATE", "DELETE"):
        db.execute(
            f"""CREATE TRIGGER IF NOT EXISTS [{table}_no_{op.lower()}]
            BEFORE {op} ON [{table}]
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
        )


@core()
def m001_initial(db):
    db.executescript(
        """
        CREATE TABLE branches (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE clients (
            client_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('individual', 'institution')),
            name TEXT NOT NULL,
            id_number TEXT,           -- resident ID, or unified social credit code
            phone TEXT,
            birth_date TEXT,
            branch_id TEXT NOT NULL REFERENCES branches(code),
            opened_at TEXT,
            total_assets REAL,
            turnover_rate REAL,
            avg_holding_days REAL,
            annual_income REAL,
            occupation TEXT,
            education TEXT,
            investment_years REAL,
            legal_representative TEXT, -- institutions
            business_scope TEXT,       -- institutions
            net_assets REAL,           -- institutions
            extra TEXT,                -- JSON: columns beyond the standard ones
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX clients_branch ON clients(branch_id);
        CREATE TABLE client_changes (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            field TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT,
            source TEXT,
            operator TEXT,
            changed_at TEXT NOT NULL
        );
        CREATE INDEX client_changes_client ON client_changes(client_id);
        CREATE TABLE assessments (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            answers TEXT NOT NULL,     -- JSON {"q1": "A", …, "q9": "AC"}
            score INTEGER NOT NULL,
            level TEXT NOT NULL,
            lowest_category INTEGER NOT NULL,
            policy_version INTEGER NOT NULL,
            answered_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            imported_at TEXT NOT NULL
        );
        CREATE INDEX assessments_client ON assessments(client_id, answered_at);
        CREATE TABLE classifications (
            client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            class TEXT NOT NULL,
            risk_level TEXT NOT NULL,
            lowest_category INTEGER NOT NULL,
            habit TEXT NOT NULL,
            tier TEXT NOT NULL,
            value_segment TEXT NOT NULL,
            reasons TEXT NOT NULL,     -- JSON {"class": "…", "risk_level": "…", …}
            policy_version INTEGER NOT NULL,
            run_id INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX classifications_branch_class ON classifications(branch_id, class);
        CREATE TABLE classification_history (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL,
            client_id TEXT NOT NULL,
            branch_id TEXT NOT NULL,
            old_class TEXT,
            new_class TEXT NOT NULL,
            old_value TEXT,            -- JSON of the changed dimensions before
            new_value TEXT NOT NULL,   -- JSON of the changed dimensions after
            reason TEXT NOT NULL,
            policy_version INTEGER NOT NULL,
            policy_digest TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX classification_history_client ON classification_history(client_id);
        CREATE INDEX classification_history_run ON classification_history(run_id);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            operator TEXT,
            branch TEXT,
            dry_run INTEGER NOT NULL DEFAULT 0,
            policy_version INTEGER,
            policy_digest TEXT,
            summary TEXT,
            error TEXT
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator TEXT,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT,
            digest TEXT
        );
        CREATE TABLE policy_versions (
            version INTEGER PRIMARY KEY,
            digest TEXT NOT NULL,
            published_at TEXT NOT NULL,
            published_by TEXT,
            note TEXT
        );
        CREATE TABLE policy_files (
            version INTEGER NOT NULL REFERENCES policy_versions(version),
            name TEXT NOT NULL,
            filename TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (version, name)
        );
        """
    )


@core()
def m002_append_only(db):
    for table in ("classification_history", "audit_log", "client_changes"):
        append_only(db, table)
    append_only(db, "policy_files")


@core()
def m003_events(db):
    db.executescript(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            client_id TEXT,
            at TEXT NOT NULL,
            detail TEXT,
            operator TEXT
        );
        CREATE INDEX events_client ON events(client_id);
        CREATE INDEX events_kind_at ON events(kind, at);
        """
    )
    append_only(db, "events")
