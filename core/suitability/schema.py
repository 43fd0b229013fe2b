"""Schema of the suitability feature: products, holdings, checks, confirmations,
investor-type conversions, trading behaviour and its flags.

Its own named Migrations set, contributed through ``brokercrm.kernel.registry``.
"""

from sqlite_utils.migrations import Migrations

from ..kernel.migrations import append_only

migrations = Migrations("brokercrm.suitability")


@migrations()
def m001_suitability(db):
    db.executescript(
        """
        CREATE TABLE products (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            type TEXT,
            risk_level TEXT NOT NULL CHECK (risk_level IN ('R1','R2','R3','R4','R5')),
            risk_rank INTEGER NOT NULL CHECK (risk_rank BETWEEN 1 AND 5),
            level_source TEXT NOT NULL,   -- 'file' or 'policy vN: type → level'
            imported_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE holdings (
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            product_code TEXT NOT NULL REFERENCES products(code),
            amount REAL NOT NULL,
            since TEXT,
            imported_at TEXT NOT NULL,
            PRIMARY KEY (client_id, product_code)
        ) WITHOUT ROWID;
        CREATE INDEX holdings_product ON holdings(product_code);

        -- Every check, as it was decided: who, when, which policy, why.
        CREATE TABLE suitability_checks (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            product_risk TEXT NOT NULL,
            client_level TEXT NOT NULL,
            investor_type TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('match', 'mismatch', 'forbidden')),
            reasons TEXT NOT NULL,        -- JSON list of reason texts
            policy_version INTEGER,
            policy_digest TEXT,
            checked_by TEXT,
            checked_at TEXT NOT NULL
        );
        CREATE INDEX suitability_checks_client ON suitability_checks(client_id, id);

        -- The client's written insistence after the special risk warning (特别风险警示书).
        CREATE TABLE suitability_confirmations (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            check_id INTEGER NOT NULL REFERENCES suitability_checks(id),
            client_level TEXT NOT NULL,   -- the level the confirmation was given at
            evidence TEXT NOT NULL,       -- reference to the signed warning/confirmation
            reasons TEXT NOT NULL,
            policy_version INTEGER,
            policy_digest TEXT,
            confirmed_by TEXT,
            confirmed_at TEXT NOT NULL
        );
        CREATE INDEX suitability_confirmations_pair ON suitability_confirmations(client_id, product_code);

        -- Non-match holdings found by the last scan of each branch (read-only views show these).
        CREATE TABLE suitability_exceptions (
            run_id INTEGER NOT NULL,
            client_id TEXT NOT NULL,
            branch_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            product_risk TEXT NOT NULL,
            client_level TEXT NOT NULL,
            investor_type TEXT NOT NULL,
            verdict TEXT NOT NULL,
            reasons TEXT NOT NULL,
            confirmation_id INTEGER,
            amount REAL,
            PRIMARY KEY (client_id, product_code)
        );
        CREATE INDEX suitability_exceptions_branch ON suitability_exceptions(branch_id, verdict);

        CREATE TABLE investor_type_requests (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            target TEXT NOT NULL CHECK (target IN ('professional', 'ordinary')),
            evidence TEXT NOT NULL,
            note TEXT,
            eligible INTEGER NOT NULL,
            eligibility TEXT NOT NULL,     -- JSON: the rule reasons met, or why none
            requested_by TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
            decided_by TEXT,
            decided_at TEXT,
            decision_note TEXT,
            policy_version INTEGER
        );
        CREATE INDEX investor_type_requests_client ON investor_type_requests(client_id, status);

        CREATE TABLE behaviour_daily (
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            date TEXT NOT NULL,
            turnover_pct REAL NOT NULL,
            st_share REAL NOT NULL,
            extra TEXT,
            imported_at TEXT NOT NULL,
            PRIMARY KEY (client_id, date)
        ) WITHOUT ROWID;
        CREATE TABLE behaviour_flags (
            client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
            flag TEXT NOT NULL,
            label TEXT NOT NULL,
            rule TEXT NOT NULL,
            reason TEXT NOT NULL,
            evidence TEXT NOT NULL,        -- JSON: days counted, window
            policy_version INTEGER,
            since TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE behaviour_flag_history (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            old_flag TEXT,
            new_flag TEXT,
            reason TEXT NOT NULL,
            policy_version INTEGER,
            at TEXT NOT NULL
        );
        CREATE INDEX behaviour_flag_history_client ON behaviour_flag_history(client_id);
        """
    )
    for table in ("suitability_checks", "suitability_confirmations", "behaviour_flag_history"):
        append_only(db, table)


@migrations()
def m002_lowest_category_marks(db):
    # Issue 11: the causes of 最低类别 that are not in the questionnaire — a recorded lack of
    # full civil capacity (with the guardian) and head office's manual flag. Append-only: the
    # latest row per (client, kind) is in force, and the history is the evidence.
    db.executescript(
        """
        CREATE TABLE lowest_category_marks (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            kind TEXT NOT NULL CHECK (kind IN ('capacity', 'headoffice')),
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            capacity TEXT CHECK (capacity IN ('full', 'limited', 'none')),
            guardian TEXT,
            reason TEXT NOT NULL,
            evidence TEXT,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX lowest_category_marks_client ON lowest_category_marks(client_id, kind, id);
        """
    )
    append_only(db, "lowest_category_marks")


@migrations()
def m003_k11b_three_way(db):
    # Issue 11 item 4 (办法 Art. 6(4), 22(4); the SAC 指引's 风险等级/投资期限/投资品种 match):
    # a product's own horizon and kind (blank: the policy's default for its type), the
    # operator-recorded investor profile (append-only: the latest row is in force), and the
    # facts of each verdict per dimension on the checks and the scan's exceptions.
    db.executescript(
        """
        ALTER TABLE products ADD COLUMN horizon TEXT;   -- policy horizon code, or NULL: from the type
        ALTER TABLE products ADD COLUMN kind TEXT;      -- policy kind code, or NULL: from the type
        CREATE TABLE investor_profiles (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            objective TEXT,               -- policy objective code (保值/稳健增值/积极增值 …)
            horizon TEXT,                 -- policy horizon code
            kinds TEXT,                   -- comma-separated policy kind codes
            evidence TEXT NOT NULL,       -- the signed KYC form's reference
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX investor_profiles_client ON investor_profiles(client_id, id);
        ALTER TABLE suitability_checks ADD COLUMN dimensions TEXT;   -- JSON {risk|horizon|kind: {verdict, reason}}
        ALTER TABLE suitability_checks ADD COLUMN special_care TEXT; -- JSON list of triggered procedures
        ALTER TABLE suitability_exceptions ADD COLUMN risk_verdict TEXT;
        ALTER TABLE suitability_exceptions ADD COLUMN horizon_verdict TEXT;
        ALTER TABLE suitability_exceptions ADD COLUMN kind_verdict TEXT;
        """
    )
    append_only(db, "investor_profiles")


@migrations()
def m004_k11b_special_care(db):
    # Issue 11 item 5 (办法 Art. 20: special care for high-risk sales to ordinary investors,
    # matched or not — more time to consider, callbacks). One row per confirmed sale under
    # special care: the triggers, the notice shown, the cooling-off window. A withdrawal
    # inside the window is its own append-only row, so both stay as evidence.
    db.executescript(
        """
        CREATE TABLE special_care_sales (
            id INTEGER PRIMARY KEY,
            confirmation_id INTEGER NOT NULL UNIQUE REFERENCES suitability_confirmations(id),
            check_id INTEGER NOT NULL,
            client_id TEXT NOT NULL,
            branch_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            product_type TEXT,
            verdict TEXT NOT NULL,        -- match or mismatch: special care binds both
            triggers TEXT NOT NULL,       -- JSON [{name, label, reason}]
            notice TEXT,                  -- the extra notice's text as shown
            callback INTEGER NOT NULL,    -- 1: a callback task was opened
            cooling_off_hours REAL NOT NULL,
            opened_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,        -- = opened_at when no cooling-off applies
            policy_version INTEGER,
            recorded_by TEXT NOT NULL
        );
        CREATE INDEX special_care_sales_open ON special_care_sales(ends_at);
        CREATE INDEX special_care_sales_client ON special_care_sales(client_id);
        CREATE TABLE cooling_off_withdrawals (
            id INTEGER PRIMARY KEY,
            sale_id INTEGER NOT NULL UNIQUE REFERENCES special_care_sales(id),
            evidence TEXT NOT NULL,       -- the client's signed withdrawal
            reason TEXT,
            withdrawn_by TEXT NOT NULL,
            withdrawn_at TEXT NOT NULL
        );
        """
    )
    append_only(db, "special_care_sales")
    append_only(db, "cooling_off_withdrawals")
