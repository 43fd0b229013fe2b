"""The staff schema: operators' securities qualifications (named set ``brokercrm.staff``)."""

from sqlite_utils.migrations import Migrations

migrations = Migrations("brokercrm.staff")


@migrations()
def m001_qualifications(db):
    # Append-only: a renewal or correction is a new row; the latest row per operator is in force.
    db.executescript(
        """
        CREATE TABLE operator_qualifications (
            id INTEGER PRIMARY KEY,
            operator_id TEXT NOT NULL REFERENCES operators(id),
            certificate_no TEXT NOT NULL,
            valid_until TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL
        );
        CREATE INDEX operator_qualifications_operator ON operator_qualifications(operator_id, id);
        CREATE TRIGGER operator_qualifications_no_update BEFORE UPDATE ON operator_qualifications
        BEGIN SELECT RAISE(ABORT, 'operator_qualifications is append-only'); END;
        CREATE TRIGGER operator_qualifications_no_delete BEFORE DELETE ON operator_qualifications
        BEGIN SELECT RAISE(ABORT, 'operator_qualifications is append-only'); END;
        """
    )


@migrations()
def m002_k14a_account_managers(db):
    # Issue 14 item 2: each client's account manager (客户经理), an operator id of the client's
    # branch. A column on clients (not personal data) so "my clients" and per-manager reports
    # are one indexed look-up; every assignment and reassignment, with its reason, is kept in
    # the append-only manager_assignments (and signed in the audit log).
    db.executescript(
        """
        ALTER TABLE clients ADD COLUMN account_manager TEXT;
        CREATE INDEX clients_account_manager ON clients(account_manager);
        CREATE TABLE manager_assignments (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            branch_id TEXT NOT NULL,
            old_manager TEXT,
            new_manager TEXT NOT NULL,
            reason TEXT NOT NULL,
            source TEXT NOT NULL,       -- 'assign', 'reassign', 'bulk', or the imported file:row
            at TEXT NOT NULL,
            operator TEXT NOT NULL
        );
        CREATE INDEX manager_assignments_client ON manager_assignments(client_id, id);
        CREATE TRIGGER manager_assignments_no_update BEFORE UPDATE ON manager_assignments
        BEGIN SELECT RAISE(ABORT, 'manager_assignments is append-only'); END;
        CREATE TRIGGER manager_assignments_no_delete BEFORE DELETE ON manager_assignments
        BEGIN SELECT RAISE(ABORT, 'manager_assignments is append-only'); END;
        """
    )


@migrations()
def m003_client_notes(db):
    # Issue 14 item 4 (seed 001 第十一条): the account manager's notes on a client, decision style
    # first. Append-only: the latest note is in force and every earlier one stays on record.
    db.executescript(
        """
        CREATE TABLE client_notes (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            note TEXT,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX client_notes_client ON client_notes(client_id, kind, id);
        CREATE TRIGGER client_notes_no_update BEFORE UPDATE ON client_notes
        BEGIN SELECT RAISE(ABORT, 'client_notes is append-only'); END;
        CREATE TRIGGER client_notes_no_delete BEFORE DELETE ON client_notes
        BEGIN SELECT RAISE(ABORT, 'client_notes is append-only'); END;
        """
    )


@migrations()
def m004_account_manager_index_partial(db):
    # Issue 16: a client without a manager has nothing to look up by manager, yet the full index
    # held an entry for each of them: at a million imported clients that entry cost the insert
    # about 0.9 s of 7.6 (docs/benchmarks.md). "account_manager = ?" implies NOT NULL, so every
    # look-up by manager still uses the partial index; "branch_id = ? AND account_manager IS NULL"
    # goes through clients_branch as before.
    db.executescript(
        """
        DROP INDEX clients_account_manager;
        CREATE INDEX clients_account_manager ON clients(account_manager) WHERE account_manager IS NOT NULL;
        """
    )
