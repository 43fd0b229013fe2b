"""Points and membership (积分与会员, seed 002 六(二)1–2): an append-only ledger, tiers, redemption.

``accrue`` (nightly) earns points by the programmes policy's rules in set
statements: once per event of a listed kind since the last run, and once a
month per 10,000 yuan of assets. A ledger row's ``ref`` makes every accrual
idempotent, so a run repeated or interrupted never pays twice. Clients who
have left earn nothing. The balance is the ledger's sum; the membership tier
follows the points earned in the policy's window, so spending points never
lowers a tier. Redemption (e.g. offsetting commission) is refused beyond the
balance.
"""

from ..kernel import rows
from ..kernel.errors import BrokerCRMError, Conflict, NotFound
from ..kernel.timeutil import add_months, iso, now, today
from ..service import lifecycle
from ..trust import audit, authz
from . import policy


def settings(db):
    doc, source = policy.load(db)
    return doc["points"], source


def _month(value):
    if value is None:
        return today().strftime("%Y-%m")
    text = str(value).strip()
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit() or not 1 <= int(text[5:]) <= 12:
        raise BrokerCRMError(f"--month {value!r} 须为 YYYY-MM (must be a month, YYYY-MM)")
    return text


def accrue(db, actor, *, month=None):
    """Earn points for new events and for the month's assets; returns what was added per rule."""
    authz.require(actor, "points.accrue")
    cfg, source = settings(db)
    month = _month(month)
    at = iso(now())
    added = {}
    with db.atomic():
        mark = db.execute("SELECT COALESCE(max(last_event), 0) FROM points_marks").fetchone()[0]
        last = db.execute("SELECT COALESCE(max(id), 0) FROM events").fetchone()[0]
        for rule in cfg.get("earn", []):
            cursor = db.execute(
                "INSERT OR IGNORE INTO points_ledger (client_id, branch_id, points, kind, rule, ref, at, operator)"
                " SELECT e.client_id, c.branch_id, ?, 'earn', ?, 'event:' || e.id, ?, ? FROM events e"
                " JOIN clients c ON c.client_id = e.client_id"
                f" WHERE e.kind = ? AND e.id > ? AND e.id <= ? AND NOT c.{lifecycle.DEPARTED_SQL}",
                [int(rule["points"]), rule["event"], at, actor.id, rule["event"], mark, last])
            added[rule["event"]] = max(cursor.rowcount, 0)
        per = cfg["assets_per_10k"]
        if per:
            cursor = db.execute(
                "INSERT OR IGNORE INTO points_ledger (client_id, branch_id, points, kind, rule, ref, at, operator)"
                " SELECT client_id, branch_id, CAST(total_assets / 10000 AS INTEGER) * ?, 'earn', 'assets',"
                " 'assets:' || ? || ':' || client_id, ?, ? FROM clients c"
                f" WHERE CAST(total_assets / 10000 AS INTEGER) * ? >= 1 AND NOT c.{lifecycle.DEPARTED_SQL}",
                [per, month, at, actor.id, per])
            added["assets"] = max(cursor.rowcount, 0)
        db.execute("INSERT INTO points_marks (last_event, at, operator) VALUES (?, ?, ?)", [last, at, actor.id])
        result = {"month": month, "policy": source, "rows": added, "through_event": last}
        audit.record(db, "points.accrue", actor=actor, detail=result)
    return result


def tiers(db):
    cfg, _ = settings(db)
    return cfg["tiers"]


def _tier(tiers_, earned):
    """The highest tier whose threshold ``earned`` reaches (the policy lists them rising from 0)."""
    found = tiers_[0]
    for tier in tiers_:
        if earned >= tier["min_points"]:
            found = tier
    return found


def _since(db):
    cfg, _ = settings(db)
    return add_months(today(), -int(cfg["tier_window_months"])).isoformat()


def balance(db, client_id):
    """{"balance", "earned_in_window", "tier", "tier_name", "benefits"} of one client."""
    total, earned = db.execute(
        "SELECT COALESCE(sum(points), 0), COALESCE(sum(CASE WHEN kind = 'earn' AND at >= ? THEN points END), 0)"
        " FROM points_ledger WHERE client_id = ?", [_since(db), client_id]).fetchone()
    tier = _tier(tiers(db), earned)
    return {"balance": total, "earned_in_window": earned, "tier": tier["code"], "tier_name": tier["name"],
            "benefits": tier["benefits"]}


def show(db, actor, client_id, *, limit=50):
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "points.read", branch=branch)
    out = {"client_id": client_id, **balance(db, client_id)}
    out["ledger"] = [{"at": a, "points": p, "kind": k, "rule": r, "note": n} for a, p, k, r, n in db.execute(
        "SELECT at, points, kind, rule, note FROM points_ledger WHERE client_id = ? ORDER BY id DESC LIMIT ?",
        [client_id, int(limit)])]
    return out


def redeem(db, actor, client_id, *, points, option, note=None):
    """Spend points on a redemption option; never beyond the balance. Returns the new balance and the value."""
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "points.redeem", branch=branch)
    cfg, _ = settings(db)
    options = {o["code"]: o for o in cfg["redeem"]}
    if option not in options:
        raise NotFound(f"兑换项目 {option!r} 不存在; 现行 (in force): {', '.join(options)} (no such redemption)")
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise BrokerCRMError(f"--points 须为正整数 (must be a positive whole number), got {points!r}")
    with db.atomic():
        have = balance(db, client_id)["balance"]
        if points > have:
            raise Conflict(f"客户 {client_id} 积分余额 {have}, 不足 {points} (not enough points)")
        db.execute("INSERT INTO points_ledger (client_id, branch_id, points, kind, rule, at, operator, note)"
                   " VALUES (?, ?, ?, 'redeem', ?, ?, ?, ?)",
                   [client_id, branch, -points, option, iso(now()), actor.id, note])
        audit.record(db, "points.redeem", actor=actor, target=client_id, detail={"points": points, "option": option})
    value = round(points / options[option]["points_per_yuan"], 2)
    return {**show(db, actor, client_id), "redeemed": points, "option": option, "value_yuan": value}


def adjust(db, actor, client_id, *, points, reason):
    """A head-office correction (either sign) with a reason; the balance may not go below zero."""
    authz.require(actor, "points.adjust")
    branch = rows.client(db, client_id)["branch_id"]
    if not reason or not reason.strip():
        raise BrokerCRMError("须写明调整原因 --reason (a reason is required)")
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise BrokerCRMError(f"--points 须为非零整数 (must be a non-zero whole number), got {points!r}")
    with db.atomic():
        if balance(db, client_id)["balance"] + points < 0:
            raise Conflict("调整后积分为负 (the balance would go below zero)")
        db.execute("INSERT INTO points_ledger (client_id, branch_id, points, kind, rule, at, operator, note)"
                   " VALUES (?, ?, ?, 'adjust', 'adjust', ?, ?, ?)",
                   [client_id, branch, points, iso(now()), actor.id, reason])
        audit.record(db, "points.adjust", actor=actor, target=client_id, detail={"points": points})
    return show(db, actor, client_id)


def report(db, actor, *, branch=None):
    """Per branch: members per tier, points earned, redeemed, outstanding."""
    branch = authz.branch_filter(actor, "points.read", branch)
    since = _since(db)
    where, params = (" WHERE branch_id = ?", [branch]) if branch else ("", [])
    out, tiers_ = {}, tiers(db)
    for b, earned_all, redeemed, outstanding in db.execute(
            "SELECT branch_id, COALESCE(sum(CASE WHEN kind = 'earn' THEN points END), 0),"
            " -COALESCE(sum(CASE WHEN kind = 'redeem' THEN points END), 0), sum(points)"
            f" FROM points_ledger{where} GROUP BY branch_id", params):
        out[b] = {"branch_id": b, "earned": earned_all, "redeemed": redeemed, "outstanding": outstanding,
                  "tiers": {t["code"]: 0 for t in tiers_}}
    for b, client_id, earned in db.execute(
            "SELECT branch_id, client_id, COALESCE(sum(CASE WHEN kind = 'earn' AND at >= ? THEN points END), 0)"
            f" FROM points_ledger{where} GROUP BY branch_id, client_id", [since, *params]):
        out[b]["tiers"][_tier(tiers_, earned)["code"]] += 1
    return {"since": since, "branches": [out[b] for b in sorted(out)]}
