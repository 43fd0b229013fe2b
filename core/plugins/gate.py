"""The approval gate: may this exact plugin code act for this branch, now?

Head office's decisions are signed audit rows (``approval.approve`` and
``approval.revoke``, target ``plugin:<name>@<branch>``), not the status
column of the ``approvals`` table: that column is a display cache which an
``UPDATE`` with sqlite3 can change but the engine never believes. For each
(plugin, branch) the latest decision row counts, and it counts only if
- its row hash and signature verify (``audit.verify_row``),
- its signer is a trusted head-office operator (certificate chain to the
  trust root, not revoked), and
- the requester it names is another person (another key).
An approve decision binds (request id, plugin, version, code digest, rules
fingerprints, branch, time); the installed code must match the first four
and the rules a plugin returns at run time must match the fingerprints
(``rules_fingerprint``). Anything that fails is reported, never applied.
"""

import hashlib
import json
from dataclasses import dataclass

from ..trust import audit, certs, keys
from ..trust import root as trust_root
from .isolation import PluginError

DECISIONS = ("approval.approve", "approval.revoke")
DECLARATIVE_HOOKS = ("classification_adjustments", "suitability_checks", "behaviour_rules")


def target(plugin, branch):
    return f"plugin:{plugin}@{branch}"


def rules_fingerprint(result):
    """SHA-256 of what a declarative hook returned, in canonical JSON (after the wire round trip)."""
    return hashlib.sha256(keys.canonical(json.loads(json.dumps(result, default=str)))).hexdigest()


@dataclass(frozen=True)
class Decision:
    """A verified head-office decision for one (plugin, branch)."""

    audit_id: int
    action: str
    plugin: str
    branch: str
    approval_id: int
    version: str | None
    digest: str | None
    rules: dict
    decided_by: str
    decided_at: str
    reason: str | None = None

    @property
    def approved(self):
        return self.action == "approval.approve"


@dataclass(frozen=True)
class Refused:
    """A decision row that does not verify: the branch must not run the plugin, and must say why."""

    plugin: str
    branch: str
    audit_id: int
    why: str


def _latest_rows(db, plugin=None, branch=None):
    sql = ("SELECT a.* FROM audit_log a JOIN (SELECT target, max(id) AS id FROM audit_log"
           f" WHERE action IN ({', '.join('?' for _ in DECISIONS)})")
    params = list(DECISIONS)
    if plugin is not None:
        sql += " AND target = ?"
        params.append(target(plugin, branch))
    sql += " GROUP BY target) last ON a.id = last.id ORDER BY a.id"
    cur = db.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur]


def _check(db, row, root):
    """A Decision or a Refused for one decision audit row."""
    plugin, _, branch = (row["target"] or "").removeprefix("plugin:").rpartition("@")
    why = audit.verify_row(db, row, root)
    detail = None
    if why is None:
        try:
            detail = json.loads(row["detail"])
        except (TypeError, ValueError):
            why = "审批记录内容无法解析 (decision record unreadable)"
    if why is None:
        try:
            decider = certs.verify_operator(db, row["operator"], root)
            if decider.role != "headoffice":
                why = f"签署人 {decider.id} 不是总部操作员 (signer is not head office)"
        except certs.Untrusted as e:
            why = f"签署人不受信任 (signer not trusted): {e}"
    if why is None and (detail.get("plugin"), detail.get("branch")) != (plugin, branch):
        why = "审批记录与其目标不符 (decision does not match its target)"
    if why is None and row["action"] == "approval.approve" and (
            detail.get("requested_by") == row["operator"]
            or detail.get("requester_fingerprint") == row["key_fingerprint"]):
        why = "申请人与审批人是同一人 (requester and decider are the same person)"
    if why is None and row["action"] == "approval.approve":
        why = _unrequested(db, row, detail, decider, root)
    if why:
        return Refused(plugin, branch, row["id"], f"审批记录 (audit #{row['id']}) 未通过验证, 不予执行: {why}")
    return Decision(row["id"], row["action"], plugin, branch, int(detail.get("request") or 0),
                    detail.get("version"), detail.get("digest"), detail.get("rules") or {},
                    row["operator"], row["at"], detail.get("reason"))


REQUEST_BINDING = ("plugin", "version", "digest", "branch", "rules")


def _unrequested(db, row, detail, decider, root):
    """Why an approval does not answer a signed request made by another person, or None.

    Maker–checker is checked here, where the engine believes decisions, not
    only in the workflow: a head-office key that signs an "approval" nobody
    requested, names a requester who never asked, or decides its own request
    through a key it generated, approves nothing.
    """
    cur = db.execute("SELECT * FROM audit_log WHERE action = 'approval.request' AND target = ? AND id < ?"
                     " AND json_extract(detail, '$.request') = ? ORDER BY id DESC LIMIT 1",
                     [row["target"], row["id"], detail.get("request")])
    found = cur.fetchone()
    if found is None:
        return "没有对应的已签名申请 (no signed request for this approval)"
    req = dict(zip([d[0] for d in cur.description], found))
    bad = audit.verify_row(db, req, root)
    if bad:
        return f"对应的申请记录 (audit #{req['id']}) 未通过验证 (request does not verify): {bad}"
    asked = json.loads(req["detail"])
    if any(asked.get(k) != detail.get(k) for k in REQUEST_BINDING) or req["operator"] != detail.get("requested_by"):
        return f"审批与申请 (audit #{req['id']}) 不符 (approval does not match its signed request)"
    if req["operator"] == row["operator"] or req["key_fingerprint"] == row["key_fingerprint"]:
        return "申请人与审批人是同一人 (requester and decider are the same person)"
    if decider.custody == "issuer" and decider.issued_by == req["operator"]:
        return f"审批人的密钥由申请人 {req['operator']} 生成 (the requester holds the decider's key)"
    return None


def _broken_after(db, rows):
    """Refuse every decision if the log lost rows after the oldest of them (a deleted revocation).

    A cheap SQL look at ids and chain links, not signatures: it catches a
    row deleted from the middle of the log, with or without renumbering; a
    rewrite of every later hash, or a cut tail, is ``audit verify``'s to find
    (with the signatures and the recorded chain heads).
    """
    if not rows:
        return None
    broken = audit.first_break(db, min(r["id"] for r in rows))
    if broken is None:
        return None
    return f"审计日志在第 {broken} 行断开, 请运行 brokercrm audit verify (the audit log is broken at row {broken})"


def _checked(db, rows, root):
    broken = _broken_after(db, rows)
    out = []
    for row in rows:
        checked = _check(db, row, root)
        if broken:
            checked = Refused(checked.plugin, checked.branch, row["id"], broken)
        out.append(checked)
    return out


def decisions(db, root):
    """Every (plugin, branch)'s latest decision, verified: {(plugin, branch): Decision | Refused}."""
    return {(c.plugin, c.branch): c for c in _checked(db, _latest_rows(db), root)}


def decision(db, root, plugin, branch):
    rows = _latest_rows(db, plugin, branch)
    return _checked(db, rows, root)[0] if rows else None


def in_force(db, root, branch=None):
    """{(plugin, branch): Decision | Refused} for pairs whose latest decision is an approval, or refused."""
    return {k: v for k, v in decisions(db, root).items()
            if (branch is None or k[1] == branch) and (isinstance(v, Refused) or v.approved)}


def state(db, root, info, branch, *, decision_=None):
    """(state, why) of an installed plugin (``info``: name, version, digest, error) for a branch."""
    d = decision_ or decision(db, root, info.name, branch)
    if isinstance(d, Refused):
        return "forged", d.why
    if d is None or not d.approved:
        row = db.execute("SELECT id, status, decided_by, decision_reason FROM approvals"
                         " WHERE plugin = ? AND branch = ? ORDER BY id DESC LIMIT 1", [info.name, branch]).fetchone()
        if d is not None:
            return "revoked", f"批准已被 {d.decided_by} 撤销 (revoked, audit #{d.audit_id}): {d.reason or '-'}"
        if row and row[1] == "pending":
            return "pending", f"申请 #{row[0]} 待总部审批 (awaiting head office)"
        if row and row[1] == "rejected":
            return "rejected", f"申请 #{row[0]} 被 {row[2]} 驳回 (rejected): {row[3]}"
        return "none", f"未获批准用于 {branch} (not approved for this branch)"
    if info.error:
        return "failed", f"已批准但无法加载 (approved but cannot load): {info.error}"
    if d.version != info.version:
        return "changed since approval", f"版本已变 (version changed) {d.version} → {info.version}, 批准 #{d.approval_id} 不再适用"
    if d.digest != info.digest:
        return "changed since approval", (f"代码已改 (code changed): 摘要 {d.digest[:12]} → {(info.digest or '?')[:12]},"
                                          f" 批准 #{d.approval_id} 不再适用")
    return "approved", f"批准 #{d.approval_id}, {d.decided_by} {d.decided_at} (approved)"


def approved_for(db, host, branch, *, root=None):
    """[(Installed, Decision)] of the plugins in force for ``branch`` whose installed code matches.

    An approval that stands for a plugin that is missing, unreadable,
    changed, or whose decision does not verify raises ``PluginError``
    naming plugin, branch and reason: the branch must not run as if the
    plugin were simply absent.
    """
    root = root or trust_root.for_db(db)
    out = []
    for (name, _), d in sorted(in_force(db, root, branch).items()):
        if isinstance(d, Refused):
            raise PluginError(name, branch, d.why)
        info = host.get(name)
        if info is None:
            raise PluginError(name, branch, f"已获批准 (批准 #{d.approval_id}) 但未安装 (approved but not installed)")
        st, why = state(db, root, info, branch, decision_=d)
        if st != "approved":
            raise PluginError(name, branch, why)
        out.append((info, d))
    return out
