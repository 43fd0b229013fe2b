"""Client events (客户活动, seed 002 六(一)3): events at a branch, invitations, attendance.

Invitations name clients, or select them by VIP level or classification class
(one statement); clients who have left are never invited. The event kinds are
the programmes policy's ``[events] kinds``.
"""

from ..kernel.errors import BrokerCRMError
from ..trust import authz
from . import policy, sessions

KIND, MANAGE, READ = "event", "event.manage", "event.read"


def kinds(db):
    return policy.load(db)[0]["events"]["kinds"]


def add(db, actor, *, branch, title, kind, held_on, place=None, capacity=None):
    return sessions.add(db, actor, KIND, branch=branch, title=title, topic=kind, held_on=held_on, place=place,
                        capacity=capacity, allowed=kinds(db), act=MANAGE, what=("活动类型", "event kind"))


def invite(db, actor, session_id, *, client_ids=(), vip_level=None, client_class=None):
    """Invite clients by id, by VIP level, by class (any combination: the union)."""
    clauses, params = [], []
    if vip_level:
        clauses.append("c.client_id IN (SELECT client_id FROM vip_status WHERE level = ?)")
        params.append(vip_level)
    if client_class:
        clauses.append("c.id IN (SELECT client_key FROM classifications WHERE class = ?)")
        params.append(client_class)
    if not client_ids and not clauses:
        raise BrokerCRMError("须指明邀请谁: --clients, --vip 或 --class (say whom to invite)")
    return sessions.invite(db, actor, KIND, session_id, act=MANAGE, client_ids=client_ids,
                           where_sql=" OR ".join(clauses) or None, where_params=params)


def attend(db, actor, session_id, client_ids):
    return sessions.attend(db, actor, KIND, session_id, client_ids, act=MANAGE)


def get(db, actor, session_id):
    return sessions.get(db, actor, KIND, session_id, act=READ)


def list_events(db, actor, *, branch=None, year=None):
    return sessions.list_sessions(db, actor, KIND, act=READ, branch=branch, year=year)


def report(db, actor, *, branch=None, year=None):
    """Per branch: events held, invited, attended, no-shows, walk-ins, attendance rate of the invited."""
    branch = authz.branch_filter(actor, READ, branch)
    out = {}
    for e in list_events(db, actor, branch=branch, year=year):
        row = out.setdefault(e["branch_id"], {"branch_id": e["branch_id"], "events": 0, "invited": 0, "attended": 0,
                                              "no_shows": 0, "walk_ins": 0})
        row["events"] += 1
        row["invited"] += e["invited"]
        row["attended"] += e["attended"]
        row["no_shows"] += e["no_shows"]
        row["walk_ins"] += len(e["walk_ins"])
    for row in out.values():
        came = row["invited"] - row["no_shows"]
        row["attendance_rate"] = round(came / row["invited"], 4) if row["invited"] else None
    return {"year": year, "branches": [out[b] for b in sorted(out)]}
