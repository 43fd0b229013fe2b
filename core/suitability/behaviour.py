"""Trading behaviour and behaviour-driven re-rating (DOMAIN.md, the ST-stock example).

A client rated "balanced" who trades ST stocks at more than 200% daily
turnover for months is behaving aggressively (进取型). Policy rules count the
days within a window on which a day condition holds; a client over the count
gets a behaviour flag with the reason, and a ``behaviour_alert`` event opens
a task for the account manager ("近期交易行为与风险等级存在偏差"). Trading is
never blocked: the flag informs, it does not restrict, and it never raises the
product levels a client may buy.

Rules are declarative (``brokercrm.rules`` over the day fields), so one rule is
one ``GROUP BY`` over the behaviour table, whatever the number of clients.
"""

import datetime as dt
import json

from .. import plugins as plugins_mod
from ..trust import audit, authz
from ..kernel import events
from ..kernel.errors import NO_SUCH_CLIENT, PolicyError
from ..imports.runner import run_import
from ..kernel.rows import existing
from ..kernel.rules import compile_condition
from .policy import DAY_FIELDS, condition, load as load_policy, validate_rules
from ..kernel.timeutil import now_iso, today as local_today
from ..kernel.validate import parse_date, strict_number

ALIASES = {
    "客户号": "client_id", "客户编号": "client_id", "日期": "date", "交易日期": "date", "trade_date": "date",
    "换手率": "turnover_pct", "日换手率": "turnover_pct", "turnover": "turnover_pct",
    "st占比": "st_share", "ST占比": "st_share", "ST股票占比": "st_share",
}


def _share(raw):
    """ST share as a fraction 0–1; '60%' is accepted. Returns (value, error)."""
    text_ = raw.strip()
    pct = text_.endswith("%")
    value, error = strict_number(text_.rstrip("%"))  # issue 13: ASCII digits, one point, no "_"
    if error:
        return None, error
    if pct:
        value /= 100
    if not 0 <= value <= 1:
        return None, f"{raw!r} 须在 0–1 之间或写作百分数如 60% (must be 0–1, or a percentage)"
    return value, None


def _pct(raw):
    value, error = strict_number(raw.strip().rstrip("%"))  # issue 13: ASCII digits, one point, no "_"
    if error:
        return None, error
    if value < 0:
        return None, f"{raw!r} 须为 ≥ 0 的百分比数值, 如 250 表示 250% (a percentage ≥ 0)"
    return value, None


def _check(db):
    today_iso = local_today().isoformat()

    def check(batch):
        clients = existing(db, "clients", "client_id", [row.get("client_id", "").strip() for _, row in batch])
        out = []
        for _, row in batch:
            errors = []
            cid = row.get("client_id", "").strip()
            if not cid:
                errors.append(("client_id", "缺少客户号 (missing client_id)"))
            elif cid not in clients:
                errors.append(("client_id", NO_SUCH_CLIENT.format(cid)))
            day = parse_date(row.get("date", ""))
            if day is None:
                errors.append(("date", f"{row.get('date', '')!r} 不是有效日期 (not a date)"))
            elif day.isoformat() > today_iso:
                errors.append(("date", f"{day} 晚于今天 (in the future)"))
            turnover, err = _pct(row.get("turnover_pct", "")) if row.get("turnover_pct") else (None, "缺少换手率 (missing turnover_pct)")
            if err:
                errors.append(("turnover_pct", err))
            share, err = _share(row.get("st_share", "")) if row.get("st_share") else (None, "缺少ST占比 (missing st_share)")
            if err:
                errors.append(("st_share", err))
            extra = {k: v for k, v in row.items() if k not in ("client_id", "date", "turnover_pct", "st_share") and v}
            out.append(({"client_id": cid, "date": day.isoformat() if day else None, "turnover_pct": turnover,
                         "st_share": share, "extra": json.dumps(extra, ensure_ascii=False) if extra else None},
                        errors))
        return out

    return check


def import_behaviour(db, path, *, extra_rules=None, plugins=None, **options):
    """Import daily trading behaviour, then re-rate the clients in the file."""
    stamp = now_iso()
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _behaviour_clients (client_id TEXT PRIMARY KEY) WITHOUT ROWID")
    db.execute("DELETE FROM temp._behaviour_clients")

    def write(records, result):
        db.conn.executemany(
            "INSERT INTO behaviour_daily (client_id, date, turnover_pct, st_share, extra, imported_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(client_id, date) DO UPDATE SET"
            " turnover_pct = excluded.turnover_pct, st_share = excluded.st_share, extra = excluded.extra,"
            " imported_at = excluded.imported_at",
            [[r["client_id"], r["date"], r["turnover_pct"], r["st_share"], r["extra"], stamp] for r in records],
        )
        result.inserted += len(records)
        db.conn.executemany("INSERT OR IGNORE INTO temp._behaviour_clients VALUES (?)",
                            [(r["client_id"],) for r in records])

    def finish(result):
        result.extra["flags"] = evaluate(db, options["actor"], scope="temp._behaviour_clients",
                                         extra_rules=extra_rules, plugins=plugins)

    try:
        return run_import(db, path, "behaviour", "交易行为 (behaviour)", ALIASES, _check(db), write,
                          lambda r: json.dumps([r["client_id"], r["date"]]), finish=finish, **options)
    finally:
        db.execute("DROP TABLE IF EXISTS temp._behaviour_clients")


def plugin_rules(db, plugins=None):
    """Rules that plugins approved for each branch add through the ``behaviour_rules`` hook.

    Each rule is scoped to the branch its approval is for (``_branch``) and named after its plugin.
    """
    branches = sorted(plugins_mod.dispatch.branches_with_plugins(db))
    if not branches:
        return []
    host = plugins if plugins is not None else plugins_mod.current()
    out = []
    for branch in branches:
        for info, result in plugins_mod.call_for_branch(db, host, branch, "behaviour_rules"):
            items = list(result or ())
            try:
                validate_rules(items, f"插件 {info.name} behaviour_rules")
            except PolicyError as e:
                raise plugins_mod.PluginError(info.name, branch, f"behaviour_rules 返回格式错误 (malformed): {e}")
            out += [{**rule, "name": f"{info.name}:{rule['name']}", "_branch": branch} for rule in items]
    return out


def rules(db, extra_rules=None, plugins=None):
    """The head-office behaviour rules in force, then extra rules (default: the approved plugins').

    The first rule that holds for a client wins.
    """
    policy = load_policy(db)
    found = list(policy.doc.get("behaviour", {}).get("rules", []))
    if extra_rules is None:
        extra = plugin_rules(db, plugins)
    else:
        extra = list(extra_rules)
        validate_rules(extra, "extra behaviour rules")
    return policy, found + extra


def rerate(db, actor, *, today=None, extra_rules=None, plugins=None):
    """Head office (or the scheduler) re-rates every client with behaviour data."""
    authz.require(actor, "behaviour.evaluate")
    return evaluate(db, actor, today=today, extra_rules=extra_rules, plugins=plugins)


def evaluate(db, actor, *, scope=None, today=None, extra_rules=None, plugins=None):
    """Re-rate every client with behaviour data (or those in temp table ``scope``), as part of an
    act ``actor`` is already authorised for (an import, a re-rating).

    Returns counts: flagged (newly), cleared, kept. Runs inside the caller's
    transaction when there is one.
    """
    today = today or local_today()
    policy, active = rules(db, extra_rules, plugins)
    stamp = now_iso()
    where_scope = f"AND d.client_id IN (SELECT client_id FROM {scope})" if scope else ""
    db.execute("DROP TABLE IF EXISTS temp._flag_new")
    db.execute("CREATE TEMP TABLE _flag_new (client_id TEXT PRIMARY KEY, flag TEXT, label TEXT, rule TEXT,"
               " reason TEXT, message TEXT, days INTEGER, window_from TEXT, window_to TEXT) WITHOUT ROWID")
    for i, rule in enumerate(active):
        cond_sql, params = compile_condition(condition(rule), DAY_FIELDS, f"behaviour.rules[{i}]")
        start = (today - dt.timedelta(days=int(rule["window_days"]))).isoformat()
        branch_sql, branch_params = "", []
        if rule.get("_branch"):  # a plugin's rule binds the clients of the branch it is approved for
            branch_sql = "AND d.client_id IN (SELECT client_id FROM clients WHERE branch_id = ?)"
            branch_params = [rule["_branch"]]
        db.execute(
            f"""INSERT OR IGNORE INTO temp._flag_new
            SELECT d.client_id, ?, ?, ?, ?, ?, count(*), ?, ? FROM behaviour_daily d
            WHERE d.date > ? AND d.date <= ? AND ({cond_sql}) {where_scope} {branch_sql}
            GROUP BY d.client_id HAVING count(*) >= ?""",
            [rule["flag"], rule["label"], rule["name"], rule["reason"], rule["message"], start, today.isoformat(),
             start, today.isoformat(), *params, *branch_params, int(rule["min_days"])],
        )
    counts = {"flagged": 0, "cleared": 0, "kept": 0}
    with db.atomic():
        new = db.execute(
            "SELECT n.client_id, n.flag, n.label, n.rule, n.reason, n.message, n.days, n.window_from, n.window_to,"
            " f.flag, c.branch_id FROM temp._flag_new n JOIN clients c ON c.client_id = n.client_id"
            " LEFT JOIN behaviour_flags f ON f.client_id = n.client_id"
        ).fetchall()
        for cid, flag, label, rule, reason, message, days, wfrom, wto, old, branch in new:
            evidence = json.dumps({"days": days, "from": wfrom, "to": wto}, ensure_ascii=False)
            full_reason = f"{policy.source} 行为规则 {rule}: {reason} (实际 {days} 天, {wfrom}–{wto}) → {label}"
            db.execute(
                "INSERT INTO behaviour_flags (client_id, flag, label, rule, reason, evidence, policy_version, since,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client_id) DO UPDATE SET"
                " flag = excluded.flag, label = excluded.label, rule = excluded.rule, reason = excluded.reason,"
                " evidence = excluded.evidence, policy_version = excluded.policy_version,"
                " since = CASE WHEN behaviour_flags.flag = excluded.flag THEN behaviour_flags.since"
                " ELSE excluded.since END, updated_at = excluded.updated_at",
                [cid, flag, label, rule, full_reason, evidence, policy.version, stamp, stamp],
            )
            if old == flag:
                counts["kept"] += 1
                continue
            counts["flagged"] += 1
            db.execute(
                "INSERT INTO behaviour_flag_history (client_id, old_flag, new_flag, reason, policy_version, at)"
                " VALUES (?, ?, ?, ?, ?, ?)", [cid, old, flag, full_reason, policy.version, stamp])
            # The task engine turns this event into the account manager's alert task.
            events.emit(db, "behaviour_alert", cid, operator=actor.id, detail={
                "message": message, "flag": flag, "label": label, "rule": rule, "reason": full_reason,
                "days": days, "window": [wfrom, wto], "branch_id": branch,
            })
        scope_flags = f"WHERE f.client_id IN (SELECT client_id FROM {scope})" if scope else ""
        gone = db.execute(
            f"SELECT f.client_id, f.flag FROM behaviour_flags f {scope_flags}"
            f"{' AND' if scope else ' WHERE'} f.client_id NOT IN (SELECT client_id FROM temp._flag_new)"
        ).fetchall()
        for cid, old in gone:
            reason = f"{policy.source}: 近期交易行为不再满足任何行为规则 (no behaviour rule holds any more)"
            db.execute("DELETE FROM behaviour_flags WHERE client_id = ?", [cid])
            db.execute(
                "INSERT INTO behaviour_flag_history (client_id, old_flag, new_flag, reason, policy_version, at)"
                " VALUES (?, ?, NULL, ?, ?, ?)", [cid, old, reason, policy.version, stamp])
            counts["cleared"] += 1
        if counts["flagged"] or counts["cleared"]:
            audit.record(db, "behaviour.rerate", actor=actor, target=f"{counts['flagged']} flagged",
                         detail=counts)
    db.execute("DROP TABLE IF EXISTS temp._flag_new")
    return counts


def flags(db, *, branch=None):
    sql = ("SELECT f.client_id, c.branch_id, f.flag, f.label, f.rule, f.reason, f.evidence, f.since, f.updated_at"
           " FROM behaviour_flags f JOIN clients c ON c.client_id = f.client_id")
    params = []
    if branch:
        sql += " WHERE c.branch_id = ?"
        params.append(branch)
    return [
        {"client_id": r[0], "branch_id": r[1], "flag": r[2], "label": r[3], "rule": r[4], "reason": r[5],
         "evidence": json.loads(r[6]), "since": r[7], "updated_at": r[8]}
        for r in db.execute(sql + " ORDER BY c.branch_id, f.client_id", params)
    ]
