"""The suitability part of `clients show`: investor type, behaviour flag, holdings,
every check and confirmation (who, when, policy version, reasons)."""

import json

from ..kernel import rows
from .investor_type import investor_type


def client_section(db, client_id, reveal=False, actor=None):
    """What ``clients show`` lists about suitability: investor type, flag, checks, confirmations, holdings."""
    checks = [
        {**r, "reasons": json.loads(r["reasons"])}
        for r in db.query(
            "SELECT id, product_code, product_risk, client_level, investor_type, verdict, reasons, policy_version,"
            " checked_by, checked_at FROM suitability_checks WHERE client_id = ? ORDER BY id DESC LIMIT 50",
            [client_id])
    ]
    confirmations = list(db.query(
        "SELECT id, product_code, client_level, evidence, check_id, policy_version, confirmed_by, confirmed_at"
        " FROM suitability_confirmations WHERE client_id = ? ORDER BY id DESC", [client_id]))
    holdings = list(db.query(
        "SELECT h.product_code, p.name AS product_name, p.risk_level, h.amount, h.since FROM holdings h"
        " JOIN products p ON p.code = h.product_code WHERE h.client_id = ? ORDER BY h.product_code", [client_id]))
    # Issue 11: the operator-recorded profile (the questionnaire's part is on the assessment) and
    # every special-care sale with its cooling-off window and any withdrawal.
    profiles = list(db.query(
        "SELECT id, objective, horizon, kinds, evidence, recorded_by, recorded_at FROM investor_profiles"
        " WHERE client_id = ? ORDER BY id DESC", [client_id]))
    care = [
        {**r, "triggers": [t["name"] for t in json.loads(r["triggers"])]}
        for r in db.query(
            "SELECT s.confirmation_id, s.product_code, s.verdict, s.triggers, s.cooling_off_hours, s.opened_at,"
            " s.ends_at, w.withdrawn_at, w.evidence AS withdrawal_evidence FROM special_care_sales s"
            " LEFT JOIN cooling_off_withdrawals w ON w.sale_id = s.id WHERE s.client_id = ? ORDER BY s.id DESC",
            [client_id])
    ]
    return {"suitability": {
        "investor_type": investor_type(db, client_id),
        "profiles": profiles, "special_care_sales": care,
        "behaviour_flag": rows.one(db, "SELECT flag, label, reason, since FROM behaviour_flags WHERE client_id = ?",
                                   [client_id]),
        "holdings": holdings, "checks": checks, "confirmations": confirmations,
    }}
