"""Schema of client status through exit (issue 14 item 3): the ``brokercrm.lifecycle`` set.

A set of its own, so that status and the reason for leaving add tables without
touching the service set's migrations.
"""

from sqlite_utils.migrations import Migrations

from ..kernel.migrations import append_only

lifecycle = Migrations("brokercrm.lifecycle")

STATUS_CHECK = "('active', 'dormant', 'transfer_requested', 'closure_requested', 'closed', 'transferred')"


@lifecycle()
def m001_k14b_client_status(db):
    # A client without a row is active (正常): most of a book never changes status, and a
    # million rows written on the first refresh would cost more than the refresh itself.
    db.executescript(
        f"""
        CREATE TABLE client_status (
            client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN {STATUS_CHECK}),
            since TEXT NOT NULL,
            reason TEXT,               -- exit reason code (policies/lifecycle.toml), where known
            updated_by TEXT
        ) WITHOUT ROWID;
        CREATE INDEX client_status_status ON client_status(status, branch_id);
        CREATE TABLE client_status_history (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            branch_id TEXT NOT NULL,
            old_status TEXT NOT NULL,
            new_status TEXT NOT NULL,
            at TEXT NOT NULL,
            operator TEXT,
            source TEXT NOT NULL,      -- 'request', 'complete', 'withdraw', 'refresh', 'contact'
            reason TEXT
        );
        CREATE INDEX client_status_history_client ON client_status_history(client_id, id);
        -- The reason a client gives for leaving, recorded by retention (append-only: a
        -- correction is a new row, the latest one counts).
        CREATE TABLE exit_reasons (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            case_id INTEGER REFERENCES retention_cases(id),
            reason TEXT NOT NULL,
            note TEXT,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX exit_reasons_client ON exit_reasons(client_id, id);
        """
    )
    for table in ("client_status_history", "exit_reasons"):
        append_only(db, table)
