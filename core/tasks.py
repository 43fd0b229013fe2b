"""The task engine: every promise to a client becomes a task with a due time.

``on_event`` is an events listener (``brokercrm.events.LISTENERS``): an event
matching a touchpoint of the service policy opens a task due ``within`` after
the event (minutes, hours, days or working days), and approved branch plugins
may add their own follow-ups through the interaction hooks. Tasks are done by
``done``; ``report`` counts per branch what was done on time, late, and what
is still open past its due time.
"""

import datetime as dt

from . import audit
from . import service_policy as sp
from .errors import BrokerCRMError
from .timeutil import now

STATUSES = ("open", "done")


def _branch_of(db, client_id):
    row = db.execute("SELECT branch_id FROM clients WHERE client_id = ?", [client_id]).fetchone()
    if row is None:
        raise BrokerCRMError(f"客户 {client_id} 不存在 (no such client)")
    return row[0]


def create(db, client_id, *, kind, title, origin, due_at, event_id=None, dedupe_key=None,
           created_at=None, branch_id=None):
    """Open a task; with ``dedupe_key`` a second call is a no-op. Returns the id (or None if a duplicate)."""
    branch_id = branch_id or _branch_of(db, client_id)
    cursor = db.execute(
        "INSERT OR IGNORE INTO tasks (client_id, branch_id, kind, title, origin, event_id, dedupe_key,"
        " created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [client_id, branch_id, kind, title, origin, event_id, dedupe_key,
         sp.iso(created_at or now()), sp.iso(due_at)],
    )
    return cursor.lastrowid if cursor.rowcount else None


def on_event(db, event):
    """Events listener: touchpoint tasks, then plugin follow-ups (approved plugins only)."""
    client_id = event.get("client_id")
    if not client_id:
        return []
    policy = sp.load(db)
    at = sp.parse_moment(event["at"])
    branch_id = (event.get("detail") or {}).get("branch_id") or _branch_of(db, client_id)
    created = []
    for tp in policy.touchpoints(event["kind"]):
        if "ignore_after" in tp and policy.due(at, tp["ignore_after"]) < now():
            continue  # a historic event (an old book being loaded): no promise to keep
        task_id = create(
            db, client_id, kind=tp["task"], title=tp["title"], origin=f"touchpoint:{event['kind']}",
            due_at=policy.due(at, tp["within"]), event_id=event["id"],
            dedupe_key=f"event:{event['id']}:{tp['task']}", created_at=at, branch_id=branch_id,
        )
        if task_id:
            created.append(task_id)
    created.extend(_plugin_followups(db, event, at, branch_id, policy))
    return created


_PLUGINS = {}


def use_plugins(plugins):
    """Set the loaded plugins the engine asks (tests register in-process plugins); None = discover."""
    _PLUGINS.clear()
    if plugins is not None:
        _PLUGINS["loaded"] = plugins


def _loaded_plugins():
    """Installed plugins, discovered once per process: an import may emit an event per client."""
    if "loaded" not in _PLUGINS:
        from . import plugins as plugins_lib

        _PLUGINS["loaded"] = plugins_lib.load()
    loaded = _PLUGINS["loaded"]
    if "any" not in _PLUGINS or _PLUGINS.get("for") is not loaded:
        _PLUGINS["for"] = loaded
        _PLUGINS["any"] = any(loaded.implementations(i, "interaction_follow_ups") for i in loaded if not i.error)
    return loaded if _PLUGINS["any"] else None


def _plugin_followups(db, event, at, branch_id, policy):
    """Tasks that approved plugins of the client's branch ask for (hook ``interaction_follow_ups``).

    A failing plugin must not lose the interaction being recorded: its error
    is written to the audit log (plugin, branch, error) and the other
    follow-ups still open.
    """
    loaded = _loaded_plugins()
    if loaded is None:
        return []
    from . import plugins as plugins_lib

    try:
        items = plugins_lib.follow_ups(db, dict(event), branch_id, plugins=loaded)
    except BrokerCRMError as e:
        audit.record(db, "plugin.error", target=f"event {event['id']}",
                     detail={"hook": "interaction_follow_ups", "branch": branch_id, "error": str(e)})
        return []
    created = []
    for i, item in enumerate(items):
        hours = item.get("due_in_hours")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours < 0:
            audit.record(db, "plugin.error", target=f"event {event['id']}",
                         detail={"hook": "interaction_follow_ups", "branch": branch_id, "plugin": item["plugin"],
                                 "error": f"due_in_hours must be a number ≥ 0, got {hours!r}"})
            continue
        task_id = create(
            db, event["client_id"], kind=item["kind"], title=item.get("note") or item["kind"],
            origin=f"plugin:{item['plugin']}", due_at=at + dt.timedelta(hours=hours), event_id=event["id"],
            dedupe_key=f"event:{event['id']}:plugin:{item['plugin']}:{i}", created_at=at, branch_id=branch_id,
        )
        if task_id:
            created.append(task_id)
    return created


def _row(cursor, row):
    return dict(zip([d[0] for d in cursor.description], row))


def _decorate(task, moment):
    due = task["due_at"]
    if task["status"] == "open":
        task["overdue"] = due < moment
        task["state"] = "open past due" if task["overdue"] else "open"
    else:
        task["overdue"] = False
        task["state"] = "done on time" if task["done_at"] <= due else "done late"
    return task


def list_tasks(db, *, branch=None, client_id=None, overdue=False, status=None, limit=None):
    moment = sp.iso(now())
    where, params = [], []
    if branch:
        where.append("branch_id = ?")
        params.append(branch)
    if client_id:
        where.append("client_id = ?")
        params.append(client_id)
    if overdue:
        where.append("status = 'open' AND due_at < ?")
        params.append(moment)
    elif status:
        where.append("status = ?")
        params.append(status)
    sql = "SELECT * FROM tasks" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY status = 'done', due_at, id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    cursor = db.execute(sql, params)
    return [_decorate(_row(cursor, r), moment) for r in cursor.fetchall()]


def get(db, task_id):
    cursor = db.execute("SELECT * FROM tasks WHERE id = ?", [task_id])
    row = cursor.fetchone()
    if row is None:
        raise BrokerCRMError(f"任务 #{task_id} 不存在 (no such task)")
    return _decorate(_row(cursor, row), sp.iso(now()))


def done(db, task_id, *, note, operator=None, at=None):
    """Close a task with a note; late or on time is decided against its due time."""
    if not note or not note.strip():
        raise BrokerCRMError("完成任务须写明处理情况 --note (a note is required)")
    task = get(db, task_id)
    if task["status"] == "done":
        raise BrokerCRMError(f"任务 #{task_id} 已于 {task['done_at']} 完成 (already done)")
    at = sp.iso(at or now())
    with db.atomic():
        db.execute(
            "UPDATE tasks SET status = 'done', done_at = ?, done_by = ?, done_note = ? WHERE id = ?",
            [at, operator, note, task_id],
        )
        audit.record(db, "task.done", operator=operator, target=f"task {task_id}",
                     detail={"client_id": task["client_id"], "kind": task["kind"], "due_at": task["due_at"],
                             "late": at > task["due_at"]})
    return get(db, task_id)


def close_open(db, client_id, kind, *, note, operator=None, at=None, origin_prefix=None):
    """Close the oldest open task of ``kind`` for a client (a logged callback answers a callback task)."""
    sql = "SELECT id FROM tasks WHERE client_id = ? AND kind = ? AND status = 'open'"
    params = [client_id, kind]
    if origin_prefix:
        sql += " AND origin LIKE ?"
        params.append(origin_prefix + "%")
    row = db.execute(sql + " ORDER BY due_at, id LIMIT 1", params).fetchone()
    return done(db, row[0], note=note, operator=operator, at=at) if row else None


def report(db, *, branch=None):
    """Per branch: done on time, done late, open past due, open within time."""
    moment = sp.iso(now())
    params = [moment, moment]
    sql = (
        "SELECT branch_id,"
        " sum(status = 'done' AND done_at <= due_at),"
        " sum(status = 'done' AND done_at > due_at),"
        " sum(status = 'open' AND due_at < ?),"
        " sum(status = 'open' AND due_at >= ?),"
        " count(*)"
        " FROM tasks"
    )
    if branch:
        sql += " WHERE branch_id = ?"
        params.append(branch)
    sql += " GROUP BY branch_id ORDER BY branch_id"
    rows = []
    for b, on_time, late, past_due, open_, total in db.execute(sql, params):
        closed = on_time + late
        rows.append({
            "branch_id": b, "on_time": on_time, "late": late, "open_past_due": past_due,
            "open": open_, "total": total,
            "on_time_rate": round(on_time / closed, 4) if closed else None,
        })
    return {"as_of": moment, "branches": rows}


def due_label(task):
    """'2026-07-01 10:00 (逾期 overdue)' for text output."""
    due = dt.datetime.fromisoformat(task["due_at"]).strftime("%Y-%m-%d %H:%M")
    marks = {"open past due": " 逾期 OVERDUE", "done late": " 迟办 late", "done on time": " 按时 on time"}
    return due + marks.get(task["state"], "")

