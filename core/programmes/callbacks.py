"""Callbacks (回访): versioned scripts with required risk-disclosure items, random sampling, records.

Seed 000's third check on a new account is "back office randomly calls back";
seed 001 part 7 has the callback's content and risk warnings. ``sample`` draws,
from the clients of each script's population (an event kind: new accounts,
high-risk sales) since the script's last run, a share ``sample_rate`` at
random and opens a callback task for each. The draw's seed is stored with the
run, so anyone can redo it. Clients who have left are never sampled.

``record`` stores which script items a callback covered. Missing a required
item flags the record (and emits ``callback_incomplete``, so a touchpoint can
ask for a second call); the record is kept either way, because the call
happened.
"""

import json
import math
import random
import secrets

from ..kernel import events, rows
from ..kernel.errors import BrokerCRMError, NotFound
from ..kernel.timeutil import iso, now
from ..service import interactions, lifecycle, tasks
from ..service import policy as sp
from ..trust import audit, authz
from . import policy


def scripts(db):
    """{code: script} of the policy in force, and its source."""
    doc, source = policy.load(db)
    return {s["code"]: s for s in doc["callbacks"]["scripts"]}, source


def script_listing(db, actor):
    authz.scope(actor, "callback.read")
    found, source = scripts(db)
    return {"policy": source, "scripts": [
        {"code": s["code"], "name": s["name"], "version": s["version"], "population": s["population"],
         "sample_rate": s["sample_rate"], "within": s["within"],
         "items": [{"code": i["code"], "text": i["text"], "required": i.get("required", False),
                    "risk_disclosure": i.get("risk_disclosure", False)} for i in s["items"]]}
        for s in found.values()]}


def _script(db, code):
    found, source = scripts(db)
    if code not in found:
        raise NotFound(f"回访脚本 {code!r} 不存在; 现行 (in force): {', '.join(found)} (no such callback script)")
    return found[code], source


def sample(db, actor, *, script=None, seed=None):
    """One sampling run per script (or the one named): returns [{run}] with the sampled clients."""
    authz.require(actor, "callback.sample")
    found, source = scripts(db)
    codes = [_script(db, script)[0]["code"]] if script else list(found)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise BrokerCRMError(f"--seed 须为非负整数 (must be a non-negative integer), got {seed!r}")
    service = sp.load(db)
    runs = []
    with db.atomic():
        for code in codes:
            runs.append(_sample_one(db, actor, found[code], source, service,
                                    secrets.randbits(31) if seed is None else seed))
    return runs


def _sample_one(db, actor, script, source, service, seed):
    code = script["code"]
    since = db.execute("SELECT COALESCE(max(last_event), 0) FROM callback_runs WHERE script = ?", [code]).fetchone()[0]
    last = db.execute("SELECT COALESCE(max(id), 0) FROM events").fetchone()[0]
    # The population: events of the script's kind since the last run, of clients still with us.
    population = db.execute(
        "SELECT e.id, e.client_id, c.branch_id FROM events e JOIN clients c ON c.client_id = e.client_id"
        " WHERE e.kind = ? AND e.id > ? AND e.id <= ? AND NOT " + lifecycle.departed_sql("e.client_id") +
        " ORDER BY e.id", [script["population"], since, last]).fetchall()
    n = math.ceil(len(population) * script["sample_rate"]) if population else 0
    drawn = sorted(random.Random(seed).sample(population, n))
    at = now()
    run_id = db.execute(
        "INSERT INTO callback_runs (script, script_version, policy, population_kind, rate, population, sampled, seed,"
        " first_event, last_event, at, operator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [code, script["version"], source, script["population"], script["sample_rate"], len(population), n, seed,
         population[0][0] if population else None, last, iso(at), actor.id]).lastrowid
    due = service.due(at, script["within"])
    sampled = []
    for event_id, client_id, branch_id in drawn:
        task_id = tasks.create(db, client_id, kind="callback", title=f"{script['name']} · 脚本 {code} v{script['version']}",
                               origin=f"callback:{code}", due_at=due, event_id=event_id,
                               dedupe_key=f"callback:{code}:{event_id}", created_at=at, branch_id=branch_id)
        db.execute("INSERT INTO callback_samples (run_id, script, event_id, client_id, branch_id, task_id)"
                   " VALUES (?, ?, ?, ?, ?, ?)", [run_id, code, event_id, client_id, branch_id, task_id])
        sampled.append({"client_id": client_id, "branch_id": branch_id, "event_id": event_id, "task_id": task_id})
    audit.record(db, "callback.sample", actor=actor, detail={
        "run": run_id, "script": code, "version": script["version"], "population": len(population), "sampled": n,
        "seed": seed})
    return {"run_id": run_id, "script": code, "version": script["version"], "policy": source,
            "population": len(population), "rate": script["sample_rate"], "sampled": n, "seed": seed,
            "due_at": iso(due), "clients": sampled}


def _items(script, covered):
    """(covered codes in script order, required codes missing); an unknown code is refused."""
    known = [i["code"] for i in script["items"]]
    wanted = [c.strip() for c in covered if c and c.strip()]
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise BrokerCRMError(f"回访脚本 {script['code']} v{script['version']} 没有要点 {', '.join(unknown)}"
                             f" (unknown item; the script has {', '.join(known)})")
    got = [c for c in known if c in wanted]
    missing = [i["code"] for i in script["items"] if i.get("required") and i["code"] not in wanted]
    return got, missing


def record(db, actor, client_id, *, script, covered, note, channel="phone", satisfaction=None, at=None):
    """Record a callback by ``script``: the items covered; a sampled callback's task is answered."""
    client = rows.client(db, client_id)
    authz.require(actor, "callback.record", branch=client["branch_id"])
    found, source = _script(db, script)
    got, missing = _items(found, covered)
    sample_row = db.execute(
        "SELECT s.id, s.task_id FROM callback_samples s JOIN tasks t ON t.id = s.task_id"
        " WHERE s.client_id = ? AND s.script = ? AND t.status = 'open' ORDER BY s.id LIMIT 1",
        [client_id, script]).fetchone()
    sample_id, task_id = sample_row if sample_row else (None, None)
    with db.atomic():
        logged = interactions.log(db, actor, client_id, kind="callback", channel=channel, note=note,
                                  satisfaction=satisfaction, at=at, task_id=task_id)
        record_id = db.execute(
            "INSERT INTO callback_records (client_id, branch_id, script, script_version, policy, sample_id,"
            " interaction_id, covered, missing, flagged, operator, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [client_id, client["branch_id"], script, found["version"], source, sample_id, logged["id"],
             json.dumps(got), json.dumps(missing), int(bool(missing)), actor.id, logged["at"]]).lastrowid
        audit.record(db, "callback.record", actor=actor, target=client_id, detail={
            "record": record_id, "script": script, "version": found["version"], "covered": got, "missing": missing})
        # Either way an event: an incomplete one may ask for a second call, a complete one may earn points.
        events.emit(db, "callback_incomplete" if missing else "callback_completed", client_id, at=logged["at"],
                    operator=actor.id, detail={"record": record_id, "script": script, "missing": missing,
                                               "branch_id": client["branch_id"]})
    return get(db, record_id)


def get(db, record_id):
    r = rows.one(db, "SELECT * FROM callback_records WHERE id = ?", [record_id],
                 missing=f"回访记录 #{record_id} 不存在 (no such callback record)")
    r["covered"], r["missing"], r["flagged"] = json.loads(r["covered"]), json.loads(r["missing"]), bool(r["flagged"])
    return r


def list_records(db, actor, *, branch=None, client_id=None, flagged=False, script=None):
    branch = authz.branch_filter(actor, "callback.read", branch)
    clauses, params = [], []
    for column, value in (("branch_id", branch), ("client_id", client_id), ("script", script)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if flagged:
        clauses.append("flagged = 1")
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return [get(db, r[0]) for r in db.execute(f"SELECT id FROM callback_records{where} ORDER BY id", params)]


def report(db, actor, *, branch=None):
    """Per branch and script: sampled, done, open, open past due, records, flagged records."""
    branch = authz.branch_filter(actor, "callback.read", branch)
    moment = iso(now())
    where, params = (" WHERE s.branch_id = ?", [branch]) if branch else ("", [])
    out = {}
    for b, script, sampled, done, open_, late in db.execute(
            "SELECT s.branch_id, s.script, count(*), sum(t.status = 'done'), sum(t.status = 'open'),"
            " sum(t.status = 'open' AND t.due_at < ?) FROM callback_samples s LEFT JOIN tasks t ON t.id = s.task_id"
            + where + " GROUP BY s.branch_id, s.script", [moment, *params]):
        out[(b, script)] = {"branch_id": b, "script": script, "sampled": sampled, "done": done, "open": open_,
                            "open_past_due": late, "records": 0, "flagged": 0}
    rwhere = " WHERE branch_id = ?" if branch else ""
    for b, script, n, flagged in db.execute(
            f"SELECT branch_id, script, count(*), sum(flagged) FROM callback_records{rwhere}"
            " GROUP BY branch_id, script", params):
        row = out.setdefault((b, script), {"branch_id": b, "script": script, "sampled": 0, "done": 0, "open": 0,
                                           "open_past_due": 0, "records": 0, "flagged": 0})
        row.update(records=n, flagged=flagged)
    return {"as_of": moment, "rows": [out[k] for k in sorted(out)]}
