"""What investor education and client events share: a session at a branch, invitations, attendance.

``education`` and ``client_events`` are the two programmes on top of it; each
names its kind, its policy list (topics or event kinds) and its acts. A client
who has left is never invited; attendance is a fact and is recorded for any
client of the branch who came (an uninvited walk-in included, shown as such).
"""

from ..kernel import events, rows
from ..kernel.errors import BrokerCRMError, Conflict, NotFound
from ..kernel.timeutil import iso, now
from ..kernel.validate import parse_date
from ..service import lifecycle
from ..trust import audit, authz

LABELS = {"education": "投教活动", "event": "客户活动"}


def _choice(value, allowed, what):
    key = str(value or "").strip()
    for a in allowed:
        if key and (key == a or a.split(" ")[0] == key or a.endswith(f"({key})")):
            return a
    raise BrokerCRMError(f"未知{what[0]} {key!r} (unknown {what[1]}; use {', '.join(allowed)})")


def add(db, actor, kind, *, branch, title, topic, held_on, allowed, act, place=None, capacity=None,
        what=("主题", "topic")):
    authz.require(actor, act, branch=branch)
    if db.execute("SELECT 1 FROM branches WHERE code = ?", [branch]).fetchone() is None:
        raise NotFound(f"营业部 {branch!r} 不存在 (no such branch)")
    if not title or not title.strip():
        raise BrokerCRMError("须填写标题 --title (a title is required)")
    day = parse_date(held_on)
    if day is None:
        raise BrokerCRMError(f"--date {held_on!r} 不是有效日期 (not a date, YYYY-MM-DD)")
    if capacity is not None and capacity < 1:
        raise BrokerCRMError(f"--capacity 须为正整数 (must be a positive number), got {capacity!r}")
    topic = _choice(topic, allowed, what)
    with db.atomic():
        session_id = db.execute(
            "INSERT INTO programme_sessions (kind, branch_id, title, topic, held_on, place, capacity, created_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [kind, branch, title.strip(), topic, day.isoformat(), place, capacity, actor.id, iso(now())]).lastrowid
        audit.record(db, f"{kind}.add", actor=actor, target=f"session {session_id}",
                     detail={"branch": branch, "topic": topic, "held_on": day.isoformat()})
    return get(db, actor, kind, session_id, act=act)


def _session(db, kind, session_id):
    s = rows.one(db, "SELECT * FROM programme_sessions WHERE id = ? AND kind = ?", [session_id, kind],
                 missing=f"{LABELS[kind]} #{session_id} 不存在 (no such {kind} session)")
    return s


def _clients(db, session, client_ids):
    """The listed clients, refused as a whole if one is unknown or of another branch."""
    ids = list(dict.fromkeys(c.strip() for c in client_ids if c and c.strip()))
    if not ids:
        raise BrokerCRMError("须列出客户号 --clients C1,C2 (no clients given)")
    for cid in ids:
        branch = rows.client(db, cid)["branch_id"]
        if branch != session["branch_id"]:
            raise Conflict(f"客户 {cid} 属营业部 {branch}, 活动 #{session['id']} 在 {session['branch_id']}"
                           " (the client is at another branch)")
    return ids


def invite(db, actor, kind, session_id, *, act, client_ids=(), where_sql=None, where_params=()):
    """Invite the listed clients and/or those a condition selects; departed clients never; returns counts."""
    s = _session(db, kind, session_id)
    authz.require(actor, act, branch=s["branch_id"])
    ids = _clients(db, s, client_ids) if client_ids else []
    departed = [c for c in ids if lifecycle.current(db, c) in lifecycle.DEPARTED]
    if departed:
        raise Conflict(f"客户 {', '.join(departed)} 已离开, 不再邀请 (clients who have left are not invited)")
    at = iso(now())
    with db.atomic():
        before = db.execute("SELECT count(*) FROM programme_invitations WHERE session_id = ?", [session_id]).fetchone()[0]
        db.conn.executemany("INSERT OR IGNORE INTO programme_invitations VALUES (?, ?, ?, ?)",
                            [(session_id, c, at, actor.id) for c in ids])
        if where_sql:
            db.execute(
                "INSERT OR IGNORE INTO programme_invitations SELECT ?, c.client_id, ?, ? FROM clients c"
                f" WHERE c.branch_id = ? AND NOT c.{lifecycle.DEPARTED_SQL} AND ({where_sql})",
                [session_id, at, actor.id, s["branch_id"], *where_params])
        after = db.execute("SELECT count(*) FROM programme_invitations WHERE session_id = ?", [session_id]).fetchone()[0]
        audit.record(db, f"{kind}.invite", actor=actor, target=f"session {session_id}",
                     detail={"invited": after - before})
    return {"session": session_id, "invited": after - before, "total_invited": after}


def attend(db, actor, kind, session_id, client_ids, *, act):
    """Record who came (all or nothing); each attendance is also an event for the task engine."""
    s = _session(db, kind, session_id)
    authz.require(actor, act, branch=s["branch_id"])
    ids = _clients(db, s, client_ids)
    if s["capacity"]:
        already = db.execute("SELECT count(*) FROM programme_attendance WHERE session_id = ?", [session_id]).fetchone()[0]
        new = [c for c in ids if not db.execute("SELECT 1 FROM programme_attendance WHERE session_id = ? AND"
                                                " client_id = ?", [session_id, c]).fetchone()]
        if already + len(new) > s["capacity"]:
            raise Conflict(f"{LABELS[kind]} #{session_id} 容量 {s['capacity']}, 已到 {already}, 再加 {len(new)}"
                           " 超出 (over capacity)")
    at = iso(now())
    with db.atomic():
        added = 0
        for c in ids:
            cursor = db.execute("INSERT OR IGNORE INTO programme_attendance VALUES (?, ?, ?, ?)",
                                [session_id, c, at, actor.id])
            if cursor.rowcount:
                added += 1
                events.emit(db, f"{kind}_attended", c, at=at, operator=actor.id,
                            detail={"session": session_id, "branch_id": s["branch_id"]})
        audit.record(db, f"{kind}.attend", actor=actor, target=f"session {session_id}", detail={"recorded": added})
    return get(db, actor, kind, session_id, act=act)


def get(db, actor, kind, session_id, *, act):
    s = _session(db, kind, session_id)
    authz.require(actor, act, branch=s["branch_id"])
    invited = {c for (c,) in db.execute("SELECT client_id FROM programme_invitations WHERE session_id = ?",
                                        [session_id])}
    came = [c for (c,) in db.execute("SELECT client_id FROM programme_attendance WHERE session_id = ?"
                                     " ORDER BY client_id", [session_id])]
    return {**s, "invited": len(invited), "attended": len(came), "attendees": came,
            "walk_ins": sorted(set(came) - invited), "no_shows": len(invited - set(came))}


def list_sessions(db, actor, kind, *, act, branch=None, year=None):
    branch = authz.branch_filter(actor, act, branch)
    sql, params = "SELECT id FROM programme_sessions WHERE kind = ?", [kind]
    if branch:
        sql += " AND branch_id = ?"
        params.append(branch)
    if year:
        sql += " AND substr(held_on, 1, 4) = ?"
        params.append(str(year))
    return [get(db, actor, kind, sid, act=act) for (sid,) in db.execute(sql + " ORDER BY held_on, id", params)]


def attended_by(db, client_id):
    """Sessions a client came to, newest first (for `clients show`-like views)."""
    return [{"session": i, "kind": k, "title": t, "held_on": h} for i, k, t, h in db.execute(
        "SELECT s.id, s.kind, s.title, s.held_on FROM programme_attendance a JOIN programme_sessions s"
        " ON s.id = a.session_id WHERE a.client_id = ? ORDER BY s.held_on DESC", [client_id])]
