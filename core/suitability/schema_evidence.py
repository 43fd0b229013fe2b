"""Schema of issue 11 items 1 and 3: investor status from reviewed evidence, controlled product
ratings, and the channel and acknowledgement of an assessment result.

These migrations join the suitability feature's named set (``schema.migrations``); they live in
their own module so other work appending to ``schema.py`` does not collide with them. Applied
after ``schema.py``'s own (this module is imported after it).
"""

from .schema import migrations


@migrations()
def m_k11a_investor_status(db):
    # One row per act on a client's investor status: Art. 8 evidence ('grant'), an Art. 11/12
    # conversion ('convert'), a professional's written choice to be treated as ordinary
    # ('opt_down'), or an approved request carried over from the old table ('legacy').
    # The latest approved row by effective_at is in force; a grant lapses at valid_until.
    db.executescript(
        """
        CREATE TABLE investor_status (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            action TEXT NOT NULL CHECK (action IN ('grant', 'convert', 'opt_down', 'legacy')),
            category TEXT NOT NULL,          -- policy code: '8.1'…'8.5', '11.1', '11.2', 'opt_down', 'legacy'
            target TEXT NOT NULL CHECK (target IN ('professional', 'ordinary')),
            evidence_kind TEXT NOT NULL,
            document_ref TEXT NOT NULL,
            figures TEXT NOT NULL DEFAULT '{}',   -- JSON; personal data: never copied to the audit log
            period_start TEXT,
            period_end TEXT,
            application_ref TEXT,            -- Art. 12: the written application
            acknowledgement_ref TEXT,        -- Art. 12: the client's acknowledgement of risks and consequences
            prudent_kind TEXT CHECK (prudent_kind IN ('knowledge_test', 'simulated_trading')),
            prudent_ref TEXT,
            prudent_score REAL,
            eligible INTEGER NOT NULL,
            eligibility TEXT NOT NULL,       -- JSON list: each test and its outcome (thresholds only)
            note TEXT,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
            reviewed_by TEXT,
            reviewed_at TEXT,
            review_note TEXT,
            notice_ref TEXT,                 -- Art. 12: the notice of the result and its reasons
            effective_at TEXT,
            valid_until TEXT,                -- first day the status no longer holds
            recheck_at TEXT,
            policy_version INTEGER
        );
        CREATE INDEX investor_status_client ON investor_status(client_id, state, effective_at);
        CREATE INDEX investor_status_recheck ON investor_status(state, recheck_at);

        -- Before issue 11 an approved conversion request decided the type; it had a maker and a
        -- different checker, so it is carried over, lapsing 24 months after its decision.
        INSERT INTO investor_status (client_id, action, category, target, evidence_kind, document_ref, eligible,
            eligibility, note, recorded_by, recorded_at, state, reviewed_by, reviewed_at, review_note, effective_at,
            valid_until, recheck_at, policy_version)
        SELECT client_id, 'legacy', 'legacy', target, '转换申请 (legacy request)', evidence, eligible, eligibility,
            'migrated from investor_type_requests #' || id, requested_by, requested_at, 'approved', decided_by,
            decided_at, decision_note, decided_at,
            CASE WHEN target = 'professional' THEN date(substr(decided_at, 1, 10), '+24 months') END,
            CASE WHEN target = 'professional' THEN date(substr(decided_at, 1, 10), '+24 months', '-30 days') END,
            policy_version
        FROM investor_type_requests WHERE status = 'approved' ORDER BY id;
        """
    )


@migrations()
def m_k11a_product_ratings(db):
    # 办法 Art. 21 / issue 11 item 3: every rating of a product — the first one at import and each
    # change, proposed by one head-office operator and approved by another. Append-only history
    # of decisions lives in the audit log; this table holds the proposal and its outcome.
    db.executescript(
        """
        CREATE TABLE product_ratings (
            id INTEGER PRIMARY KEY,
            product_code TEXT NOT NULL REFERENCES products(code),
            old_level TEXT,
            new_level TEXT NOT NULL CHECK (new_level IN ('R1','R2','R3','R4','R5')),
            floor_level TEXT,
            reason TEXT NOT NULL,
            proposed_by TEXT NOT NULL,
            proposed_at TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'imported')),
            decided_by TEXT,
            decided_at TEXT,
            decision_note TEXT,
            holders INTEGER,                -- holders re-checked when it took effect
            policy_version INTEGER
        );
        CREATE INDEX product_ratings_product ON product_ratings(product_code, id);
        """
    )


@migrations()
def m_k11a_assessment_acknowledgement(db):
    # Seed 001 appendix: the client signs the result of the assessment. 'legacy' marks rows from
    # before this was recorded (they keep counting, see docs/suitability.md); the importer writes
    # 'acknowledged' or 'unacknowledged', and an unacknowledged latest assessment does not count.
    db.executescript(
        """
        ALTER TABLE assessments ADD COLUMN channel TEXT;
        ALTER TABLE assessments ADD COLUMN ack_state TEXT NOT NULL DEFAULT 'legacy'
            CHECK (ack_state IN ('legacy', 'acknowledged', 'unacknowledged'));
        ALTER TABLE assessments ADD COLUMN ack_ref TEXT;
        """
    )

