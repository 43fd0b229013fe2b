"""The daily report of new accounts and their risk results (seed 001 第八条4; issue 14 item 4).

"对于新开户营业部柜面人员每日需填写营业部《风险承受能力客户分类表》, 在汇总之后, 以电子
报表形式报营业部运营总监和客服总监": for a day, every account opened that day at the
branches in scope, with its latest risk assessment (score, level, lowest category,
validity) or the fact that it has none — the ones to chase. Names are masked: the
directors need the result, not the identity. ``write`` saves it as .xlsx or .csv.
"""

import csv
import datetime as dt
from pathlib import Path

from ..kernel.errors import BrokerCRMError
from ..kernel.masking import mask_field
from ..trust import audit, authz

COLUMNS = [
    ("client_id", "客户号"), ("branch_id", "营业部"), ("kind", "客户类型"), ("name", "姓名(脱敏)"),
    ("opened_at", "开户日期"), ("account_manager", "客户经理"), ("status", "测评状态"),
    ("answered_at", "测评日期"), ("score", "得分"), ("level", "风险承受能力"), ("lowest_category", "最低类别"),
    ("expires_at", "测评有效至"),
]
STATUS = {"assessed": "已测评", "missing": "未测评", "expired": "已过期"}


def _day(value):
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise BrokerCRMError(f"日期 {value!r} 须为 YYYY-MM-DD (the date must be YYYY-MM-DD)") from None


def new_accounts(db, actor, day, *, branch=None):
    """{"date", "branch", "accounts": [...], "summary": {...}} for accounts opened on ``day``."""
    day = _day(day)
    branch = authz.branch_filter(actor, "report.new_accounts", branch)
    sql = ("SELECT c.client_id, c.branch_id, c.kind, c.name, c.opened_at, c.account_manager,"
           " a.answered_at, a.score, a.level, a.lowest_category, a.expires_at"
           " FROM clients c LEFT JOIN assessments a ON a.id = c.assessment_id WHERE c.opened_at = ?")
    params = [day]
    if branch:
        sql += " AND c.branch_id = ?"
        params.append(branch)
    accounts = []
    for row in db.query(sql + " ORDER BY c.branch_id, c.client_id", params):
        if row["level"] is None:
            row["status"] = "missing"
        elif row["expires_at"] < day:
            row["status"] = "expired"
        else:
            row["status"] = "assessed"
        row["name"] = mask_field("name", row["name"])
        row["lowest_category"] = bool(row["lowest_category"]) if row["lowest_category"] is not None else None
        accounts.append(row)
    by_level, by_branch = {}, {}
    for r in accounts:
        key = r["level"] if r["status"] == "assessed" else STATUS[r["status"]]
        by_level[key] = by_level.get(key, 0) + 1
        by_branch[r["branch_id"]] = by_branch.get(r["branch_id"], 0) + 1
    summary = {"accounts": len(accounts), "assessed": sum(r["status"] == "assessed" for r in accounts),
               "missing": sum(r["status"] == "missing" for r in accounts),
               "expired": sum(r["status"] == "expired" for r in accounts),
               "lowest_category": sum(bool(r["lowest_category"]) for r in accounts),
               "by_level": dict(sorted(by_level.items())), "by_branch": dict(sorted(by_branch.items()))}
    # Who read the directors' report, for which day: no client data in the record.
    with db.atomic():
        audit.record(db, "report.new_accounts", actor=actor, target=day,
                     detail={"branch": branch, "accounts": len(accounts)})
    return {"date": day, "branch": branch, "accounts": accounts, "summary": summary}


def _cell(key, value):
    if key == "status":
        return STATUS[value]
    if key == "lowest_category":
        return "" if value is None else ("是" if value else "否")
    return "" if value is None else value


def write(report, path):
    """Save the report as .xlsx (one sheet) or .csv (UTF-8 with BOM, so Excel reads the Chinese)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise BrokerCRMError(f"{path.name}: 只支持 .xlsx 或 .csv (only .xlsx or .csv)")
    if path.exists():
        raise BrokerCRMError(f"{path} 已存在, 不覆盖 (exists; not overwritten)")
    header = [label for _, label in COLUMNS]
    body = [[_cell(k, r[k]) for k, _ in COLUMNS] for r in report["accounts"]]
    title = f"新开户及风险测评日报 {report['date']}" + (f" 营业部 {report['branch']}" if report["branch"] else "")
    if suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8-sig") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(body)
        return path
    import xlsxwriter  # deferred: the Excel writer loads only when a workbook is asked for

    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False})
    try:
        sheet = book.add_worksheet("新开户")
        sheet.write_string(0, 0, title)
        sheet.write_row(1, 0, header)
        for i, row in enumerate(body, start=2):
            for j, value in enumerate(row):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    sheet.write_number(i, j, value)
                else:
                    sheet.write_string(i, j, str(value))
        s = report["summary"]
        at = len(body) + 3
        sheet.write_row(at, 0, ["合计 total", s["accounts"], "已测评", s["assessed"], "未测评", s["missing"],
                                "已过期", s["expired"]])
    finally:
        book.close()
    return path
