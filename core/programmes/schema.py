"""Schema of the programmes (issue 14 item 5): the ``brokercrm.programmes`` migration set."""

from sqlite_utils.migrations import Migrations

from ..kernel.migrations import append_only

migrations = Migrations("brokercrm.programmes")


@migrations()
def m001_k14b_callbacks(db):
    db.executescript(
        """
        -- One sampling run of one script: the population, the rate, the seed that makes the
        -- draw reproducible, and the last event it saw (the next run starts after it).
        CREATE TABLE callback_runs (
            id INTEGER PRIMARY KEY,
            script TEXT NOT NULL,
            script_version TEXT NOT NULL,
            policy TEXT NOT NULL,
            population_kind TEXT NOT NULL,
            rate REAL NOT NULL,
            population INTEGER NOT NULL,
            sampled INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            first_event INTEGER,
            last_event INTEGER NOT NULL,
            at TEXT NOT NULL,
            operator TEXT NOT NULL
        );
        CREATE INDEX callback_runs_script ON callback_runs(script, last_event);
        CREATE TABLE callback_samples (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES callback_runs(id),
            script TEXT NOT NULL,
            event_id INTEGER NOT NULL,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            task_id INTEGER,
            UNIQUE (script, event_id)
        );
        CREATE INDEX callback_samples_client ON callback_samples(client_id, script);
        -- What a callback covered: the script items, the required ones missing, and the flag.
        CREATE TABLE callback_records (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            script TEXT NOT NULL,
            script_version TEXT NOT NULL,
            policy TEXT NOT NULL,
            sample_id INTEGER REFERENCES callback_samples(id),
            interaction_id INTEGER REFERENCES interactions(id),
            covered TEXT NOT NULL,     -- JSON list of item codes
            missing TEXT NOT NULL,     -- JSON list of required item codes not covered
            flagged INTEGER NOT NULL,
            operator TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX callback_records_client ON callback_records(client_id);
        CREATE INDEX callback_records_branch ON callback_records(branch_id, script);
        """
    )
    for table in ("callback_runs", "callback_samples", "callback_records"):
        append_only(db, table)


@migrations()
def m002_k14b_prospects(db):
    # Name and phone are personal data: they live here, never in the audit log or events.
    db.executescript(
        """
        CREATE TABLE prospects (
            id INTEGER PRIMARY KEY,
            branch_id TEXT NOT NULL REFERENCES branches(code),
            name TEXT NOT NULL,
            phone TEXT,
            source TEXT NOT NULL,
            grade TEXT NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D', 'E')),
            manager TEXT,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'converted', 'lost')),
            client_id TEXT REFERENCES clients(client_id),
            next_follow_up TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            closed_at TEXT
        );
        CREATE INDEX prospects_branch ON prospects(branch_id, state, grade);
        -- A client comes from at most one prospect.
        CREATE UNIQUE INDEX prospects_client ON prospects(client_id) WHERE client_id IS NOT NULL;
        CREATE TABLE prospect_steps (
            id INTEGER PRIMARY KEY,
            prospect_id INTEGER NOT NULL REFERENCES prospects(id),
            kind TEXT NOT NULL,        -- created, follow_up, converted, lost
            old_grade TEXT,
            new_grade TEXT,
            note TEXT,
            at TEXT NOT NULL,
            operator TEXT NOT NULL
        );
        CREATE INDEX prospect_steps_prospect ON prospect_steps(prospect_id, id);
        """
    )
    append_only(db, "prospect_steps")


@migrations()
def m003_k14b_vip(db):
    db.executescript(
        """
        CREATE TABLE vip_status (
            client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            level TEXT NOT NULL,
            since TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX vip_status_level ON vip_status(branch_id, level);
        CREATE TABLE vip_history (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            branch_id TEXT NOT NULL,
            old_level TEXT,            -- NULL: entered
            new_level TEXT,            -- NULL: lost
            at TEXT NOT NULL,
            operator TEXT NOT NULL,
            policy TEXT NOT NULL
        );
        CREATE INDEX vip_history_at ON vip_history(at);
        CREATE INDEX vip_history_client ON vip_history(client_id, id);
        """
    )
    append_only(db, "vip_history")


@migrations()
def m004_k14b_sessions(db):
    # Investor-education sessions and client events share one shape: a session at a
    # branch, clients invited, clients who came. Attendance is append-only (a record of fact).
    db.executescript(
        """
        CREATE TABLE programme_sessions (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('education', 'event')),
            branch_id TEXT NOT NULL REFERENCES branches(code),
            title TEXT NOT NULL,
            topic TEXT NOT NULL,
            held_on TEXT NOT NULL,
            place TEXT,
            capacity INTEGER,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX programme_sessions_branch ON programme_sessions(kind, branch_id, held_on);
        CREATE TABLE programme_invitations (
            session_id INTEGER NOT NULL REFERENCES programme_sessions(id),
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            invited_at TEXT NOT NULL,
            invited_by TEXT NOT NULL,
            PRIMARY KEY (session_id, client_id)
        ) WITHOUT ROWID;
        CREATE TABLE programme_attendance (
            session_id INTEGER NOT NULL REFERENCES programme_sessions(id),
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            PRIMARY KEY (session_id, client_id)
        ) WITHOUT ROWID;
        CREATE INDEX programme_attendance_client ON programme_attendance(client_id);
        """
    )
    for table in ("programme_invitations", "programme_attendance"):
        append_only(db, table)


@migrations()
def m005_k14b_points(db):
    # Append-only: a correction is a new row; the balance is the sum. `ref` makes accrual
    # idempotent (one row per event, per client and month of assets).
    db.executescript(
        """
        CREATE TABLE points_ledger (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            points INTEGER NOT NULL CHECK (points <> 0),
            kind TEXT NOT NULL CHECK (kind IN ('earn', 'redeem', 'adjust')),
            rule TEXT NOT NULL,
            ref TEXT UNIQUE,
            at TEXT NOT NULL,
            operator TEXT NOT NULL,
            note TEXT
        );
        CREATE INDEX points_ledger_client ON points_ledger(client_id, at);
        CREATE TABLE points_marks (
            id INTEGER PRIMARY KEY,
            last_event INTEGER NOT NULL,
            at TEXT NOT NULL,
            operator TEXT NOT NULL
        );
        """
    )
    for table in ("points_ledger", "points_marks"):
        append_only(db, table)


@migrations()
def m006_education_materials(db):
    # Issue 14 item 4: the materials an investor-education session used (reference and SHA-256).
    db.executescript(
        """
        CREATE TABLE education_materials (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES programme_sessions(id),
            title TEXT NOT NULL,
            reference TEXT NOT NULL,
            sha256 TEXT,
            added_by TEXT NOT NULL,
            added_at TEXT NOT NULL
        );
        CREATE INDEX education_materials_session ON education_materials(session_id, id);
        """
    )
    append_only(db, "education_materials")
