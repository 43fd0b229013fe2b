"""Client status through exit (客户状态, issue 14 item 3; seed 000: 准入 → 分类 → 服务 → 退出).

A client is active (正常) unless a row of ``client_status`` says otherwise:
dormant (休眠: no trade and no contact for the policy's months), transfer or
closure requested (转户/销户申请中), closed (已销户) or transferred out (已转出).
Every transition is a row of the append-only ``client_status_history``, an
audited act and a domain event, so the task engine (touchpoints) and approved
plugins can react to it:

| transition | event |
|---|---|
| active → dormant | ``client_dormant`` |
| dormant → active (a trade or a contact) | ``client_reactivated`` |
| → transfer / closure requested | ``client_exit_requested`` |
| requested → active (withdrawn, or retained) | ``client_exit_withdrawn`` |
| requested → closed / transferred | ``client_departed`` |

Departed clients (closed, transferred) leave care, service packages and
campaigns (``DEPARTED_SQL``), but nothing of theirs is deleted: their records
stay for the retention period.

This module knows nothing of retention: retention calls it, never the other way,
so a retention rule cannot stand in the way of a request (``exits`` ties the two).
"""

from ..kernel import events, rows
from ..kernel.checks import array, number, table, text, unique_text
from ..kernel.errors import BrokerCRMError, Conflict, PolicyError
from ..kernel.registry import registry
from ..kernel.timeutil import add_months, iso, now, today
from ..kernel.validate import parse_date
from ..trust import audit, authz
from . import policy as sp

STATUSES = {
    "active": "正常", "dormant": "休眠", "transfer_requested": "转户申请中", "closure_requested": "销户申请中",
    "closed": "已销户", "transferred": "已转出",
}
STATUS_ALIASES = {v: k for k, v in STATUSES.items()}
REQUESTED = ("transfer_requested", "closure_requested")
DEPARTED = ("closed", "transferred")
REQUEST_STATUS = {"transfer": "transfer_requested", "closure": "closure_requested"}
COMPLETED_STATUS = {"transfer_requested": "transferred", "closure_requested": "closed"}

# A client_id column is departed: the condition care, packages and campaigns add to leave them out.
DEPARTED_SQL = "client_id IN (SELECT client_id FROM client_status WHERE status IN ('closed', 'transferred'))"


def departed_sql(column="client_id"):
    return DEPARTED_SQL.replace("client_id IN", f"{column} IN", 1)


def event_kind(old, new):
    if new == "dormant":
        return "client_dormant"
    if new in REQUESTED:
        return "client_exit_requested"
    if new in DEPARTED:
        return "client_departed"
    return "client_reactivated" if old == "dormant" else "client_exit_withdrawn"


# -- policy -----------------------------------------------------------------------------------

def validate(doc):
    dormancy = table(doc, "dormancy", "")
    months = number(dormancy, "months", "dormancy", minimum=1)
    if int(months) != months:
        raise PolicyError(f"dormancy.months: 须为整数月 (must be a whole number of months), got {months!r}")
    number(dormancy, "min_turnover_pct", "dormancy", minimum=0)
    seen = set()
    for i, reason in enumerate(array(doc, "exit_reasons", "")):
        unique_text(reason, "code", f"exit_reasons[{i}]", seen, ("离开原因代码", "reason code"))
        text(reason, "name", f"exit_reasons[{i}]")


def load(db):
    return sp.load_named(db, "lifecycle", "lifecycle.toml")


def exit_reasons(db):
    return {r["code"]: r["name"] for r in load(db)[0]["exit_reasons"]}


def normal_reason(db, reason):
    """A reason code of the policy in force (its name works too); anything else is refused."""
    reasons = exit_reasons(db)
    key = str(reason or "").strip()
    if key in reasons:
        return key
    for code, name in reasons.items():
        if key and (key == name or name.startswith(key + " ")):
            return code
    raise BrokerCRMError(f"未知离开原因 {key!r} (unknown reason for leaving; use "
                         f"{', '.join(f'{c} {n}' for c, n in reasons.items())})")


def normal_status(value):
    key = str(value or "").strip()
    found = key.lower() if key.lower() in STATUSES else STATUS_ALIASES.get(key)
    if not found:
        raise BrokerCRMError(f"未知客户状态 {key!r} (unknown status; use "
                             f"{', '.join(f'{k} {v}' for k, v in STATUSES.items())})")
    return found


# -- reading ----------------------------------------------------------------------------------

def current(db, client_id):
    row = db.execute("SELECT status, since, reason FROM client_status WHERE client_id = ?", [client_id]).fetchone()
    return row[0] if row else "active"


def show(db, actor, client_id):
    """The client's status, since when, the reason for leaving and the history (newest first)."""
    client = rows.client(db, client_id)
    authz.require(actor, "client.read", branch=client["branch_id"])
    return for_client(db, client_id)


def for_client(db, client_id):
    row = db.execute("SELECT status, since, reason FROM client_status WHERE client_id = ?", [client_id]).fetchone()
    status, since, reason = row if row else ("active", None, None)
    latest_reason = db.execute(
        "SELECT reason, note, recorded_at FROM exit_reasons WHERE client_id = ? ORDER BY id DESC LIMIT 1",
        [client_id]).fetchone()
    reasons = exit_reasons(db)
    history = [
        {"at": at, "from": old, "to": new, "source": source, "operator": op, "reason": r}
        for at, old, new, source, op, r in db.execute(
            "SELECT at, old_status, new_status, source, operator, reason FROM client_status_history"
            " WHERE client_id = ? ORDER BY id DESC", [client_id])
    ]
    out = {"client_id": client_id, "status": status, "label": STATUSES[status], "since": since,
           "departed": status in DEPARTED, "exit_reason": None, "history": history}
    if latest_reason:
        out["exit_reason"] = {"code": latest_reason[0], "name": reasons.get(latest_reason[0], latest_reason[0]),
                              "note": latest_reason[1], "at": latest_reason[2]}
    return out


def list_by_status(db, actor, *, status=None, branch=None):
    """Clients not active (or of one status), with since and reason; a branch operator: own branch."""
    branch = authz.branch_filter(actor, "client.read", branch)
    sql = "SELECT client_id, branch_id, status, since, reason FROM client_status WHERE status <> 'active'"
    params = []
    if status:
        sql += " AND status = ?"
        params.append(status)
    if branch:
        sql += " AND branch_id = ?"
        params.append(branch)
    return [{"client_id": c, "branch_id": b, "status": s, "label": STATUSES[s], "since": since, "reason": r}
            for c, b, s, since, r in db.execute(sql + " ORDER BY branch_id, status, client_id", params)]


def report(db, actor, *, branch=None):
    """Per branch: clients by status (active counted from the book), and departures by reason."""
    branch = authz.branch_filter(actor, "client.read", branch)
    where, params = (" WHERE branch_id = ?", [branch]) if branch else ("", [])
    totals = dict(db.execute(f"SELECT branch_id, count(*) FROM clients{where} GROUP BY branch_id", params))
    counts = {b: dict.fromkeys(STATUSES, 0) for b in totals}
    for b, s, n in db.execute(f"SELECT branch_id, status, count(*) FROM client_status{where}"
                              " GROUP BY branch_id, status", params):
        counts.setdefault(b, dict.fromkeys(STATUSES, 0))[s] = n
    for b, c in counts.items():
        c["active"] = totals.get(b, 0) - sum(n for s, n in c.items() if s != "active")
    # Why clients leave: the latest reason of each client who asked to leave or left.
    reasons = exit_reasons(db)
    why = [
        {"branch_id": b, "reason": r, "name": reasons.get(r, r), "clients": n}
        for b, r, n in db.execute(
            "SELECT s.branch_id, e.reason, count(*) FROM client_status s JOIN exit_reasons e"
            " ON e.id = (SELECT max(id) FROM exit_reasons WHERE client_id = s.client_id)"
            " WHERE s.status IN ('transfer_requested', 'closure_requested', 'closed', 'transferred')"
            + (" AND s.branch_id = ?" if branch else "") + " GROUP BY s.branch_id, e.reason"
            " ORDER BY s.branch_id, count(*) DESC, e.reason", params)
    ]
    return {"as_of": today().isoformat(), "labels": STATUSES,
            "branches": [{"branch_id": b, **c} for b, c in sorted(counts.items())], "exit_reasons": why}


# -- transitions --------------------------------------------------------------------------------

def transition(db, actor, client_id, new, *, source, reason=None, at=None, allowed_from=None):
    """Move one client to ``new`` (inside the caller's transaction): row, history, audit, event.

    ``allowed_from``: the statuses this move may start from; any other is refused,
    naming the status the client is in.
    """
    client = rows.client(db, client_id)
    old = current(db, client_id)
    if allowed_from is not None and old not in allowed_from:
        raise Conflict(f"客户 {client_id} 当前状态为 {STATUSES[old]} ({old}), 不能改为 {STATUSES[new]} ({new})"
                       f" (status {old} cannot move to {new})")
    if old == new:
        return None
    at = iso(at or now())
    db.execute(
        "INSERT INTO client_status (client_id, branch_id, status, since, reason, updated_by) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (client_id) DO UPDATE SET status = excluded.status, since = excluded.since,"
        " reason = COALESCE(excluded.reason, CASE WHEN excluded.status IN ('active', 'dormant') THEN NULL"
        " ELSE client_status.reason END), updated_by = excluded.updated_by",
        [client_id, client["branch_id"], new, at, reason, actor.id])
    db.execute(
        "INSERT INTO client_status_history (client_id, branch_id, old_status, new_status, at, operator, source, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [client_id, client["branch_id"], old, new, at, actor.id, source, reason])
    audit.record(db, "client.status", actor=actor, target=client_id,
                 detail={"from": old, "to": new, "source": source, "reason": reason})
    events.emit(db, event_kind(old, new), client_id, at=at, operator=actor.id,
                detail={"from": old, "to": new, "source": source, "branch_id": client["branch_id"]})
    return {"client_id": client_id, "from": old, "to": new, "at": at}


def request_exit(db, actor, client_id, request, *, at=None, reason=None):
    """A transfer or closure request: the status changes at once (retention decides nothing here)."""
    if request not in REQUEST_STATUS:
        raise BrokerCRMError(f"未知申请 {request!r} (request must be transfer or closure)")
    # Authorised by the caller: the request is an interaction (interaction.log, retention.handle).
    return transition(db, actor, client_id, REQUEST_STATUS[request], source="request", reason=reason, at=at,
                      allowed_from=("active", "dormant", *REQUESTED))


def record_reason(db, actor, client_id, reason, *, note=None, case_id=None):
    """Record why the client leaves (inside the caller's transaction); the code must be the policy's."""
    reason = normal_reason(db, reason)
    authz.require(actor, "retention.handle", branch=rows.client(db, client_id)["branch_id"])
    db.execute("INSERT INTO exit_reasons (client_id, case_id, reason, note, recorded_by, recorded_at)"
               " VALUES (?, ?, ?, ?, ?, ?)", [client_id, case_id, reason, note, actor.id, iso(now())])
    db.execute("UPDATE client_status SET reason = ? WHERE client_id = ? AND status NOT IN ('active', 'dormant')",
               [reason, client_id])
    audit.record(db, "client.exit_reason", actor=actor, target=client_id, detail={"reason": reason, "case": case_id})
    return reason


# -- dormancy -----------------------------------------------------------------------------------

_ACTIVITY = (
    " (EXISTS (SELECT 1 FROM behaviour_daily b WHERE b.client_id = c.client_id AND b.date >= :cutoff"
    " AND b.turnover_pct > :min_turnover)"
    " OR EXISTS (SELECT 1 FROM interactions i WHERE i.client_id = c.client_id AND i.at >= :cutoff))"
)
# Both directions in one statement: active clients with no trade and no contact since the
# cutoff (and opened before it) fall dormant; dormant clients with either wake up.
_MOVES = (
    "INSERT INTO temp.status_moves (client_id, branch_id, old, new)"
    " SELECT c.client_id, c.branch_id, 'active', 'dormant' FROM clients c"
    " WHERE c.client_id NOT IN (SELECT client_id FROM client_status WHERE status <> 'active')"
    " AND substr(COALESCE(c.opened_at, c.created_at), 1, 10) < :cutoff AND NOT" + _ACTIVITY +
    " UNION ALL"
    " SELECT c.client_id, c.branch_id, 'dormant', 'active' FROM client_status s"
    " JOIN clients c ON c.client_id = s.client_id WHERE s.status = 'dormant' AND" + _ACTIVITY
)


def refresh(db, actor, *, as_of=None):
    """Mark dormancy as of ``as_of`` (default today): a few set statements, not a loop over clients."""
    authz.require(actor, "client.status.refresh")
    doc, source = load(db)
    day = today() if as_of is None else parse_date(as_of)
    if day is None:
        raise BrokerCRMError(f"--as-of {as_of!r} 不是有效日期 (not a date, YYYY-MM-DD)")
    months = int(doc["dormancy"]["months"])
    cutoff = add_months(day, -months).isoformat()
    at = iso(now())
    params = {"cutoff": cutoff, "min_turnover": float(doc["dormancy"]["min_turnover_pct"])}
    with db.atomic():
        db.execute("DROP TABLE IF EXISTS temp.status_moves")
        db.execute("CREATE TEMP TABLE status_moves (client_id TEXT PRIMARY KEY, branch_id TEXT, old TEXT, new TEXT)")
        db.execute(_MOVES, params)
        db.execute(
            "INSERT INTO client_status (client_id, branch_id, status, since, reason, updated_by)"
            " SELECT client_id, branch_id, new, ?, NULL, ? FROM temp.status_moves WHERE true"
            " ON CONFLICT (client_id) DO UPDATE SET status = excluded.status, since = excluded.since,"
            " reason = NULL, updated_by = excluded.updated_by", [at, actor.id])
        db.execute(
            "INSERT INTO client_status_history (client_id, branch_id, old_status, new_status, at, operator, source)"
            " SELECT client_id, branch_id, old, new, ?, ?, 'refresh' FROM temp.status_moves ORDER BY client_id",
            [at, actor.id])
        counts = dict(db.execute("SELECT new, count(*) FROM temp.status_moves GROUP BY new").fetchall())
        _emit_moves(db, at, actor.id)
        db.execute("DROP TABLE temp.status_moves")
        result = {"as_of": day.isoformat(), "cutoff": cutoff, "months": months, "policy": source,
                  "dormant": counts.get("dormant", 0), "reactivated": counts.get("active", 0)}
        audit.record(db, "client.status.refresh", actor=actor, detail=result)
    return result


def _emit_moves(db, at, operator):
    """One event per move, recorded by one INSERT … SELECT and handed to listeners in a batch."""
    conn = db.conn
    last = conn.execute("SELECT COALESCE(max(id), 0) FROM events").fetchone()[0]
    conn.execute(
        "INSERT INTO events (kind, client_id, at, detail, operator)"
        " SELECT CASE new WHEN 'dormant' THEN 'client_dormant' ELSE 'client_reactivated' END, client_id, ?,"
        " json_object('from', old, 'to', new, 'source', 'refresh', 'branch_id', branch_id), ?"
        " FROM temp.status_moves ORDER BY client_id", [at, operator])
    notify_since(db, last)


def notify_since(db, last_event, keys=("from", "to", "source", "branch_id")):
    """Hand the events recorded after ``last_event`` (by an INSERT … SELECT) to the listeners, in one batch.

    SQLite extracts the detail's ``keys``: parsing each detail's JSON in Python was a quarter
    of a first dormancy run.
    """
    columns = "".join(f", json_extract(detail, '$.{k}')" for k in keys)
    batch = [{"id": r[0], "kind": r[1], "client_id": r[2], "at": r[3], "operator": r[4],
              "detail": {k: v for k, v in zip(keys, r[5:]) if v is not None}}
             for r in db.conn.execute(f"SELECT id, kind, client_id, at, operator{columns} FROM events WHERE id > ?"
                                      " ORDER BY id", [last_event])]
    if not batch:
        return
    for listener in registry().event_listeners:
        if hasattr(listener, "batch"):
            listener.batch(db, batch)
        else:
            for event in batch:
                listener(db, event)


def on_event(db, event):
    """Events listener: a contact with a dormant client makes them active again at once.

    The interaction that set it off is the audited act; the move is in the history with its operator.
    """
    if event["kind"] != "interaction_logged" or current(db, event["client_id"]) != "dormant":
        return
    client_id, at, operator = event["client_id"], event["at"], event.get("operator")
    branch = (event.get("detail") or {}).get("branch_id") or rows.client(db, client_id)["branch_id"]
    db.execute("UPDATE client_status SET status = 'active', since = ?, reason = NULL, updated_by = ?"
               " WHERE client_id = ?", [at, operator, client_id])
    db.execute(
        "INSERT INTO client_status_history (client_id, branch_id, old_status, new_status, at, operator, source)"
        " VALUES (?, ?, 'dormant', 'active', ?, ?, 'contact')", [client_id, branch, at, operator])
    events.emit(db, "client_reactivated", client_id, at=at, operator=operator,
                detail={"from": "dormant", "to": "active", "source": "contact", "branch_id": branch})


def on_events(db, batch):
    for event in batch:
        if event["kind"] == "interaction_logged":
            on_event(db, event)


on_event.batch = on_events
