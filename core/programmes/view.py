"""The programmes' part of `clients show` (contributed through ``brokercrm.kernel.registry``):
the VIP level and its benefits, points and membership tier, the prospect the client came from,
the sessions attended and the callbacks recorded."""

import json

from . import points, policy, sessions


def section(db, client_id, *, reveal=False, actor):
    """``actor`` is already allowed to read this client (``clients.show`` checked it)."""
    row = db.execute("SELECT level, since FROM vip_status WHERE client_id = ?", [client_id]).fetchone()
    vip = None
    if row:
        levels = {lv["code"]: lv for lv in policy.load(db)[0]["vip"]["levels"]}
        level = levels.get(row[0], {"name": row[0], "benefits": []})
        vip = {"level": row[0], "name": level["name"], "since": row[1], "benefits": level["benefits"]}
    prospect = db.execute("SELECT id, source, grade FROM prospects WHERE client_id = ?", [client_id]).fetchone()
    return {"programmes": {
        "vip": vip,
        "points": points.balance(db, client_id),
        "from_prospect": {"id": prospect[0], "source": prospect[1], "grade": prospect[2]} if prospect else None,
        "sessions": sessions.attended_by(db, client_id)[:10],
        "callbacks": [{"id": i, "script": s, "version": v, "at": a, "missing": json.loads(m)}
                      for i, s, v, a, m in db.execute(
                          "SELECT id, script, script_version, at, missing FROM callback_records WHERE client_id = ?"
                          " ORDER BY id DESC LIMIT 10", [client_id])],
    }}
