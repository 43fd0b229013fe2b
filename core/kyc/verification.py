"""Seed 000's three-level verification and back office's random callback sample.

"系统自动核对身份信息与公安联网数据; 客户经理当面确认关键信息; 后台部门随机抽查回访" (seed 000).
Each level is an act of an operator (``record``), audited, with its method and result.
A system check may be recorded as confirmed only when the stored ID passes its type's
check and is within its 有效期: the firm cannot "confirm" an ID it knows to be invalid.

``sample`` draws the callback sample of newly opened accounts: the population (accounts
opened in the window not yet considered by an earlier sample), sorted by client_id, and a
seed give the sample (``random.Random(seed).sample``); both are recorded, so ``replay``
recomputes it and anyone can check it was not hand-picked.
"""

import datetime as dt
import math
import random
import secrets

from ..book import kyc_policy
from ..kernel import kyc_fields, rows
from ..kernel import validate as v
from ..kernel.errors import BrokerCRMError, Conflict
from ..kernel.timeutil import iso, now, today
from ..service import tasks
from ..trust import audit, authz

RESULTS = {"confirmed": "核实无误", "failed": "核实不符"}
CALLBACK_TASK = "kyc_callback"


def id_problem(client):
    """Why the client's stored ID fails a system check (type, number, 有效期), or None."""
    id_type = kyc_fields.default_id_type(client["kind"], client.get("id_type"))
    error = v.id_document(id_type, client["id_number"] or "")
    if error:
        return f"证件号码未通过{id_type}校验: {error}"
    until = client.get("id_valid_until")
    if until and until != kyc_fields.LONG_TERM and until < today().isoformat():
        return f"证件已于 {until} 过期 (the ID expired)"
    return None


def record(db, actor, client_id, level, *, result="confirmed", method=None, note=None):
    """Record one verification act; returns the client's verification status."""
    if level not in kyc_policy.LEVELS:
        raise BrokerCRMError(f"核实层级须为 {'/'.join(kyc_policy.LEVELS)} ({', '.join(kyc_policy.LEVEL_LABELS.values())};"
                             f" unknown level {level!r})")
    if result not in RESULTS:
        raise BrokerCRMError(f"核实结果须为 confirmed 或 failed (unknown result {result!r})")
    client = rows.client(db, client_id, "client_id, kind, branch_id, id_number, id_type, id_valid_until")
    authz.require(actor, "kyc.verify", branch=client["branch_id"])
    _, policy = kyc_policy.load(db)
    if level not in policy["verification"]["levels"]:
        raise BrokerCRMError(f"策略未启用核实层级 {level} (the KYC policy does not use this level)")
    if level == "system" and result == "confirmed":
        problem = id_problem(client)
        if problem:
            raise Conflict(f"客户 {client_id} 系统核验不能记为通过: {problem}; 请记为 --result failed 并更新证件"
                           " (a system check cannot confirm an invalid or expired ID)")
    if level != "system" and not (note or "").strip():
        raise BrokerCRMError("当面确认与回访确认须写明核实内容 --note (what was confirmed, without personal data)")
    at = iso(now())
    with db.atomic():
        vid = db.execute(
            "INSERT INTO kyc_verifications (client_id, level, result, method, note, operator, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", [client_id, level, result, method, note, actor.id, at]).lastrowid
        audit.record(db, "kyc.verify", actor=actor, target=client_id,
                     detail={"verification": vid, "level": level, "result": result, "method": method})
        if level == "callback":
            # A recorded callback answers the sampled callback task, if one is open.
            open_task = db.execute("SELECT id FROM tasks WHERE client_id = ? AND kind = ? AND status = 'open'"
                                   " ORDER BY id LIMIT 1", [client_id, CALLBACK_TASK]).fetchone()
            if open_task:
                tasks.done(db, actor, open_task[0], note=f"回访确认 #{vid}: {RESULTS[result]}")
    return status(db, client_id)


def status(db, client_id):
    """{level: the latest act or None} and which levels stand confirmed."""
    latest = {}
    for level, result, method, operator, at, vid in db.execute(
            "SELECT level, result, method, operator, at, id FROM kyc_verifications WHERE client_id = ?"
            " ORDER BY id", [client_id]):
        latest[level] = {"id": vid, "level": level, "label": kyc_policy.LEVEL_LABELS[level], "result": result,
                         "method": method, "operator": operator, "at": at}
    levels = {level: latest.get(level) for level in kyc_policy.LEVELS}
    return {"client_id": client_id, "levels": levels,
            "confirmed": [lv for lv, act in levels.items() if act and act["result"] == "confirmed"],
            "failed": [lv for lv, act in levels.items() if act and act["result"] == "failed"]}


def history(db, client_id):
    return [dict(zip(("id", "level", "result", "method", "note", "operator", "at"), r)) for r in db.execute(
        "SELECT id, level, result, method, note, operator, at FROM kyc_verifications WHERE client_id = ?"
        " ORDER BY id", [client_id])]


def sample_size(n, rate, minimum):
    """How many of ``n`` new accounts are called back: the rate, rounded up, at least ``minimum``."""
    return 0 if n == 0 else min(n, max(int(minimum), math.ceil(rate * n)))


def _draw(population, seed, k):
    """``k`` of a sorted population: deterministic in (population, seed, k)."""
    return sorted(random.Random(str(seed)).sample(population, k))


def sample(db, actor, *, opened_from=None, opened_to=None, branch=None, seed=None):
    """Draw back office's callback sample of newly opened accounts; opens a task per sampled client.

    Window defaults: the last 30 days to today. A client is considered by one sample only.
    """
    branch = authz.branch_filter(actor, "kyc.sample", branch)
    version, policy = kyc_policy.load(db)
    ver = policy["verification"]
    end = opened_to or today().isoformat()
    start = opened_from or (dt.date.fromisoformat(end) - dt.timedelta(days=30)).isoformat()
    for label, day in (("--from", start), ("--to", end)):
        if v.parse_date(day) is None:
            raise BrokerCRMError(f"{label}: {day!r} 不是有效日期 (not a real date, use YYYY-MM-DD)")
    start, end = v.parse_date(start).isoformat(), v.parse_date(end).isoformat()
    if start > end:
        raise BrokerCRMError(f"--from {start} 晚于 --to {end} (the window is empty)")
    sql = ("SELECT c.client_id FROM clients c WHERE c.opened_at BETWEEN ? AND ?"
           " AND NOT EXISTS (SELECT 1 FROM kyc_sampling_population p WHERE p.client_id = c.client_id)")
    params = [start, end]
    if branch:
        sql += " AND c.branch_id = ?"
        params.append(branch)
    population = [r[0] for r in db.execute(sql + " ORDER BY c.client_id", params)]
    seed = str(seed) if seed not in (None, "") else secrets.token_hex(8)
    rate, minimum = float(ver["callback_sample_rate"]), int(ver["callback_sample_minimum"])
    chosen = set(_draw(population, seed, sample_size(len(population), rate, minimum)))
    at = now()
    due = at + dt.timedelta(days=ver["callback_within_days"])
    with db.atomic():
        run_id = db.execute(
            "INSERT INTO kyc_sampling_runs (at, operator, seed, rate, opened_from, opened_to, population, sampled,"
            " policy_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [iso(at), actor.id, seed, rate, start, end, len(population), len(chosen), version]).lastrowid
        for client_id in population:
            task_id = None
            if client_id in chosen:
                task_id = tasks.create(db, client_id, kind=CALLBACK_TASK,
                                       title="后台随机回访: 核实开户资料 (random callback, seed 000)",
                                       origin=f"kyc_sample:{run_id}", due_at=due,
                                       dedupe_key=f"kyc_callback:{client_id}")
            db.execute("INSERT INTO kyc_sampling_population (client_id, run_id, sampled, task_id) VALUES (?, ?, ?, ?)",
                       [client_id, run_id, int(client_id in chosen), task_id])
        audit.record(db, "kyc.sample", actor=actor, target=f"kyc sample {run_id}",
                     detail={"seed": seed, "rate": rate, "from": start, "to": end, "branch": branch,
                             "population": len(population), "sampled": len(chosen)})
    return run(db, run_id)


def run(db, run_id):
    found = rows.one(db, "SELECT * FROM kyc_sampling_runs WHERE id = ?", [run_id],
                     missing=f"回访抽样 #{run_id} 不存在 (no such sample)")
    found["clients"] = [r[0] for r in db.execute(
        "SELECT client_id FROM kyc_sampling_population WHERE run_id = ? AND sampled = 1 ORDER BY client_id",
        [run_id])]
    found["tasks"] = [r[0] for r in db.execute(
        "SELECT task_id FROM kyc_sampling_population WHERE run_id = ? AND task_id IS NOT NULL ORDER BY client_id",
        [run_id])]
    return found


def replay(db, actor, run_id):
    """Recompute a sample from its recorded population and seed; says whether it matches."""
    authz.scope(actor, "kyc.sample")  # refuses whoever may not draw samples
    found = run(db, run_id)
    population = [r[0] for r in db.execute(
        "SELECT client_id FROM kyc_sampling_population WHERE run_id = ? ORDER BY client_id", [run_id])]
    again = _draw(population, found["seed"], found["sampled"])
    return {"run_id": run_id, "seed": found["seed"], "recorded": found["clients"], "recomputed": again,
            "matches": again == found["clients"]}
