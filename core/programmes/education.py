"""Investor education (投资者教育, seed 001 part 9; an SAC duty): sessions, attendance, the annual plan
and its coverage per branch.

The programmes policy's ``[education]`` sets the plan: ``sessions_per_year`` per
branch and ``coverage_target``, the share of a branch's clients (who have not
left) who attend at least one session in the year. ``coverage`` reports both
against what happened.
"""

from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import today
from ..service import lifecycle
from ..trust import authz
from . import materials, policy, sessions

KIND, MANAGE, READ = "education", "education.manage", "education.read"


def plan(db):
    doc, source = policy.load(db)
    return doc["education"], source


def add(db, actor, *, branch, title, topic, held_on, place=None, capacity=None):
    return sessions.add(db, actor, KIND, branch=branch, title=title, topic=topic, held_on=held_on, place=place,
                        capacity=capacity, allowed=plan(db)[0]["topics"], act=MANAGE)


def invite(db, actor, session_id, client_ids):
    return sessions.invite(db, actor, KIND, session_id, client_ids=client_ids, act=MANAGE)


def attend(db, actor, session_id, client_ids):
    return sessions.attend(db, actor, KIND, session_id, client_ids, act=MANAGE)


def get(db, actor, session_id):
    s = sessions.get(db, actor, KIND, session_id, act=READ)
    return {**s, "materials": materials.for_session(db, session_id)}


def list_sessions(db, actor, *, branch=None, year=None):
    return sessions.list_sessions(db, actor, KIND, act=READ, branch=branch, year=year)


def coverage(db, actor, *, year=None, branch=None):
    """Per branch for ``year``: sessions held against the plan, clients reached against the target."""
    branch = authz.branch_filter(actor, READ, branch)
    year = int(year or today().year)
    if not 1990 <= year <= 2100:
        raise BrokerCRMError(f"--year {year} 不是有效年份 (not a year)")
    settings, source = plan(db)
    where, params = (" AND c.branch_id = ?", [branch]) if branch else ("", [])
    clients = dict(db.execute(f"SELECT c.branch_id, count(*) FROM clients c WHERE NOT c.{lifecycle.DEPARTED_SQL}"
                              + where + " GROUP BY c.branch_id", params))
    held = dict(db.execute("SELECT branch_id, count(*) FROM programme_sessions WHERE kind = 'education'"
                           " AND substr(held_on, 1, 4) = ?" + (" AND branch_id = ?" if branch else "")
                           + " GROUP BY branch_id", [str(year), *params]))
    reached = dict(db.execute(
        "SELECT c.branch_id, count(DISTINCT a.client_id) FROM programme_attendance a"
        " JOIN programme_sessions s ON s.id = a.session_id JOIN clients c ON c.client_id = a.client_id"
        f" WHERE s.kind = 'education' AND substr(s.held_on, 1, 4) = ? AND NOT c.{lifecycle.DEPARTED_SQL}"
        + where + " GROUP BY c.branch_id", [str(year), *params]))
    out = []
    for b in sorted(set(clients) | set(held)):
        n, r = clients.get(b, 0), reached.get(b, 0)
        rate = round(r / n, 4) if n else None
        out.append({"branch_id": b, "sessions": held.get(b, 0), "planned": settings["sessions_per_year"],
                    "clients": n, "reached": r, "coverage": rate, "target": settings["coverage_target"],
                    "meets_plan": held.get(b, 0) >= settings["sessions_per_year"]
                    and rate is not None and rate >= settings["coverage_target"]})
    return {"year": year, "policy": source, "branches": out}
