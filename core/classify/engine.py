"""The classification engine.

One run = one transaction. Every dimension is one SQL expression compiled
from the policy (``classify.compile``); the clients in scope are classified by a
single ``INSERT … SELECT`` into a temporary ``_changed`` table that keeps only
those whose result differs from their current row, and only those are
written to ``classifications`` and ``classification_history``.

Approved branch plugins take part through ``brokercrm.adjustments``: their
rules are gathered and validated before the statement runs and folded into
its class expression. A branch whose plugin fails is left out of the run (it
keeps its previous classifications); the run completes for the others and
reports the failure (``RunResult.failures``).

A run is *incremental* when nothing but client data changed since the last
whole-book run: it then looks only at clients updated since (queued by a
trigger), added since (key mark), newly assessed (id mark), whose
assessment expired since, or whose birthday or account anniversary passed
(age-based rules). A new policy version, other approved plugins, an earlier
or much later as-of date, or a branch-scoped run make it *full*.
"""

import datetime as dt
import json
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from . import adjustments
from ..plugins import Limits, load as load_plugins
from ..trust import audit, authz
from .compile import DIMENSIONS, Compiled
from ..kernel import rows
from ..kernel.errors import NotFound
from ..policy.sets import current as current_policy
from ..kernel.side_query import SideQuery
from ..kernel.timeutil import now_iso, today as local_today
from ..kernel.wal import deferred_checkpoint

# One client's current classification row: classifications is keyed by clients.id.
CURRENT_ROW_SQL = "SELECT k.* FROM clients c JOIN classifications k ON k.client_key = c.id WHERE c.client_id = ?"



@dataclass
class RunResult:
    run_id: int | None
    dry_run: bool
    policy_version: int
    policy_digest: str
    branch: str | None
    scope: int
    changed: int
    mode: str = "full"
    examined: int = 0
    moves: dict = field(default_factory=dict)      # "B → A" -> count
    classes: dict = field(default_factory=dict)    # class -> count after the run
    seconds: float = 0.0
    examples: list = field(default_factory=list)
    plugins: dict = field(default_factory=dict)    # applied / skipped / failed, from the plan
    failures: list = field(default_factory=list)   # {"plugin", "branch", "error"}
    audit_head: dict | None = None                 # {"id", "hash"} after the run's own audit row

    def as_dict(self):
        return {
            "run_id": self.run_id, "dry_run": self.dry_run, "mode": self.mode,
            "policy_version": self.policy_version, "policy_digest": self.policy_digest,
            "branch": self.branch, "clients": self.scope, "examined": self.examined,
            "changed": self.changed, "moves": self.moves, "classes": self.classes,
            "seconds": round(self.seconds, 3), "examples": self.examples, "plugins": self.plugins,
            "status": "partial" if self.failures else "ok", "audit_head": self.audit_head,
        }


# -- incremental runs ---------------------------------------------------------

def last_full_run(db):
    """The last successful whole-book run: the baseline an incremental run builds on."""
    return rows.one(
        db,
        "SELECT id, as_of, policy_version, fingerprint, client_mark, assessment_mark FROM runs"
        " WHERE kind = 'classify' AND status = 'ok' AND branch IS NULL AND dry_run = 0"
        " ORDER BY id DESC LIMIT 1",
    )


def why_full(last, policy, today, fingerprint, branch, force):
    """Why this run must look at every client in scope, or None when an incremental run is exact."""
    if force:
        return "requested"
    if branch:
        return "branch"
    if last is None:
        return "first run"
    if last["policy_version"] != policy.version:
        return "policy changed"
    if (last["fingerprint"] or "") != fingerprint:
        return "plugins changed"
    since = dt.date.fromisoformat(last["as_of"])
    # Anniversary windows below assume less than a year has passed.
    if today < since or (today - since).days > 300:
        return "as-of date moved"
    return None


def _anniversary_between(column, since, until):
    """SQL: the month-day of ``column`` falls in (since, until] — a birthday or account anniversary."""
    a, b = since.strftime("%m-%d"), until.strftime("%m-%d")
    md = f"substr({column}, 6, 5)"
    joiner = "AND" if a <= b else "OR"
    return f"({md} > '{a}' {joiner} {md} <= '{b}')"


def fill_candidates(db, last, today):
    """Temp table ``_candidates``: every client whose result may differ since ``last``."""
    since = dt.date.fromisoformat(last["as_of"])
    db.execute("DROP TABLE IF EXISTS temp._candidates")
    # Keyed by the clients' integer key: the run then reads its candidates in table order,
    # a forward sweep over the book instead of a look-up through the client_id index.
    db.execute("CREATE TEMP TABLE _candidates (rid INTEGER PRIMARY KEY)")
    by_id = "SELECT c.id FROM {} x JOIN clients c ON c.client_id = x.client_id"
    sources = [
        ("SELECT client_key FROM classify_queue", []),
        ("SELECT id FROM clients WHERE id > ?", [last["client_mark"] or 0]),
        (by_id.format("assessments") + " WHERE x.id > ?", [last["assessment_mark"] or 0]),
        (by_id.format("assessments") + " WHERE x.expires_at > ? AND x.expires_at <= ?",
         [since.isoformat(), today.isoformat()]),
    ]
    if today > since:
        sources.append(
            ("SELECT id FROM clients WHERE " + _anniversary_between("birth_date", since, today)
             + " OR " + _anniversary_between("opened_at", since, today), [])
        )
    for sql, params in sources:
        db.execute(f"INSERT OR IGNORE INTO _candidates {sql}", params)


# -- the statement ------------------------------------------------------------

def proposed_select(comp, branch=None, plan=None, incremental=False):
    """The SELECT giving every in-scope client's proposed row, as (sql, params).

    ``plan`` (``adjustments.Plan``) folds approved plugin rules into the class
    and leaves out the branches whose plugin failed; ``incremental`` limits
    it to the clients in ``_candidates``.
    """
    cls = adjustments.class_columns(comp, plan)[0]
    cols = [("class", cls, [])] + comp.columns()[1:]
    select = ", ".join(f"{sql} AS [{name}]" for name, sql, _ in cols)
    adjustment, adj_params = adjustments.adjustment_column(comp, plan)
    params = [p for _, _, ps in cols for p in ps] + adj_params
    source = "_candidates q JOIN clients c ON c.id = q.rid" if incremental else "clients c"
    conds = []
    if branch:
        conds.append("c.branch_id = ?")
        params.append(branch)
    if plan and plan.excluded:
        conds.append(f"c.branch_id NOT IN ({', '.join('?' for _ in plan.excluded)})")
        params += sorted(plan.excluded)
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    sql = (f"SELECT c.id AS client_key, c.client_id, c.branch_id, {select}, {adjustment} AS adjustment"
           f" FROM {source} {where}")
    return sql, params


def build_changed(db, comp, branch=None, plan=None, incremental=False):
    """Fill temp table ``_changed`` with every client whose result differs from its current row."""
    sql, params = proposed_select(comp, branch, plan, incremental)
    differs = " OR ".join(f"p.[{d}] IS NOT k.[{d}]" for d in DIMENSIONS)
    old = ", ".join(f"k.[{d}] AS [old_{d}]" for d in DIMENSIONS)
    db.execute("DROP TABLE IF EXISTS temp._changed")
    db.execute(
        f"""CREATE TEMP TABLE _changed AS
        SELECT p.*, {old}, k.run_id AS old_run_id, k.client_key IS NULL AS is_new
        FROM ({sql}) p
        LEFT JOIN classifications k ON k.client_key = p.client_key
        WHERE k.client_key IS NULL OR p.branch_id IS NOT k.branch_id OR {differs}
           OR p.adjustment IS NOT k.adjustment""",
        params,
    )


def write_fresh(db, comp, branch, plan, run_id, policy):
    """First classification of a scope: every row is new, so skip the diff and write straight through.

    No history rows: there is no old value, and the run itself records the
    first classification (``classifications.run_id``, the run's summary).
    Rows come in client key order, which is the table's own order: appends.
    """
    sql, params = proposed_select(comp, branch, plan)
    names = ", ".join(f"[{d}]" for d in DIMENSIONS)
    return db.execute(
        f"""INSERT INTO classifications (client_key, client_id, branch_id, {names}, adjustment, policy_version, run_id)
        SELECT client_key, client_id, branch_id, {names}, adjustment, ?, ? FROM ({sql})""",
        [policy.version, run_id, *params],
    ).rowcount


def fresh_counts(db, comp, branch, plan):
    """Start counting the scope's classes on the other core (``SideQuery``); ``.rows()`` gives them.

    A first run writes every client in scope, so these are the counts after
    it; counting the written table instead is a second pass over the book.
    """
    sql, params = proposed_select(comp, branch, plan)
    return SideQuery(db, f"SELECT class, count(*) FROM ({sql}) GROUP BY class ORDER BY class", params)


def _moves(db):
    return {
        f"{old} → {new}": n
        for old, new, n in db.execute(
            "SELECT COALESCE(old_class, '新'), class, count(*) FROM _changed"
            " WHERE old_class IS NOT class GROUP BY 1, 2 ORDER BY 3 DESC"
        )
    }


def _examples(db, limit=5):
    return [
        {"client_id": cid, "branch_id": b, "from": old, "to": new, "adjustment": why}
        for cid, b, old, new, why in db.execute(
            "SELECT client_id, branch_id, old_class, class, adjustment FROM _changed"
            " WHERE old_class IS NOT class ORDER BY client_id LIMIT ?",
            [limit],
        )
    ]


def record_reasons(db, comp):
    """Store the reason text of every value under this policy version, once."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO policy_reasons (policy_version, dimension, value, reason) VALUES (?, ?, ?, ?)",
        [(comp.version, dim, str(value), text) for dim, mapping in comp.reasons().items()
         for value, text in mapping.items()],
    )


def _write(db, run_id, policy):
    now = now_iso()
    cols = ", ".join(f"[old_{d}], [new_{d}]" for d in DIMENSIONS)
    vals = ", ".join(f"[old_{d}], [{d}]" for d in DIMENSIONS)
    db.execute(
        f"""INSERT INTO classification_history
        (run_id, old_run_id, client_id, branch_id, {cols}, reason, policy_version, policy_digest, created_at)
        SELECT ?, old_run_id, client_id, branch_id, {vals}, adjustment, ?, ?, ? FROM _changed
        WHERE NOT is_new""",
        [run_id, policy.version, policy.digest, now],
    )
    names = ", ".join(f"[{d}]" for d in DIMENSIONS)
    updates = ", ".join(
        f"[{d}] = excluded.[{d}]"
        for d in [*DIMENSIONS, "branch_id", "adjustment", "policy_version", "run_id"]
    )
    db.execute(
        f"""INSERT INTO classifications (client_key, client_id, branch_id, {names}, adjustment, policy_version, run_id)
        SELECT client_key, client_id, branch_id, {names}, adjustment, ?, ? FROM _changed WHERE true
        ON CONFLICT(client_key) DO UPDATE SET {updates}""",
        [policy.version, run_id],
    )


def class_counts(db, branch=None):
    sql = "SELECT class, count(*) FROM classifications"
    params = []
    if branch:
        sql += " WHERE branch_id = ?"
        params.append(branch)
    return dict(db.execute(sql + " GROUP BY class ORDER BY class", params).fetchall())


def previous_counts(db, branch):
    """Class counts after the latest run, if that run covered exactly this scope.

    Only runs write classifications, so those counts plus this run's moves
    are the new counts, without scanning the book again.
    """
    row = db.execute(
        "SELECT branch, summary FROM runs WHERE kind = 'classify' AND dry_run = 0 AND status = 'ok'"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    # A branch-scoped count would miss clients that moved in from another branch.
    if branch or not row or row[0] is not None or not row[1]:
        return None
    return json.loads(row[1]).get("classes")


def carry_counts(previous, moves):
    counts = dict(previous)
    for move, n in moves.items():
        old, new = move.split(" → ")
        if old != "新":
            counts[old] -= n
        counts[new] = counts.get(new, 0) + n
    return {c: n for c, n in sorted(counts.items()) if n}


def classify(db, *, actor, branch=None, dry_run=False, today=None, plugins=None, full=False):
    """Classify every client (or one branch's) as ``actor``; return a RunResult.

    With ``dry_run`` nothing is written: the result only reports the moves.
    ``plugins`` (a ``brokercrm.plugins.Host``) defaults to the installed
    ones; only those whose signed approval for a branch stands change
    anything there. ``full`` forces a whole-book pass even where an
    incremental one would be exact.
    """
    authz.require(actor, "classify.run", branch=branch)
    if plugins is None:
        with load_plugins(limits=Limits.from_policy(current_policy(db)["classification"])) as host:
            return classify(db, actor=actor, branch=branch, dry_run=dry_run, today=today, plugins=host, full=full)
    started = time.perf_counter()
    today = today or local_today()
    policy = current_policy(db)
    comp = Compiled(policy, today)
    if branch and not db.execute("SELECT 1 FROM branches WHERE code = ?", [branch]).fetchone():
        raise NotFound(f"营业部 {branch} 不存在 (no such branch)")
    scope_sql = "SELECT count(*) FROM clients" + (" WHERE branch_id = ?" if branch else "")
    scope = db.execute(scope_sql, [branch] if branch else []).fetchone()[0]
    branches = [branch] if branch else [r[0] for r in db.execute("SELECT code FROM branches ORDER BY code")]
    plan = adjustments.plan(db, plugins, comp, policy["classification"], today, branches, root=actor.root)
    # Besides the policy and client data, the plugin rules in force decide results.
    fingerprint = plan.fingerprint()
    baseline = last_full_run(db)
    full_because = why_full(baseline, policy, today, fingerprint, branch, full)
    result = RunResult(None, dry_run, policy.version, policy.digest, branch, scope, 0,
                       mode="full" if full_because else "incremental",
                       plugins=plan.as_dict(), failures=plan.failures)
    client_mark = db.execute("SELECT max(id) FROM clients").fetchone()[0] or 0
    assessment_mark = db.execute("SELECT max(id) FROM assessments").fetchone()[0] or 0
    db.execute("PRAGMA cache_size = -65536")

    def compute():
        if full_because:
            result.examined = scope
        else:
            fill_candidates(db, baseline, today)
            result.examined = db.execute("SELECT count(*) FROM _candidates").fetchone()[0]
        build_changed(db, comp, branch, plan, incremental=not full_because)
        result.changed = db.execute("SELECT count(*) FROM _changed").fetchone()[0]
        result.moves = _moves(db)
        result.examples = _examples(db)

    fresh = not dry_run and not db.execute(
        "SELECT 1 FROM classifications" + (" WHERE branch_id = ?" if branch else "") + " LIMIT 1",
        [branch] if branch else [],
    ).fetchone()
    previous = previous_counts(db, branch)
    nested = db.conn.in_transaction

    # The run writes only client ids it has just read from clients, so the
    # per-row foreign-key look-up is pure cost here (it was ~20% of a first run).
    # The pragma cannot change inside a transaction: set it around the run.
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        if dry_run:
            compute()
            result.classes = class_counts(db, branch)
        else:
            # The commit only appends to the log; the checkpoint (0.3-0.4 s at a million
            # clients) runs after, on a helper thread (brokercrm.kernel.wal). Inside a caller's
            # transaction the caller's commit decides, so nothing is deferred there.
            deferred = nullcontext() if nested else deferred_checkpoint(db.conn)
            with deferred, db.atomic():
                # The chain head the run started from: a later truncation of the log shows against it.
                started_head = audit.head(db)
                run_id = db.execute(
                    "INSERT INTO runs (kind, mode, started_at, status, operator, branch, dry_run, as_of,"
                    " policy_version, policy_digest, fingerprint, client_mark, assessment_mark, audit_head)"
                    " VALUES ('classify', ?, ?, 'running', ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
                    [result.mode, now_iso(), actor.id, branch, today.isoformat(), policy.version,
                     policy.digest, fingerprint, client_mark, assessment_mark,
                     f"{started_head['id']}:{started_head['hash']}"],
                ).lastrowid
                result.run_id = run_id
                record_reasons(db, comp)
                if fresh:
                    result.examined = scope
                    # A second connection sees only committed data: inside a caller's open
                    # transaction it would miss the caller's own writes.
                    counting = None if nested else fresh_counts(db, comp, branch, plan)
                    result.changed = write_fresh(db, comp, branch, plan, run_id, policy)
                    result.classes = dict(counting.rows()) if counting else class_counts(db, branch)
                    result.moves = {f"新 → {c}": n for c, n in sorted(result.classes.items(), key=lambda x: -x[1])}
                    result.examples = [
                        {"client_id": cid, "branch_id": b, "from": None, "to": c, "adjustment": why}
                        for cid, b, c, why in db.execute(
                            # CROSS JOIN keeps clients outside: its client_id index gives the
                            # order and the walk stops at the fifth row (no scan, no sort).
                            "SELECT k.client_id, k.branch_id, k.class, k.adjustment FROM clients c"
                            " CROSS JOIN classifications k ON k.client_key = c.id"
                            " WHERE k.run_id = ? ORDER BY c.client_id LIMIT 5", [run_id])
                    ]
                else:
                    compute()
                    _write(db, run_id, policy)
                    result.classes = carry_counts(previous, result.moves) if previous else class_counts(db, branch)
                # Clients of a branch left out keep their place in the queue for the next run.
                done = "client_id IN (SELECT client_id FROM clients WHERE branch_id = ?)" if branch else "1"
                kept = f" AND client_id NOT IN (SELECT client_id FROM clients WHERE branch_id IN ({', '.join('?' for _ in plan.excluded)}))" if plan.excluded else ""
                db.execute(f"DELETE FROM classify_queue WHERE {done}{kept}",
                           ([branch] if branch else []) + sorted(plan.excluded))
                result.seconds = time.perf_counter() - started
                errors = "; ".join(f"{f['plugin']} ({f['branch']}): {f['error']}" for f in plan.failures)
                db.execute(
                    "UPDATE runs SET finished_at = ?, status = ?, summary = ?, error = ? WHERE id = ?",
                    [now_iso(), "partial" if plan.failures else "ok",
                     json.dumps(result.as_dict(), ensure_ascii=False), errors or None, run_id],
                )
                audit_id = audit.record(
                    db, "classify.run", actor=actor, target=f"run {run_id}",
                    detail={"branch": branch, "mode": result.mode, "full_because": full_because,
                            "clients": scope, "examined": result.examined, "changed": result.changed,
                            "policy_version": policy.version,
                            "plugins_applied": plan.applied, "plugins_failed": plan.failures},
                    digest=policy.digest,
                )
                result.audit_head = audit.head(db)
                assert result.audit_head["id"] == audit_id
    finally:
        db.execute("DROP TABLE IF EXISTS temp._changed")
        db.execute("DROP TABLE IF EXISTS temp._candidates")
        db.execute("PRAGMA foreign_keys = ON")
    result.seconds = time.perf_counter() - started
    return result
