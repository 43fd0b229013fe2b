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


@service()
def m002_k14a_task_owners_and_complaint_opinion(db):
    # Issue 14: every task lands with an owner — a person (assignee: by default the client's
    # account manager, set by the trigger below whatever code opened the task) or a group queue
    # (queue: a position id such as complaints_group 投诉组, where the touchpoint says so).
    # Complaints: the solution given to the client stops the clock (informed_at); the work done
    # afterwards (resolved_at) and the client's opinion of it (complaint_opinions) are recorded;
    # an unsatisfied client reopens the complaint for another round.
    db.executescript(
        """
        ALTER TABLE tasks ADD COLUMN assignee TEXT;
        ALTER TABLE tasks ADD COLUMN queue TEXT;
        CREATE INDEX tasks_assignee ON tasks(assignee, status);
        CREATE INDEX tasks_queue ON tasks(queue, status);
        UPDATE tasks SET assignee = (SELECT account_manager FROM clients c WHERE c.client_id = tasks.client_id)
            WHERE status = 'open';
        CREATE TRIGGER tasks_default_assignee AFTER INSERT ON tasks
        WHEN NEW.assignee IS NULL AND NEW.queue IS NULL
        BEGIN
            UPDATE tasks SET assignee = (SELECT account_manager FROM clients WHERE client_id = NEW.client_id)
            WHERE id = NEW.id;
        END;

        ALTER TABLE complaints ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE complaints ADD COLUMN resolved_at TEXT;
        ALTER TABLE complaints ADD COLUMN closed_at TEXT;
        CREATE TABLE complaint_opinions (
            id INTEGER PRIMARY KEY,
            complaint_id INTEGER NOT NULL REFERENCES complaints(id),
            round INTEGER NOT NULL,
            satisfied INTEGER NOT NULL CHECK (satisfied IN (0, 1)),
            note TEXT NOT NULL,
            at TEXT NOT NULL,
            operator TEXT NOT NULL
        );
        CREATE INDEX complaint_opinions_complaint ON complaint_opinions(complaint_id, id);
        -- The old order was … approved → resolved → informed (the clock stopped after the work).
        -- Now informing comes first: a complaint already informed has had its work done too.
        UPDATE complaints SET state = 'resolved', resolved_at = updated_at WHERE state = 'informed';
        -- Work done but the client not yet told (the old 'resolved'): stays resolved; informing it
        -- is still allowed and stops its clock (complaints.inform).
        UPDATE complaints SET resolved_at = updated_at WHERE state = 'resolved' AND resolved_at IS NULL;
        """
    )
    append_only(db, "complaint_opinions")
