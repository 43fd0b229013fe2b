"""Head-office approval of branch plugins (maker–checker), enforced by the engine.

A branch (or head office) *requests* approval of an installed plugin for one
branch; the request pins the plugin's name, version and code digest and
carries an impact preview. Only a head-office operator who did not make the
request may *approve* or *reject* it, and head office may later *revoke* an
approval. The engine applies a plugin to a branch only while an approval of
exactly (name, version, digest, branch) stands (``standing`` and ``state``,
in ``brokercrm.plugins.gate``). Seed 001, articles 3 and 12: a branch's
adjustment plan takes effect only after 经纪业务管理总部 approves it.

The request fields are immutable in the database itself; status moves only
pending → approved | rejected and approved → revoked | superseded. Every
step also lands in the append-only audit log.
"""

import json

from sqlite_utils.migrations import Migrations

from ..classify import adjustments
from ..trust import audit
from ..trust import operators
from ..classify.compile import Compiled
from ..kernel.errors import BrokerCRMError
from ..kernel.masking import mask_name
from ..plugins import PluginError
from ..plugins.gate import COLUMNS, STATES, get, standing, state  # noqa: F401  (STATES: part of this API)
from ..policy.sets import current as current_policy
from ..kernel.timeutil import now_iso, today as local_today

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


# -- the impact preview ------------------------------------------------------------

def impact(db, plugins, name, branch, *, today=None, examples=5):
    """Dry run of ``branch`` with and without plugin ``name``: moves per class pair, masked examples."""
    today = today or local_today()
    policy = current_policy(db)
    comp = Compiled(policy, today)
    doc = policy["classification"]
    without = adjustments.plan(db, plugins, comp, doc, today, [branch], leave_out=name)
    with_ = adjustments.plan(db, plugins, comp, doc, today, [branch], force=name)
    for f in with_.failures:
        raise PluginError(f["plugin"], branch, f["error"])
    cls_wo = adjustments.class_columns(comp, without)[0]
    cls_w, adj_w, _ = adjustments.class_columns(comp, with_)
    inner = (f"SELECT c.client_id, c.name, c.kind, {cls_wo} AS wo, {cls_w} AS w, {adj_w} AS adj"
             " FROM clients c WHERE c.branch_id = ?")
    moves = {f"{a} → {b}": n for a, b, n in db.execute(
        f"SELECT wo, w, count(*) FROM ({inner}) WHERE wo IS NOT w GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2", [branch])}
    reasons = {r.id: r.reason for r in with_.all_rules()}
    sample = [
        {"client_id": cid, "name": mask_name(nm), "kind": kind, "from": a, "to": b, "reason": reasons.get(adj)}
        for cid, nm, kind, a, b, adj in db.execute(
            f"SELECT client_id, name, kind, wo, w, adj FROM ({inner}) WHERE wo IS NOT w ORDER BY client_id LIMIT ?",
            [branch, examples])
    ]
    clients = db.execute("SELECT count(*) FROM clients WHERE branch_id = ?", [branch]).fetchone()[0]
    return {"branch": branch, "clients": clients, "moved": sum(moves.values()), "moves": moves,
            "examples": sample, "policy_version": policy.version, "as_of": today.isoformat()}


# -- the workflow ------------------------------------------------------------------

def request(db, plugins, name, branch, *, operator, note=None, today=None):
    """Record a request to approve installed plugin ``name`` for ``branch``; returns the row."""
    op = operators.require(db, operator, action="申请批准插件 (requesting approval)")
    if not db.execute("SELECT 1 FROM branches WHERE code = ?", [branch]).fetchone():
        raise BrokerCRMError(f"营业部 {branch} 不存在 (no such branch)")
    if op["role"] == "branch" and op["branch"] != branch:
        raise BrokerCRMError(
            f"{op['id']} 是营业部 {op['branch']} 的操作员, 不能为 {branch} 申请 (a branch operator requests for its own branch only)"
        )
    info = plugins.require(name)
    aid = standing(db, info.name, info.version, info.digest, branch)
    if aid:
        raise BrokerCRMError(f"{info.name} {info.version} 已获批用于 {branch} (批准 #{aid}), 无需再申请 (already approved)")
    pending = db.execute(
        "SELECT id FROM approvals WHERE plugin = ? AND version = ? AND digest = ? AND branch = ? AND status = 'pending'",
        [info.name, info.version, info.digest, branch],
    ).fetchone()
    if pending:
        raise BrokerCRMError(f"已有待审批的申请 #{pending[0]} (a request for this code and branch is pending)")
    preview = impact(db, plugins, info.name, branch, today=today)
    with db.atomic():
        new_id = db.execute(
            "INSERT INTO approvals (plugin, version, digest, branch, requested_by, requested_at, note, impact)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [info.name, info.version, info.digest, branch, op["id"], now_iso(), note,
             json.dumps(preview, ensure_ascii=False)],
        ).lastrowid
        audit.record(db, "approval.request", operator=op["id"], target=f"approval {new_id}",
                     detail={"plugin": info.name, "version": info.version, "branch": branch, "note": note,
                             "moved": preview["moved"], "moves": preview["moves"]},
                     digest=info.digest)
    return get(db, new_id)


def _decider(db, operator, row, action):
    op = operators.require(db, operator, role="headoffice", action=action)
    if op["id"] == row["requested_by"]:
        raise BrokerCRMError(
            f"{op['id']} 不能审批自己提交的申请 #{row['id']} (maker–checker: nobody decides their own request)"
        )
    return op


def approve(db, plugins, approval_id, *, operator):
    """Head office approves a pending request whose code is still what is installed."""
    row = get(db, approval_id)
    op = _decider(db, operator, row, "审批插件 (approving plugins)")
    if row["status"] != "pending":
        raise BrokerCRMError(f"申请 #{approval_id} 状态为 {row['status']}, 只能批准待审批的申请 (only pending requests)")
    info = plugins.get(row["plugin"])
    if info is None or info.error:
        raise BrokerCRMError(f"插件 {row['plugin']} 未安装或加载失败, 不能批准 (not installed here; cannot approve)")
    if (info.version, info.digest) != (row["version"], row["digest"]):
        raise BrokerCRMError(
            f"已安装的 {info.name} ({info.version}, {info.digest[:12]}) 与申请 #{approval_id} 时"
            f" ({row['version']}, {row['digest'][:12]}) 不同; 请重新申请 (installed code differs from the request)"
        )
    with db.atomic():
        # An older approval of other code for this branch must not come back if that code returns.
        db.execute("UPDATE approvals SET status = 'superseded' WHERE plugin = ? AND branch = ? AND status = 'approved'",
                   [row["plugin"], row["branch"]])
        db.execute("UPDATE approvals SET status = 'approved', decided_by = ?, decided_at = ? WHERE id = ?",
                   [op["id"], now_iso(), approval_id])
        audit.record(db, "approval.approve", operator=op["id"], target=f"approval {approval_id}",
                     detail={"plugin": row["plugin"], "version": row["version"], "branch": row["branch"],
                             "requested_by": row["requested_by"]},
                     digest=row["digest"])
    return get(db, approval_id)


def _close(db, approval_id, operator, reason, *, from_status, to_status, action, label):
    row = get(db, approval_id)
    op = _decider(db, operator, row, label)
    if not reason or not reason.strip():
        raise BrokerCRMError(f"{label}须说明理由 --reason (a reason is required)")
    if row["status"] != from_status:
        raise BrokerCRMError(f"申请 #{approval_id} 状态为 {row['status']}, 不能{label} (status must be {from_status})")
    with db.atomic():
        db.execute("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, decision_reason = ? WHERE id = ?",
                   [to_status, op["id"], now_iso(), reason.strip(), approval_id])
        audit.record(db, action, operator=op["id"], target=f"approval {approval_id}",
                     detail={"plugin": row["plugin"], "version": row["version"], "branch": row["branch"],
                             "reason": reason.strip()},
                     digest=row["digest"])
    return get(db, approval_id)


def reject(db, approval_id, *, operator, reason):
    return _close(db, approval_id, operator, reason, from_status="pending", to_status="rejected",
                  action="approval.reject", label="驳回申请 (rejecting)")


def revoke(db, approval_id, *, operator, reason):
    return _close(db, approval_id, operator, reason, from_status="approved", to_status="revoked",
                  action="approval.revoke", label="撤销批准 (revoking)")


def list_all(db, *, status=None, operator):
    operators.require(db, operator, action="查看审批 (listing approvals)")
    sql = f"SELECT {', '.join(COLUMNS)} FROM approvals"
    params = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    cur = db.execute(sql + " ORDER BY id", params)
    out = []
    for r in cur:
        row = dict(zip(COLUMNS, r))
        row["impact"] = json.loads(row["impact"])
        out.append(row)
    return out


def show(db, approval_id, *, operator):
    operators.require(db, operator, action="查看审批 (showing approvals)")
    return get(db, approval_id)


def plugin_states(db, plugins):
    """Every loaded plugin with its approval state for every branch (for ``plugins list``)."""
    branches = [r[0] for r in db.execute("SELECT code FROM branches ORDER BY code")]
    out = []
    for info in plugins:
        item = info.as_dict()
        item["branches"] = {}
        for b in branches:
            if info.error or not info.digest:
                item["branches"][b] = {"state": "none", "why": f"加载失败 (failed to load): {info.error}"}
                continue
            st, why = state(db, info.name, info.version, info.digest, b)
            item["branches"][b] = {"state": st, "why": why}
        out.append(item)
    return out
