"""Interactions (客户接触记录): every contact with a client, recorded.

A logged interaction emits ``interaction_logged`` (branch plugins react through
the interaction hooks); a complaint opens a complaint case, a transfer or
closure request opens a retention case, a low satisfaction score asks for a
callback. Satisfaction scores (1–5) give per-branch and per-manager averages.
"""

from pathlib import Path

from ..trust import audit, authz
from ..kernel import events, rows
from . import complaints, retention, tasks
from . import policy as sp
from ..kernel.errors import NO_SUCH_CLIENT, BrokerCRMError
from ..kernel.rows import chunks
from ..imports.runner import run_import
from ..kernel.timeutil import iso, now, parse_moment
from ..kernel.sql_filters import where_equal

KINDS = {
    "call": "电话沟通", "visit": "拜访", "message": "消息", "callback": "回访", "complaint": "投诉",
    "care": "关怀", "education": "投资者教育", "transfer": "转户申请", "closure": "销户申请",
}
KIND_ALIASES = {
    "电话": "call", "电话沟通": "call", "通话": "call", "拜访": "visit", "面谈": "visit", "走访": "visit",
    "消息": "message", "留言": "message", "信息": "message", "回访": "callback", "投诉": "complaint",
    "关怀": "care", "投资者教育": "education", "投教": "education", "转户": "transfer", "转户申请": "transfer",
    "转托管": "transfer", "转销户": "transfer", "销户": "closure", "销户申请": "closure",
}
CHANNELS = {"phone": "电话", "counter": "柜台", "online": "网上", "app": "APP", "sms": "短信"}
CHANNEL_ALIASES = {
    "电话": "phone", "tel": "phone", "柜台": "counter", "临柜": "counter", "营业部": "counter",
    "网上": "online", "线上": "online", "网站": "online", "web": "online", "手机app": "app", "app": "app",
    "短信": "sms", "sms": "sms",
}
IMPORT_ALIASES = {
    "客户号": "client_id", "客户编号": "client_id", "类型": "kind", "接触类型": "kind", "渠道": "channel",
    "内容": "note", "备注": "note", "记录": "note", "满意度": "satisfaction", "时间": "at", "日期": "at",
    "接触时间": "at", "客户经理": "manager",
}


def _normal(value, names, aliases, what):
    key = str(value or "").strip()
    if key.lower() in names:
        return key.lower()
    found = aliases.get(key) or aliases.get(key.lower())
    if found:
        return found
    known = ", ".join(f"{k} {v}" for k, v in names.items())
    raise BrokerCRMError(f"未知{what} {key!r} (unknown {'kind' if what == '类型' else 'channel'}; use {known})")


def normal_kind(value):
    return _normal(value, KINDS, KIND_ALIASES, "类型")


def normal_channel(value):
    return _normal(value, CHANNELS, CHANNEL_ALIASES, "渠道")


def normal_satisfaction(value):
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    # ASCII digits only (issue 13): int() also reads Arabic-Indic and full-width digits.
    score = int(text) if text.isascii() and text.isdigit() else None
    if score is None or not 1 <= score <= 5:
        raise BrokerCRMError(f"满意度须为 1–5 的整数 (satisfaction must be an integer 1–5), got {value!r}")
    return score


def _check(db, client_id, kind, channel, note, satisfaction, at):
    branch_id = rows.client(db, client_id)["branch_id"]
    if not note or not str(note).strip():
        raise BrokerCRMError("须填写接触内容 --note (a note is required)")
    moment = parse_moment(at) if at else now()
    if moment > now():
        raise BrokerCRMError(f"接触时间 {iso(moment)} 在未来 (the contact time is in the future)")
    return branch_id, normal_kind(kind), normal_channel(channel), normal_satisfaction(satisfaction), moment


def log(db, actor, client_id, *, kind, channel, note, satisfaction=None, manager=None, at=None,
        task_id=None, source="cli"):
    """Record one interaction and everything it sets off, in one transaction; returns its dict."""
    branch_id, kind, channel, score, moment = _check(db, client_id, kind, channel, note, satisfaction, at)
    authz.require(actor, "interaction.log", branch=branch_id)
    if task_id is not None:
        task = tasks.get(db, task_id)
        if task["client_id"] != client_id:
            raise BrokerCRMError(f"任务 #{task_id} 不属于客户 {client_id} (task belongs to another client)")
    with db.atomic():
        return _write(db, client_id, branch_id, kind, channel, note, score, manager or actor.id, actor,
                      moment, task_id, source)


def _write(db, client_id, branch_id, kind, channel, note, score, manager, actor, moment, task_id, source):
    at = iso(moment)
    interaction_id = db.execute(
        "INSERT INTO interactions (client_id, branch_id, kind, channel, note, satisfaction, manager, operator,"
        " at, recorded_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [client_id, branch_id, kind, channel, note, score, manager, actor.id, at, iso(now()), source],
    ).lastrowid
    audit.record(db, "interaction.log", actor=actor, target=client_id,
                 detail={"interaction": interaction_id, "kind": kind, "channel": channel, "satisfaction": score})
    result = {"id": interaction_id, "client_id": client_id, "branch_id": branch_id, "kind": kind,
              "channel": channel, "note": note, "satisfaction": score, "manager": manager, "at": at}
    if task_id is not None:
        tasks.done(db, actor, task_id, note=f"接触记录 #{interaction_id}: {note}", at=moment)
        result["task_done"] = task_id
    if kind == "complaint":
        result["complaint"] = complaints.open_case(db, actor, client_id, summary=note, interaction_id=interaction_id,
                                                   at=moment)["id"]
    elif kind in ("transfer", "closure"):
        result["retention_case"] = retention.open_case(db, actor, client_id, request=kind,
                                                       interaction_id=interaction_id, at=moment)["id"]
    detail = {"interaction_id": interaction_id, "kind": kind, "channel": channel, "branch_id": branch_id,
              "satisfaction": score}
    events.emit(db, "interaction_logged", client_id, at=at, detail=detail, operator=actor.id)
    if score is not None and score <= sp.load(db).low_score:
        events.emit(db, "low_satisfaction", client_id, at=at, detail=detail, operator=actor.id)
    return result


def _check_row(row, branches, moment_now):
    """(values, problems) for one import row; ``branches`` maps the batch's known client ids."""
    problems, values = [], {}
    for column, check in (("kind", normal_kind), ("channel", normal_channel), ("satisfaction", normal_satisfaction)):
        try:
            values[column] = check(row.get(column))
        except BrokerCRMError as e:
            problems.append((column, str(e)))
    client_id = (row.get("client_id") or "").strip()
    values["client_id"] = client_id
    if not client_id:
        problems.append(("client_id", "缺少客户号 (missing client_id)"))
    elif client_id not in branches:
        problems.append(("client_id", NO_SUCH_CLIENT.format(client_id)))
    if not (row.get("note") or "").strip():
        problems.append(("note", "须填写接触内容 (a note is required)"))
    values["at"] = moment_now
    if (row.get("at") or "").strip():
        try:
            values["at"] = parse_moment(row["at"])
            if values["at"] > moment_now:
                problems.append(("at", "接触时间在未来 (in the future)"))
        except BrokerCRMError as e:
            problems.append(("at", str(e)))
    return values, problems


def list_interactions(db, actor, *, client_id=None, branch=None, kind=None, limit=100):
    """Interactions, newest first, filtered by client, branch and kind (Chinese aliases accepted)."""
    branch = authz.branch_filter(actor, "interaction.read", branch)
    where, params = where_equal({"client_id": client_id, "branch_id": branch,
                                 "kind": normal_kind(kind) if kind else None})
    return list(db.query(
        "SELECT id, client_id, branch_id, at, kind, channel, satisfaction, manager, note FROM interactions"
        + where + " ORDER BY at DESC, id DESC LIMIT ?",
        [*params, limit],
    ))


def import_file(db, actor, path, *, skip_invalid=False, rejects=None, progress=False, sheet=None, header_row=None):
    """Import interactions from CSV/XLSX/JSON/NDJSON in one transaction, streamed in batches.

    All or nothing (problems as file:row:column: reason) unless ``skip_invalid``:
    then the bad rows go to the ``rejects`` CSV and the good ones are imported.
    Each row sets off what ``log`` does (complaint case, retention case, events).
    """
    moment_now = now()

    def check(batch):
        ids = list({(row.get("client_id") or "").strip() for _, row in batch} - {""})
        branches = {}
        for chunk in chunks(ids, 500):
            branches.update(db.execute(
                f"SELECT client_id, branch_id FROM clients WHERE client_id IN ({', '.join('?' * len(chunk))})",
                chunk).fetchall())
        checked = []
        for number, row in batch:
            values, row_problems = _check_row(row, branches, moment_now)
            values.update(branch_id=branches.get(values["client_id"]), note=row.get("note"),
                          manager=(row.get("manager") or "").strip() or actor.id, source=f"{Path(path).name}:{number}")
            checked.append((values, row_problems))
        return checked

    def write(good, result):
        for v in good:
            _write(db, v["client_id"], v["branch_id"], v["kind"], v["channel"], v["note"], v["satisfaction"],
                   v["manager"], actor, v["at"], None, v["source"])
        result.inserted += len(good)

    return run_import(db, path, "interactions", "接触记录 (interactions)", IMPORT_ALIASES, check, write,
                      lambda v: None, actor=actor, skip_invalid=skip_invalid, rejects=rejects,
                      progress=progress, sheet=sheet, header_row=header_row)


def list_for_client(db, client_id, limit=None):
    sql = ("SELECT id, at, kind, channel, note, satisfaction, manager FROM interactions WHERE client_id = ?"
           " ORDER BY at DESC, id DESC")
    if limit:
        sql += f" LIMIT {int(limit)}"
    return list(db.query(sql, [client_id]))


def satisfaction_report(db, actor, *, branch=None):
    """Average satisfaction per branch and per manager (only interactions with a score)."""
    branch = authz.branch_filter(actor, "interaction.read", branch)
    where, params = "WHERE satisfaction IS NOT NULL", []
    if branch:
        where += " AND branch_id = ?"
        params.append(branch)

    def grouped(column):
        return [
            {column: key, "count": n, "average": round(avg, 2)}
            for key, n, avg in db.execute(
                f"SELECT {column}, count(*), avg(satisfaction) FROM interactions {where}"
                f" GROUP BY {column} ORDER BY {column}", params,
            )
        ]

    return {"by_branch": grouped("branch_id"), "by_manager": grouped("manager")}


def label(kind, names=KINDS):
    return f"{names.get(kind, kind)} {kind}"
