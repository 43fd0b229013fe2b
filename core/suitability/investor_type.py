"""Investor status: professional or ordinary, from reviewed evidence only (办法 Art. 8, 11, 12; issue 11).

A client is ordinary unless an approved record in ``investor_status`` says
otherwise. The fields on the client record (income, assets, years) are
self-declared and one clerk can edit them, so they never make anyone
professional by themselves. The acts:

- ``record_evidence`` — Art. 8: one operator records the evidence for a
  category (kind, document reference, figures, the period they cover); the
  eligibility under the policy's thresholds is computed and stored;
- ``convert`` — Art. 11/12: an ordinary investor's application to be treated
  as professional, with the written application, the client's acknowledgement
  of the risks, and the firm's prudent assessment (knowledge-test score or a
  simulated-trading record);
- ``review`` — a second operator (never the maker) approves or rejects; an
  approval needs eligibility; a conversion's review records the notice of the
  result. Approval grants the status for ``validity_months``; then it lapses
  (ordinary) until re-checked (``recheck``);
- ``opt_down`` — Art. 11: an Art. 8(4)/(5) (or converted) professional's written
  choice to be treated as ordinary is honoured at once; Art. 8(1)–(3) cannot.

The suitability SQL reads the same table (``professional_sql``), so ``check``,
``scan`` and ``investor_type`` never disagree.
"""

import datetime as dt
import json

from ..kernel import events, rows
from ..kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound
from ..kernel.sql_filters import where_equal
from ..kernel.timeutil import add_months, now_iso, today as local_today
from ..trust import audit, authz
from . import investor_evidence as ev
from .policy import load as load_policy

LABELS = {"professional": "专业投资者", "ordinary": "普通投资者"}
PRUDENT = {"knowledge_test": "投资知识测试", "simulated_trading": "模拟交易"}

# The record in force for one client: the latest approved one (alias c is the client).
IN_FORCE = ("SELECT {cols} FROM investor_status r WHERE r.client_id = {client} AND r.state = 'approved'"
            " ORDER BY r.effective_at DESC, r.id DESC LIMIT 1")


def professional_sql(today_iso):
    """SQL over ``c``: 1 when the record in force grants professional status still valid on ``today_iso``."""
    cols = f"r.target = 'professional' AND r.valid_until > '{today_iso}'"
    return f"COALESCE(({IN_FORCE.format(cols=cols, client='c.client_id')}), 0)"


def any_status(db):
    """False when no status was ever approved: the scan then skips the look-up (everyone is ordinary)."""
    return db.execute("SELECT 1 FROM investor_status WHERE state = 'approved' LIMIT 1").fetchone() is not None


COLUMNS = ("id", "client_id", "action", "category", "target", "evidence_kind", "document_ref", "figures",
           "period_start", "period_end", "application_ref", "acknowledgement_ref", "prudent_kind", "prudent_ref",
           "prudent_score", "eligible", "eligibility", "note", "recorded_by", "recorded_at", "state", "reviewed_by",
           "reviewed_at", "review_note", "notice_ref", "effective_at", "valid_until", "recheck_at", "policy_version")


def _row(row, *, figures=True):
    obj = dict(zip(COLUMNS, row))
    obj["eligible"] = bool(obj["eligible"])
    obj["eligibility"] = json.loads(obj["eligibility"])
    obj["figures"] = json.loads(obj["figures"]) if figures else None
    return obj


def get(db, record_id):
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM investor_status WHERE id = ?", [record_id]).fetchone()
    if row is None:
        raise NotFound(f"投资者类别记录 #{record_id} 不存在 (no such investor-status record)")
    return _row(row)


def _in_force(db, client_id):
    row = db.execute(IN_FORCE.format(cols=", ".join(f"r.{c}" for c in COLUMNS), client="?"), [client_id]).fetchone()
    return _row(row) if row else None


def investor_type(db, client_id, *, today=None):
    """{"type", "label", "reason", "source", "category", "valid_until", "recheck_at", "record"} for one client."""
    rows.client(db, client_id)
    day = (today or local_today()).isoformat()
    rec = _in_force(db, client_id)
    base = {"category": None, "valid_until": None, "recheck_at": None, "record": None}
    if rec is None:
        return {**base, "type": "ordinary", "label": LABELS["ordinary"], "source": "no reviewed evidence",
                "reason": "无经复核的专业投资者证明, 为普通投资者 (no reviewed evidence: ordinary; 办法 Art. 8)"}
    base.update(category=rec["category"], record=rec["id"], valid_until=rec["valid_until"], recheck_at=rec["recheck_at"])
    source = f"record #{rec['id']}"
    if rec["target"] == "ordinary":
        return {**base, "type": "ordinary", "label": LABELS["ordinary"], "source": source,
                "reason": f"客户书面选择成为普通投资者 #{rec['id']} ({rec['recorded_at'][:10]}; 办法 Art. 11)"}
    if rec["valid_until"] <= day:
        return {**base, "type": "ordinary", "label": LABELS["ordinary"], "source": source,
                "reason": f"专业投资者资格 #{rec['id']} 已于 {rec['valid_until']} 失效, 须复核 (status lapsed: re-check"
                          " needed; ordinary until then)"}
    what = {"grant": "办法 Art. 8", "convert": "办法 Art. 11 转换", "legacy": "旧转换申请 (legacy request)"}[rec["action"]]
    return {**base, "type": "professional", "label": LABELS["professional"], "source": source,
            "reason": f"{what} 类别 {rec['category']}: 记录 #{rec['id']} 由 {rec['recorded_by']} 登记, {rec['reviewed_by']}"
                      f" 复核通过, 有效至 {rec['valid_until']} (reviewed evidence)"}


def _client(db, actor, client_id, act):
    client = rows.client(db, client_id, "branch_id, kind")
    authz.require(actor, act, branch=client["branch_id"])
    return client


def _required(name, value, why):
    value = (value or "").strip() if isinstance(value, str) or value is None else value
    if not value:
        raise BrokerCRMError(f"{name}: 必填 — {why}")
    return value


def _pending(db, client_id):
    if db.execute("SELECT 1 FROM investor_status WHERE client_id = ? AND state = 'pending'", [client_id]).fetchone():
        raise Conflict(f"客户 {client_id} 已有待复核的投资者类别记录 (a record is already pending review)")


def _insert(db, actor, client_id, action, cat, figs, eligible, why, **cols):
    policy = load_policy(db)
    values = {"client_id": client_id, "action": action, "category": cat, "target": "professional",
              "figures": json.dumps(figs, ensure_ascii=False), "eligible": int(eligible),
              "eligibility": json.dumps(why, ensure_ascii=False), "recorded_by": actor.id, "recorded_at": now_iso(),
              "state": "pending", "policy_version": policy.version, **cols}
    record_id = db.execute(f"INSERT INTO investor_status ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                           list(values.values())).lastrowid
    # Figures and document references may identify the client's wealth: the audit keeps ids and outcomes.
    audit.record(db, f"investor_type.{action}", actor=actor, target=client_id,
                 detail={"record": record_id, "category": cat, "eligible": eligible})
    return record_id


def record_evidence(db, actor, client_id, *, category, evidence_kind, document, period_end, period_start=None,
                    note=None, today=None, **figure_args):
    """Art. 8: record the evidence for a category; pending until a second operator reviews it."""
    client = _client(db, actor, client_id, "investor_type.request")
    section = ev.settings(load_policy(db))
    cat = ev.category(section, category, conversion=False)
    evidence_kind = _required("--kind", evidence_kind, "证明材料种类, 如 资产证明/收入证明/金融许可证 (evidence kind)")
    document = _required("--document", document, "证明材料编号 (the document's reference)")
    start, end = ev.period(section, period_start, period_end, today or local_today())
    figs = ev.figures(section, **figure_args)
    eligible, why = ev.evaluate(section, cat, client["kind"], figs)
    _pending(db, client_id)
    with db.atomic():
        record_id = _insert(db, actor, client_id, "grant", cat["code"], figs, eligible, why,
                            evidence_kind=evidence_kind, document_ref=document, period_start=start, period_end=end,
                            note=note)
    return get(db, record_id)


def convert(db, actor, client_id, *, category, application, acknowledgement, evidence_kind, document, period_end,
            period_start=None, test_score=None, simulation=None, note=None, today=None, **figure_args):
    """Art. 11/12: an ordinary investor applies to be treated as professional; pending review."""
    client = _client(db, actor, client_id, "investor_type.request")
    section = ev.settings(load_policy(db))
    cat = ev.category(section, category, conversion=True)
    if investor_type(db, client_id, today=today)["type"] == "professional":
        raise Conflict(f"客户 {client_id} 已是专业投资者 (already professional)")
    application = _required("--application", application, "客户书面申请的编号 (the written application; 办法 Art. 12)")
    acknowledgement = _required("--acknowledgement", acknowledgement,
                                "客户确认自主承担风险和后果的书面确认编号 (the client's risk acknowledgement; Art. 12)")
    evidence_kind = _required("--kind", evidence_kind, "证明材料种类 (evidence kind)")
    document = _required("--document", document, "证明材料编号 (the document's reference)")
    test_score = None if test_score is None or str(test_score).strip() == "" else test_score
    simulation = (simulation or "").strip() or None
    if (test_score is None) == (simulation is None):
        raise BrokerCRMError("须且仅须给出一项谨慎评估: --test-score N (投资知识测试) 或 --simulation REF (模拟交易记录)"
                             " (exactly one prudent assessment: knowledge test or simulated trading; 办法 Art. 12)")
    start, end = ev.period(section, period_start, period_end, today or local_today())
    figs = ev.figures(section, **figure_args)
    eligible, why = ev.evaluate(section, cat, client["kind"], figs)
    if test_score is not None:
        score = ev.parse_number("--test-score", test_score)
        prudent = ("knowledge_test", None, score)
        passed = score >= section["knowledge_test_pass"]
        why = why + [f"办法 Art. 12: 投资知识测试 {'≥' if passed else '<'} 及格线 {section['knowledge_test_pass']:g}"
                     " (knowledge test)"]
        if not passed:
            eligible = False
            why = [w for w in why if "Art. 12" in w] + [w for w in why if "Art. 12" not in w]
    else:
        prudent = ("simulated_trading", simulation, None)
        why = why + ["办法 Art. 12: 已有模拟交易记录 (simulated-trading record)"]
    _pending(db, client_id)
    with db.atomic():
        record_id = _insert(db, actor, client_id, "convert", cat["code"], figs, eligible, why,
                            evidence_kind=evidence_kind, document_ref=document, period_start=start, period_end=end,
                            application_ref=application, acknowledgement_ref=acknowledgement,
                            prudent_kind=prudent[0], prudent_ref=prudent[1], prudent_score=prudent[2], note=note)
    return get(db, record_id)


def review(db, actor, record_id, *, approve, note=None, notice=None, today=None):
    """A second operator approves or rejects a pending record; never its maker."""
    rec = get(db, record_id)
    authz.require(actor, "investor_type.decide", branch=rows.client(db, rec["client_id"])["branch_id"])
    if rec["state"] != "pending":
        raise Conflict(f"记录 #{record_id} 已{rec['state']} (already reviewed)")
    if actor.id == rec["recorded_by"]:
        raise Forbidden(f"登记人 {actor.id} 不能复核自己登记的记录 (maker–checker: the reviewer is never the maker)")
    note = (note or "").strip() or None
    if not approve and not note:
        raise BrokerCRMError("驳回须说明理由 --reason TEXT (a rejection needs a reason)")
    notice = (notice or "").strip() or None
    if rec["action"] == "convert" and not notice:
        raise BrokerCRMError("--notice: 必填 — 告知客户审查结果及理由的通知编号 (the notice of the result; 办法 Art. 12)")
    if approve and not rec["eligible"]:
        raise Conflict(f"记录 #{record_id} 未达条件, 不能批准 (not eligible): " + "; ".join(rec["eligibility"]))
    section = ev.settings(load_policy(db))
    day = today or local_today()
    valid_until = add_months(day, int(section["validity_months"])) if approve else None
    recheck = valid_until - dt.timedelta(days=int(section["recheck_days"])) if approve else None
    with db.atomic():
        db.execute(
            "UPDATE investor_status SET state = ?, reviewed_by = ?, reviewed_at = ?, review_note = ?, notice_ref = ?,"
            " effective_at = ?, valid_until = ?, recheck_at = ? WHERE id = ?",
            ["approved" if approve else "rejected", actor.id, now_iso(), note, notice,
             now_iso() if approve else None, valid_until.isoformat() if approve else None,
             recheck.isoformat() if approve else None, record_id])
        audit.record(db, f"investor_type.{'approve' if approve else 'reject'}", actor=actor, target=rec["client_id"],
                     detail={"record": record_id, "category": rec["category"], "action": rec["action"]})
    return get(db, record_id)


def opt_down(db, actor, client_id, *, document, note=None, today=None):
    """Art. 11: a professional's written choice to be treated as ordinary, honoured at once.

    Refused for Art. 8(1)–(3) professionals (policy ``opt_down = false``): the 办法
    lets only Art. 8(4)/(5) professionals choose to be ordinary.
    """
    _client(db, actor, client_id, "investor_type.request")
    document = _required("--document", document, "客户书面告知的编号 (the client's written notice; 办法 Art. 11)")
    current = investor_type(db, client_id, today=today)
    if current["type"] != "professional":
        raise Conflict(f"客户 {client_id} 已是普通投资者, 无需转化 (already ordinary)")
    cat = ev.find_category(ev.settings(load_policy(db)), current["category"])
    if cat is not None and not cat["opt_down"]:
        raise Forbidden(f"客户 {client_id} 属于 {cat['article']} 专业投资者, 不能选择成为普通投资者 (办法 Art. 11 allows"
                        " opting down only to Art. 8(4)/(5) professionals)")
    stamp = now_iso()
    with db.atomic():
        record_id = _insert(db, actor, client_id, "opt_down", "opt_down", {}, True,
                            ["办法 Art. 11: 专业投资者书面选择成为普通投资者, 经营机构应履行相应适当性义务"],
                            target="ordinary", evidence_kind="客户书面告知 (written notice)", document_ref=document,
                            note=note, state="approved", effective_at=stamp)
    return get(db, record_id)


def show(db, actor, client_id, *, today=None):
    """A client's investor status and its history, for someone allowed to read the client."""
    authz.require(actor, "client.read", branch=rows.client(db, client_id)["branch_id"])
    out = investor_type(db, client_id, today=today)
    # The figures are personal data: a reader with client.read sees the thresholds met, not the amounts.
    out["history"] = [_row(r, figures=False) for r in db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM investor_status WHERE client_id = ? ORDER BY id", [client_id])]
    return out


def list_records(db, actor, *, state=None, client_id=None):
    branch = authz.branch_filter(actor, "suitability.read")
    where, params = where_equal({"state": state, "client_id": client_id},
                                extra=[("client_id IN (SELECT client_id FROM clients WHERE branch_id = ?)", [branch])]
                                if branch else ())
    sql = f"SELECT {', '.join(COLUMNS)} FROM investor_status" + where
    return [_row(r, figures=False) for r in db.execute(sql + " ORDER BY id", params)]


def recheck(db, actor, *, branch=None, today=None, open_tasks=False):
    """Professional statuses in force whose re-check is due (or which lapsed), per client.

    With ``open_tasks`` each due record emits ``investor_recheck_due`` once (the
    task engine opens the re-check task from the service policy).
    """
    branch = authz.branch_filter(actor, "investor_type.recheck", branch)
    day = (today or local_today()).isoformat()
    sql = ("SELECT r.id, r.client_id, c.branch_id, r.category, r.valid_until, r.recheck_at FROM investor_status r"
           " JOIN clients c ON c.client_id = r.client_id"
           " WHERE r.state = 'approved' AND r.target = 'professional' AND r.recheck_at <= ?"
           " AND r.id = (SELECT r2.id FROM investor_status r2 WHERE r2.client_id = r.client_id AND r2.state = 'approved'"
           " ORDER BY r2.effective_at DESC, r2.id DESC LIMIT 1)")
    params = [day]
    if branch:
        sql += " AND c.branch_id = ?"
        params.append(branch)
    out = []
    for rid, cid, br, cat, until, at in db.execute(sql + " ORDER BY r.recheck_at, r.id", params).fetchall():
        item = {"record": rid, "client_id": cid, "branch_id": br, "category": cat, "valid_until": until,
                "recheck_at": at, "state": "lapsed" if until <= day else "due", "task_event": None}
        if open_tasks:
            seen = db.execute("SELECT id FROM events WHERE kind = 'investor_recheck_due' AND client_id = ?"
                              " AND json_extract(detail, '$.record') = ?", [cid, rid]).fetchone()
            if seen is None:
                with db.atomic():
                    item["task_event"] = events.emit(db, "investor_recheck_due", cid, operator=actor.id,
                                                     detail={"record": rid, "valid_until": until})["id"]
            else:
                item["task_event"] = seen[0]
        out.append(item)
    return out
