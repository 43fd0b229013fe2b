"""The ``brokercrm.kyc`` migration set."""

from sqlite_utils.migrations import Migrations

from ..kernel.migrations import append_only

migrations = Migrations("brokercrm.kyc")


@migrations()
def m_k11c_kyc_tables(db):
    # Seed 004 in full on the (service) data_changes table: identity check, form reference,
    # the 中国结算 synchronisation marker and who marked it.
    for column, decl in (("identity_check", "TEXT"), ("form_ref", "TEXT"),
                         ("csdc_required", "INTEGER NOT NULL DEFAULT 0"), ("csdc_synced_at", "TEXT"),
                         ("csdc_synced_by", "TEXT"), ("csdc_ref", "TEXT")):
        db.execute(f"ALTER TABLE data_changes ADD COLUMN [{column}] {decl}")
    db.executescript(
        """
        CREATE INDEX data_changes_csdc ON data_changes (csdc_required, csdc_synced_at) WHERE csdc_required = 1;

        -- Seed 000's three-level verification: each act by an operator, never rewritten.
        CREATE TABLE kyc_verifications (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            level TEXT NOT NULL CHECK (level IN ('system', 'in_person', 'callback')),
            result TEXT NOT NULL CHECK (result IN ('confirmed', 'failed')),
            method TEXT,
            note TEXT,
            operator TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX kyc_verifications_client ON kyc_verifications (client_id, level);

        -- Back office's random callback sample: the seed and rate are recorded so the same
        -- population and seed give the same sample again.
        CREATE TABLE kyc_sampling_runs (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            operator TEXT NOT NULL,
            seed TEXT NOT NULL,
            rate REAL NOT NULL,
            opened_from TEXT,
            opened_to TEXT,
            population INTEGER NOT NULL,
            sampled INTEGER NOT NULL,
            policy_version INTEGER
        );
        -- Each new account is considered by one run only (its primary key), sampled or not.
        CREATE TABLE kyc_sampling_population (
            client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
            run_id INTEGER NOT NULL REFERENCES kyc_sampling_runs(id),
            sampled INTEGER NOT NULL,
            task_id INTEGER
        );

        -- Plausibility flags: a reason on the client; cleared (with a note) by an operator.
        CREATE TABLE kyc_flags (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            rule_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            policy_version INTEGER,
            flagged_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'cleared')),
            cleared_by TEXT,
            cleared_at TEXT,
            note TEXT
        );
        CREATE UNIQUE INDEX kyc_flags_open ON kyc_flags (client_id, rule_id) WHERE state = 'open';

        -- One expiry task per client and 有效期 (a daily scan opens it once).
        CREATE TABLE kyc_id_notices (
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            valid_until TEXT NOT NULL,
            task_id INTEGER,
            noticed_at TEXT NOT NULL,
            PRIMARY KEY (client_id, valid_until)
        );
        """
    )
    append_only(db, "kyc_verifications")
    append_only(db, "kyc_sampling_runs")
