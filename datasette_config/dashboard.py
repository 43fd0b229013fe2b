"""The dashboard: the numbers a manager looks at first, each linking to its list.

Read from the summary tables publish computes (a few hundred rows at a million
clients) and small tables, so the page answers in milliseconds at any size.
A number whose table is not in the snapshot is left out, not shown as 0.
"""

import datetime as dt
from urllib.parse import urlencode

from . import charts, labels


def list_url(database, table, args=None):
    return f"/{database}/{table}" + (f"?{urlencode(args)}" if args else "")


def _plus_day(stamp):
    """ISO time with offset, one day later, in the same form (what due_at is compared with)."""
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return stamp
    return (moment + dt.timedelta(days=1)).isoformat(timespec="seconds")


async def _one(db, sql, params=()):
    result = await db.execute(sql, params)
    row = result.first()
    return row[0] if row else None


async def numbers(datasette, name, config, counts):
    """The dashboard of one snapshot: cards (label, number, link) and charts."""
    db = datasette.get_database(name)
    tables = set(config["databases"][name]["tables"])
    queries = set(config["databases"][name]["queries"])
    published_at = config.get("published_at") or ""
    cards, charts_out = [], []

    def card(key, label, value, url, note="", bad=False):
        cards.append({"key": key, "label": label, "value": value, "url": url, "note": note,
                      "bad": bool(bad and value)})

    if "clients" in tables:
        card("clients", "客户数", counts.get("clients"), list_url(name, "clients"))
    if "summary_class_by_branch" in tables:
        result = await db.execute("SELECT class, sum(clients) AS clients FROM summary_class_by_branch GROUP BY class")
        by_class = sorted(((r["class"], r["clients"]) for r in result.rows), key=lambda kv: labels.class_key(kv[0]))
        chart = charts.bar_chart([{"类别": c, "客户数": n} for c, n in by_class], "类别", "客户数",
                                 title="客户类别分布")
        charts_out.append({"title": "客户类别分布 (A+ … G)", "svg": chart,
                           "links": [{"label": c or "未分类", "value": n,
                                      "url": list_url(name, "classifications", {"class": c})} for c, n in by_class]})
    if "summary_last_run_moves" in tables:
        result = await db.execute(
            "SELECT run_id, old_class, new_class, sum(clients) AS clients FROM summary_last_run_moves "
            "WHERE old_class != '新' AND old_class != new_class GROUP BY run_id, old_class, new_class")
        moves = [dict(r) for r in result.rows]
        run_ids = sorted({m["run_id"] for m in moves})
        total = sum(m["clients"] for m in moves)
        url = list_url(name, "last_run_moves") if "last_run_moves" in queries else list_url(name, "classification_history")
        if len(run_ids) == 1:
            url = list_url(name, "classification_history", {"run_id": run_ids[0]})
        card("moves", "上次运行以来类别变动", total, url,
             note=f"运行 #{', '.join(str(r) for r in run_ids)}" if run_ids else "尚无第二次运行")
        if moves:
            # The twelve biggest moves, in the domain's order of the class moved to.
            top = sorted(moves, key=lambda m: -m["clients"])[:12]
            chart = charts.bar_chart([{"变动": f"{m['old_class']} → {m['new_class']}", "客户数": m["clients"]}
                                      for m in top], "变动", "客户数", title="类别变动")
            charts_out.append({"title": "上次运行的主要类别变动 (前 12 种)", "svg": chart, "links": []})
    if "summary_tasks_by_branch" in tables:
        overdue = await _one(db, "SELECT sum(open_overdue) FROM summary_tasks_by_branch") or 0
        card("overdue_tasks", "逾期未办任务", overdue,
             list_url(name, "tasks", {"status": "open", "due_at__lt": published_at, "_sort": "due_at"}), bad=True)
    if "complaints" in tables:
        near = await _one(db, "SELECT count(*) FROM complaints WHERE informed_at IS NULL AND due_at < ?",
                          [_plus_day(published_at)]) or 0
        overdue = await _one(db, "SELECT count(*) FROM complaints WHERE informed_at IS NULL AND due_at < ?",
                             [published_at]) or 0
        url = list_url(name, "complaints_due") if "complaints_due" in queries else list_url(name, "complaints")
        card("complaints_due", "24小时内到期或已超期的投诉", near, url, note=f"其中已超期 {overdue}", bad=True)
    if "summary_suitability" in tables:
        unconfirmed = await _one(db, "SELECT sum(holdings - confirmed) FROM summary_suitability "
                                     "WHERE verdict != 'match'") or 0
        url = list_url(name, "suitability_unconfirmed") if "suitability_unconfirmed" in queries \
            else list_url(name, "suitability_exceptions")
        card("suitability", "未确认的适当性不匹配", unconfirmed, url, bad=True)
    if "summary_assessment_expiry" in tables:
        by_status = dict((await db.execute("SELECT status, sum(clients) FROM summary_assessment_expiry"
                                           " GROUP BY status")).rows)
        card("assessments_expiring", "30天内到期的测评", by_status.get("expiring") or 0,
             list_url(name, "assessment_expiry", {"status": "expiring"}),
             note=f"已过期 {by_status.get('expired') or 0:,}")
    if "approvals" in tables:
        pending = await _one(db, "SELECT count(*) FROM approvals WHERE status = 'pending'") or 0
        url = list_url(name, "pending_approvals") if "pending_approvals" in queries else list_url(name, "approvals")
        card("pending_approvals", "待审批的插件", pending, url)
    return {"cards": cards, "charts": charts_out}


async def branch_rows(datasette, name, config):
    """Head office's table: the same numbers per branch, each linking to that branch's list."""
    db = datasette.get_database(name)
    tables = set(config["databases"][name]["tables"])
    rows = {}
    if "branches" not in tables:
        return []
    for r in (await db.execute("SELECT code, name FROM branches ORDER BY code")).rows:
        rows[r["code"]] = {"code": r["code"], "name": r["name"], "clients": None, "overdue_tasks": None,
                           "complaints": None, "unconfirmed": None, "expiring": None}
    sources = [
        ("clients", "summary_class_by_branch", "SELECT branch_id, sum(clients) FROM summary_class_by_branch GROUP BY branch_id"),
        ("overdue_tasks", "summary_tasks_by_branch", "SELECT branch_id, sum(open_overdue) FROM summary_tasks_by_branch GROUP BY branch_id"),
        ("complaints", "summary_complaints_by_state", "SELECT branch_id, sum(complaints) FROM summary_complaints_by_state WHERE state NOT IN ('informed', 'resolved', 'closed') GROUP BY branch_id"),
        ("unconfirmed", "summary_suitability", "SELECT branch_id, sum(holdings - confirmed) FROM summary_suitability WHERE verdict != 'match' GROUP BY branch_id"),
        ("expiring", "summary_assessment_expiry", "SELECT branch_id, sum(clients) FROM summary_assessment_expiry WHERE status = 'expiring' GROUP BY branch_id"),
    ]
    for key, table, sql in sources:
        if table not in tables:
            continue
        for branch, value in (await db.execute(sql)).rows:
            if branch in rows:
                rows[branch][key] = value
    return list(rows.values())
