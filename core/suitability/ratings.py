"""Controlled product ratings (issue 11 item 3; 办法 Art. 21, 18).

A product's risk level is head office's decision, made under maker–checker:
one head-office operator proposes a level with a reason, a second approves it.
The type's level in the suitability policy is a FLOOR (``floor`` on the type,
else its default level): a derivative can never be rated below R5, whoever asks
— the proposal is refused with the reason, and an import carrying a level below
the floor is refused for that row (``products._check_products``).

When a new level takes effect every holder is re-checked at once (the verdicts
are recomputed by the engine's own SQL and recorded in ``suitability_checks``)
and each holder gets a ``product_rerated`` event — the task engine opens the
notice task (Art. 21: 告知). Every proposal and decision is audited with its reason.
"""

import json

from ..kernel import events
from ..kernel.errors import BrokerCRMError, Conflict, Forbidden, NotFound
from ..kernel.timeutil import now_iso
from ..trust import audit, authz
from . import engine
from .policy import PRODUCT_LEVELS, load as load_policy, rank

COLUMNS = ("id", "product_code", "old_level", "new_level", "floor_level", "reason", "proposed_by", "proposed_at",
           "state", "decided_by", "decided_at", "decision_note", "holders", "policy_version")


def floor(policy, product_type):
    """(floor level, why) for a product type under the policy, or (None, None) when the type is unknown."""
    mapped = policy.type_level(product_type) if product_type else None
    if mapped is None:
        return None, None
    canonical, default = mapped
    entry = next(t for t in policy.doc["types"] if t["type"] == canonical)
    level = entry.get("floor") or default
    return level, f"{policy.source}: 类型 {canonical} 的最低风险等级为 {level} (the type's floor)"


def below_floor(policy, product_type, level):
    """The refusal text when ``level`` is below the type's floor, else None."""
    lowest, why = floor(policy, product_type)
    if lowest and rank(level) < rank(lowest):
        return f"{level} 低于产品类型最低等级 {lowest}, 不得下调 ({level} is below the floor {lowest}): {why}"
    return None


def _product(db, code):
    code = (code or "").strip().upper()
    row = db.execute("SELECT code, type, risk_level FROM products WHERE code = ?", [code]).fetchone()
    if row is None:
        raise NotFound(f"产品 {code} 不存在 (no such product)")
    return row


def get(db, rating_id):
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM product_ratings WHERE id = ?", [rating_id]).fetchone()
    if row is None:
        raise NotFound(f"评级提议 #{rating_id} 不存在 (no such rating proposal)")
    return dict(zip(COLUMNS, row))


def propose(db, actor, product_code, level, *, reason):
    """Propose a new risk level for a product; pending until a second head-office operator approves."""
    authz.require(actor, "product.rate")
    code, ptype, current = _product(db, product_code)
    level = (level or "").strip().upper()
    if level not in PRODUCT_LEVELS:
        raise BrokerCRMError(f"风险等级须为 R1–R5 (level must be R1–R5), got {level!r}")
    reason = (reason or "").strip()
    if not reason:
        raise BrokerCRMError("须说明调整理由 --reason TEXT (a rating change needs a reason)")
    policy = load_policy(db)
    refused = below_floor(policy, ptype, level)
    if refused:
        raise Forbidden(f"产品 {code}: {refused}")
    if level == current:
        raise Conflict(f"产品 {code} 已是 {level} (already {level})")
    if db.execute("SELECT 1 FROM product_ratings WHERE product_code = ? AND state = 'pending'", [code]).fetchone():
        raise Conflict(f"产品 {code} 已有待复核的评级提议 (a proposal is already pending)")
    with db.atomic():
        rating_id = db.execute(
            "INSERT INTO product_ratings (product_code, old_level, new_level, floor_level, reason, proposed_by,"
            " proposed_at, state, policy_version) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
            [code, current, level, floor(policy, ptype)[0], reason, actor.id, now_iso(), policy.version]).lastrowid
        audit.record(db, "product.rate", actor=actor, target=code,
                     detail={"rating": rating_id, "from": current, "to": level, "reason": reason})
    return get(db, rating_id)


def decide(db, actor, rating_id, *, approve, note=None):
    """Approve (the level takes effect, holders re-checked and told) or reject (with a reason)."""
    authz.require(actor, "product.rate.review")
    rating = get(db, rating_id)
    if rating["state"] != "pending":
        raise Conflict(f"评级提议 #{rating_id} 已{rating['state']} (already decided)")
    if actor.id == rating["proposed_by"]:
        raise Forbidden(f"提议人 {actor.id} 不能复核自己的评级提议 (maker–checker: never your own proposal)")
    note = (note or "").strip() or None
    if not approve and not note:
        raise BrokerCRMError("驳回须说明理由 --reason TEXT (a rejection needs a reason)")
    code, ptype, current = _product(db, rating["product_code"])
    if approve:
        # The policy (and so the floor) or the level may have moved since the proposal.
        refused = below_floor(load_policy(db), ptype, rating["new_level"])
        if refused:
            raise Forbidden(f"产品 {code}: {refused}")
        if current != rating["old_level"]:
            raise Conflict(f"产品 {code} 的等级已由 {rating['old_level']} 变为 {current}, 请重新提议 (level moved since"
                           " the proposal: propose again)")
    stamp = now_iso()
    with db.atomic():
        holders = None
        if approve:
            db.execute("UPDATE products SET risk_level = ?, risk_rank = ?, level_source = ?, updated_at = ?"
                       " WHERE code = ?", [rating["new_level"], rank(rating["new_level"]), f"评级 #{rating_id}",
                                           stamp, code])
            holders = _recheck_holders(db, actor, code, rating)
        db.execute("UPDATE product_ratings SET state = ?, decided_by = ?, decided_at = ?, decision_note = ?,"
                   " holders = ? WHERE id = ?",
                   ["approved" if approve else "rejected", actor.id, stamp, note, holders, rating_id])
        audit.record(db, f"product.rate.{'approve' if approve else 'reject'}", actor=actor, target=code,
                     detail={"rating": rating_id, "from": rating["old_level"], "to": rating["new_level"],
                             "note": note, "holders": holders})
    return get(db, rating_id)


def _recheck_holders(db, actor, code, rating):
    """Recompute every holder's verdict with the engine's SQL, record it, and tell each holder (Art. 21)."""
    branches = [r[0] for r in db.execute(
        "SELECT DISTINCT c.branch_id FROM holdings h JOIN clients c ON c.client_id = h.client_id"
        " WHERE h.product_code = ?", [code])]
    if not branches:
        return 0
    comp = engine.compiled(db, branches=branches)
    state_sql, state_params = comp.state_select()
    verdict, vparams = comp.verdict_sql()
    reasons, rparams = comp.reasons_sql()
    where = "WHERE c.client_id IN (SELECT client_id FROM holdings WHERE product_code = ?)"
    found = db.execute(
        f"""SELECT s.client_id, s.branch_id, s.level, s.investor_type, {verdict}, {reasons}
        FROM ({state_sql.replace('{where}', where)}) s
        JOIN ({comp.products_select()}) p ON p.code = ?
        JOIN clients c ON c.client_id = s.client_id""",
        [*vparams, *rparams, *state_params, code, code]).fetchall()
    stamp = now_iso()
    for cid, branch, level, itype, verdict_, reasons_ in found:
        reasons_ = reasons_.split(engine.SEP)
        check_id = db.execute(
            "INSERT INTO suitability_checks (client_id, product_code, product_risk, client_level, investor_type,"
            " verdict, reasons, policy_version, policy_digest, checked_by, checked_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [cid, code, rating["new_level"], level, itype, verdict_, json.dumps(reasons_, ensure_ascii=False),
             comp.policy.version, comp.policy.digest, actor.id, stamp]).lastrowid
        events.emit(db, "product_rerated", cid, operator=actor.id, detail={
            "product_code": code, "from": rating["old_level"], "to": rating["new_level"], "rating": rating["id"],
            "check_id": check_id, "verdict": verdict_, "branch_id": branch})
    return len(found)


def history(db, actor, product_code=None, *, state=None):
    """Rating proposals and decisions, newest first (anyone who may read suitability records)."""
    authz.scope(actor, "suitability.read")   # product ratings are not client data: any reader's scope will do
    sql, params = f"SELECT {', '.join(COLUMNS)} FROM product_ratings", []
    where = []
    if product_code:
        where.append("product_code = ?")
        params.append(_product(db, product_code)[0])
    if state:
        where.append("state = ?")
        params.append(state)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [dict(zip(COLUMNS, r)) for r in db.execute(sql + " ORDER BY id DESC", params)]
