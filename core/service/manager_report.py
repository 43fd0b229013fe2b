"""The per-manager report (issue 14 item 2): each account manager's book and service record.

For every account manager (``clients.account_manager``) in scope: the number of
clients by class, open and overdue tasks assigned to them, the average
satisfaction score of their clients' interactions, and their callbacks done on
time and late. Clients without a manager show as one row with manager None, so a
gap in ownership is seen, not hidden. Satisfaction joins on the client's current
manager: the book is what a manager answers for.
"""

from ..kernel.timeutil import iso, now
from ..trust import authz

UNASSIGNED = None


def _where(branch, alias):
    return (f" AND {alias}.branch_id = ?", [branch]) if branch else ("", [])


def report(db, actor, *, branch=None, manager=None):
    branch = authz.branch_filter(actor, "manager.report", branch)
    moment = iso(now())
    rows = {}

    def row(m):
        if m not in rows:
            rows[m] = {"manager": m, "branch_id": None, "clients": 0, "by_class": {}, "open_tasks": 0,
                       "overdue_tasks": 0, "satisfaction_count": 0, "satisfaction_avg": None,
                       "callbacks_on_time": 0, "callbacks_late": 0, "callback_on_time_rate": None}
        return rows[m]

    cond, params = _where(branch, "c")
    for m, b, cls, n in db.execute(
            "SELECT c.account_manager, c.branch_id, k.class, count(*) FROM clients c"
            " LEFT JOIN classifications k ON k.client_key = c.id WHERE 1 = 1" + cond
            + " GROUP BY c.account_manager, c.branch_id, k.class", params):
        r = row(m)
        r["branch_id"] = b if r["branch_id"] in (None, b) else "*"
        r["clients"] += n
        key = cls or "未分类"
        r["by_class"][key] = r["by_class"].get(key, 0) + n

    cond, params = _where(branch, "t")
    for m, b, open_, overdue, cb_on_time, cb_late in db.execute(
            "SELECT t.assignee, t.branch_id, sum(t.status = 'open'), sum(t.status = 'open' AND t.due_at < ?),"
            " sum(t.kind = 'callback' AND t.status = 'done' AND t.done_at <= t.due_at),"
            " sum(t.kind = 'callback' AND t.status = 'done' AND t.done_at > t.due_at)"
            " FROM tasks t WHERE t.assignee IS NOT NULL" + cond + " GROUP BY t.assignee, t.branch_id",
            [moment, *params]):
        r = row(m)
        r["branch_id"] = r["branch_id"] or b
        r["open_tasks"] += open_
        r["overdue_tasks"] += overdue
        r["callbacks_on_time"] += cb_on_time
        r["callbacks_late"] += cb_late

    cond, params = _where(branch, "c")
    for m, n, avg in db.execute(
            "SELECT c.account_manager, count(*), avg(i.satisfaction) FROM interactions i"
            " JOIN clients c ON c.client_id = i.client_id WHERE i.satisfaction IS NOT NULL" + cond
            + " GROUP BY c.account_manager", params):
        r = row(m)
        r["satisfaction_count"], r["satisfaction_avg"] = n, round(avg, 2)

    for r in rows.values():
        done = r["callbacks_on_time"] + r["callbacks_late"]
        r["callback_on_time_rate"] = round(r["callbacks_on_time"] / done, 4) if done else None
    out = sorted(rows.values(), key=lambda r: (r["manager"] is None, r["manager"] or ""))
    if manager is not None:
        out = [r for r in out if r["manager"] == manager]
    return {"as_of": moment, "branch": branch, "managers": out}
