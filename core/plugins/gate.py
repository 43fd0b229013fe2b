"""The approval gate: may this plugin's code act for this branch?

The engine applies a plugin to a branch only while head office's approval
of exactly (name, version, digest, branch) stands (``standing``); ``state``
says in words why not otherwise. The gate only *reads* the ``approvals``
table; the request/approve/reject/revoke workflow that writes it lives in
``brokercrm.governance.approvals``. Keeping the check here, below both the
classification engine and the workflow, is what lets either call it
without importing the other.
"""

import json

from ..kernel.errors import BrokerCRMError

STATES = ("approved", "pending", "changed since approval", "revoked", "rejected", "none")
COLUMNS = ("id", "plugin", "version", "digest", "branch", "requested_by", "requested_at", "note", "impact",
           "status", "decided_by", "decided_at", "decision_reason")


def _row(db, sql, params):
    cur = db.execute(sql, params)
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else None


def get(db, approval_id):
    row = _row(db, f"SELECT {', '.join(COLUMNS)} FROM approvals WHERE id = ?", [approval_id])
    if row is None:
        raise BrokerCRMError(f"审批 #{approval_id} 不存在 (no such approval request)")
    row["impact"] = json.loads(row["impact"])
    return row


def standing(db, name, version, digest, branch):
    """The id of the approval of exactly (name, version, digest, branch) in force, or None."""
    row = db.execute(
        "SELECT id FROM approvals WHERE plugin = ? AND version = ? AND digest = ? AND branch = ?"
        " AND status = 'approved' ORDER BY id DESC LIMIT 1",
        [name, version, digest, branch],
    ).fetchone()
    return row[0] if row else None


def state(db, name, version, digest, branch):
    """(state, why) of a plugin's installed code for a branch; state is one of STATES."""
    aid = standing(db, name, version, digest, branch)
    if aid:
        a = get(db, aid)
        return "approved", f"批准 #{aid}, {a['decided_by']} {a['decided_at']} (approved)"
    last = _row(db, "SELECT id, version, digest, status, decided_by, decision_reason FROM approvals"
                    " WHERE plugin = ? AND branch = ? AND status != 'superseded' ORDER BY id DESC LIMIT 1",
                [name, branch])
    if last is None:
        others = [r[0] for r in db.execute(
            "SELECT DISTINCT branch FROM approvals WHERE plugin = ? AND status = 'approved' ORDER BY branch", [name])]
        if others:
            return "none", f"只批准用于 {', '.join(others)}, 未批准用于 {branch} (approved for another branch only)"
        return "none", f"未申请用于 {branch} (no approval requested for this branch)"
    n = last["id"]
    if last["status"] == "pending":
        return "pending", f"申请 #{n} 待总部审批 (awaiting head office)"
    if last["status"] == "rejected":
        return "rejected", f"申请 #{n} 被 {last['decided_by']} 驳回 (rejected): {last['decision_reason']}"
    if last["status"] == "revoked":
        return "revoked", f"批准 #{n} 已被 {last['decided_by']} 撤销 (revoked): {last['decision_reason']}"
    if last["version"] != version:
        why = f"版本已变 (version changed) {last['version']} → {version}, 批准 #{n} 不再适用"
    else:
        why = f"代码已改 (code changed): 摘要 {last['digest'][:12]} → {(digest or '?')[:12]}, 批准 #{n} 不再适用"
    return "changed since approval", why


def approved_anywhere(db, info):
    """Whether this exact code of the plugin is approved for at least one branch."""
    return db.execute(
        "SELECT 1 FROM approvals WHERE plugin = ? AND version = ? AND digest = ? AND status = 'approved' LIMIT 1",
        [info.name, info.version, info.digest],
    ).fetchone() is not None


def approved_for(db, plugins, branch):
    """Plugins whose approval for ``branch`` stands, in name order."""
    return [info for info in plugins if not info.error
            and standing(db, info.name, info.version, info.digest, branch)]
