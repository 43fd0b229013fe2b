"""Investor type: professional or ordinary (证券期货投资者适当性管理办法 Art. 8–12).

Professional by the policy's Art. 8 rules (declarative, over the client
record); everyone else ordinary. An ordinary investor may ask to be treated
as professional (Art. 11) when the conversion thresholds are met, and a
professional may ask to be treated as ordinary (also Art. 11). A request records
its evidence; the decision is taken by someone other than the requester
(maker–checker), recorded and audited. The latest approved request wins over
the rules — the suitability SQL reads the same table.
"""

import json

from ..trust import audit, authz
from ..kernel import rows
from ..kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound
from ..kernel.rules import compile_condition
from .policy import client_rule_fields, condition, load as load_policy
from ..kernel.timeutil import now_iso, today as local_today
from ..kernel.sql_filters import where_equal

LABELS = {"professional": "专业投资者", "ordinary": "普通投资者"}


def _matching_rules(db, client_id, rules, where):
    """Reasons of the rules (client conditions only) that the client meets."""
    fields = client_rule_fields(local_today())
    met = []
    for i, rule in enumerate(rules):
        sql, params = compile_condition(condition(rule), fields, f"{where}[{i}]")
        if db.execute(f"SELECT 1 FROM clients c WHERE c.client_id = ? AND ({sql})", [client_id, *params]).fetchone():
            met.append(rule["reason"])
    return met


def investor_type(db, client_id):
    """{"type", "label", "reason", "source"} for one client."""
    rows.client(db, client_id)
    policy = load_policy(db)
    decided = db.execute(
        "SELECT id, target, decided_by, decided_at FROM investor_type_requests WHERE client_id = ?"
        " AND status = 'approved' ORDER BY decided_at DESC, id DESC LIMIT 1", [client_id]).fetchone()
    if decided:
        return {"type": decided[1], "label": LABELS[decided[1]], "source": f"request #{decided[0]}",
                "reason": f"转换申请 #{decided[0]} 已由 {decided[2]} 于 {decided[3]} 批准 (approved conversion)"}
    met = _matching_rules(db, client_id, policy.doc["investor_type"]["professional"], "investor_type.professional")
    if met:
        return {"type": "professional", "label": LABELS["professional"], "source": policy.source,
                "reason": f"{policy.source}: {met[0]}"}
    return {"type": "ordinary", "label": LABELS["ordinary"], "source": policy.source,
            "reason": f"{policy.source}: 未达专业投资者条件 (Art. 8 thresholds not met)"}


def _branch(db, client_id):
    """The client's branch; NotFound if there is no such client."""
    return rows.client(db, client_id)["branch_id"]


def request(db, actor, client_id, *, evidence, target="professional", note=None):
    """Record a conversion request with its evidence and the eligibility found under the policy."""
    authz.require(actor, "investor_type.request", branch=_branch(db, client_id))
    evidence = (evidence or "").strip()
    if not evidence:
        raise BrokerCRMError("须提供证明材料编号 --evidence REF (evidence is required)")
    if target not in LABELS:
        raise BrokerCRMError(f"目标类型须为 professional 或 ordinary (target must be professional|ordinary), got {target!r}")
    current = investor_type(db, client_id)
    if current["type"] == target:
        raise Conflict(f"客户 {client_id} 已是{LABELS[target]} ({target} already)")
    if db.execute("SELECT 1 FROM investor_type_requests WHERE client_id = ? AND status = 'pending'",
                  [client_id]).fetchone():
        raise Conflict(f"客户 {client_id} 已有待决的转换申请 (a request is already pending)")
    policy = load_policy(db)
    if target == "professional":
        met = _matching_rules(db, client_id, policy.doc["investor_type"]["conversion"], "investor_type.conversion")
        eligible = bool(met)
        why = met or [f"{policy.source}: 未达 Art. 11 转换条件 (conversion thresholds not met)"]
    else:  # Art. 11: a professional may always ask to be treated as ordinary
        eligible, why = True, ["Art. 11: 专业投资者可申请转化为普通投资者 (may always ask to be treated as ordinary)"]
    with db.atomic():
        request_id = db.execute(
            "INSERT INTO investor_type_requests (client_id, target, evidence, note, eligible, eligibility,"
            " requested_by, requested_at, status, policy_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
            [client_id, target, evidence, note, int(eligible), json.dumps(why, ensure_ascii=False), actor.id,
             now_iso(), policy.version],
        ).lastrowid
        audit.record(db, "investor_type.request", actor=actor, target=client_id,
                     detail={"request": request_id, "target": target, "evidence": evidence, "eligible": eligible})
    return get(db, request_id)


def decide(db, actor, request_id, *, approve, note=None):
    """Approve or reject a pending request; never by its requester; approval needs eligibility."""
    req = get(db, request_id)
    authz.require(actor, "investor_type.decide", branch=_branch(db, req["client_id"]))
    if req["status"] != "pending":
        raise Conflict(f"申请 #{request_id} 已{req['status']} (already decided)")
    if actor.id == req["requested_by"]:
        raise Forbidden(f"申请人 {actor.id} 不能决定自己的申请 (nobody decides their own request)")
    if not approve and not (note or "").strip():
        raise BrokerCRMError("驳回须说明理由 --reason TEXT (a rejection needs a reason)")
    if approve and not req["eligible"]:
        raise Conflict(f"申请 #{request_id} 未达转换条件, 不能批准 (not eligible): " + "; ".join(req["eligibility"]))
    status = "approved" if approve else "rejected"
    with db.atomic():
        db.execute(
            "UPDATE investor_type_requests SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?"
            " WHERE id = ?", [status, actor.id, now_iso(), note, request_id])
        audit.record(db, f"investor_type.{'approve' if approve else 'reject'}", actor=actor,
                     target=req["client_id"], detail={"request": request_id, "target": req["target"], "note": note})
    return get(db, request_id)


COLUMNS = ("id", "client_id", "target", "evidence", "note", "eligible", "eligibility", "requested_by",
           "requested_at", "status", "decided_by", "decided_at", "decision_note", "policy_version")


def _row(row):
    obj = dict(zip(COLUMNS, row))
    obj["eligible"] = bool(obj["eligible"])
    obj["eligibility"] = json.loads(obj["eligibility"])
    return obj


def get(db, request_id):
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM investor_type_requests WHERE id = ?", [request_id]).fetchone()
    if row is None:
        raise NotFound(f"转换申请 #{request_id} 不存在 (no such request)")
    return _row(row)


def show(db, actor, client_id):
    """A client's investor type, for someone allowed to read the client."""
    authz.require(actor, "client.read", branch=_branch(db, client_id))
    return investor_type(db, client_id)


def list_requests(db, actor, *, status=None, client_id=None):
    branch = authz.branch_filter(actor, "suitability.read")
    where, params = where_equal({"status": status, "client_id": client_id},
                                extra=[("client_id IN (SELECT client_id FROM clients WHERE branch_id = ?)", [branch])]
                                if branch else ())
    sql = f"SELECT {', '.join(COLUMNS)} FROM investor_type_requests" + where
    return [_row(r) for r in db.execute(sql + " ORDER BY id", params)]
