"""Special care (特别注意义务, issue 11 item 5): which sales trigger it, and what it requires.

办法 Art. 20: selling a high-risk product to an ordinary investor calls for special
care — a dedicated procedure, the special risk points told, more time to consider,
more callbacks — whether the sale matched or not. The policy's
``[[special_care.triggers]]`` are conditions over the same pair fields as the
verdict (product risk, product type, age …), compiled into the same SQL; each
names its procedures (``notice``, ``callback``, ``cooling_off``). Triggers bind the
clients the assessment rules bind (ordinary investors, ``s.careful``).
"""

from ..kernel.errors import PolicyError
from ..kernel.rules import compile_condition
from .policy import condition
from .profile import section

PROCEDURES = ("notice", "callback", "cooling_off")
PROCEDURE_LABELS = {
    "notice": "追加特别风险提示并由客户确认 (extra notice, acknowledged by the client)",
    "callback": "回访任务 (a callback task)",
    "cooling_off": "冷静期: 期内交易未最终确定, 客户可撤回 (cooling-off: the sale is not final; the client may withdraw)",
}


def validate(doc, fields):
    sc = doc.get("special_care")
    if sc is None:
        return
    if not isinstance(sc, dict):
        raise PolicyError("special_care: 须为表 (must be a table)")
    if "notice" in sc and (not isinstance(sc["notice"], str) or not sc["notice"].strip()):
        raise PolicyError("special_care.notice: 须为文本 (must be text)")
    hours = sc.get("cooling_off_hours", {})
    if not isinstance(hours, dict) or "default" not in hours:
        raise PolicyError("special_care.cooling_off_hours: 须为表且有 default (a table with `default`)")
    types = {t.get("type") for t in doc.get("types", [])}
    for key, value in hours.items():
        if key != "default" and key not in types:
            raise PolicyError(f"special_care.cooling_off_hours.{key}: 产品类型不在 [[types]] 中 (not a product type)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PolicyError(f"special_care.cooling_off_hours.{key}: 须为非负小时数 (non-negative hours), got {value!r}")
    names = set()
    for i, t in enumerate(sc.get("triggers", [])):
        w = f"special_care.triggers[{i}]"
        for key in ("name", "label", "reason"):
            if not isinstance(t.get(key), str) or not t[key].strip():
                raise PolicyError(f"{w}.{key}: 缺少 (missing)")
        if t["name"] in names or "\n" in t["name"]:
            raise PolicyError(f"{w}.name: {t['name']!r} 重复 (used twice)")
        names.add(t["name"])
        procs = t.get("procedures", list(PROCEDURES))
        if not isinstance(procs, list) or any(p not in PROCEDURES for p in procs):
            raise PolicyError(f"{w}.procedures: 须为 {'/'.join(PROCEDURES)} 的列表 (a list of these)")
        cond = condition(t)
        if cond is None:
            raise PolicyError(f"{w}: 缺少条件 any/all/not (missing condition)")
        compile_condition(cond, fields, w)


class Care:
    """The special-care policy for one compiled day."""

    def __init__(self, policy, fields):
        self.doc = section(policy, "special_care") or {}
        self.fields = fields
        self.triggers = list(self.doc.get("triggers", []))
        self.hours = dict(self.doc.get("cooling_off_hours", {"default": 0}))

    def triggered_sql(self):
        """SQL text: the names of the triggers that apply, joined by newlines ('' when none)."""
        if not self.triggers:
            return "''", []
        parts, params = [], []
        for i, t in enumerate(self.triggers):
            sql, p = compile_condition(condition(t), self.fields, f"special_care.triggers[{i}]")
            parts.append(f"CASE WHEN s.careful AND ({sql}) THEN ? || char(10) ELSE '' END")
            params += p + [t["name"]]
        return f"rtrim({' || '.join(parts)}, char(10))", params

    def cooling_off_hours(self, product_type):
        return float(self.hours.get(product_type or "", self.hours.get("default", 0)))

    def describe(self, names, product_type):
        """What the triggered rules require: {triggers, procedures, notice, cooling_off_hours}, or None."""
        chosen = [t for t in self.triggers if t["name"] in names]
        if not chosen:
            return None
        procs = [p for p in PROCEDURES if any(p in t.get("procedures", PROCEDURES) for t in chosen)]
        return {
            "triggers": [{"name": t["name"], "label": t["label"], "reason": t["reason"]} for t in chosen],
            "procedures": [{"procedure": p, "label": PROCEDURE_LABELS[p]} for p in procs],
            "notice": self.doc.get("notice") if "notice" in procs else None,
            "notice_id": self.doc.get("notice_id") if "notice" in procs else None,
            "callback": "callback" in procs,
            "cooling_off_hours": self.cooling_off_hours(product_type) if "cooling_off" in procs else 0.0,
        }
