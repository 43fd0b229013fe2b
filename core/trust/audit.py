"""The append-only audit log: who did what, when, to what, with which digest."""

import json

from ..kernel.timeutil import now_iso


def record(db, action, *, operator=None, target=None, detail=None, digest=None):
    """Append one audit row. ``detail`` must never hold unmasked personal data."""
    db.execute(
        "INSERT INTO audit_log (at, operator, action, target, detail, digest) VALUES (?, ?, ?, ?, ?, ?)",
        [
            now_iso(),
            operator,
            action,
            target,
            json.dumps(detail, ensure_ascii=False) if detail is not None else None,
            digest,
        ],
    )
