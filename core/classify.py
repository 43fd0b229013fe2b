"""The classification engine.

One run = one transaction. The whole scope is classified by a single
``INSERT … SELECT`` whose expressions come from the policy (``classify_sql``);
only rows whose result differs from the current classification land in a
temporary ``_changed`` table, and only those are written to
``classifications`` and ``classification_history``. A nightly re-run after a
few clients changed therefore writes a few rows, not the book.

Approved branch plugins take part through ``brokercrm.adjustments``: their
rules are gathered and validated before the statement runs and folded into
its class expression. A branch whose plugin fails is left out of the run
(it keeps its previous classifications); the run still completes for the
others and reports the failure (``RunResult.failures``).
"""

import json
import time
from dataclasses import dataclass, field

from . import adjustments, audit
from .classify_sql import Compiled
from .errors import BrokerCRMError
from .policy import current as current_policy
from .timeutil import now_iso, today as local_today

DIMENSIONS = ["class", "risk_level", "lowest_category", "habit", "tier", "value_segment"]

LATEST_ASSESSMENT_JOIN = (
    "LEFT JOIN assessments a ON a.id = (SELECT x.id FROM assessments x WHERE x.client_id = c.client_id"
    " ORDER BY x.answered_at DESC, x.id DESC LIMIT 1)"
)


@dataclass
class RunResult:
    run_id: int | None
    dry_run: bool
    policy_version: int
    policy_digest: str
    branch: str | None
    scope: int
    changed: int
    moves: dict = field(default_factory=dict)      # "B → A" -> count
    classes: dict = field(default_factory=dict)    # class -> count after the run
    seconds: float = 0.0
    examples: list = field(default_factory=list)
    plugins: dict = field(default_factory=dict)    # applied / skipped / failed, from the plan
    failures: list = field(default_factory=list)   # {"plugin", "branch", "error"}

    def as_dict(self):
        return {
            "run_id": self.run_id, "dry_run": self.dry_run,
            "policy_version": self.policy_version, "policy_digest": self.policy_digest,
            "branch": self.branch, "clients": self.scope, "changed": self.changed,
            "moves": self.moves, "classes": self.classes, "seconds": round(self.seconds, 3),
            "examples": self.examples, "plugins": self.plugins,
        }


def _reason_case(column, mapping):
    """CASE over a value column returning its reason text, as (sql, params)."""
    whens, params = [], []
    for value, reason in mapping.items():
        whens.append("WHEN ? THEN ?")
        params += [value, reason]
    return f"(CASE {column} {' '.join(whens)} ELSE '' END)", params


def build_changed(db, comp, branch=None, plan=None):
    """Fill temp table ``_changed`` with every client whose result differs from its current row.

    ``plan`` (``adjustments.Plan``) folds approved plugin rules into the class
    and leaves out the branches whose plugin failed.
    """
    cls, adj, base = adjustments.class_columns(comp, plan)
    cols = [("class", cls, [])] + comp.columns()[1:] + [("_adj", adj, []), ("_base_class", base, [])]
    select = ", ".join(f"{sql} AS [{name}]" for name, sql, _ in cols)
    params = [p for _, _, ps in cols for p in ps]
    conds = []
    if branch:
        conds.append("c.branch_id = ?")
        params.append(branch)
    if plan and plan.excluded:
        conds.append(f"c.branch_id NOT IN ({', '.join('?' for _ in plan.excluded)})")
        params += sorted(plan.excluded)
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    differs = " OR ".join(f"p.[{d}] IS NOT k.[{d}]" for d in DIMENSIONS)
    old = ", ".join(f"k.[{d}] AS [old_{d}]" for d in DIMENSIONS)
    db.execute("DROP TABLE IF EXISTS temp._changed")
    db.execute(
        f"""CREATE TEMP TABLE _changed AS
        SELECT p.*, {old}, k.client_id IS NULL AS is_new
        FROM (SELECT c.client_id, c.branch_id, {select} FROM clients c {LATEST_ASSESSMENT_JOIN} {where}) p
        LEFT JOIN classifications k ON k.client_id = p.client_id
        WHERE k.client_id IS NULL OR p.branch_id IS NOT k.branch_id OR {differs}""",
        params,
    )


def _moves(db):
    moves = {}
    for old, new, n in db.execute(
        "SELECT COALESCE(old_class, '新'), class, count(*) FROM _changed"
        " WHERE old_class IS NOT class GROUP BY 1, 2 ORDER BY 3 DESC"
    ):
        moves[f"{old} → {new}"] = n
    return moves


def _examples(db, limit=5):
    return [
        {"client_id": cid, "branch_id": b, "from": old, "to": new}
        for cid, b, old, new in db.execute(
            "SELECT client_id, branch_id, old_class, class FROM _changed WHERE old_class IS NOT class"
            " ORDER BY client_id LIMIT ?",
            [limit],
        )
    ]


def _write(db, comp, run_id, policy, plan=None):
    reasons = comp.reasons()
    cases, params = {}, []
    for d in DIMENSIONS:
        cases[d] = _reason_case(f"[{d}]", reasons[d])
    adj_sql, adj_params = adjustments.reason_case(plan)
    if adj_params:
        # An adjusted class: the grid's reason for the class it would have had, then the plugin's.
        grid_sql, grid_params = cases["class"]
        base_sql, base_params = _reason_case("[_base_class]", reasons["class"])
        cases["class"] = (
            f"(CASE WHEN [_adj] IS NULL THEN {grid_sql} ELSE {base_sql} || '; ' || {adj_sql} || ' → ' || [class] END)",
            grid_params + base_params + adj_params,
        )
    # Reason text for history: only the dimensions that changed.
    hist_parts, hist_params = [], []
    for d in DIMENSIONS:
        sql, p = cases[d]
        hist_parts.append(f"CASE WHEN [{d}] IS NOT [old_{d}] THEN {sql} || '; ' ELSE '' END")
        hist_params += p
    snapshot_new = ", ".join(f"'{d}', [{d}]" for d in DIMENSIONS)
    snapshot_old = ", ".join(f"'{d}', [old_{d}]" for d in DIMENSIONS)
    now = now_iso()
    db.execute(
        f"""INSERT INTO classification_history
        (run_id, client_id, branch_id, old_class, new_class, old_value, new_value, reason,
         policy_version, policy_digest, created_at)
        SELECT ?, client_id, branch_id, old_class, class,
               CASE WHEN is_new THEN NULL ELSE json_object({snapshot_old}) END,
               json_object({snapshot_new}),
               rtrim({' || '.join(hist_parts)}, '; '),
               ?, ?, ?
        FROM _changed""",
        [run_id, *hist_params, policy.version, policy.digest, now],
    )
    reason_json = ", ".join(f"'{d}', {cases[d][0]}" for d in DIMENSIONS)
    for d in DIMENSIONS:
        params += cases[d][1]
    cols = ", ".join(f"[{d}]" for d in DIMENSIONS)
    updates = ", ".join(f"[{d}] = excluded.[{d}]" for d in DIMENSIONS + ["branch_id", "reasons", "policy_version", "run_id", "updated_at"])
    db.execute(
        f"""INSERT INTO classifications (client_id, branch_id, {cols}, reasons, policy_version, run_id, updated_at)
        SELECT client_id, branch_id, {cols}, json_object({reason_json}), ?, ?, ? FROM _changed WHERE true
        ON CONFLICT(client_id) DO UPDATE SET {updates}""",
        [*params, policy.version, run_id, now],
    )


def class_counts(db, branch=None):
    sql = "SELECT class, count(*) FROM classifications"
    params = []
    if branch:
        sql += " WHERE branch_id = ?"
        params.append(branch)
    return dict(db.execute(sql + " GROUP BY class", params).fetchall())


def classify(db, *, branch=None, dry_run=False, operator=None, today=None, plugins=None):
    """Classify every client (or one branch's); return a RunResult.

    With ``dry_run`` nothing is written: the result only reports the moves.
    ``plugins`` (``brokercrm.plugins.Plugins``) defaults to the installed
    ones; only those approved for a branch change anything there.
    """
    started = time.perf_counter()
    today = today or local_today()
    policy = current_policy(db)
    comp = Compiled(policy, today)
    if branch and not db.execute("SELECT 1 FROM branches WHERE code = ?", [branch]).fetchone():
        raise BrokerCRMError(f"营业部 {branch} 不存在 (no such branch)")
    scope_sql = "SELECT count(*) FROM clients" + (" WHERE branch_id = ?" if branch else "")
    scope = db.execute(scope_sql, [branch] if branch else []).fetchone()[0]
    result = RunResult(None, dry_run, policy.version, policy.digest, branch, scope, 0)
    if plugins is None:
        from .plugins import load

        plugins = load()
    branches = [branch] if branch else [r[0] for r in db.execute("SELECT code FROM branches ORDER BY code")]
    plan = adjustments.plan(db, plugins, comp, policy["classification"], today, branches)
    result.plugins = plan.as_dict()
    result.failures = plan.failures
    db.execute("PRAGMA cache_size = -65536")
    try:
        if dry_run:
            build_changed(db, comp, branch, plan)
            result.changed = db.execute("SELECT count(*) FROM _changed").fetchone()[0]
            result.moves = _moves(db)
            result.examples = _examples(db)
            result.classes = class_counts(db, branch)
        else:
            with db.atomic():
                run_id = db.execute(
                    "INSERT INTO runs (kind, started_at, status, operator, branch, dry_run, policy_version, policy_digest)"
                    " VALUES ('classify', ?, 'running', ?, ?, 0, ?, ?)",
                    [now_iso(), operator, branch, policy.version, policy.digest],
                ).lastrowid
                result.run_id = run_id
                build_changed(db, comp, branch, plan)
                result.changed = db.execute("SELECT count(*) FROM _changed").fetchone()[0]
                result.moves = _moves(db)
                result.examples = _examples(db)
                _write(db, comp, run_id, policy, plan)
                result.classes = class_counts(db, branch)
                result.seconds = time.perf_counter() - started
                summary = result.as_dict()
                errors = "; ".join(f"{f['plugin']} ({f['branch']}): {f['error']}" for f in plan.failures)
                db.execute(
                    "UPDATE runs SET finished_at = ?, status = ?, summary = ?, error = ? WHERE id = ?",
                    [now_iso(), "partial" if plan.failures else "ok",
                     json.dumps(summary, ensure_ascii=False), errors or None, run_id],
                )
                audit.record(
                    db, "classify.run", operator=operator, target=f"run {run_id}",
                    detail={"branch": branch, "clients": scope, "changed": result.changed,
                            "policy_version": policy.version,
                            "plugins_applied": plan.applied, "plugins_failed": plan.failures},
                    digest=policy.digest,
                )
    finally:
        db.execute("DROP TABLE IF EXISTS temp._changed")
    result.seconds = time.perf_counter() - started
    return result
