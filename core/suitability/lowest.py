"""最低类别 (the lowest risk category) by definition, not by a score alone (issue 11).

The SAC 实施指引 defines the lowest category as an ordinary investor who lacks
full civil capacity, has no risk tolerance or will not bear any loss, or falls
under another case in law; 办法 Art. 19 and 22(5) forbid selling such a client
anything above the lowest level, and no warning or written insistence lifts it.
The causes, each shown with its reason on the client:

- age below the policy's ``lowest_category.minor_age`` (民法典 Art. 17) — a guardian acts;
- a recorded lack of full civil capacity (``record_capacity``) — a guardian acts;
- the latest assessment: the questionnaire's score cut-off or a "bear no loss"
  answer (scored at import, ``brokercrm.policy.questionnaire``);
- head office's manual flag (``set_flag``), for the other cases in law.

The suitability SQL reads the same causes (``state_columns``), so a check, a
scan and this module's ``status`` never disagree. The non-questionnaire causes
bind every client, professional or not: a minor or a person without capacity is
not a professional investor whatever their figures say.
"""

import json

from ..kernel import rows
from ..policy.questionnaire import Questionnaire
from ..policy.sets import load_version
from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import now_iso, today as local_today
from ..trust import audit, authz
from .policy import load as load_policy

DEFAULT_MINOR_AGE = 18   # 民法典 Art. 17; used when a published policy predates the setting
CAPACITIES = {"full": "完全民事行为能力", "limited": "限制民事行为能力", "none": "无民事行为能力"}

_LATEST_MARK = ("(SELECT m.active FROM lowest_category_marks m WHERE m.client_id = c.client_id"
                " AND m.kind = '{kind}' ORDER BY m.id DESC LIMIT 1)")


def minor_age(policy):
    return int(policy.doc.get("lowest_category", {}).get("minor_age", DEFAULT_MINOR_AGE))


def _cutoff(today, years):
    """Born after this ISO date → younger than ``years`` today (29 February safe as text)."""
    return f"{today.year - years:04d}-{today.strftime('%m-%d')}"


def state_columns(policy, today, marks=True):
    """SQL over ``c`` for the three non-questionnaire causes: (minor, incapable, hq_flag).

    ``marks`` False (no mark was ever recorded) skips the two look-ups: the scan
    then pays nothing for them.
    """
    minor = f"COALESCE(c.kind = 'individual' AND c.birth_date > '{_cutoff(today, minor_age(policy))}', 0)"
    if not marks:
        return minor, "0", "0"
    return (minor, f"COALESCE({_LATEST_MARK.format(kind='capacity')}, 0)",
            f"COALESCE({_LATEST_MARK.format(kind='headoffice')}, 0)")


def any_marks(db):
    return db.execute("SELECT 1 FROM lowest_category_marks LIMIT 1").fetchone() is not None


def cause_sql(age):
    """Text listing the causes, over the state columns (for the verdict's reason)."""
    return ("rtrim("
            f"CASE WHEN minor THEN '未满{age}周岁 (minor); ' ELSE '' END"
            " || CASE WHEN incapable THEN '无完全民事行为能力 (lacks full civil capacity); ' ELSE '' END"
            " || CASE WHEN hq_flag THEN '总部人工标记 (head-office flag); ' ELSE '' END"
            " || CASE WHEN lowest = 1 AND assess_state = 'valid' THEN"
            " '风险测评: 总分低于最低类别线或不愿承受任何损失 (questionnaire); ' ELSE '' END, '; ')")


def _latest_mark(db, client_id, kind):
    row = db.execute(
        "SELECT active, capacity, guardian, reason, evidence, recorded_by, recorded_at FROM lowest_category_marks"
        " WHERE client_id = ? AND kind = ? ORDER BY id DESC LIMIT 1", [client_id, kind]).fetchone()
    keys = ("active", "capacity", "guardian", "reason", "evidence", "recorded_by", "recorded_at")
    return dict(zip(keys, row)) if row else None


def status(db, actor, client_id, *, today=None):
    """{"lowest", "causes": [{"cause", "reason", ...}], "guardian_required", "guardian"} for one client."""
    client = rows.client(db, client_id, "branch_id, kind, birth_date")
    authz.require(actor, "suitability.read", branch=client["branch_id"])
    return _status(db, client_id, client["kind"], client["birth_date"], today or local_today())


def _status(db, client_id, kind, birth_date, today):
    policy = load_policy(db)
    age_limit = minor_age(policy)
    causes, guardian = [], None
    if kind == "individual" and birth_date and birth_date > _cutoff(today, age_limit):
        # The birth date itself is personal data: say only that the client is under age.
        causes.append({"cause": "minor", "reason": f"未满{age_limit}周岁, 由监护人代理 (under {age_limit}: a guardian acts;"
                       " 民法典 Art. 17)"})
    cap = _latest_mark(db, client_id, "capacity")
    if cap and cap["active"]:
        guardian = cap["guardian"]
        causes.append({"cause": "capacity", "reason": f"{CAPACITIES[cap['capacity']]} (lacks full civil capacity):"
                       f" {cap['reason']}", "evidence": cap["evidence"], "recorded_by": cap["recorded_by"],
                       "recorded_at": cap["recorded_at"]})
    hq = _latest_mark(db, client_id, "headoffice")
    if hq and hq["active"]:
        causes.append({"cause": "headoffice", "reason": f"总部人工标记 (head-office flag): {hq['reason']}",
                       "recorded_by": hq["recorded_by"], "recorded_at": hq["recorded_at"]})
    a = db.execute("SELECT score, lowest_category, expires_at, answers, policy_version FROM assessments"
                   " WHERE client_id = ? ORDER BY answered_at DESC, id DESC LIMIT 1", [client_id]).fetchone()
    if a and a[1] and a[2] > today.isoformat():
        causes.append({"cause": "questionnaire", "reason": _questionnaire_reason(db, a)})
    return {"client_id": client_id, "lowest": bool(causes), "causes": causes,
            "guardian_required": any(c["cause"] in ("minor", "capacity") for c in causes), "guardian": guardian,
            "policy_source": policy.source}


def _questionnaire_reason(db, row):
    """Re-derive which questionnaire cause applied, from the stored answers and the policy in force."""
    score, _, _, answers, version = row
    try:
        # The questionnaire the assessment was scored under, not today's.
        doc = load_version(db, version)["questionnaire"]
        reasons = Questionnaire(doc).score(json.loads(answers)).lowest_reasons
    except (BrokerCRMError, KeyError, ValueError, TypeError):
        reasons = ()
    text = "; ".join(reasons) or f"测评时问卷总分 {score} 判为最低类别 (lowest category when assessed)"
    return f"风险测评 (策略 v{version}): {text}" if version else f"风险测评: {text}"


def record_capacity(db, actor, client_id, capacity, *, evidence, reason=None, guardian=None):
    """Record the client's civil capacity from evidence (a court ruling, a guardian's papers…).

    ``limited`` or ``none`` makes the client lowest category and needs the guardian;
    ``full`` clears an earlier record (the history stays).
    """
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "suitability.capacity", branch=branch)
    if capacity not in CAPACITIES:
        raise BrokerCRMError(f"民事行为能力须为 {'/'.join(CAPACITIES)} 之一 (capacity must be one of these), got {capacity!r}")
    evidence = (evidence or "").strip()
    if not evidence:
        raise BrokerCRMError("须提供凭证编号 --evidence REF (e.g. the court ruling or guardianship papers)")
    guardian = (guardian or "").strip() or None
    if capacity != "full" and not guardian:
        raise BrokerCRMError("无完全民事行为能力的客户须登记监护人 --guardian REF (a guardian is required)")
    with db.atomic():
        mark_id = db.execute(
            "INSERT INTO lowest_category_marks (client_id, kind, active, capacity, guardian, reason, evidence,"
            " recorded_by, recorded_at) VALUES (?, 'capacity', ?, ?, ?, ?, ?, ?, ?)",
            [client_id, int(capacity != "full"), capacity, guardian, (reason or "").strip() or CAPACITIES[capacity],
             evidence, actor.id, now_iso()]).lastrowid
        # The guardian's reference and the evidence may identify people: the audit keeps ids only.
        audit.record(db, "suitability.capacity", actor=actor, target=client_id,
                     detail={"mark_id": mark_id, "capacity": capacity})
    return mark_id


def set_flag(db, actor, client_id, active, *, reason):
    """Head office marks (or unmarks) a client lowest category for another case in law; a reason is required."""
    rows.client(db, client_id)
    authz.require(actor, "suitability.lowest_flag")
    reason = (reason or "").strip()
    if not reason:
        raise BrokerCRMError("须说明理由 --reason TEXT (a reason is required)")
    with db.atomic():
        mark_id = db.execute(
            "INSERT INTO lowest_category_marks (client_id, kind, active, reason, recorded_by, recorded_at)"
            " VALUES (?, 'headoffice', ?, ?, ?, ?)", [client_id, int(bool(active)), reason, actor.id, now_iso()]
        ).lastrowid
        audit.record(db, "suitability.lowest_flag", actor=actor, target=client_id,
                     detail={"mark_id": mark_id, "active": bool(active), "reason": reason})
    return mark_id


__all__ = ["status", "record_capacity", "set_flag", "state_columns", "cause_sql", "any_marks"]
