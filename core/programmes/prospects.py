"""Prospects (潜在客户): leads with a source, a grade A–E, follow-ups, and conversion into a client.

Seed 004 grades prospects by how soon they may open an account (A within a
month … E never, 死亡客户); the programmes policy gives each grade its
follow-up interval, so "which leads are warm" is the open A/B prospects and
the follow-ups that are due. Converting links the prospect to the client
imported for them: the funnel can then be counted per source and grade.
A prospect's name and phone are personal data: masked in every listing,
never in the audit log.
"""

import datetime as dt

from ..kernel import events, rows
from ..kernel.errors import BrokerCRMError, Conflict
from ..kernel.masking import mask_name, mask_phone
from ..kernel.timeutil import iso, now, today
from ..kernel.validate import mobile, normalise_mobile
from ..trust import audit, authz
from . import policy

STATES = {"open": "跟进中", "converted": "已转化", "lost": "已放弃"}


def grades(db):
    doc, source = policy.load(db)
    return {g["code"]: g for g in doc["prospects"]["grades"]}, doc["prospects"]["sources"], source


def _grade(db, grade):
    known, _, _ = grades(db)
    key = str(grade or "").strip().upper()
    if key not in known:
        raise BrokerCRMError(f"等级须为 A–E (grade must be one of {', '.join(known)}), got {grade!r}")
    return key, known[key]


def _source(db, source):
    _, sources, _ = grades(db)
    key = str(source or "").strip()
    for s in sources:
        if key and (key == s or s.split(" ")[0] == key or s.split(" ")[-1] == key):
            return s
    raise BrokerCRMError(f"未知来源 {key!r} (unknown source; use {', '.join(sources)})")


def _row(db, prospect_id):
    return rows.one(db, "SELECT * FROM prospects WHERE id = ?", [prospect_id],
                    missing=f"潜在客户 #{prospect_id} 不存在 (no such prospect)")


def _next(grade_policy, day):
    return (day + dt.timedelta(days=int(grade_policy["follow_up_days"]))).isoformat()


def _step(db, actor, prospect_id, kind, *, old=None, new=None, note=None):
    db.execute("INSERT INTO prospect_steps (prospect_id, kind, old_grade, new_grade, note, at, operator)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)", [prospect_id, kind, old, new, note, iso(now()), actor.id])
    audit.record(db, f"prospect.{kind}", actor=actor, target=f"prospect {prospect_id}",
                 detail={"old_grade": old, "new_grade": new})


def add(db, actor, *, branch, name, source, grade, phone=None, manager=None, note=None):
    authz.require(actor, "prospect.manage", branch=branch)
    if db.execute("SELECT 1 FROM branches WHERE code = ?", [branch]).fetchone() is None:
        raise BrokerCRMError(f"营业部 {branch!r} 不存在 (no such branch)")
    if not name or not name.strip():
        raise BrokerCRMError("须填写姓名 --name (a name is required)")
    if phone:
        problem = mobile(phone)
        if problem:
            raise BrokerCRMError(f"--phone: {problem}")
        phone = normalise_mobile(phone)
    grade, g = _grade(db, grade)
    source = _source(db, source)
    with db.atomic():
        prospect_id = db.execute(
            "INSERT INTO prospects (branch_id, name, phone, source, grade, manager, next_follow_up, created_at,"
            " created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [branch, name.strip(), phone, source, grade, manager or actor.id, _next(g, today()), iso(now()),
             actor.id]).lastrowid
        _step(db, actor, prospect_id, "created", new=grade, note=note)
    return get(db, actor, prospect_id)


def follow_up(db, actor, prospect_id, *, note, grade=None):
    """A follow-up (跟进): its note, an optional new grade; the next one is due by the grade's interval."""
    if not note or not note.strip():
        raise BrokerCRMError("须写明跟进情况 --note (a note is required)")
    p = _row(db, prospect_id)
    authz.require(actor, "prospect.manage", branch=p["branch_id"])
    if p["state"] != "open":
        raise Conflict(f"潜在客户 #{prospect_id} {STATES[p['state']]}, 不能再跟进 (prospect is {p['state']}, not open)")
    new, g = _grade(db, grade or p["grade"])
    with db.atomic():
        db.execute("UPDATE prospects SET grade = ?, next_follow_up = ? WHERE id = ?",
                   [new, _next(g, today()), prospect_id])
        _step(db, actor, prospect_id, "follow_up", old=p["grade"], new=new, note=note)
    return get(db, actor, prospect_id)


def convert(db, actor, prospect_id, client_id, *, note=None):
    """The prospect opened an account: link them to the client (imported as usual), same branch, once."""
    p = _row(db, prospect_id)
    authz.require(actor, "prospect.manage", branch=p["branch_id"])
    client = rows.client(db, client_id)
    if p["state"] != "open":
        raise Conflict(f"潜在客户 #{prospect_id} {STATES[p['state']]} (prospect is {p['state']}, not open)")
    if client["branch_id"] != p["branch_id"]:
        raise Conflict(f"客户 {client_id} 属营业部 {client['branch_id']}, 潜在客户 #{prospect_id} 属 {p['branch_id']}"
                       " (the client and the prospect are at different branches)")
    linked = db.execute("SELECT id FROM prospects WHERE client_id = ?", [client_id]).fetchone()
    if linked:
        raise Conflict(f"客户 {client_id} 已由潜在客户 #{linked[0]} 转化 (already converted from another prospect)")
    with db.atomic():
        db.execute("UPDATE prospects SET state = 'converted', client_id = ?, closed_at = ?, next_follow_up = NULL"
                   " WHERE id = ?", [client_id, iso(now()), prospect_id])
        _step(db, actor, prospect_id, "converted", old=p["grade"], new=p["grade"], note=note)
        events.emit(db, "prospect_converted", client_id, operator=actor.id, detail={
            "prospect": prospect_id, "source": p["source"], "grade": p["grade"], "branch_id": p["branch_id"]})
    return get(db, actor, prospect_id)


def lose(db, actor, prospect_id, *, note):
    if not note or not note.strip():
        raise BrokerCRMError("须写明放弃原因 --note (a note is required)")
    p = _row(db, prospect_id)
    authz.require(actor, "prospect.manage", branch=p["branch_id"])
    if p["state"] != "open":
        raise Conflict(f"潜在客户 #{prospect_id} {STATES[p['state']]} (prospect is {p['state']}, not open)")
    with db.atomic():
        db.execute("UPDATE prospects SET state = 'lost', closed_at = ?, next_follow_up = NULL WHERE id = ?",
                   [iso(now()), prospect_id])
        _step(db, actor, prospect_id, "lost", old=p["grade"], note=note)
    return get(db, actor, prospect_id)


def _public(p, *, reveal=False):
    p = dict(p)
    if not reveal:
        p["name"], p["phone"] = mask_name(p["name"]), mask_phone(p["phone"])
    p["state_label"] = STATES[p["state"]]
    p["due"] = bool(p["state"] == "open" and p["next_follow_up"] and p["next_follow_up"] <= today().isoformat())
    return p


def get(db, actor, prospect_id, *, reveal=False):
    """One prospect with its steps; ``reveal`` (the manager calling them) is ``prospect.reveal``, audited."""
    p = _row(db, prospect_id)
    authz.require(actor, "prospect.reveal" if reveal else "prospect.read", branch=p["branch_id"])
    if reveal:
        with db.atomic():
            audit.record(db, "prospect.reveal", actor=actor, target=f"prospect {prospect_id}")
    out = _public(p, reveal=reveal)
    out["steps"] = [
        {"kind": k, "old_grade": o, "new_grade": n, "note": note, "at": at, "operator": op}
        for k, o, n, note, at, op in db.execute(
            "SELECT kind, old_grade, new_grade, note, at, operator FROM prospect_steps WHERE prospect_id = ?"
            " ORDER BY id", [prospect_id])]
    return out


def list_prospects(db, actor, *, branch=None, grade=None, state=None, due=False, manager=None):
    """Prospects, warmest first (grade, then the follow-up due soonest); names and phones masked."""
    branch = authz.branch_filter(actor, "prospect.read", branch)
    clauses, params = [], []
    for column, value in (("branch_id", branch), ("grade", grade), ("state", state), ("manager", manager)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if due:
        clauses.append("state = 'open' AND next_follow_up <= ?")
        params.append(today().isoformat())
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return [_public(p) for p in db.query(
        f"SELECT * FROM prospects{where} ORDER BY state <> 'open', grade, next_follow_up, id", params)]


def report(db, actor, *, branch=None):
    """The funnel per branch: open prospects per grade, follow-ups due, converted, lost, conversion rate;
    and conversions per source."""
    branch = authz.branch_filter(actor, "prospect.read", branch)
    where, params = (" WHERE branch_id = ?", [branch]) if branch else ("", [])
    day = today().isoformat()
    rows_ = []
    for b, a, b_, c, d, e, due, converted, lost, total in db.execute(
            "SELECT branch_id, " + ", ".join(f"sum(state = 'open' AND grade = '{g}')" for g in policy.GRADES) +
            ", sum(state = 'open' AND next_follow_up <= ?), sum(state = 'converted'), sum(state = 'lost'), count(*)"
            f" FROM prospects{where} GROUP BY branch_id ORDER BY branch_id", [day, *params]):
        closed = converted + lost
        rows_.append({"branch_id": b, "open": {"A": a, "B": b_, "C": c, "D": d, "E": e}, "due": due,
                      "converted": converted, "lost": lost, "total": total,
                      "conversion_rate": round(converted / closed, 4) if closed else None})
    by_source = [{"source": s, "prospects": n, "converted": k} for s, n, k in db.execute(
        f"SELECT source, count(*), sum(state = 'converted') FROM prospects{where} GROUP BY source ORDER BY source",
        params)]
    return {"as_of": day, "branches": rows_, "sources": by_source}
