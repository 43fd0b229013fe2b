"""The care calendar (情感账户, seed 000): birthdays, holidays, important moments.

"某客户提过孩子要高考, 我们会在考前一周发祝福短信" — the account manager records
the moment; ``generate`` opens a care task ahead of time, due the policy's
lead time before the day. Generation is idempotent (one task per client, kind
and day) and runs as a few INSERT … SELECT statements, not a loop over clients.
Clients who have left (closed, transferred out) get no care tasks; their
recorded moments stay.
"""

import datetime as dt

from ..trust import audit, authz
from ..kernel import rows
from . import lifecycle
from . import policy as sp
from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import CST, iso, now, today
from ..kernel.validate import parse_date

MOMENT_KINDS = {
    "exam": "考试/高考", "retirement": "退休", "wedding": "婚礼", "newborn": "添丁", "graduation": "毕业",
    "anniversary": "纪念日", "other": "其他",
}
MOMENT_ALIASES = {"高考": "exam", "中考": "exam", "考试": "exam", "退休": "retirement", "婚礼": "wedding",
                  "结婚": "wedding", "添丁": "newborn", "毕业": "graduation", "纪念日": "anniversary", "其他": "other"}


def _due(day, lead, first):
    """End of the send day (``lead`` days before), but never before ``first`` (today)."""
    send = max(day - dt.timedelta(days=lead), first)
    return dt.datetime.combine(send, dt.time(23, 59, 59), tzinfo=CST).isoformat()


def record_moment(db, actor, client_id, *, kind, on_date, note=None, yearly=False):
    authz.require(actor, "care.record", branch=rows.client(db, client_id)["branch_id"])
    kind = MOMENT_ALIASES.get(kind, kind)
    if kind not in MOMENT_KINDS:
        raise BrokerCRMError(
            f"未知重要时刻 {kind!r} (unknown moment; use {', '.join(f'{k} {v}' for k, v in MOMENT_KINDS.items())})"
        )
    day = parse_date(on_date)
    if day is None:
        raise BrokerCRMError(f"{on_date!r} 不是有效日期 (not a date)")
    with db.atomic():
        moment_id = db.execute(
            "INSERT INTO care_moments (client_id, kind, on_date, yearly, note, recorded_by, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [client_id, kind, day.isoformat(), int(bool(yearly)), note, actor.id, iso(now())],
        ).lastrowid
        audit.record(db, "care.moment", actor=actor, target=client_id,
                     detail={"moment": moment_id, "kind": kind, "yearly": bool(yearly)})
    return {"id": moment_id, "client_id": client_id, "kind": kind, "on_date": day.isoformat(),
            "yearly": bool(yearly), "note": note}


def moments_for(db, client_id):
    return [
        {"id": r[0], "kind": r[1], "on_date": r[2], "yearly": bool(r[3]), "note": r[4]}
        for r in db.execute("SELECT id, kind, on_date, yearly, note FROM care_moments WHERE client_id = ?"
                            " ORDER BY on_date", [client_id])
    ]


def _month_days(day):
    """Birthdays celebrated on ``day``: 29 February falls on the 28th in common years."""
    keys = [day.strftime("%m-%d")]
    if day.month == 2 and day.day == 28 and not _leap(day.year):
        keys.append("02-29")
    return keys


def _leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _insert(db, select_sql, params):
    cursor = db.execute(
        "INSERT OR IGNORE INTO tasks (client_id, branch_id, kind, title, origin, dedupe_key, created_at, due_at) "
        + select_sql, params,
    )
    return max(cursor.rowcount, 0)


def generate(db, actor, *, days=None):
    """Open care tasks for every birthday, holiday and moment in the next ``days`` days (policy default)."""
    authz.require(actor, "care.generate")
    policy = sp.load(db)
    care = policy.care
    days = int(care["horizon_days"] if days is None else days)
    if days < 0 or days > 366:
        raise BrokerCRMError("--days 须在 0–366 之间 (must be 0–366)")
    first = today()
    created_at = iso(now())
    window = [first + dt.timedelta(days=i) for i in range(days + 1)]
    counts = {"birthday": 0, "holiday": 0, "moment": 0}
    with db.atomic():
        # Birthdays: one pass over the clients, joined to the window's month-days.
        days_ = [(key, day.isoformat(), f"生日关怀 {day.isoformat()} (birthday greeting)",
                  _due(day, care["birthday_days_ahead"], first))
                 for day in window for key in _month_days(day)]
        db.execute("DROP TABLE IF EXISTS temp.care_days")
        db.execute("CREATE TEMP TABLE care_days (md TEXT, day TEXT, title TEXT, due TEXT, PRIMARY KEY (md, day))")
        db.conn.executemany("INSERT INTO temp.care_days VALUES (?, ?, ?, ?)", days_)
        counts["birthday"] += _insert(
            db,
            "SELECT c.client_id, c.branch_id, 'care', d.title, 'care:birthday',"
            " 'care:birthday:' || c.client_id || ':' || d.day, ?, d.due"
            " FROM clients c CROSS JOIN temp.care_days d ON d.md = substr(c.birth_date, 6, 5)"
            " WHERE c.kind = 'individual' AND NOT c." + lifecycle.DEPARTED_SQL,
            [created_at],
        )
        db.execute("DROP TABLE temp.care_days")
        for day in window:
            counts["moment"] += _insert(
                db,
                "SELECT m.client_id, c.branch_id, 'care', '重要时刻关怀 (moment): ' || m.kind || ' ' || ? ||"
                " COALESCE(' · ' || m.note, ''), 'care:moment', 'care:moment:' || m.id || ':' || ?, ?, ?"
                " FROM care_moments m JOIN clients c ON c.client_id = m.client_id"
                " WHERE (m.on_date = ? OR (m.yearly AND m.on_date < ? AND substr(m.on_date, 6, 5) = ?))"
                " AND NOT " + lifecycle.departed_sql("m.client_id"),
                [day.isoformat(), day.isoformat(), created_at, _due(day, care["moment_days_ahead"], first),
                 day.isoformat(), day.isoformat(), day.strftime("%m-%d")],
            )
        tiers = care.get("holiday_tiers") or []
        for day, name in policy.holidays:
            if not first <= day <= window[-1]:
                continue
            tier_sql = ""
            if tiers:
                tier_sql = (" AND client_id IN (SELECT client_id FROM classifications WHERE tier IN"
                            f" ({', '.join('?' for _ in tiers)}))")
            counts["holiday"] += _insert(
                db,
                "SELECT client_id, branch_id, 'care', ?, 'care:holiday', 'care:holiday:' || ? || ':' || client_id,"
                " ?, ? FROM clients WHERE kind = 'individual' AND NOT " + lifecycle.DEPARTED_SQL + tier_sql,
                [f"节日关怀 {name} {day.isoformat()} (holiday greeting)", day.isoformat(), created_at,
                 _due(day, care["holiday_days_ahead"], first), *tiers],
            )
        audit.record(db, "care.generate", actor=actor, detail={"days": days, "from": first.isoformat(),
                                                                      **counts, "policy": policy.source})
    return {"from": first.isoformat(), "to": window[-1].isoformat(), "created": counts,
            "total": sum(counts.values())}
