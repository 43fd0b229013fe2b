"""The suitability part of `clients show`: investor type, behaviour flag, holdings,
every check and confirmation (who, when, policy version, reasons)."""

import json

from .investor_type import investor_type


def client_section(db, client_id, reveal=False, actor=None):
    """What ``clients show`` lists about suitability: investor type, flag, checks, confirmations, holdings."""
    checks = [
        {"id": r[0], "product_code": r[1], "product_risk": r[2], "client_level": r[3], "investor_type": r[4],
         "verdict": r[5], "reasons": json.loads(r[6]), "policy_version": r[7], "checked_by": r[8], "checked_at": r[9]}
        for r in db.execute(
            "SELECT id, product_code, product_risk, client_level, investor_type, verdict, reasons, policy_version,"
            " checked_by, checked_at FROM suitability_checks WHERE client_id = ? ORDER BY id DESC LIMIT 50",
            [client_id])
    ]
    confirmations = [
        {"id": r[0], "product_code": r[1], "client_level": r[2], "evidence": r[3], "check_id": r[4],
         "policy_version": r[5], "confirmed_by": r[6], "confirmed_at": r[7]}
        for r in db.execute(
            "SELECT id, product_code, client_level, evidence, check_id, policy_version, confirmed_by, confirmed_at"
            " FROM suitability_confirmations WHERE client_id = ? ORDER BY id DESC", [client_id])
    ]
    holdings = [
        {"product_code": r[0], "product_name": r[1], "risk_level": r[2], "amount": r[3], "since": r[4]}
        for r in db.execute(
            "SELECT h.product_code, p.name, p.risk_level, h.amount, h.since FROM holdings h"
            " JOIN products p ON p.code = h.product_code WHERE h.client_id = ? ORDER BY h.product_code", [client_id])
    ]
    flag = db.execute("SELECT flag, label, reason, since FROM behaviour_flags WHERE client_id = ?",
                      [client_id]).fetchone()
    return {"suitability": {
        "investor_type": investor_type(db, client_id),
        "behaviour_flag": dict(zip(("flag", "label", "reason", "since"), flag)) if flag else None,
        "holdings": holdings, "checks": checks, "confirmations": confirmations,
    }}


def client_section_text(obj):
    """Lines for the text form of ``clients show``."""
    s = obj.get("suitability")
    if not s:
        return []
    it = s["investor_type"]
    lines = [f"适当性 (suitability): {it['label']} {it['type']} — {it['reason']}"]
    if s["behaviour_flag"]:
        f = s["behaviour_flag"]
        lines.append(f"  行为标记 (behaviour flag) {f['label']} {f['flag']} 自 {f['since']}: {f['reason']}")
    for h in s["holdings"]:
        lines.append(f"  持仓 {h['product_code']} {h['product_name']} {h['risk_level']} 金额 {h['amount']:,.2f}")
    for c in s["checks"][:10]:
        lines.append(f"  检查 #{c['id']} {c['checked_at']} {c['product_code']} {c['product_risk']} vs {c['client_level']}"
                     f" → {c['verdict']} (by {c['checked_by'] or '-'}, 策略 v{c['policy_version']})")
    for c in s["confirmations"]:
        lines.append(f"  确认 #{c['id']} {c['confirmed_at']} {c['product_code']} 凭证 {c['evidence']}"
                     f" (by {c['confirmed_by'] or '-'})")
    return lines


client_section.lines = client_section_text
