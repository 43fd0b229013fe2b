"""Schema of suitability evidence (issue 11 item 6): what each client was shown and acknowledged.

Its own named Migrations set (``brokercrm.suitability.evidence``), contributed by suitability
next to ``brokercrm.suitability``, so that other work appending to that set never collides here.
"""

from sqlite_utils.migrations import Migrations

from ..kernel.migrations import append_only

migrations = Migrations("brokercrm.suitability.evidence")


@migrations()
def m001_k11d_suitability_evidence(db):
    db.executescript(
        """
        CREATE TABLE suitability_evidence (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES clients(client_id),
            act TEXT NOT NULL,
            product_code TEXT,
            product_risk TEXT,
            assessment_id INTEGER,
            check_id INTEGER,
            confirmation_id INTEGER,
            shown TEXT NOT NULL,              -- JSON: what the client was shown (level, verdict, reasons …)
            shown_sha256 TEXT NOT NULL,       -- SHA-256 of that JSON's canonical bytes
            template_id TEXT,
            template_version INTEGER,
            template_sha256 TEXT,             -- SHA-256 of the template text as published
            channel TEXT NOT NULL,
            acknowledgement TEXT NOT NULL,    -- reference to the client's signature / signed form
            shown_at TEXT NOT NULL,
            recording_ref TEXT,
            recording_sha256 TEXT CHECK (recording_sha256 IS NULL OR length(recording_sha256) = 64),
            recording_seconds REAL CHECK (recording_seconds IS NULL OR recording_seconds > 0),
            recording_rule TEXT,              -- the 双录 rule that required it, if one did
            policy_version INTEGER,
            policy_sha256 TEXT NOT NULL,      -- the evidence policy file's digest
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            CHECK ((recording_ref IS NULL) = (recording_sha256 IS NULL)
                   AND (recording_ref IS NULL) = (recording_seconds IS NULL))
        );
        CREATE INDEX suitability_evidence_client ON suitability_evidence(client_id, id);
        -- One text per (template, version): the evidence must name exactly what was shown.
        CREATE TABLE evidence_templates (
            template_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            first_used_at TEXT NOT NULL,
            PRIMARY KEY (template_id, version)
        );
        """
    )
    append_only(db, "suitability_evidence")
    append_only(db, "evidence_templates")
