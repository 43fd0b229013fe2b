"""Schema of the service part of the lifecycle (interactions, tasks, complaints,
care, retention, reviewed data changes): the ``brokercrm.service`` migration set."""

from sqlite_utils.migrations import Migrations

from ..kernel.migrations import append_only

service = Migrations("brokercrm.service")


@service()
def m001_service(db):
    db.executescript(
        """
        CREATE TABLE interactions (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            note TEXT,
            satisfaction INTEGER CHECK (satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5),
            manager TEXT,              -- the account manager who made the contact
            operator TEXT,             -- who recorded it
            at TEXT NOT NULL,          -- when the contact happened
            recorded_at TEXT NOT NULL,
            source TEXT                -- 'cli' or the imported file:row
        );
        CREATE INDEX interactions_client ON interactions(client_id, at);
        CREATE INDEX interactions_branch ON interactions(branch_id);

        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            branch_id TEXT NOT NULL,
            kind TEXT NOT NULL,        -- callback, review, solution, contact, care, retention, …
            title TEXT NOT NULL,
            origin TEXT NOT NULL,      -- 'touchpoint:<name>', 'plugin:<name>', 'care', 'retention', …
            event_id INTEGER,
            dedupe_key TEXT UNIQUE,    -- makes generation idempotent
            created_at TEXT NOT NULL,
            due_at TEXT NOT NULL,      -- ISO, +08:00, so text order is time order
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
            done_at TEXT,
            done_by TEXT,
            done_note TEXT
        );
        CREATE INDEX tasks_open_due ON tasks(status, due_at);
        CREATE INDEX tasks_client ON tasks(client_id);
        CREATE INDEX tasks_branch ON tasks(branch_id, status);

        CREATE TABLE complaints (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            interaction_id INTEGER REFERENCES interactions(id),
            summary TEXT NOT NULL,
            state TEXT NOT NULL,
            handler TEXT,
            proposal TEXT,
            approved_by TEXT,
            received_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            informed_at TEXT,
            task_id INTEGER,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX complaints_state ON complaints(state, due_at);
        CREATE TABLE complaint_steps (
            id INTEGER PRIMARY KEY,
            complaint_id INTEGER NOT NULL REFERENCES complaints(id),
            from_state TEXT,
            to_state TEXT NOT NULL,
            at TEXT NOT NULL,
            operator TEXT,
            note TEXT
        );
        CREATE INDEX complaint_steps_complaint ON complaint_steps(complaint_id);

        CREATE TABLE care_moments (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            kind TEXT NOT NULL,        -- exam, retirement, wedding, …
            on_date TEXT NOT NULL,
            yearly INTEGER NOT NULL DEFAULT 0,
            note TEXT,
            recorded_by TEXT,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX care_moments_date ON care_moments(on_date);

        CREATE TABLE retention_cases (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            request TEXT NOT NULL CHECK (request IN ('transfer', 'closure')),
            interaction_id INTEGER REFERENCES interactions(id),
            opened_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
            outcome TEXT CHECK (outcome IS NULL OR outcome IN ('retained', 'transferred', 'closed')),
            closed_at TEXT,
            closed_by TEXT,
            note TEXT
        );
        CREATE TABLE retention_attempts (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES retention_cases(id),
            at TEXT NOT NULL,
            operator TEXT,
            note TEXT NOT NULL
        );

        -- Maker–checker changes to important data (seed 004, 重要资料变更). The
        -- values are personal data: they live here, never in the audit log.
        CREATE TABLE data_changes (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            field TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
            maker TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            checker TEXT,
            decided_at TEXT,
            reason TEXT
        );
        CREATE INDEX data_changes_client ON data_changes(client_id, state);
        -- Settlement bank account (存管银行账户): not a column of clients, so that
        -- `clients show` and the published views never carry it by accident.
        CREATE TABLE client_bank_accounts (
            client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
            account TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )
    for table in ("complaint_steps", "retention_attempts"):
        append_only(db, table)
