"""The client's investment profile as check and scan see it (issue 11: three-way matching).

Separate from ``profile`` because it runs the engine's per-client state SQL,
and the engine itself builds on ``profile``.
"""

from ..kernel import rows
from ..trust import authz
from . import engine
from .profile import latest_record


def show_profile(db, actor, client_id, *, today=None):
    """The profile in force (what check and scan use) and the operator's latest record."""
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "suitability.read", branch=branch)
    comp = engine.compiled(db, today=today, rules=[])
    state_sql, params = comp.state_select()
    row = db.execute(f"SELECT objective, horizon, kinds FROM ({state_sql.replace('{where}', 'WHERE c.client_id = ?')})",
                     [*params, client_id]).fetchone()
    tw = comp.three_way
    objective, hz, mask = row
    horizon = next((c for c, r in tw.hrank.items() if r == hz), None)
    kinds = [c for c, b in tw.kbit.items() if mask and mask & b]
    latest = latest_record(db, client_id)
    return {
        "client_id": client_id,
        "objective": objective, "objective_label": tw.label("objective", objective) if objective else "未说明 (unknown)",
        "horizon": horizon, "horizon_label": tw.label("horizon", horizon) if horizon else "未说明 (unknown)",
        "kinds": kinds, "kinds_label": [tw.label("kind", k) for k in kinds] or ["未说明 (unknown)"],
        "operator_record": latest,
    }
