"""客户360: everything the site knows about one client, on one page.

Read from the snapshot the visitor may see (head office: ``hq``; a branch
user: its own branch's snapshot, which holds no other branch's clients), so a
branch user asking for another branch's client finds nothing to show and is
refused — with the same answer whether that client exists elsewhere or not,
so the page is no oracle for other branches' client ids.

Every query is a look-up by ``client_id`` (indexed in every published table),
so the page costs the same at a thousand clients or a million.
"""

import datetime as dt
import json

from . import labels

CLASSIFIED = ["class", "risk_level", "lowest_category", "habit", "tier", "value_segment"]
DIMENSION_LABELS = {"class": "类别", "risk_level": "风险等级", "lowest_category": "最低类别",
                    "habit": "交易习惯", "tier": "层级", "value_segment": "价值评估"}
IDENTITY = ["client_id", "kind", "name", "id_number", "phone", "birth_date", "branch_id", "opened_at",
            "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "occupation", "education",
            "investment_years", "legal_representative", "business_scope", "net_assets"]


async def _rows(db, tables, sql, params, table):
    if table not in tables:
        return None  # not published (yet): the section says so instead of failing
    result = await db.execute(sql, params)
    return [dict(r) for r in result.rows]


def _value_text(column, value):
    if value is None or value == "":
        return "—"
    text, _ = labels.display(column, value)
    return text if text is not None else value


def _reason_map(reason_rows):
    return {(r["dimension"], str(r["value"])): r["reason"] for r in reason_rows or []}


def _dimension_value(d, row):
    v = row.get(d)
    if d == "lowest_category" and v is not None:
        return str(int(v))
    return None if v is None else str(v)


async def gather(db, client_id, published_at):
    """The client's page as a dict, or None when this snapshot has no such client."""
    tables = set(await db.table_names())
    found = await _rows(db, tables, "SELECT * FROM clients WHERE client_id = ?", [client_id], "clients")
    if not found:
        return None
    client = found[0]
    today = (published_at or "")[:10] or dt.date.today().isoformat()
    page = {"client_id": client_id, "branch_id": client.get("branch_id"), "published_at": published_at}
    page["identity"] = [
        {"column": c, "label": labels.column_label("clients", c), "value": _value_text(c, client[c]),
         "amount": c in labels.AMOUNTS}
        for c in IDENTITY if c in client and client[c] not in (None, "")
    ]

    current = await _rows(db, tables, "SELECT * FROM classifications WHERE client_id = ?", [client_id],
                          "classifications")
    current = current[0] if current else None
    page["classification"] = None
    if current:
        reasons = _reason_map(await _rows(
            db, tables, "SELECT dimension, value, reason FROM policy_reasons WHERE policy_version = ?",
            [current["policy_version"]], "policy_reasons"))
        dims = []
        for d in CLASSIFIED:
            value = _dimension_value(d, current)
            reason = reasons.get((d, value), "")
            if d == "class" and current.get("adjustment"):
                reason = current["adjustment"]  # a plugin moved the class: its reason names it
            dims.append({"dimension": d, "label": DIMENSION_LABELS[d], "code": current.get(d),
                         "value": _value_text(d, current.get(d)), "reason": reason or "—"})
        page["classification"] = {"dimensions": dims, "policy_version": current.get("policy_version"),
                                  "run_id": current.get("run_id"), "adjusted": bool(current.get("adjustment"))}

    history = await _rows(db, tables, "SELECT * FROM classification_history WHERE client_id = ? ORDER BY id DESC",
                          [client_id], "classification_history") or []
    runs = {}
    if "runs" in tables:
        run_ids = {h["run_id"] for h in history} | {h.get("old_run_id") for h in history if h.get("old_run_id")}
        if current:
            run_ids.add(current.get("run_id"))
        run_ids.discard(None)
        if run_ids:
            marks = ", ".join("?" for _ in run_ids)
            result = await db.execute(f"SELECT id, finished_at, policy_version, operator FROM runs WHERE id IN ({marks})",
                                      list(run_ids))
            runs = {r["id"]: dict(r) for r in result.rows}
    timeline = []
    for h in history:
        changes = []
        for d in CLASSIFIED:
            old, new = h.get(f"old_{d}"), h.get(f"new_{d}")
            if h.get("old_class") is None or old != new:
                changes.append({"label": DIMENSION_LABELS[d], "old": _value_text(d, old) if old is not None else "—",
                                "new": _value_text(d, new)})
        timeline.append({"run_id": h["run_id"], "at": labels.chinese_date(h.get("created_at")) or h.get("created_at"),
                         "old_class": h.get("old_class"), "new_class": h.get("new_class"),
                         "reason": h.get("reason") or "总部策略分类网格 (head-office grid)",
                         "plugin": "插件" in (h.get("reason") or ""),
                         "policy_version": h.get("policy_version"), "changes": changes, "first": h.get("old_class") is None})
    # The first classification is recorded by its run, not by a history row (brokercrm.clients.history).
    first_run = history[-1]["old_run_id"] if history and history[-1].get("old_class") is not None else None
    if first_run is None and current and not history:
        first_run = current.get("run_id")
    if first_run is not None:
        run = runs.get(first_run, {})
        first_class = history[-1]["old_class"] if history else (current or {}).get("class")
        timeline.append({"run_id": first_run, "at": labels.chinese_date(run.get("finished_at")) or run.get("finished_at"),
                         "old_class": None, "new_class": first_class, "reason": "首次分类 (first classification)",
                         "plugin": False, "policy_version": run.get("policy_version"), "changes": [], "first": True})
    page["timeline"] = timeline

    assessments = await _rows(
        db, tables, "SELECT * FROM assessments WHERE client_id = ? ORDER BY answered_at DESC, id DESC",
        [client_id], "assessments")
    for i, a in enumerate(assessments or []):
        expires = (a.get("expires_at") or "")[:10]
        a["latest"] = i == 0
        a["expired"] = bool(expires) and expires < today
        in30 = (dt.date.fromisoformat(today) + dt.timedelta(days=30)).isoformat() if today else ""
        a["expiring"] = bool(expires) and not a["expired"] and expires <= in30
        a["level_text"] = _value_text("level", a.get("level"))
        a["answered"] = labels.chinese_date(a.get("answered_at")) or a.get("answered_at")
        a["expires"] = labels.chinese_date(a.get("expires_at")) or a.get("expires_at")
    page["assessments"] = assessments

    holdings = await _rows(db, tables, "SELECT * FROM holdings WHERE client_id = ? ORDER BY product_code",
                           [client_id], "holdings")
    if holdings is not None:
        products, verdicts, confirmations = {}, {}, {}
        codes = sorted({h["product_code"] for h in holdings})
        if codes and "products" in tables:
            marks = ", ".join("?" for _ in codes)
            result = await db.execute(f"SELECT code, name, type, risk_level FROM products WHERE code IN ({marks})", codes)
            products = {r["code"]: dict(r) for r in result.rows}
        for row in await _rows(db, tables, "SELECT * FROM suitability_exceptions WHERE client_id = ?", [client_id],
                               "suitability_exceptions") or []:
            verdicts[row["product_code"]] = row
        for row in await _rows(db, tables, "SELECT * FROM suitability_confirmations WHERE client_id = ? ORDER BY id",
                               [client_id], "suitability_confirmations") or []:
            confirmations[row["product_code"]] = row
        for h in holdings:
            product = products.get(h["product_code"], {})
            verdict = verdicts.get(h["product_code"])
            confirmation = confirmations.get(h["product_code"])
            h["product_name"] = product.get("name") or ""
            h["product_risk"] = _value_text("product_risk", product.get("risk_level"))
            h["amount_text"] = labels.yuan(h.get("amount")) or "—"
            h["verdict"] = verdict["verdict"] if verdict else "match"
            h["verdict_text"] = _value_text("verdict", h["verdict"])
            h["reasons"] = _reasons_text(verdict.get("reasons")) if verdict else ""
            h["confirmed"] = bool(confirmation) or bool(verdict and verdict.get("confirmation_id"))
            h["confirmation"] = (f"{labels.chinese_date(confirmation['confirmed_at']) or confirmation['confirmed_at']} · "
                                 f"{confirmation.get('confirmed_by') or ''}") if confirmation else ""
    page["holdings"] = holdings

    page["interactions"] = await _rows(
        db, tables, "SELECT * FROM interactions WHERE client_id = ? ORDER BY at DESC, id DESC LIMIT 50",
        [client_id], "interactions")
    tasks = await _rows(db, tables,
                        "SELECT * FROM tasks WHERE client_id = ? ORDER BY status = 'done', due_at, id",
                        [client_id], "tasks")
    now = published_at or ""
    for t in tasks or []:
        t["overdue"] = t["status"] == "open" and (t.get("due_at") or "") < now
        t["late"] = t["status"] == "done" and (t.get("done_at") or "") > (t.get("due_at") or "")
    page["tasks"] = tasks
    complaints = await _rows(db, tables, "SELECT * FROM complaints WHERE client_id = ? ORDER BY id DESC",
                             [client_id], "complaints")
    for c in complaints or []:
        c["overdue"] = (not c.get("informed_at") and (c.get("due_at") or "") < now) or \
            (c.get("informed_at") or "") > (c.get("due_at") or "")
        c["steps"] = await _rows(db, tables, "SELECT * FROM complaint_steps WHERE complaint_id = ? ORDER BY id",
                                 [c["id"]], "complaint_steps") or []
    page["complaints"] = complaints
    page["care_moments"] = await _rows(db, tables, "SELECT * FROM care_moments WHERE client_id = ? ORDER BY on_date",
                                       [client_id], "care_moments")
    page["behaviour_flags"] = await _rows(db, tables, "SELECT * FROM behaviour_flags WHERE client_id = ?",
                                          [client_id], "behaviour_flags")
    page["retention_cases"] = await _rows(db, tables, "SELECT * FROM retention_cases WHERE client_id = ? ORDER BY id DESC",
                                          [client_id], "retention_cases")
    package = await _rows(db, tables, "SELECT * FROM client_service_packages WHERE client_id = ?", [client_id],
                          "client_service_packages")
    definition = None
    if package:
        found = await _rows(db, tables, "SELECT * FROM service_packages WHERE code = ?", [package[0]["code"]],
                            "service_packages")
        definition = found[0] if found else None
    page["service_package"] = _package(package[0], definition, today) if package else None
    page["service_package_published"] = package is not None
    return page


def _reasons_text(raw):
    if not raw:
        return ""
    try:
        items = json.loads(raw)
    except (TypeError, ValueError):
        return str(raw)
    return "; ".join(str(i) for i in items) if isinstance(items, list) else str(items)


def _json_list(raw):
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        value = [raw]
    return value if isinstance(value, list) else [value]


def _package(row, definition, today):
    """A client's package (brokercrm.service.package_book): its definition, and per action [last, next due]."""
    definition = definition or {}
    steps = [a for a in _json_list(definition.get("actions")) if isinstance(a, dict)]
    dates = _json_list(row.get("actions"))
    actions = []
    for i, step in enumerate(steps):
        last, due_on = (dates[i] if i < len(dates) and isinstance(dates[i], list) and len(dates[i]) == 2
                        else (None, None))
        actions.append({**step, "last": last, "due_on": due_on, "due": bool(due_on) and due_on <= today})
    return {"code": row.get("code"), "name": definition.get("name") or row.get("code"),
            "chosen_by": row.get("chosen_by") or "总部策略 head-office policy",
            "services": _json_list(definition.get("services")) if definition else [],
            "actions": actions, "next_due": row.get("next_due")}
