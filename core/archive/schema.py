"""Schema of the archive feature: the retention period and the triggers that enforce it.

Its own named Migrations set, ``brokercrm.archive``, run after every other feature's
(``FEATURES`` order), so the tables it guards exist. Each migration names its tables
literally: a table declared retained later gets its trigger from a new migration here
(``tests/archive/test_retention.py`` fails until it does).
"""

from sqlite_utils.migrations import Migrations

from . import retention

migrations = Migrations("brokercrm.archive")

# The tables retained by m001 and the column their period counts from (catalogue.TABLES).
# Append-only tables (audit_log, client_changes, suitability_checks, suitability_evidence, events,
# complaint_steps, … — `kernel.migrations.append_only`) already refuse every DELETE, which is
# stricter than the period, so they need no trigger here.
M001_RETAINED = {
    "clients": "created_at", "client_bank_accounts": "updated_at", "data_changes": "requested_at",
    "investor_type_requests": "requested_at", "assessments": "imported_at", "behaviour_daily": "imported_at",
    "interactions": "recorded_at", "complaints": "received_at", "care_moments": "recorded_at",
    "retention_cases": "opened_at",
}


@migrations()
def m001_k11d_retention(db):
    db.executescript(
        f"""
        CREATE TABLE archive_retention (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            years INTEGER NOT NULL CHECK (years >= {retention.FLOOR_YEARS}),
            set_at TEXT NOT NULL,
            set_by TEXT NOT NULL
        );
        INSERT INTO archive_retention (id, years, set_at, set_by)
            VALUES (1, {retention.FLOOR_YEARS}, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), 'migration');
        CREATE TRIGGER archive_retention_no_delete BEFORE DELETE ON archive_retention
            BEGIN SELECT RAISE(ABORT, 'archive_retention cannot be deleted'); END;
        CREATE TRIGGER archive_retention_only_grows BEFORE UPDATE ON archive_retention
            WHEN new.years < old.years OR new.id != old.id
            BEGIN SELECT RAISE(ABORT, 'archive_retention: the retention period can only grow'); END;
        """
    )
    retention.install(db, M001_RETAINED)


@migrations()
def m002_k11d_archive_indexes(db):
    # An archive reads one client's rows from every table; these tables had no index to find
    # them by, so each archive read them whole (the audit log grows without bound).
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS archive_care_moments_client ON care_moments(client_id);
        CREATE INDEX IF NOT EXISTS archive_complaints_client ON complaints(client_id);
        CREATE INDEX IF NOT EXISTS archive_retention_cases_client ON retention_cases(client_id);
        CREATE INDEX IF NOT EXISTS archive_retention_attempts_case ON retention_attempts(case_id);
        CREATE INDEX IF NOT EXISTS archive_audit_log_target ON audit_log(target);
        """
    )
    # Unsigned audit rows from before the chain (only in databases that old) are kept like the rest.
    retention.install(db, {"audit_log_legacy": "at"})


# Tables of issues 11 and 14 that can be edited (the append-only ones refuse every DELETE already).
M003_RETAINED = {"investor_status": "recorded_at", "kyc_flags": "flagged_at", "kyc_id_notices": "noticed_at",
                 "prospects": "created_at"}


@migrations()
def m003_k11_k14_retention(db):
    # kyc_flags and programme_invitations had no index on their client column: an archive read them whole.
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS archive_kyc_flags_client ON kyc_flags(client_id);
        CREATE INDEX IF NOT EXISTS archive_programme_invitations_client ON programme_invitations(client_id);
        """
    )
    retention.install(db, M003_RETAINED)


# Every table a migration here guards, with its time column (tests compare it to catalogue.TABLES).
RETAINED = {**M001_RETAINED, "audit_log_legacy": "at", **M003_RETAINED}
