"""Head-office approval of branch plugins (maker–checker), signed end to end.

Seed 001, articles 3 and 12: a branch's adjustment plan takes effect only
after 经纪业务管理总部 approves it.

- **request**: a branch (or head-office) operator asks for an installed
  plugin's exact code for one branch. The request pins name, version, code
  digest and the *rules fingerprints*: what the plugin's declarative hooks
  return for that branch under the policy version in force, computed in an
  isolated worker. It carries an impact preview and is signed by the
  requester (its ``approval.request`` audit row).
- **approve / reject**: a head-office operator who is another person
  (another id, another key, and not holding a key the requester
  generated) decides. **revoke** stops a plugin and is always the safe
  direction: any head-office operator may revoke, the requester included. Approving re-computes the rules fingerprints and
  refuses if they differ. The decision is a signed audit row over (request
  id, plugin, version, digest, rules, branch, decision, time): that row is
  what the engine believes (``plugins.gate``), never this table's status.
"""

import json

from ..classify import adjustments
from ..classify.compile import Compiled
from ..kernel.errors import BrokerCRMError
from ..kernel.masking import mask_name
from ..kernel.timeutil import now_iso, today as local_today
from ..plugins import gate
from ..plugins.isolation import PluginError
from ..policy.sets import current as current_policy
from ..trust import audit, authz, certs

COLUMNS = ("id", "plugin", "version", "digest", "branch", "requested_by", "requested_at", "note", "impact",
           "status", "decided_by", "decided_at", "decision_reason", "rules", "policy_version",
           "request_audit_id", "decision_audit_id")


def _load(row):
    row["impact"] = json.loads(row["impact"])
    row["rules"] = json.loads(row["rules"]) if row.get("rules") else {}
    return row


def get(db, approval_id):
    cur = db.execute(f"SELECT {', '.join(COLUMNS)} FROM approvals WHERE id = ?", [approval_id])
    found = cur.fetchone()
    if found is None:
        raise BrokerCRMError(f"审批 #{approval_id} 不存在 (no such approval request)")
    return _load(dict(zip(COLUMNS, found)))


def rules_fingerprints(db, host, name, branch, *, today=None):
    """{hook: fingerprint} of what the plugin's declarative hooks return for ``branch`` now."""
    today = today or local_today()
    policy = current_policy(db)
    args = {"classification_adjustments": {"policy": policy["classification"], "today": today.isoformat()},
            "suitability_checks": {}, "behaviour_rules": {}}
    hooks = host.hooks(name)
    out = {}
    for hook in gate.DECLARATIVE_HOOKS:
        if hook in hooks:
            out[hook] = gate.rules_fingerprint(host.call(name, hook, branch=branch, **args[hook]))
    return out, policy.version


def impact(db, host, name, branch, *, today=None, examples=5, root=None):
    """Dry run of ``branch`` with and without plugin ``name``: moves per class pair, masked examples."""
    today = today or local_today()
    policy = current_policy(db)
    comp = Compiled(policy, today)
    doc = policy["classification"]
    without = adjustments.plan(db, host, comp, doc, today, [branch], root=root, leave_out=name)
    with_ = adjustments.plan(db, host, comp, doc, today, [branch], root=root, force=name)
    for f in with_.failures:
        if f["plugin"] == name:
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


def request(db, host, actor, name, branch, *, note=None, today=None):
    """Record a signed request to approve installed plugin ``name`` for ``branch``; returns the row."""
    authz.require(actor, "approval.request", branch=branch)
    if not db.execute("SELECT 1 FROM branches WHERE code = ?", [branch]).fetchone():
        raise BrokerCRMError(f"营业部 {branch} 不存在 (no such branch)")
    info = host.require(name)
    current = gate.decision(db, actor.root, info.name, branch)
    if isinstance(current, gate.Decision) and current.approved and (current.version, current.digest) == (
            info.version, info.digest):
        raise BrokerCRMError(f"{info.name} {info.version} 已获批用于 {branch} (批准 #{current.approval_id}), 无需再申请")
    pending = db.execute(
        "SELECT id FROM approvals WHERE plugin = ? AND version = ? AND digest = ? AND branch = ? AND status = 'pending'",
        [info.name, info.version, info.digest, branch]).fetchone()
    if pending:
        raise BrokerCRMError(f"已有待审批的申请 #{pending[0]} (a request for this code and branch is pending)")
    rules, policy_version = rules_fingerprints(db, host, info.name, branch, today=today)
    preview = impact(db, host, info.name, branch, today=today, root=actor.root)
    with db.atomic():
        new_id = db.execute(
            "INSERT INTO approvals (plugin, version, digest, branch, requested_by, requested_at, note, impact,"
            " rules, policy_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [info.name, info.version, info.digest, branch, actor.id, now_iso(), note,
             json.dumps(preview, ensure_ascii=False), json.dumps(rules, sort_keys=True), policy_version],
        ).lastrowid
        audit_id = audit.record(db, "approval.request", actor=actor, target=gate.target(info.name, branch),
                                detail={"request": new_id, "plugin": info.name, "version": info.version,
                                        "digest": info.digest, "rules": rules, "branch": branch, "note": note,
                                        "policy_version": policy_version, "moved": preview["moved"],
                                        "moves": preview["moves"]},
                                digest=info.digest)
        db.execute("UPDATE approvals SET request_audit_id = ? WHERE id = ?", [audit_id, new_id])
    return get(db, new_id)


def _verified_request(db, row, root):
    """The request's own signed audit row must match the row (a row added with sqlite3 has none)."""
    found = db.execute("SELECT * FROM audit_log WHERE id = ? AND action = 'approval.request'",
                       [row["request_audit_id"]]).fetchone() if row["request_audit_id"] else None
    if found is None:
        raise BrokerCRMError(f"申请 #{row['id']} 没有签名的申请记录, 不能审批 (request is not signed: forged?)")
    cur = db.execute("SELECT * FROM audit_log WHERE id = ?", [row["request_audit_id"]])
    rec = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    why = audit.verify_row(db, rec, root)
    detail = json.loads(rec["detail"]) if why is None else {}
    binding = ("plugin", "version", "digest", "branch", "rules")
    if why is None and (rec["operator"] != row["requested_by"] or detail.get("request") != row["id"]
                        or any(detail.get(k) != row[k] for k in binding)):
        why = "与申请表记录不符 (differs from the request row)"
    if why:
        raise BrokerCRMError(f"申请 #{row['id']} 的签名记录未通过验证, 不能审批: {why}")
    return rec


def _decider(db, actor, row):
    authz.require(actor, "approval.decide", branch=row["branch"])
    req = _verified_request(db, row, actor.root)
    if actor.id == row["requested_by"] or actor.fingerprint == req["key_fingerprint"]:
        raise authz.Forbidden(
            f"{actor.id} 不能审批自己提交的申请 #{row['id']} (maker–checker: nobody decides their own request)")
    me = certs.verify_operator(db, actor.id, actor.root)
    if me.custody == "issuer" and me.issued_by == row["requested_by"]:
        raise authz.Forbidden(
            f"{actor.id} 的密钥由申请人 {row['requested_by']} 生成, 不能审批其申请 (the requester holds this key)")
    return req


def _decide(db, actor, row, action, status, *, reason=None, extra=None):
    detail = {"request": row["id"], "plugin": row["plugin"], "version": row["version"], "digest": row["digest"],
              "rules": row["rules"], "branch": row["branch"], "decision": status,
              "requested_by": row["requested_by"], "reason": reason, **(extra or {})}
    with db.atomic():
        audit_id = audit.record(db, action, actor=actor, target=gate.target(row["plugin"], row["branch"]),
                                detail=detail, digest=row["digest"])
        db.execute("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, decision_reason = ?,"
                   " decision_audit_id = ? WHERE id = ?",
                   [status, actor.id, now_iso(), reason, audit_id, row["id"]])
    return get(db, row["id"])


def approve(db, host, actor, approval_id, *, today=None):
    """Head office approves a pending request whose code and rules are still what was requested."""
    row = get(db, approval_id)
    req = _decider(db, actor, row)
    if row["status"] != "pending":
        raise BrokerCRMError(f"申请 #{approval_id} 状态为 {row['status']}, 只能批准待审批的申请 (only pending requests)")
    info = host.get(row["plugin"])
    if info is None or info.error:
        raise BrokerCRMError(f"插件 {row['plugin']} 未安装或无法读取, 不能批准 (not installed here; cannot approve)")
    if (info.version, info.digest) != (row["version"], row["digest"]):
        raise BrokerCRMError(
            f"已安装的 {info.name} ({info.version}, {info.digest[:12]}) 与申请 #{approval_id} 时"
            f" ({row['version']}, {row['digest'][:12]}) 不同; 请重新申请 (installed code differs from the request)")
    rules, _ = rules_fingerprints(db, host, info.name, row["branch"], today=today)
    if rules != row["rules"]:
        changed = sorted(h for h in set(rules) | set(row["rules"]) if rules.get(h) != row["rules"].get(h))
        raise BrokerCRMError(
            f"插件现在返回的规则与申请时不同 ({', '.join(changed)}): 行为不可复现, 不能批准"
            f" (the rules differ from the request; not reproducible)")
    return _decide(db, actor, row, "approval.approve", "approved",
                   extra={"requester_fingerprint": req["key_fingerprint"]})


def _close(db, actor, approval_id, reason, *, from_status, to_status, action, label):
    row = get(db, approval_id)
    if not reason or not reason.strip():
        raise BrokerCRMError(f"{label}须说明理由 --reason (a reason is required)")
    _decider(db, actor, row) if to_status == "rejected" else authz.require(actor, "approval.decide",
                                                                          branch=row["branch"])
    if row["status"] != from_status:
        raise BrokerCRMError(f"申请 #{approval_id} 状态为 {row['status']}, 不能{label} (status must be {from_status})")
    return _decide(db, actor, row, action, to_status, reason=reason.strip())


def reject(db, actor, approval_id, *, reason):
    return _close(db, actor, approval_id, reason, from_status="pending", to_status="rejected",
                  action="approval.reject", label="驳回申请 (rejecting)")


def revoke(db, actor, approval_id, *, reason):
    return _close(db, actor, approval_id, reason, from_status="approved", to_status="revoked",
                  action="approval.revoke", label="撤销批准 (revoking)")


def list_all(db, actor, *, status=None):
    branch = authz.branch_filter(actor, "approval.read")
    sql, params, where = f"SELECT {', '.join(COLUMNS)} FROM approvals", [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if branch:
        where.append("branch = ?")
        params.append(branch)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [_load(dict(zip(COLUMNS, r))) for r in db.execute(sql + " ORDER BY id", params)]


def show(db, actor, approval_id):
    row = get(db, approval_id)
    authz.require(actor, "approval.read", branch=row["branch"])
    return row


def plugin_states(db, host, root):
    """Every installed plugin with its approval state for every branch (for ``plugins list``)."""
    branches = [r[0] for r in db.execute("SELECT code FROM branches ORDER BY code")]
    out = []
    for info in host:
        item = info.as_dict()
        item["branches"] = {}
        for b in branches:
            st, why = gate.state(db, root, info, b)
            item["branches"][b] = {"state": st, "why": why}
        out.append(item)
    return out
