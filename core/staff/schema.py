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
