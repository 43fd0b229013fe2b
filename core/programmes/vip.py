"""VIP clients (贵宾客户, seed 001 part 4): entry and exit criteria and benefits as policy.

``refresh`` computes every client's level in one statement over the book (the
programmes policy's ``vip.levels``, highest first, compiled to SQL like the
service packages): a client enters a level when its ``when`` holds, and keeps
the level held (or one below it) while ``keep_when`` holds. Every change is a
row of the append-only ``vip_history`` and an event (``vip_entered``,
``vip_changed``, ``vip_lost``), so "who qualifies" is ``vip_status`` and "who
lost it" is the history. Clients who have left hold no level.
"""

from ..kernel.errors import BrokerCRMError, NotFound
from ..kernel.rules import compile_condition
from ..kernel import rows
from ..kernel.timeutil import iso, now, today
from ..kernel.validate import parse_date
from ..service import lifecycle
from ..service import packages
from ..trust import audit, authz
from . import policy


def levels(db):
    doc, source = policy.load(db)
    return doc["vip"]["levels"], source


def _case(levels_, day):
    """SQL giving the new level from the client, its classification and ``s.level`` (the level held)."""
    fields = packages.fields(day)
    whens, params = [], []
    for i, level in enumerate(levels_):
        entry, entry_params = compile_condition(level["when"], fields, f"vip.levels[{i}].when")
        keep, keep_params = compile_condition(level.get("keep_when", level["when"]), fields,
                                              f"vip.levels[{i}].keep_when")
        held = [lv["code"] for lv in levels_[:i + 1]]  # this level or a higher one
        whens.append(f"WHEN ({entry}) OR (s.level IN ({', '.join('?' * len(held))}) AND ({keep})) THEN ?")
        params += entry_params + held + keep_params + [level["code"]]
    return f"CASE {' '.join(whens)} ELSE NULL END", params


def refresh(db, actor, *, as_of=None):
    """Recompute every client's VIP level; returns the counts of entries, changes and losses."""
    authz.require(actor, "vip.refresh")
    levels_, source = levels(db)
    day = today() if as_of is None else parse_date(as_of)
    if day is None:
        raise BrokerCRMError(f"--as-of {as_of!r} 不是有效日期 (not a date, YYYY-MM-DD)")
    case, params = _case(levels_, day)
    at, conn = iso(now()), db.conn
    with db.atomic():
        db.execute("DROP TABLE IF EXISTS temp.vip_moves")
        db.execute("CREATE TEMP TABLE vip_moves (client_id TEXT PRIMARY KEY, branch_id TEXT, old TEXT, new TEXT)")
        # Departed clients hold no level: their new level is NULL whatever the rules say.
        db.execute(
            "INSERT INTO temp.vip_moves SELECT client_id, branch_id, old, new FROM ("
            f" SELECT c.client_id, c.branch_id, s.level AS old, CASE WHEN c.{lifecycle.DEPARTED_SQL} THEN NULL"
            f" ELSE {case} END AS new"
            " FROM clients c LEFT JOIN classifications k ON k.client_key = c.id"
            " LEFT JOIN vip_status s ON s.client_id = c.client_id)"
            " WHERE old IS NOT new", params)
        db.execute("DELETE FROM vip_status WHERE client_id IN (SELECT client_id FROM temp.vip_moves WHERE new IS NULL)")
        db.execute(
            "INSERT INTO vip_status (client_id, branch_id, level, since)"
            " SELECT client_id, branch_id, new, ? FROM temp.vip_moves WHERE new IS NOT NULL"
            " ON CONFLICT (client_id) DO UPDATE SET level = excluded.level, since = excluded.since", [at])
        db.execute(
            "INSERT INTO vip_history (client_id, branch_id, old_level, new_level, at, operator, policy)"
            " SELECT client_id, branch_id, old, new, ?, ?, ? FROM temp.vip_moves ORDER BY client_id",
            [at, actor.id, source])
        counts = db.execute("SELECT sum(old IS NULL), sum(old IS NOT NULL AND new IS NOT NULL), sum(new IS NULL)"
                            " FROM temp.vip_moves").fetchone()
        last = conn.execute("SELECT COALESCE(max(id), 0) FROM events").fetchone()[0]
        conn.execute(
            "INSERT INTO events (kind, client_id, at, detail, operator) SELECT CASE WHEN old IS NULL THEN 'vip_entered'"
            " WHEN new IS NULL THEN 'vip_lost' ELSE 'vip_changed' END, client_id, ?,"
            " json_object('from', old, 'to', new, 'branch_id', branch_id), ? FROM temp.vip_moves ORDER BY client_id",
            [at, actor.id])
        lifecycle.notify_since(db, last)
        db.execute("DROP TABLE temp.vip_moves")
        result = {"as_of": day.isoformat(), "policy": source, "entered": counts[0] or 0, "changed": counts[1] or 0,
                  "lost": counts[2] or 0}
        audit.record(db, "vip.refresh", actor=actor, detail=result)
    return result


def _names(db):
    levels_, _ = levels(db)
    return {lv["code"]: lv for lv in levels_}


def list_vips(db, actor, *, branch=None, level=None):
    """Who qualifies: clients holding a level now, with its benefits."""
    branch = authz.branch_filter(actor, "vip.read", branch)
    by_code = _names(db)
    sql, params = "SELECT client_id, branch_id, level, since FROM vip_status WHERE 1", []
    if branch:
        sql += " AND branch_id = ?"
        params.append(branch)
    if level:
        sql += " AND level = ?"
        params.append(level)
    return [{"client_id": c, "branch_id": b, "level": lv, "name": by_code.get(lv, {}).get("name", lv), "since": s}
            for c, b, lv, s in db.execute(sql + " ORDER BY branch_id, level, client_id", params)]


def lost(db, actor, *, branch=None, since=None):
    """Who lost it: clients whose level ended (or fell), newest first, since a date if given."""
    branch = authz.branch_filter(actor, "vip.read", branch)
    sql = ("SELECT client_id, branch_id, old_level, new_level, at FROM vip_history"
           " WHERE old_level IS NOT NULL AND (new_level IS NULL OR new_level <> old_level)")
    params = []
    if branch:
        sql += " AND branch_id = ?"
        params.append(branch)
    if since:
        day = parse_date(since)
        if day is None:
            raise BrokerCRMError(f"--since {since!r} 不是有效日期 (not a date)")
        sql += " AND at >= ?"
        params.append(day.isoformat())
    order = {lv: i for i, lv in enumerate(_names(db))}
    out = []
    for c, b, old, new, at in db.execute(sql + " ORDER BY id DESC", params):
        if new is not None and order.get(new, 99) < order.get(old, 99):
            continue  # moved up a level: not a loss
        out.append({"client_id": c, "branch_id": b, "from": old, "to": new, "at": at})
    return out


def show(db, actor, client_id):
    """One client's level, its benefits, and the history."""
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "vip.read", branch=branch)
    by_code = _names(db)
    row = db.execute("SELECT level, since FROM vip_status WHERE client_id = ?", [client_id]).fetchone()
    level = by_code.get(row[0]) if row else None
    return {"client_id": client_id, "level": row[0] if row else None, "since": row[1] if row else None,
            "name": level["name"] if level else None, "benefits": level["benefits"] if level else [],
            "history": [{"from": o, "to": n, "at": a} for o, n, a in db.execute(
                "SELECT old_level, new_level, at FROM vip_history WHERE client_id = ? ORDER BY id DESC", [client_id])]}


def benefits(db, actor):
    authz.scope(actor, "vip.read")
    levels_, source = levels(db)
    return {"policy": source, "levels": [{"code": lv["code"], "name": lv["name"], "benefits": lv["benefits"]}
                                         for lv in levels_]}


def level_of(db, code):
    by_code = _names(db)
    if code not in by_code:
        raise NotFound(f"贵宾等级 {code!r} 不存在; 现行 (in force): {', '.join(by_code)} (no such VIP level)")
    return code
