"""The suitability scan: every holding checked, in SQL.

Two statements do the work whatever the book size: one builds the
per-client state (level, lowest category, investor type…) into a temp
table, one joins holdings × products × state and writes the non-matching
holdings, with their reasons and the covering confirmation if any, to
``suitability_exceptions``. The verdict and reason expressions are the ones
``suitability.check`` uses, so a scan and a check never disagree.
"""

import json
import re
import time

from ..trust import audit, authz
from ..kernel.errors import NotFound
from . import cooling_off
from .engine import SEP, compiled
from ..kernel.timeutil import now_iso


def build_state(db, comp, branch=None):
    """Temp table ``_suit_state``: one row per client (of ``branch``), keyed for the holdings join."""
    state_sql, params = comp.state_select()
    where = "WHERE c.branch_id = ?" if branch else ""
    db.execute("DROP TABLE IF EXISTS temp._suit_state")
    db.execute(
        "CREATE TEMP TABLE _suit_state (client_id TEXT PRIMARY KEY, branch_id TEXT, level TEXT, lowest INTEGER,"
        " assess_state TEXT, expires_at TEXT, investor_type TEXT, ordinary INTEGER, max_rank INTEGER,"
        " forbid_above INTEGER, blocked INTEGER, age INTEGER, behaviour_flag TEXT, careful INTEGER,"
        " lowest_cause TEXT, objective TEXT, horizon INTEGER, kinds INTEGER, objective_max INTEGER,"
        " fit_h INTEGER, fit_k INTEGER, obj_cap INTEGER) WITHOUT ROWID"
    )
    db.execute(f"INSERT INTO temp._suit_state {state_sql.replace('{where}', where)}",
               [*params, *([branch] if branch else [])])
    # A clustered copy of the (small) product list: one b-tree seek per holding instead of
    # the primary-key index plus the table row.
    db.execute("DROP TABLE IF EXISTS temp._suit_products")
    # Horizon rank and kind bit are resolved here, once per product (issue 11: three-way matching).
    db.execute("CREATE TEMP TABLE _suit_products (code TEXT PRIMARY KEY, type TEXT, risk_level TEXT,"
               " risk_rank INTEGER, horizon_rank INTEGER, kind_bit INTEGER, fit_h INTEGER, fit_k INTEGER) WITHOUT ROWID")
    db.execute(f"INSERT INTO temp._suit_products SELECT code, type, risk_level, risk_rank, horizon_rank, kind_bit,"
               f" fit_h, fit_k FROM ({comp.products_select()})")


def scan(db, actor, *, branch=None, today=None, rules=None, plugins=None, limit=None):
    """Check every holding (of ``branch``); store and return the non-matching ones.

    Returns a dict: counts by verdict, how many mismatches a confirmation
    covers, and the clients holding products above their level. A branch
    operator scans their own branch.
    """
    branch = authz.branch_filter(actor, "suitability.scan", branch)
    started = time.perf_counter()
    if branch and not db.execute("SELECT 1 FROM branches WHERE code = ?", [branch]).fetchone():
        raise NotFound(f"营业部 {branch} 不存在 (no such branch)")
    branches = [branch] if branch else [r[0] for r in db.execute("SELECT code FROM branches ORDER BY code")]
    comp = compiled(db, today=today, rules=rules, branches=branches, plugins=plugins)
    verdict, vparams = comp.verdict_sql()
    reasons, rparams = comp.reasons_sql()
    not_match, nparams = comp.not_match_sql()
    dimensions = comp.dimensions_sql(reasons=False)
    # Join the client row only when some rule reads a client field beyond the state.
    needs_client = bool(re.search(r"\bc\.", verdict + reasons + not_match + dimensions))
    db.execute("PRAGMA cache_size = -65536")
    with db.atomic():
        run_id = db.execute(
            "INSERT INTO runs (kind, started_at, status, operator, branch, dry_run, policy_version, policy_digest)"
            " VALUES ('suitability_scan', ?, 'running', ?, ?, 0, ?, ?)",
            [now_iso(), actor.id, branch, comp.policy.version, comp.policy.digest],
        ).lastrowid
        build_state(db, comp, branch)
        if branch:
            # Also the branch's clients listed under another branch by an older scan (they moved).
            db.execute("DELETE FROM suitability_exceptions WHERE branch_id = ? OR client_id IN"
                       " (SELECT client_id FROM temp._suit_state)", [branch])
        else:
            db.execute("DELETE FROM suitability_exceptions")
        # The filter is the verdict's own conditions OR-ed: the verdict CASE and the reason
        # texts are evaluated only for the holdings that do not match. CROSS JOIN fixes the
        # order — state, then each client's holdings by primary key — because the planner
        # otherwise walks holdings_product and seeks every row to read its amount.
        db.execute(
            f"""INSERT INTO suitability_exceptions (run_id, client_id, branch_id, product_code, product_risk,
                   client_level, investor_type, verdict, reasons, amount, risk_verdict, horizon_verdict, kind_verdict)
            SELECT ?, s.client_id, s.branch_id, p.code, p.risk_level, s.level, s.investor_type, {verdict},
                   {reasons}, h.amount, {dimensions}
            FROM temp._suit_state s CROSS JOIN holdings h ON h.client_id = s.client_id
            CROSS JOIN temp._suit_products p ON p.code = h.product_code
            {'CROSS JOIN clients c ON c.client_id = s.client_id' if needs_client else ''}
            WHERE {not_match}""",
            [run_id, *vparams, *rparams, *nparams],
        )
        db.execute(
            "UPDATE suitability_exceptions SET confirmation_id = (SELECT max(x.id) FROM suitability_confirmations x"
            " WHERE x.client_id = suitability_exceptions.client_id"
            " AND x.product_code = suitability_exceptions.product_code"
            " AND x.client_level = suitability_exceptions.client_level"
            f" AND {cooling_off.NOT_WITHDRAWN.format(x='x.id')})"
            " WHERE run_id = ? AND verdict = 'mismatch'", [run_id])
        total = db.execute(
            "SELECT count(*) FROM holdings h JOIN temp._suit_state s ON s.client_id = h.client_id" if branch
            else "SELECT count(*) FROM holdings").fetchone()[0]
        counts = dict(db.execute(
            "SELECT verdict, count(*) FROM suitability_exceptions WHERE run_id = ? GROUP BY verdict", [run_id]))
        covered = db.execute(
            "SELECT count(*) FROM suitability_exceptions WHERE run_id = ? AND confirmation_id IS NOT NULL",
            [run_id]).fetchone()[0]
        summary = {
            "run_id": run_id, "branch": branch, "holdings": total,
            "match": total - sum(counts.values()), "mismatch": counts.get("mismatch", 0),
            "forbidden": counts.get("forbidden", 0), "mismatch_confirmed": covered,
            "mismatch_unconfirmed": counts.get("mismatch", 0) - covered,
            "policy_version": comp.policy.version, "policy_digest": comp.policy.digest,
            "policy_source": comp.label, "rules": [f"{r.source} {r.name}" for r in comp.rules],
        }
        summary["seconds"] = round(time.perf_counter() - started, 3)
        db.execute("UPDATE runs SET finished_at = ?, status = 'ok', summary = ? WHERE id = ?",
                   [now_iso(), json.dumps(summary, ensure_ascii=False), run_id])
        audit.record(db, "suitability.scan", actor=actor, target=f"run {run_id}",
                     detail={k: summary[k] for k in ("branch", "holdings", "mismatch", "forbidden",
                                                     "mismatch_confirmed")},
                     digest=comp.policy.digest)
    db.execute("DROP TABLE IF EXISTS temp._suit_state")
    db.execute("DROP TABLE IF EXISTS temp._suit_products")
    summary["exceptions"] = exceptions(db, branch=branch, limit=limit)
    return summary


def list_exceptions(db, actor, *, branch=None, limit=None, verdict=None):
    """``exceptions`` for an operator: a branch operator sees their own branch's."""
    return exceptions(db, branch=authz.branch_filter(actor, "suitability.read", branch), limit=limit, verdict=verdict)


def exceptions(db, *, branch=None, limit=None, verdict=None):
    """The non-matching holdings of the last scan: who holds what above their level, and is it confirmed."""
    where, params = [], []
    if branch:
        where.append("e.branch_id = ?")
        params.append(branch)
    if verdict:
        where.append("e.verdict = ?")
        params.append(verdict)
    sql = (
        "SELECT e.client_id, e.branch_id, e.product_code, e.product_risk, e.client_level, e.investor_type,"
        " e.verdict, e.reasons, e.confirmation_id, x.evidence, e.amount, e.risk_verdict, e.horizon_verdict,"
        " e.kind_verdict FROM suitability_exceptions e"
        " LEFT JOIN suitability_confirmations x ON x.id = e.confirmation_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY e.branch_id, e.client_id, e.product_code"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [
        {"client_id": r[0], "branch_id": r[1], "product_code": r[2], "product_risk": r[3], "client_level": r[4],
         "investor_type": r[5], "verdict": r[6], "reasons": r[7].split(SEP), "confirmed": r[8] is not None,
         "confirmation_id": r[8], "evidence": r[9], "amount": r[10],
         "dimensions": {"risk": r[11], "horizon": r[12], "kind": r[13]}}
        for r in db.execute(sql, params)
    ]
