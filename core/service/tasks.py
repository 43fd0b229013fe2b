"""The task engine: every promise to a client becomes a task with a due time.

``on_event`` is an events listener (contributed through ``brokercrm.kernel.registry``): an event
matching a touchpoint of the service policy opens a task due ``within`` after
the event (minutes, hours, days or working days), and approved branch plugins
may add their own follow-ups through the interaction hooks. Tasks are done by
``done``; ``report`` counts per branch what was done on time, late, and what
is still open past its due time.

Every task has an owner: ``assignee`` (a person; by default the client's account
manager, set by the schema's trigger for any task opened without one) or
``queue`` (a position's group queue, where the touchpoint names one: complaints →
投诉组 ``complaints_group``). ``list_tasks(mine_only=True)`` is "my tasks".
"""

import datetime as dt

from .. import plugins as plugins_lib
from ..trust import audit, authz
from . import policy as sp
from ..kernel import rows
from ..kernel.errors import NO_SUCH_CLIENT, BrokerCRMError, Conflict, NotFound
from ..kernel.timeutil import CST, iso, now, parse_moment
from ..kernel.sql_filters import where_equal

STATUSES = ("open", "done")
# Events the system raises about its own bookkeeping, not about something the client did: they
# open their touchpoint tasks but plugins' follow-ups are not asked for them (a reassigned book of
# thousands of clients must not call a plugin worker per client, nor open a plugin task each).
BOOKKEEPING = frozenset({"manager_changed", "questionnaire_missing"})


def _branch_of(db, client_id):
    return rows.client(db, client_id)["branch_id"]


def create(db, client_id, *, kind, title, origin, due_at, event_id=None, dedupe_key=None,
           created_at=None, branch_id=None, queue=None, assignee=None):
    """Open a task; with ``dedupe_key`` a second call is a no-op. Returns the id (or None if a duplicate).

    Without ``queue`` or ``assignee`` it goes to the client's account manager (the schema's trigger)."""
    branch_id = branch_id or _branch_of(db, client_id)
    cursor = db.execute(
        "INSERT OR IGNORE INTO tasks (client_id, branch_id, kind, title, origin, event_id, dedupe_key,"
        " created_at, due_at, queue, assignee) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [client_id, branch_id, kind, title, origin, event_id, dedupe_key,
         iso(created_at or now()), iso(due_at), queue, assignee],
    )
    return cursor.lastrowid if cursor.rowcount else None


def on_event(db, event):
    """Events listener: touchpoint tasks, then plugin follow-ups (approved plugins only)."""
    return on_events(db, [event])


def on_events(db, batch):
    """The same for a batch of events (the client importer hands over one per new client).

    One policy look-up, one INSERT for all touchpoint tasks; plugins are asked
    only for events of branches where a plugin implementing the hook is approved.
    """
    batch = [e for e in batch if e.get("client_id")]
    if not batch:
        return []
    _follow_manager(db, [e for e in batch if e["kind"] == "manager_changed"])
    policy = sp.load(db)
    moment = now()
    branches = _branches(db, batch)
    new_tasks, by_kind = [], {}
    for event in batch:
        kind = event["kind"]
        if kind not in by_kind:
            by_kind[kind] = [(tp, _cutoff(policy, tp, moment)) for tp in policy.touchpoints(kind)]
        if not by_kind[kind]:
            continue
        text = event["at"]
        canonical = isinstance(text, str) and len(text) == 25 and text.endswith("+08:00")
        at = created_at = None
        for tp, cutoff in by_kind[kind]:
            if cutoff is not None and canonical and text < cutoff:
                continue  # historic (an old book being loaded): decided on the text, nothing parsed
            if at is None:
                at = parse_moment(text)
                created_at = at.isoformat(timespec="seconds")
            if "ignore_after" in tp and policy.due(at, tp["ignore_after"]) < moment:
                continue  # a historic event: no promise to keep
            new_tasks.append((event["client_id"], branches[event["client_id"]], tp["task"], tp["title"],
                         f"touchpoint:{kind}", event["id"], f"event:{event['id']}:{tp['task']}", created_at,
                         policy.due(at, tp["within"]).isoformat(timespec="seconds"), tp.get("queue")))
    before = db.execute("SELECT COALESCE(max(id), 0) FROM tasks").fetchone()[0]
    if new_tasks:
        with db.atomic():  # inside the emitter's transaction a savepoint; alone, its own commit
            # No queue: the trigger tasks_default_assignee gives the task to the client's manager.
            db.conn.executemany(
                "INSERT OR IGNORE INTO tasks (client_id, branch_id, kind, title, origin, event_id, dedupe_key,"
                " created_at, due_at, queue) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new_tasks,
            )
    created = [r[0] for r in db.execute("SELECT id FROM tasks WHERE id > ? ORDER BY id", [before])]
    batch = [e for e in batch if e["kind"] not in BOOKKEEPING]
    asking = plugins_lib.dispatch.branches_with_plugins(db, {branches[e["client_id"]] for e in batch}) if batch else ()
    if asking:
        host = plugins_lib.current()
        for event in batch:
            branch_id = branches[event["client_id"]]
            if branch_id in asking:
                created.extend(_plugin_followups(db, event, parse_moment(event["at"]), branch_id, host))
    return created


on_event.batch = on_events


def _follow_manager(db, changes):
    """A client's open tasks held by the old manager move to the new one (queue tasks stay in their queue)."""
    if changes:
        db.conn.executemany(
            "UPDATE tasks SET assignee = ? WHERE client_id = ? AND status = 'open' AND queue IS NULL"
            " AND (assignee IS ? OR assignee IS NULL)",
            [(e["detail"]["new"], e["client_id"], e["detail"]["old"]) for e in changes])


def mine(actor):
    """SQL condition and parameters for "my tasks": assigned to the actor, or in a queue of their position.

    A queue is a position id (policies/positions.toml); a branch position's queue
    is its own branch's, a head-office position's the firm's.
    """
    if actor.branch:
        return "(assignee = ? OR (queue = ? AND branch_id = ?))", [actor.id, actor.role, actor.branch]
    return "(assignee = ? OR queue = ?)", [actor.id, actor.role]


def _cutoff(policy, tp, moment):
    """Stored-form time before which an event is too old for ``tp`` (its ``ignore_after``), if fixed-length."""
    if "ignore_after" not in tp:
        return None
    _, unit = sp.parse_duration(tp["ignore_after"])
    if unit == "wd":
        return None  # depends on the event's date; decided per event
    return (moment - (policy.due(moment, tp["ignore_after"]) - moment)).astimezone(CST).isoformat(
        timespec="seconds")


def _branches(db, batch):
    """client_id -> branch, from the events' detail where the emitter put it, else from clients."""
    found, missing = {}, set()
    for e in batch:
        branch = (e.get("detail") or {}).get("branch_id")
        if branch:
            found[e["client_id"]] = branch
        elif e["client_id"] not in found:
            missing.add(e["client_id"])
    missing -= set(found)
    for chunk in rows.chunks(list(missing), 500):
        found.update(db.execute(
            f"SELECT client_id, branch_id FROM clients WHERE client_id IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall())
    unknown = missing - set(found)
    if unknown:
        raise NotFound(NO_SUCH_CLIENT.format(sorted(unknown)[0]))
    return found


def _plugin_followups(db, event, at, branch_id, host):
    """Tasks that approved plugins of the client's branch ask for (hook ``interaction_follow_ups``).

    A failing plugin must not lose the interaction being recorded: its error
    is kept in ``plugin_errors`` (plugin, branch, hook, error) and the
    interaction, complaint or case that set it off is recorded all the same.
    """
    try:
        items = plugins_lib.follow_ups(db, dict(event), branch_id, host)
    except plugins_lib.PluginError as e:
        plugins_lib.dispatch.record_failure(db, e, hook="interaction_follow_ups", target=f"event {event['id']}")
        return []
    created = []
    for i, item in enumerate(items):
        hours = item.get("due_in_hours") or 0
        task_id = create(
            db, event["client_id"], kind=item["kind"], title=item.get("note") or item["kind"],
            origin=f"plugin:{item['plugin']}", due_at=at + dt.timedelta(hours=hours), event_id=event["id"],
            dedupe_key=f"event:{event['id']}:plugin:{item['plugin']}:{i}", created_at=at, branch_id=branch_id,
        )
        if task_id:
            created.append(task_id)
    return created


def _decorate(task, moment):
    due = task["due_at"]
    if task["status"] == "open":
        task["overdue"] = due < moment
        task["state"] = "open past due" if task["overdue"] else "open"
    else:
        task["overdue"] = False
        task["state"] = "done on time" if task["done_at"] <= due else "done late"
    return task


def list_tasks(db, actor, *, branch=None, client_id=None, overdue=False, status=None, limit=None, mine_only=False,
               assignee=None):
    """Tasks, open first by due time; ``mine_only``: the actor's own and their position's queue;
    ``assignee``: one person's (an account manager's)."""
    branch = authz.branch_filter(actor, "task.read", branch)
    moment = iso(now())
    extra = [("status = 'open' AND due_at < ?", [moment])] if overdue else []
    if mine_only:
        extra.append(mine(actor))
    where, params = where_equal(
        {"branch_id": branch, "client_id": client_id, "status": None if overdue else status, "assignee": assignee},
        extra=extra,
    )
    sql = "SELECT * FROM tasks" + where
    sql += " ORDER BY status = 'done', due_at, id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_decorate(task, moment) for task in db.query(sql, params)]


def get(db, task_id):
    task = rows.one(db, "SELECT * FROM tasks WHERE id = ?", [task_id],
                    missing=f"任务 #{task_id} 不存在 (no such task)")
    return _decorate(task, iso(now()))


def done(db, actor, task_id, *, note, at=None):
    """Close a task with a note; late or on time is decided against its due time."""
    if not note or not note.strip():
        raise BrokerCRMError("完成任务须写明处理情况 --note (a note is required)")
    task = get(db, task_id)
    authz.require(actor, "task.done", branch=task["branch_id"])
    if task["status"] == "done":
        raise Conflict(f"任务 #{task_id} 已于 {task['done_at']} 完成 (already done)")
    at = iso(at or now())
    with db.atomic():
        db.execute(
            "UPDATE tasks SET status = 'done', done_at = ?, done_by = ?, done_note = ? WHERE id = ?",
            [at, actor.id, note, task_id],
        )
        audit.record(db, "task.done", actor=actor, target=f"task {task_id}",
                     detail={"client_id": task["client_id"], "kind": task["kind"], "due_at": task["due_at"],
                             "late": at > task["due_at"]})
    return get(db, task_id)


def close_open(db, actor, client_id, kind, *, note, at=None, origin_prefix=None):
    """Close the oldest open task of ``kind`` for a client (a logged callback answers a callback task)."""
    sql = "SELECT id FROM tasks WHERE client_id = ? AND kind = ? AND status = 'open'"
    params = [client_id, kind]
    if origin_prefix:
        sql += " AND origin LIKE ?"
        params.append(origin_prefix + "%")
    row = db.execute(sql + " ORDER BY due_at, id LIMIT 1", params).fetchone()
    return done(db, actor, row[0], note=note, at=at) if row else None


def report(db, actor, *, branch=None):
    """Per branch: done on time, done late, open past due, open within time."""
    branch = authz.branch_filter(actor, "task.read", branch)
    moment = iso(now())
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
    per_branch = []
    for b, on_time, late, past_due, open_, total in db.execute(sql, params):
        closed = on_time + late
        per_branch.append({
            "branch_id": b, "on_time": on_time, "late": late, "open_past_due": past_due,
            "open": open_, "total": total,
            "on_time_rate": round(on_time / closed, 4) if closed else None,
        })
    return {"as_of": moment, "branches": per_branch}


def due_label(task):
    """'2026-07-01 10:00 (逾期 overdue)' for text output."""
    due = dt.datetime.fromisoformat(task["due_at"]).strftime("%Y-%m-%d %H:%M")
    marks = {"open past due": " 逾期 OVERDUE", "done late": " 迟办 late", "done on time": " 按时 on time"}
    return due + marks.get(task["state"], "")



def owner_label(task):
    """'am01' for a person, '队列 complaints_group' for a group queue, '-' for nobody."""
    if task.get("queue"):
        return f"队列 queue {task['queue']}"
    return task.get("assignee") or "- (未指派 unassigned)"
