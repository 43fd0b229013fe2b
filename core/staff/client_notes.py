"""The account manager's notes on a client: decision style (投资决策风格, seed 001 第十一条).

Seed 001 第十一条: knowing the client, the account manager may record the client's
investment decision style — 风险规避型, 依赖型, 独立决策型, 高度自主决策型 — in the
CRM's notes "for reference" (仅作参考): it shapes how the client is served, never a
suitability verdict. Notes are append-only (the latest is in force) and each is an
audited act; the free-text note stays out of the audit row (it may describe the person).
"""

from ..kernel import rows
from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import now_iso
from ..trust import audit, authz

# Seed 001 第十一条's four styles, with how the seed's table says to serve each (summarised).
DECISION_STYLES = {
    "risk_averse": "风险规避型",
    "dependent": "依赖型",
    "independent": "独立决策型",
    "autonomous": "高度自主决策型",
}
_BY_LABEL = {label: code for code, label in DECISION_STYLES.items()}


def decision_style_code(value):
    """The style's code from its code or Chinese name; BrokerCRMError naming the choices otherwise."""
    value = (value or "").strip()
    code = value if value in DECISION_STYLES else _BY_LABEL.get(value)
    if code is None:
        choices = ", ".join(f"{c} {label}" for c, label in DECISION_STYLES.items())
        raise BrokerCRMError(f"未知投资决策风格 {value!r} (unknown decision style); 可用 (choices): {choices}")
    return code


def record_decision_style(db, actor, client_id, style, *, note=None):
    """Record ``client_id``'s decision style (staff of the client's branch or head office); returns the note."""
    client = rows.client(db, client_id, "client_id, branch_id")
    authz.require(actor, "client.note", branch=client["branch_id"])
    code = decision_style_code(style)
    at = now_iso()
    with db.atomic():
        note_id = db.execute(
            "INSERT INTO client_notes (client_id, kind, value, note, recorded_by, recorded_at)"
            " VALUES (?, 'decision_style', ?, ?, ?, ?)",
            [client_id, code, (note or "").strip() or None, actor.id, at]).lastrowid
        audit.record(db, "client.note", actor=actor, target=client_id,
                     detail={"note_id": note_id, "kind": "decision_style", "value": code})
    return {"id": note_id, "client_id": client_id, "kind": "decision_style", "value": code,
            "label": DECISION_STYLES[code], "note": (note or "").strip() or None, "recorded_by": actor.id,
            "recorded_at": at}


def decision_style(db, client_id):
    """The decision style in force (the latest note), or None."""
    row = db.execute(
        "SELECT id, value, note, recorded_by, recorded_at FROM client_notes"
        " WHERE client_id = ? AND kind = 'decision_style' ORDER BY id DESC LIMIT 1", [client_id]).fetchone()
    if row is None:
        return None
    note_id, code, note, by, at = row
    return {"id": note_id, "value": code, "label": DECISION_STYLES.get(code, code), "note": note,
            "recorded_by": by, "recorded_at": at}


def history(db, actor, client_id):
    """Every note on the client, oldest first."""
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "client.read", branch=branch)
    return [dict(r, label=DECISION_STYLES.get(r["value"], r["value"])) for r in db.query(
        "SELECT id, kind, value, note, recorded_by, recorded_at FROM client_notes WHERE client_id = ? ORDER BY id",
        [client_id])]


def section(db, client_id, *, reveal=False, actor):
    """The staff part of `clients show`: the decision style in force."""
    return {"decision_style": decision_style(db, client_id)}
