"""The approvals table's schema (named Migrations set ``brokercrm.approvals``).

The table records requests and mirrors head office's decisions for
display; the decisions themselves are signed audit rows that
``brokercrm.plugins.gate`` verifies. The triggers refuse the obvious
forgeries as a second line: a row inserted as anything but a pending
request, a status moved without a decision audit row, an edited request.
"""

from sqlite_utils.migrations import Migrations

migrations = Migrations("brokercrm.approvals")


@migrations()
def m001_approvals(db):
    db.executescript(
        """
        CREATE TABLE approvals (
            id INTEGER PRIMARY KEY,
            plugin TEXT NOT NULL,
            version TEXT NOT NULL,
            digest TEXT NOT NULL,
            branch TEXT NOT NULL REFERENCES branches(code),
            requested_by TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            note TEXT,
            impact TEXT NOT NULL,          -- JSON: moves per class pair, masked examples
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected', 'revoked', 'superseded')),
            decided_by TEXT,               -- approver or rejecter; for revoked, who revoked
            decided_at TEXT,
            decision_reason TEXT
        );
        CREATE INDEX approvals_plugin_branch ON approvals(plugin, branch);
        CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
        BEGIN SELECT RAISE(ABORT, 'approvals are never deleted'); END;
        CREATE TRIGGER approvals_request_immutable BEFORE UPDATE ON approvals
        WHEN NEW.plugin IS NOT OLD.plugin OR NEW.version IS NOT OLD.version OR NEW.digest IS NOT OLD.digest
          OR NEW.branch IS NOT OLD.branch OR NEW.requested_by IS NOT OLD.requested_by
          OR NEW.requested_at IS NOT OLD.requested_at OR NEW.impact IS NOT OLD.impact
          OR NOT ((OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected'))
               OR (OLD.status = 'approved' AND NEW.status IN ('revoked', 'superseded')))
        BEGIN SELECT RAISE(ABORT, 'an approval request is immutable; status moves forward only'); END;
        """
    )


@migrations()
def m002_signed_requests(db):
    for col, decl in (("rules", "TEXT"), ("policy_version", "INTEGER"), ("request_audit_id", "INTEGER"),
                      ("decision_audit_id", "INTEGER")):
        db.execute(f"ALTER TABLE approvals ADD COLUMN {col} {decl}")
    db.executescript(
        """
        DROP TRIGGER approvals_request_immutable;
        CREATE TRIGGER approvals_insert_pending BEFORE INSERT ON approvals
        WHEN NEW.status IS NOT 'pending' OR NEW.decided_by IS NOT NULL OR NEW.decision_audit_id IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'a new approval row is a pending request; decisions are signed audit rows'); END;
        CREATE TRIGGER approvals_request_immutable BEFORE UPDATE ON approvals
        WHEN NEW.plugin IS NOT OLD.plugin OR NEW.version IS NOT OLD.version OR NEW.digest IS NOT OLD.digest
          OR NEW.branch IS NOT OLD.branch OR NEW.requested_by IS NOT OLD.requested_by
          OR NEW.requested_at IS NOT OLD.requested_at OR NEW.impact IS NOT OLD.impact
          OR NEW.rules IS NOT OLD.rules OR NEW.policy_version IS NOT OLD.policy_version
          OR (OLD.request_audit_id IS NOT NULL AND NEW.request_audit_id IS NOT OLD.request_audit_id)
          OR (NEW.status IS NOT OLD.status AND NOT (
                ((OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected'))
                 OR (OLD.status = 'approved' AND NEW.status = 'revoked'))
                AND NEW.decision_audit_id IS NOT OLD.decision_audit_id
                AND EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.decision_audit_id
                            AND action = CASE NEW.status WHEN 'approved' THEN 'approval.approve'
                              WHEN 'rejected' THEN 'approval.reject' WHEN 'revoked' THEN 'approval.revoke' END)
             ) AND NOT (OLD.status = 'approved' AND NEW.status = 'superseded'))
        BEGIN SELECT RAISE(ABORT, 'an approval request is immutable; status moves only with a signed decision'); END;
        """
    )
