"""The classification policy compiled to SQL.

Every dimension (class, habit, tier, value segment, risk level) becomes one
SQL expression over a client row ``c`` (which carries its latest assessment's
level, lowest-category flag and expiry), so a run classifies the whole book in
one statement. Reasons depend only on the
resulting value and the policy, so they are built for changed rows only.
"""

import datetime as dt

from ..kernel.checks import array, number, table, text
from ..kernel.errors import PolicyError
from ..kernel.client_fields import client_fields
from ..kernel.rules import compile_condition

# The six things a classification says about a client: the columns of `classifications`
# (and, with old_/new_ prefixes, of `classification_history`), in this order everywhere.
DIMENSIONS = ("class", "risk_level", "lowest_category", "habit", "tier", "value_segment")
TIER_LABELS = {
    "bronze": "青铜", "silver": "白银", "gold": "黄金", "diamond": "钻石",
    "small": "小型机构", "medium": "中型机构", "large": "大型机构",
}


def _tiers(doc, kind):
    tiers = table(table(doc, "tier", ""), kind, "tier")
    items = sorted(((number(tiers, k, f"tier.{kind}"), k) for k in tiers), reverse=True)
    if not items or items[-1][0] != 0:
        raise PolicyError(f"tier.{kind}: 最低一级须从 0 起 (the lowest tier must start at 0)")
    if len({low for low, _ in items}) != len(items):
        raise PolicyError(f"tier.{kind}: 各级起点须互不相同 (each tier needs its own lower bound)")
    return items


PLUGIN_LIMITS = {"timeout_seconds": (0.1, 600), "max_output_bytes": (1024, 256 << 20),
                 "memory_mb": (128, 16384), "max_rules": (1, 100_000)}


def validate_plugin_limits(doc):
    """``[plugins]``: the bounds on each branch plugin's hook calls (issue 10, item 8); all optional."""
    section = doc.get("plugins")
    if section is None:
        return
    if not isinstance(section, dict):
        raise PolicyError("plugins: 须为表 (must be a table)")
    for key, value in section.items():
        if key not in PLUGIN_LIMITS:
            raise PolicyError(f"plugins.{key}: 未知设置 (unknown; known: {', '.join(PLUGIN_LIMITS)})")
        low, high = PLUGIN_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise PolicyError(f"plugins.{key}: 须在 {low}–{high} 之间 (must be within {low}–{high})")


def validate(doc):
    validate_plugin_limits(doc)
    grid = table(doc, "grid", "")
    number(grid, "turnover_threshold", "grid")
    order = array(grid, "order", "grid")
    if len(set(order)) != len(order) or not all(isinstance(x, str) and x for x in order):
        raise PolicyError("grid.order: 须为不重复的类别名 (unique class names)")
    bands = array(grid, "bands", "grid")
    previous = None
    for i, band in enumerate(bands):
        where = f"grid.bands[{i}]"
        low = number(band, "min", where)
        if previous is not None and low >= previous:
            raise PolicyError(f"{where}.min: 资产档须从高到低排列 (bands must descend), {low} ≥ {previous}")
        previous = low
        text(band, "label", where)
        for key in ("high", "low"):
            if text(band, key, where) not in order:
                raise PolicyError(f"{where}.{key}: 类别 {band[key]!r} 不在 grid.order 中 (not in grid.order)")
    if previous != 0:
        raise PolicyError(f"grid.bands[{len(bands) - 1}].min: 最低档须从 0 起 (the lowest band must start at 0)")
    habit = table(doc, "habit", "")
    if number(habit, "short_below", "habit") > number(habit, "swing_max", "habit"):
        raise PolicyError("habit.short_below: 须 ≤ habit.swing_max")
    _tiers(doc, "individual")
    _tiers(doc, "institution")
    rules = array(table(doc, "value", ""), "rules", "value")
    fields = client_fields(dt.date(2000, 1, 1))
    for i, rule in enumerate(rules):
        where = f"value.rules[{i}]"
        text(rule, "segment", where)
        text(rule, "reason", where)
        cond = {k: rule[k] for k in ("any", "all", "not") if k in rule}
        last = i == len(rules) - 1
        if cond:
            compile_condition(cond, fields, where)
        elif not last:
            raise PolicyError(f"{where}: 只有最后一条规则可以没有条件 (only the last rule may be unconditional)")
    if {k for k in ("any", "all", "not") if k in rules[-1]}:
        raise PolicyError(f"value.rules[{len(rules) - 1}]: 最后一条规则须无条件, 兜底其他客户 (the last rule must catch everyone)")


class Compiled:
    """SQL expressions (with their parameters, in order) for one policy set."""

    def __init__(self, policy, today):
        doc = policy["classification"]
        quest = policy["questionnaire"]
        self.version = policy.version
        self.today = today
        self.order = doc["grid"]["order"]
        self.threshold = doc["grid"]["turnover_threshold"]
        self.bands = doc["grid"]["bands"]
        self.habit = doc["habit"]
        self.tiers = {k: _tiers(doc, k) for k in ("individual", "institution")}
        self.value_rules = doc["value"]["rules"]
        self.levels = quest["levels"]
        self.fields = client_fields(today)

    # -- value expressions over the client row c ------------------------------
    def class_expr(self):
        parts, params = [], []
        for band in self.bands[:-1]:
            parts.append("WHEN COALESCE(c.total_assets,0) >= ? THEN (CASE WHEN COALESCE(c.turnover_rate,0) >= ? THEN ? ELSE ? END)")
            params += [band["min"], self.threshold, band["high"], band["low"]]
        last = self.bands[-1]
        sql = "CASE " + " ".join(parts) + " ELSE (CASE WHEN COALESCE(c.turnover_rate,0) >= ? THEN ? ELSE ? END) END"
        return sql, params + [self.threshold, last["high"], last["low"]]

    def habit_expr(self):
        return (
            "CASE WHEN c.avg_holding_days IS NULL THEN 'unknown' WHEN c.avg_holding_days < ? THEN 'short'"
            " WHEN c.avg_holding_days <= ? THEN 'swing' ELSE 'value' END",
            [self.habit["short_below"], self.habit["swing_max"]],
        )

    def tier_expr(self):
        sqls, params = [], []
        for kind in ("institution", "individual"):
            items = self.tiers[kind]
            # Every tier but the last starts above 0 (the last starts at 0, checked in
            # validate), so a NULL asset figure falls through to the last tier as 0 would:
            # no COALESCE needed, and a third fewer operations per client.
            whens = " ".join("WHEN c.total_assets >= ? THEN ?" for _ in items[:-1])
            for low, name in items[:-1]:
                params += [low, name]
            sqls.append(f"CASE {whens} ELSE ? END")
            params.append(items[-1][1])
        return f"CASE WHEN c.kind = 'institution' THEN ({sqls[0]}) ELSE ({sqls[1]}) END", params

    def value_expr(self):
        whens, params = [], []
        for i, rule in enumerate(self.value_rules[:-1]):
            cond = {k: rule[k] for k in ("any", "all", "not") if k in rule}
            sql, p = compile_condition(cond, self.fields, f"value.rules[{i}]")
            whens.append(f"WHEN {sql} THEN ?")
            params += p + [rule["segment"]]
        return f"CASE {' '.join(whens)} ELSE ? END", params + [self.value_rules[-1]["segment"]]

    def risk_expr(self):
        return (
            "CASE WHEN c.assessment_id IS NULL THEN 'unassessed' WHEN c.assessment_expires_at <= ? THEN 'expired'"
            " ELSE c.assessment_level END",
            [self.today.isoformat()],
        )

    def lowest_expr(self):
        return "COALESCE(c.assessment_lowest, 0)", []

    def columns(self):
        """(name, sql, params) for every classified dimension, in table order."""
        return [
            ("class", *self.class_expr()),
            ("risk_level", *self.risk_expr()),
            ("lowest_category", *self.lowest_expr()),
            ("habit", *self.habit_expr()),
            ("tier", *self.tier_expr()),
            ("value_segment", *self.value_expr()),
        ]

    # -- reasons: a pure function of the value and the policy ----------------
    def reasons(self):
        """{dimension: {value: reason}} for every value a dimension can take."""
        v = f"策略 v{self.version}"
        cls = {}
        for i, band in enumerate(self.bands):
            upper = f"<{self.bands[i - 1]['min']:,}" if i else "以上"
            for key, cmp in (("high", "≥"), ("low", "<")):
                name = band[key]
                text = f"资产 {band['label']} (≥{band['min']:,}{'' if not i else ', ' + upper}), 周转率{cmp}{self.threshold}"
                cls.setdefault(name, f"{v} 分类网格: {text} → {name}")
        levels = {}
        for i, lv in enumerate(self.levels):
            top = f"{self.levels[i + 1]['min'] - 1}" if i + 1 < len(self.levels) else "以上"
            levels[lv["level"]] = f"{v} 问卷: 总分 {lv['min']}–{top} → {lv['level']} {lv.get('label', '')}".rstrip()
        levels["unassessed"] = f"{v} 问卷: 无风险测评记录 → unassessed"
        levels["expired"] = f"{v} 问卷: 最近一次测评已过有效期 → expired"
        h = self.habit
        habit = {
            "short": f"{v} 操作习惯: 平均持仓 < {h['short_below']} 天 → 短线",
            "swing": f"{v} 操作习惯: 平均持仓 {h['short_below']}–{h['swing_max']} 天 → 波段",
            "value": f"{v} 操作习惯: 平均持仓 > {h['swing_max']} 天 → 价值",
            "unknown": f"{v} 操作习惯: 无平均持仓天数 → 未知",
        }
        tier = {}
        for kind, items in self.tiers.items():
            for low, name in items:
                tier[name] = f"{v} 客户等级: {'机构' if kind == 'institution' else '个人'}资产 ≥ {low:,} → {TIER_LABELS.get(name, name)}"
        value = {r["segment"]: f"{v} 价值评估: {r['reason']} → {r['segment']}" for r in self.value_rules}
        lowest = {1: f"{v} 问卷: 总分 ≤ 最低类别线 → 最低类别", 0: f"{v} 问卷: 非最低类别"}
        return {"class": cls, "risk_level": levels, "lowest_category": lowest,
                "habit": habit, "tier": tier, "value_segment": value}
