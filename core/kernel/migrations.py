"""The schema, as sqlite-utils Migrations.

One named set for the core. Feature packages (suitability, service, …) keep
their own named set and contribute it through ``brokercrm.kernel.registry``;
``apply_all`` runs every set, the core's first.
"""

from sqlite_utils.migrations import Migrations

from .registry import registry

core = Migrations("brokercrm")


def apply_all(db):
    for migrations in registry().migrations:
        migrations.apply(db)


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
            assessment_id INTEGER,     -- the latest risk assessment (kept by a trigger)
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
        -- Current classification, one row per client. Reasons are not copied onto
        -- every row: they are a function of (policy version, dimension, value) and
        -- live once in policy_reasons; `adjustment` holds a branch plugin's reason.
        CREATE TABLE classifications (
            client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
            branch_id TEXT NOT NULL,
            class TEXT NOT NULL,
            risk_level TEXT NOT NULL,
            lowest_category INTEGER NOT NULL,
            habit TEXT NOT NULL,
            tier TEXT NOT NULL,
            value_segment TEXT NOT NULL,
            adjustment TEXT,
            policy_version INTEGER NOT NULL,
            run_id INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );  -- a rowid table: ~20% cheaper to fill than WITHOUT ROWID at 1M rows
        -- One row per change of a client's classification. The first
        -- classification is recorded by its run (classifications.run_id until the
        -- first change, then the first history row's old_run_id).
        CREATE TABLE classification_history (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL,
            old_run_id INTEGER,        -- the run that had set the old values
            client_id TEXT NOT NULL,
            branch_id TEXT NOT NULL,
            old_class TEXT, new_class TEXT NOT NULL,
            old_risk_level TEXT, new_risk_level TEXT NOT NULL,
            old_lowest_category INTEGER, new_lowest_category INTEGER NOT NULL,
            old_habit TEXT, new_habit TEXT NOT NULL,
            old_tier TEXT, new_tier TEXT NOT NULL,
            old_value_segment TEXT, new_value_segment TEXT NOT NULL,
            reason TEXT,               -- a branch plugin's adjustment reason, if any
            policy_version INTEGER NOT NULL,
            policy_digest TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX classification_history_client ON classification_history(client_id);
        CREATE INDEX classification_history_run ON classification_history(run_id);
        -- The reason text for each value a dimension can take under a policy version.
        CREATE TABLE policy_reasons (
            policy_version INTEGER NOT NULL,
            dimension TEXT NOT NULL,
            value TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (policy_version, dimension, value)
        ) WITHOUT ROWID;
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            mode TEXT,                 -- full | incremental
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            operator TEXT,
            branch TEXT,
            dry_run INTEGER NOT NULL DEFAULT 0,
            as_of TEXT,
            policy_version INTEGER,
            policy_digest TEXT,
            fingerprint TEXT,          -- what else decides results (approved plugins)
            client_mark INTEGER,       -- max clients.rowid seen
            assessment_mark INTEGER,   -- max assessments.id seen
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


# Client columns a classification rule may read: changing one queues the client
# for the next incremental run.
CLASSIFIED_INPUTS = (
    "kind", "branch_id", "total_assets", "turnover_rate", "avg_holding_days", "annual_income",
    "occupation", "education", "investment_years", "net_assets", "opened_at", "birth_date",
)


@core()
def m002_append_only(db):
    for table in ("classification_history", "audit_log", "client_changes", "policy_files", "policy_reasons"):
        append_only(db, table)
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CLASSIFIED_INPUTS)
    db.executescript(
        f"""
        CREATE TABLE classify_queue (client_id TEXT PRIMARY KEY) WITHOUT ROWID;
        -- Latest answered wins, ties to the later row: classification reads one
        -- integer key instead of searching a client's assessments.
        CREATE TRIGGER assessments_point_latest AFTER INSERT ON assessments
        BEGIN
            UPDATE clients SET assessment_id = NEW.id
            WHERE client_id = NEW.client_id
              AND (assessment_id IS NULL
                   OR (SELECT answered_at FROM assessments WHERE id = clients.assessment_id) <= NEW.answered_at);
        END;
        CREATE TRIGGER clients_queue_reclassify AFTER UPDATE ON clients WHEN {changed}
        BEGIN INSERT OR IGNORE INTO classify_queue (client_id) VALUES (NEW.client_id); END;
        """
    )


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


@core()
def m004_assessment_expiry_index(db):
    # An incremental run finds the assessments that expired since the last run.
    db.execute("CREATE INDEX assessments_expires ON assessments(expires_at)")


@core()
def m006_latest_assessment_on_client(db):
    # Classification needs three facts of the latest assessment per client. Read through
    # the assessment_id join they cost a look-up into the wide assessments table per
    # client (~15% of a first run, more of a nightly one); the trigger that already keeps
    # assessment_id now keeps these beside it, so they are never out of step with it.
    db.executescript(
        """
        ALTER TABLE clients ADD COLUMN assessment_level TEXT;
        ALTER TABLE clients ADD COLUMN assessment_lowest INTEGER;
        ALTER TABLE clients ADD COLUMN assessment_expires_at TEXT;
        UPDATE clients SET (assessment_level, assessment_lowest, assessment_expires_at) =
            (SELECT level, lowest_category, expires_at FROM assessments WHERE id = clients.assessment_id)
        WHERE assessment_id IS NOT NULL;
        DROP TRIGGER assessments_point_latest;
        CREATE TRIGGER assessments_point_latest AFTER INSERT ON assessments
        BEGIN
            UPDATE clients SET assessment_id = NEW.id, assessment_level = NEW.level,
                assessment_lowest = NEW.lowest_category, assessment_expires_at = NEW.expires_at
            WHERE client_id = NEW.client_id
              AND (assessment_id IS NULL
                   OR (SELECT answered_at FROM assessments WHERE id = clients.assessment_id) <= NEW.answered_at);
        END;
        """
    )


def _rebuild(conn, table, sql, copy):
    """Replace ``table`` with one made by ``sql`` (naming it ``<table>_new``) and filled by ``copy``.

    The table's own indexes and triggers are recreated; the caller has turned
    foreign keys off and holds the transaction.
    """
    keep = [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL",
        [table])]
    conn.execute(sql)
    conn.execute(copy)
    conn.execute(f"DROP TABLE [{table}]")
    # Triggers of other tables name this one; a modern RENAME would re-check them against a
    # schema in which it does not exist for a moment.
    conn.execute("PRAGMA legacy_alter_table = ON")
    try:
        conn.execute(f"ALTER TABLE [{table}_new] RENAME TO [{table}]")
    finally:
        conn.execute("PRAGMA legacy_alter_table = OFF")
    for statement in keep:
        conn.execute(statement)


@core(transactional=False)
def m007_integer_client_key(db):
    # Every client gets a stable integer key (`id`, the rowid, kept by VACUUM because it is
    # declared), and the current classification is keyed by it. A first run then appends its
    # rows in key order with no second index to build (about a fifth of a first run at 1M
    # clients), and a nightly run finds a client's current row by its key. client_id stays
    # unique: every other table still refers to clients by it.
    # The current row also loses `updated_at`: a nightly run rewrites the rows of changed
    # clients all over the book, so their width decides how many pages it dirties, and the
    # run that wrote a row (run_id) has the time.
    conn = db.conn
    if "id" in {r[1] for r in conn.execute("PRAGMA table_info(clients)")}:
        return  # applied, but not recorded (the process stopped in between)
    conn.commit()
    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: hence transactional=False
    try:
        conn.execute("BEGIN IMMEDIATE")
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'clients'").fetchone()[0]
        head, sep, rest = sql.partition("client_id TEXT PRIMARY KEY,")
        if not sep:
            raise RuntimeError("m007: unexpected clients schema")
        new = (head.replace("CREATE TABLE clients", "CREATE TABLE clients_new", 1)
               .replace('CREATE TABLE "clients"', "CREATE TABLE clients_new", 1)
               + "client_id TEXT NOT NULL UNIQUE," + rest.rstrip()[:-1].rstrip()
               + ",\n    id INTEGER PRIMARY KEY  -- stable integer key (m007)\n)")
        columns = ", ".join(f"[{r[1]}]" for r in conn.execute("PRAGMA table_info(clients)"))
        _rebuild(conn, "clients", new, f"INSERT INTO clients_new ({columns}, id) SELECT {columns}, rowid FROM clients")
        _rebuild(conn, "classifications", """
            CREATE TABLE classifications_new (
                client_key INTEGER PRIMARY KEY REFERENCES clients(id),
                client_id TEXT NOT NULL REFERENCES clients(client_id),
                branch_id TEXT NOT NULL,
                class TEXT NOT NULL,
                risk_level TEXT NOT NULL,
                lowest_category INTEGER NOT NULL,
                habit TEXT NOT NULL,
                tier TEXT NOT NULL,
                value_segment TEXT NOT NULL,
                adjustment TEXT,
                policy_version INTEGER NOT NULL,
                run_id INTEGER NOT NULL
            )""", """
            INSERT INTO classifications_new
            SELECT c.id, k.client_id, k.branch_id, k.class, k.risk_level, k.lowest_category, k.habit, k.tier,
                   k.value_segment, k.adjustment, k.policy_version, k.run_id
            FROM classifications k JOIN clients c ON c.client_id = k.client_id""")
        broken = [r for t in ("clients", "classifications")
                  for r in conn.execute(f"PRAGMA foreign_key_check({t})").fetchall()]
        if broken:
            raise RuntimeError(f"m007: foreign keys broken by the rebuild: {broken[:5]}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


@core()
def m008_queue_by_client_key(db):
    # The queue of clients to reclassify also holds their integer key: an incremental run
    # then takes its candidates straight from it instead of looking each client_id up.
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CLASSIFIED_INPUTS)
    db.executescript(
        f"""
        DROP TRIGGER clients_queue_reclassify;
        CREATE TABLE classify_queue_new (client_key INTEGER PRIMARY KEY, client_id TEXT NOT NULL);
        INSERT INTO classify_queue_new SELECT c.id, q.client_id FROM classify_queue q JOIN clients c USING (client_id);
        DROP TABLE classify_queue;
        ALTER TABLE classify_queue_new RENAME TO classify_queue;
        CREATE TRIGGER clients_queue_reclassify AFTER UPDATE ON clients WHEN {changed}
        BEGIN INSERT OR IGNORE INTO classify_queue (client_key, client_id) VALUES (NEW.id, NEW.client_id); END;
        """
    )


# Issue 11 item 7 (KYC completeness; 办法 Art. 6–7, seed 000): the facts a firm must know,
# on the client row so the import, re-import merge and change trail handle them like the
# others. id_type is NULL for rows imported before it existed: read as 居民身份证 / credit code.
KYC_COLUMNS = ("gender", "address", "income_source", "debts", "integrity_record", "tax_residence", "id_type",
               "id_valid_until", "beneficial_owners", "actual_controller")


@core()
def m_k11c_kyc_fields(db):
    for column in KYC_COLUMNS:
        db.execute(f"ALTER TABLE clients ADD COLUMN [{column}] TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS clients_id_valid_until ON clients (id_valid_until)"
               " WHERE id_valid_until IS NOT NULL")
