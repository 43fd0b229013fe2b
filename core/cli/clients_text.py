"""The text form of `clients show` for the sections features contribute.

The library returns data (``brokercrm.book.clients.show``, with each
feature's section merged in); how it reads on a terminal is the CLI's.
"""

from ..service import care, complaints, interactions
from .kyc_text import kyc_lines


def service_lines(obj):
    """The service section (brokercrm.service.view)."""
    out = []
    status = obj.get("status")
    if status:
        out.append(f"客户状态 (status): {status['label']} ({status['status']})"
                   + (f" 自 {status['since']}" if status["since"] else "")
                   + (f" · 离开原因 {status['exit_reason']['name']}" if status["exit_reason"] else ""))
    package = obj.get("service_package")
    if package:
        out.append(f"服务包 (service package): {package['name']} [{package['code']}] · {package['chosen_by']}")
        out.append("  服务 (services): " + "; ".join(package["services"]))
        for a in package["actions"]:
            mark = "到期 DUE" if a["due"] else "下次"
            out.append(f"  {mark} {a['due_on']}  {a['title']}  (上次 last: {(a['last'] or '无 never')[:10]})")
    if obj.get("pending_changes"):
        out.append("待复核资料修改 (pending changes, maker–checker):")
        for c in obj["pending_changes"]:
            out.append(f"  #{c['id']} {c['field']}: {c['old_value']} → {c['new_value']}  录入 {c['maker']}"
                       f" {c['requested_at']}")
    if obj.get("tasks"):
        out.append("任务 (tasks):")
        for t in obj["tasks"]:
            out.append(f"  #{t['id']} [{t['state']}] 截止 {t['due_at']}  {t['title']}  ({t['origin']})")
    if obj.get("complaints"):
        out.append("投诉 (complaints):")
        for c in obj["complaints"]:
            flag = f"  ⚠ {c['flag']}" if c["flag"] else ""
            out.append(f"  #{c['id']} {complaints.LABELS[c['state']]} {c['state']} 截止 {c['due_at']}{flag}")
    if obj.get("retention_cases"):
        out.append("转销户挽留 (retention):")
        for r in obj["retention_cases"]:
            out.append(f"  #{r['id']} {r['request']} {r['state']} {r['outcome'] or ''} 开立 {r['opened_at']}")
    if obj.get("care_moments"):
        out.append("重要时刻 (care moments):")
        for m in obj["care_moments"]:
            out.append(f"  {m['on_date']} {care.MOMENT_KINDS.get(m['kind'], m['kind'])}"
                       f"{' 每年 yearly' if m['yearly'] else ''} {m['note'] or ''}")
    if obj.get("interactions"):
        out.append("接触记录 (interactions, newest first):")
        for i in obj["interactions"]:
            score = f" 满意度 {i['satisfaction']}" if i["satisfaction"] else ""
            out.append(f"  {i['at']} {interactions.label(i['kind'])} · {interactions.CHANNELS.get(i['channel'], i['channel'])}"
                       f"{score} · {i['manager'] or '-'}: {i['note']}")
    return out


def suitability_lines(obj):
    """The suitability section (brokercrm.suitability.view)."""
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
    for c in s.get("special_care_sales", []):   # issue 11: special care and cooling-off
        state = f"已撤回 {c['withdrawn_at']}" if c["withdrawn_at"] else f"冷静期至 {c['ends_at']}"
        lines.append(f"  特别注意 确认 #{c['confirmation_id']} {c['product_code']} ({', '.join(c['triggers'])}) {state}")
    return lines


def programmes_lines(obj):
    """The programmes section (brokercrm.programmes.view)."""
    p = obj.get("programmes")
    if not p:
        return []
    pts = p["points"]
    lines = [f"积分 (points): {pts['balance']} · {pts['tier_name']}"]
    if p["vip"]:
        lines.append(f"贵宾 (VIP): {p['vip']['name']} 自 {p['vip']['since']} · 权益 " + "; ".join(p["vip"]["benefits"]))
    if p["from_prospect"]:
        lines.append(f"来自潜在客户 (from prospect) #{p['from_prospect']['id']} {p['from_prospect']['source']}")
    for s in p["sessions"]:
        lines.append(f"  参加 {s['held_on']} {s['title']} ({s['kind']})")
    for c in p["callbacks"]:
        lines.append(f"  回访 #{c['id']} {c['at']} {c['script']} v{c['version']}"
                     + (f" 缺项 {', '.join(c['missing'])}" if c["missing"] else ""))
    return lines


def evidence_lines(obj):
    """What the client was shown and acknowledged (brokercrm.suitability.evidence; issue 11)."""
    lines = []
    for e in obj.get("evidence") or []:
        text = f" 文本 {e['template_id']} v{e['template_version']}" if e["template_id"] else ""
        rec = f" 双录 {e['recording_ref']} ({e['recording_seconds']:g}s)" if e["recording_ref"] else ""
        lines.append(f"  留痕 #{e['id']} {e['shown_at']} {e['act']} {e['product_code'] or ''} · {e['channel']}"
                     f"{text} · 客户确认 {e['acknowledgement']}{rec} (by {e['recorded_by']})")
    return (["留痕 (evidence, newest first):"] + lines) if lines else []


# In the order `clients show` prints them.
def staff_lines(obj):
    """The account manager's notes (brokercrm.staff.client_notes)."""
    d = obj.get("decision_style")
    if not d:
        return []
    return [f"投资决策风格 (decision style, 仅作参考): {d['label']} {d['value']} · {d['recorded_by']} {d['recorded_at'][:10]}"]


SECTION_LINES = (staff_lines, service_lines, suitability_lines, programmes_lines, kyc_lines, evidence_lines)
