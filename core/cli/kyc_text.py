"""The text form of the KYC part of `clients show` (brokercrm.kyc.view and the KYC columns)."""

from ..book import kyc_policy
from ..kernel import kyc_fields

ID_STATUS = {"valid": "有效", "expired": "已过期 EXPIRED", "long_term": "长期", "unknown": "未登记"}


def kyc_lines(obj):
    section = obj.get("kyc")
    if not section:
        return []
    client = obj.get("client", {})
    out = [f"证件 (ID): {section['id_type']} · 有效期至 {section['id_valid_until'] or '-'}"
           f" ({ID_STATUS.get(section['id_status'], section['id_status'])})"]
    facts = [f"{label} {client[col]}" for col, label in kyc_fields.COLUMNS.items()
             if col not in ("id_type", "id_valid_until") and client.get(col)]
    if facts:
        out.append("客户资料 (KYC): " + " · ".join(facts))
    levels = []
    for level, act in section["verification"].items():
        mark = "—" if act is None else ("✓" if act["result"] == "confirmed" else "✗")
        levels.append(f"{kyc_policy.LEVEL_LABELS[level]} {mark}")
    out.append("三级核实 (verification): " + " · ".join(levels))
    if section.get("missing"):
        labels = {**kyc_policy.IMPORTANT_FIELDS, **kyc_policy.ORDINARY_FIELDS}
        out.append("  缺少资料 (missing KYC facts): " + ", ".join(labels.get(f, f) for f in section["missing"]))
    for r in section["plausibility"]:
        out.append(f"  ⚠ 资料合理性 ({r['rule']}): {r['reason']}")
    sample = section.get("callback_sample")
    if sample and sample["sampled"]:
        out.append(f"  回访抽查 (callback sample #{sample['run_id']}): 任务 task #{sample['task_id']}")
    return out
