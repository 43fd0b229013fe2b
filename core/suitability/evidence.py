"""Evidence of every suitability act (留痕): what the client was shown and acknowledged.

One append-only row per act: the act, what was shown (the assessment result, the matching
opinion with its verdict and reasons, the product), the text shown (template id, version and
SHA-256 from the evidence policy), the channel, the time, the operator, the client's
acknowledgement (the reference of the signed form), and — where a 双录 rule of the policy
applies (办法 Art. 24) — the recording's reference, SHA-256 and duration. An act that a rule
says needs a recording is refused without one, before anything is written.

``suitability.engine.confirm`` records its act here (``confirmation``) inside its own
transaction; ``record`` serves the other acts (``suitability evidence record``).
"""

import json
import re

from ..kernel import rows
from ..kernel.errors import BrokerCRMError, Conflict, ValidationFailed
from ..kernel.timeutil import iso, now, now_iso, parse_moment
from ..trust import audit, authz, keys
from . import evidence_policy
from .evidence_policy import ACTS, UNSPECIFIED

HEX64 = re.compile(r"[0-9a-f]{64}")
# Names people use for the acts (Chinese and short English) -> the act.
ACT_ALIASES = {
    "assessment": "assessment_result", "测评结果": "assessment_result", "风险测评结果": "assessment_result",
    "opinion": "matching_opinion", "匹配意见": "matching_opinion", "适当性匹配意见": "matching_opinion",
    "warning": "risk_warning", "disclosure": "risk_warning", "风险揭示": "risk_warning", "风险警示": "risk_warning",
    "notice": "special_notice", "特别提示": "special_notice",
}


def _refuse(field, why):
    raise ValidationFailed(f"{field}: {why}")


def recording_from(ref=None, sha256=None, seconds=None):
    """A recording dict from the three parts given, or None; every part is required with the others."""
    if ref is None and sha256 is None and seconds is None:
        return None
    ref = (ref or "").strip()
    if not ref:
        _refuse("recording_ref", "须提供录音录像的存档编号 (the recording's reference is required)")
    sha = (sha256 or "").strip().lower()
    if not HEX64.fullmatch(sha):
        _refuse("recording_sha256", f"须为 64 位十六进制 SHA-256 (must be a 64-hex SHA-256), got {sha256!r}")
    try:
        secs = float(seconds)
    except (TypeError, ValueError):
        secs = None
    if secs is None or secs != secs or secs <= 0:
        _refuse("recording_seconds", f"须为正数秒数 (duration in seconds, > 0), got {seconds!r}")
    return {"ref": ref, "sha256": sha, "seconds": secs}


def _channel(policy, channel):
    if channel is None or not str(channel).strip():
        if policy.doc.get("require_channel"):
            _refuse("channel", f"须指明渠道 (the channel is required by {policy.source}): "
                               f"{', '.join(policy.channels)}")
        return UNSPECIFIED
    channel = str(channel).strip()
    if channel not in policy.channels:
        _refuse("channel", f"未知渠道 {channel!r} (unknown channel; {policy.source} knows: "
                           f"{', '.join(policy.channels)})")
    return channel


def _check_recording(policy, act, channel, product_risk, recording):
    """The 双录 rule that applies (its name), refusing an act that needs a recording and has none."""
    rule = policy.recording_rule(act, channel, product_risk)
    if rule is None:
        return None
    if recording is None:
        raise BrokerCRMError(
            f"须提供双录 (a recording is required): {ACTS[act]} · 渠道 {channel}"
            + (f" · 产品 {product_risk}" if product_risk else "")
            + f" — {policy.source} recording {rule['name']}: {rule['reason']}"
            " (--recording REF --recording-sha256 HEX --recording-seconds N)")
    floor = policy.doc.get("min_recording_seconds", 0)
    if recording["seconds"] < floor:
        _refuse("recording_seconds", f"录音录像时长 {recording['seconds']} 秒短于策略最低 {floor} 秒 (shorter than the policy's minimum)")
    return rule["name"]


def _template(db, policy, template_id, act):
    """The template shown (id, version, sha256), pinned: one text per (id, version) forever."""
    t = policy.template(template_id, act=act)
    if t is None:
        return None
    known = db.execute("SELECT sha256 FROM evidence_templates WHERE template_id = ? AND version = ?",
                       [t["id"], t["version"]]).fetchone()
    if known is None:
        db.execute("INSERT INTO evidence_templates (template_id, version, sha256, title, body, first_used_at)"
                   " VALUES (?, ?, ?, ?, ?, ?)", [t["id"], t["version"], t["sha256"], t["title"], t["text"], now_iso()])
    elif known[0] != t["sha256"]:
        raise Conflict(f"模板 {t['id']} v{t['version']} 的文本已被修改而版本未变, 拒绝留痕 (the template's text changed "
                       f"without a new version: recorded {known[0][:12]}, now {t['sha256'][:12]}; publish it as "
                       f"version {t['version'] + 1}) — {policy.source}")
    return t


def _shown(db, act, client_id, product_code, assessment_id, check_id, confirmation_id):
    """(what the client was shown, product risk, the ids it refers to), from the stored records."""
    product_risk = None
    if product_code is not None:
        p = rows.one(db, "SELECT code, name, risk_level FROM products WHERE code = ?", [product_code],
                     missing=f"产品 {product_code} 不存在 (no such product)")
        product_risk = p["risk_level"]
    shown = {"act": act}
    if product_code is not None:
        shown["product"] = {"code": p["code"], "name": p["name"], "risk_level": product_risk}
    if act == "assessment_result":
        a = rows.one(
            db, "SELECT id, score, level, lowest_category, answered_at, expires_at, policy_version FROM assessments"
            " WHERE client_id = ? AND (? IS NULL OR id = ?) ORDER BY answered_at DESC, id DESC LIMIT 1",
            [client_id, assessment_id, assessment_id],
            missing=f"{client_id}: 没有{'第 ' + str(assessment_id) + ' 号' if assessment_id else ''}风险测评记录, "
                    "无从告知结果 (no such assessment for this client)")
        assessment_id = a["id"]
        shown["assessment"] = a
    if act == "matching_opinion":
        if product_code is None and check_id is None:
            _refuse("product", "适当性匹配意见须指明产品或检查编号 (a matching opinion names the product or the check)")
        c = rows.one(
            db, "SELECT id, product_code, product_risk, client_level, investor_type, verdict, reasons, policy_version,"
            " checked_at FROM suitability_checks WHERE client_id = ? AND (? IS NULL OR id = ?)"
            " AND (? IS NULL OR product_code = ?) ORDER BY id DESC LIMIT 1",
            [client_id, check_id, check_id, product_code, product_code],
            missing=f"{client_id}: 没有对应的适当性检查, 请先运行 `suitability check` (no suitability check to give as "
                    "the matching opinion)")
        c["reasons"] = json.loads(c["reasons"])
        check_id, product_code, product_risk = c["id"], c["product_code"], c["product_risk"]
        shown["opinion"] = c
    return shown, product_code, product_risk, assessment_id, check_id, confirmation_id


def normal_act(act):
    """The act for a name given (English or Chinese); a refusal listing the acts."""
    key = str(act or "").strip()
    key = ACT_ALIASES.get(key.lower(), ACT_ALIASES.get(key, key.lower()))
    if key not in ACTS:
        _refuse("act", f"未知的留痕行为 {act!r} (unknown act; one of {', '.join(a for a in ACTS if a != 'confirmation')})")
    return key


def _shown_at(at):
    """When the client was shown it: now, or a time given (a paper form entered later), never in the future."""
    if at is None or not str(at).strip():
        return now_iso()
    try:
        moment = parse_moment(at)
    except BrokerCRMError:
        _refuse("at", f"{at!r} 不是有效时间 (not an ISO date/time)")
    if moment > now():
        _refuse("at", f"{iso(moment)} 晚于现在, 不能预先留痕 (in the future)")
    return iso(moment)


def _insert(db, actor, policy, client_id, act, *, channel, acknowledgement, product_code=None, template_id=None,
            assessment_id=None, check_id=None, confirmation_id=None, recording=None, shown_extra=None, at=None):
    ack = (acknowledgement or "").strip()
    if not ack:
        _refuse("acknowledgement", "须提供客户签字确认的凭证编号 (the reference of the client's signed acknowledgement)")
    shown, product_code, product_risk, assessment_id, check_id, confirmation_id = _shown(
        db, act, client_id, product_code, assessment_id, check_id, confirmation_id)
    if shown_extra:
        shown.update(shown_extra)
    rule = _check_recording(policy, act, channel, product_risk, recording)
    template = _template(db, policy, template_id, act)
    if template:
        shown["template"] = {k: template[k] for k in ("id", "version", "title", "sha256")}
    stamp = now_iso()
    rec = recording or {}
    row = {
        "client_id": client_id, "act": act, "product_code": product_code, "product_risk": product_risk,
        "assessment_id": assessment_id, "check_id": check_id, "confirmation_id": confirmation_id,
        "shown": json.dumps(shown, ensure_ascii=False, sort_keys=True),
        "shown_sha256": evidence_policy.text_sha256(keys.canonical(shown).decode("utf-8")),
        "template_id": template and template["id"], "template_version": template and template["version"],
        "template_sha256": template and template["sha256"], "channel": channel, "acknowledgement": ack,
        "shown_at": _shown_at(at), "recording_ref": rec.get("ref"), "recording_sha256": rec.get("sha256"),
        "recording_seconds": rec.get("seconds"), "recording_rule": rule, "policy_version": policy.version,
        "policy_sha256": policy.digest, "recorded_by": actor.id, "recorded_at": stamp,
    }
    cols = list(row)
    row["id"] = db.execute(f"INSERT INTO suitability_evidence ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                           [row[c] for c in cols]).lastrowid
    # No personal data in the audit row: ids, the act, the channel, the template and whether recorded.
    audit.record(db, "suitability.evidence", actor=actor, target=client_id, detail={
        "evidence_id": row["id"], "act": act, "channel": channel, "product_code": product_code,
        "template": template and f"{template['id']} v{template['version']}", "recorded": recording is not None,
    }, digest=row["shown_sha256"])
    return _public(row)


def _public(row):
    out = dict(row)
    out["shown"] = json.loads(row["shown"])
    return out


def record(db, actor, client_id, act, *, acknowledgement, channel=None, product_code=None, template_id=None,
           assessment_id=None, check_id=None, recording=None, at=None):
    """Record one act's evidence (``act`` in ``ACTS`` except ``confirmation``, which ``confirm`` records).

    ``at``: when the client was shown it, if not now (a signed paper form entered later).
    """
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "suitability.evidence", branch=branch)
    act = normal_act(act)
    if act == "confirmation":
        _refuse("act", "不适当销售的确认由 `suitability confirm` 记录 (a mismatch confirmation is recorded by "
                       "`suitability confirm`, which also checks the verdict)")
    policy = evidence_policy.load(db)
    channel = _channel(policy, channel)
    code = product_code.strip().upper() if product_code else None
    with db.atomic():
        return _insert(db, actor, policy, client_id, act, channel=channel, acknowledgement=acknowledgement,
                       product_code=code, template_id=template_id, assessment_id=assessment_id,
                       check_id=check_id, recording=recording, at=at)


def precheck_confirmation(db, client_id, product_code, shown):
    """Refuse a confirmation whose evidence would be refused, before ``confirm`` writes anything.

    Returns the normalised ``shown`` (channel, recording, template) for ``record_confirmation``.
    """
    shown = dict(shown or {})
    policy = evidence_policy.load(db)
    shown["channel"] = _channel(policy, shown.get("channel"))
    risk = db.execute("SELECT risk_level FROM products WHERE code = ?", [product_code.strip().upper()]).fetchone()
    _check_recording(policy, "confirmation", shown["channel"], risk[0] if risk else None, shown.get("recording"))
    policy.template(shown.get("template_id"), act="confirmation")   # an unknown template is refused here
    shown["policy"] = policy
    return shown


def record_confirmation(db, actor, result, confirmation_id, evidence_ref, shown):
    """The evidence of a confirmed mismatch, inside ``confirm``'s transaction: the warning and the reasons shown."""
    policy = shown.get("policy") or evidence_policy.load(db)
    return _insert(
        db, actor, policy, result["client_id"], "confirmation", channel=shown["channel"],
        acknowledgement=shown.get("acknowledgement") or evidence_ref,
        product_code=result["product_code"], template_id=shown.get("template_id"), check_id=result["id"],
        confirmation_id=confirmation_id, recording=shown.get("recording"),
        shown_extra={"verdict": result["verdict"], "reasons": result["reasons"], "client_level": result["client_level"]})


def list_for(db, actor, client_id):
    """Every evidence row of one client, oldest first."""
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "suitability.read", branch=branch)
    return [_public(r) for r in db.query("SELECT * FROM suitability_evidence WHERE client_id = ? ORDER BY id",
                                         [client_id])]


def client_section(db, client_id, reveal=False, actor=None):
    """What ``clients show`` lists: every act's evidence, newest first (references and digests, no personal data)."""
    return {"evidence": list(db.query(
        "SELECT id, act, product_code, product_risk, channel, template_id, template_version, template_sha256,"
        " acknowledgement, recording_ref, recording_sha256, recording_seconds, shown_at, recorded_by"
        " FROM suitability_evidence WHERE client_id = ? ORDER BY id DESC", [client_id]))}
