"""The suitability policy: validation, loading, and the names its rules may use."""

import datetime as dt
from dataclasses import dataclass

from ..kernel.checks import array, number, table, text
from ..kernel.client_fields import client_fields
from ..kernel.errors import BrokerCRMError, PolicyError
from ..policy.sets import current as current_policy
from ..policy.sets import default_policy_dir, load_file
from ..kernel.rules import compile_condition

PRODUCT_LEVELS = ("R1", "R2", "R3", "R4", "R5")
CLIENT_LEVELS = ("C1", "C2", "C3", "C4", "C5")
COMBINATORS = ("any", "all", "not")
# The fields a behaviour rule's day condition may name (one row of the behaviour table, alias d).
DAY_FIELDS = {"turnover_pct": "d.turnover_pct", "st_share": "d.st_share"}


def rank(level):
    """R1..R5 -> 1..5."""
    return PRODUCT_LEVELS.index(level) + 1


def condition(rule):
    """The condition part of a rule table ({any|all|not: …}), or None."""
    cond = {k: rule[k] for k in COMBINATORS if k in rule}
    if "when" in rule:
        return rule["when"]
    return cond or None


def client_rule_fields(today):
    """Names a client-only rule (investor type) may test, over the client row ``c``."""
    fields = client_fields(today)
    fields["institution_type"] = "json_extract(c.extra, '$.institution_type')"
    return fields


def pair_fields(today):
    """Names a suitability rule may test: client fields plus the product and the client's state.

    The SQL assumes aliases ``c`` (clients), ``p`` (products) and ``s`` (the
    per-client suitability state: level, lowest category, investor type, flag,
    age — computed once per client, not once per holding).
    """
    fields = client_rule_fields(today)
    fields.update({
        "age": "s.age",
        "product_code": "p.code",
        "product_type": "p.type",
        "product_risk": "p.risk_rank",
        "risk_level": "s.level",
        "lowest_category": "s.lowest",
        "investor_type": "s.investor_type",
        "behaviour_flag": "s.behaviour_flag",
    })
    return fields


def _level(doc, key, where, allowed=PRODUCT_LEVELS):
    value = text(doc, key, where)
    if value not in allowed:
        raise PolicyError(f"{where}.{key}: 须为 {'/'.join(allowed)} 之一 (must be one of them), got {value!r}")
    return value


def _rules(rules, where, fields, needs_condition=True):
    for i, rule in enumerate(rules):
        w = f"{where}[{i}]"
        text(rule, "reason", w)
        cond = condition(rule)
        if cond is None:
            if needs_condition:
                raise PolicyError(f"{w}: 缺少条件 any/all/not (missing condition)")
            continue
        compile_condition(cond, fields, w)


def validate(doc):
    tiers = table(doc, "tiers", "")
    for key in ("high", "medium", "low"):
        _level(tiers, key, "tiers")
    seen = {}
    for i, t in enumerate(array(doc, "types", "")):
        where = f"types[{i}]"
        name = text(t, "type", where)
        tier = text(t, "tier", where)
        if tier not in tiers:
            raise PolicyError(f"{where}.tier: {tier!r} 不在 [tiers] 中 (not a tier)")
        if "level" in t:
            _level(t, "level", where)
        names = t.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise PolicyError(f"{where}.names: 须为文本列表 (must be a list of names)")
        for n in [name, *names]:
            if n.lower() in seen:
                raise PolicyError(f"{where}.names: {n!r} 已用于 {seen[n.lower()]} (name used twice)")
            seen[n.lower()] = name
    matching = table(doc, "matching", "")
    for key in (*CLIENT_LEVELS, "professional", "lowest_category_max"):
        _level(matching, key, "matching")
    if not isinstance(matching.get("professional_exempt", True), bool):
        raise PolicyError("matching.professional_exempt: 须为 true 或 false (must be a boolean)")
    previous = 0
    for key in CLIENT_LEVELS:
        r = rank(matching[key])
        if r < previous:
            raise PolicyError(f"matching.{key}: 较高的客户等级不能对应更低的产品等级 (levels must not descend)")
        previous = r
    fields = pair_fields(dt.date(2000, 1, 1))
    _rules(doc.get("special_groups", []), "special_groups", fields)
    for g in doc.get("special_groups", []):
        text(g, "name", "special_groups")
    it = table(doc, "investor_type", "")
    client_only = client_rule_fields(dt.date(2000, 1, 1))
    _rules(array(it, "professional", "investor_type"), "investor_type.professional", client_only)
    _rules(array(it, "conversion", "investor_type"), "investor_type.conversion", client_only)
    days = number(table(doc, "assessments", ""), "expiring_days", "assessments", minimum=1)
    if int(days) != days:
        raise PolicyError("assessments.expiring_days: 须为整数 (whole days)")
    renewal = table(doc, "renewal", "")
    for key in ("income_bands", "asset_bands", "age_bands"):
        bands = array(renewal, key, "renewal")
        if any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bands) or bands != sorted(set(bands)):
            raise PolicyError(f"renewal.{key}: 须为递增数字列表 (ascending numbers)")
    validate_rules(table(doc, "behaviour", "").get("rules", []), "behaviour.rules")


def validate_rules(rules, where):
    if not isinstance(rules, list):
        raise PolicyError(f"{where}: 须为规则列表 (must be a list of rules)")
    for i, rule in enumerate(rules):
        w = f"{where}[{i}]"
        for key in ("name", "flag", "label", "message", "reason"):
            text(rule, key, w)
        for key in ("window_days", "min_days"):
            value = number(rule, key, w, minimum=1)
            if int(value) != value:
                raise PolicyError(f"{w}.{key}: 须为整数 (whole days)")
        cond = condition(rule)
        if cond is None:
            raise PolicyError(f"{w}: 缺少条件 any/all/not (missing day condition)")
        compile_condition(cond, DAY_FIELDS, w)


@dataclass
class SuitabilityPolicy:
    doc: dict
    version: int | None
    digest: str | None
    source: str          # "policy v3" or "默认策略文件 (shipped default, not published)"

    def type_level(self, product_type):
        """(canonical type, default level) for a type name in English or Chinese, or None."""
        key = (product_type or "").strip().lower()
        for t in self.doc["types"]:
            if key in [t["type"].lower(), *(n.lower() for n in t.get("names", []))]:
                return t["type"], t.get("level") or self.doc["tiers"][t["tier"]]
        return None


def load(db):
    """The suitability policy in force; a database published before it existed gets the shipped file."""
    try:
        ps = current_policy(db)
    except BrokerCRMError:
        ps = None
    if ps is not None and "suitability" in ps.files:
        return SuitabilityPolicy(ps["suitability"], ps.version, ps.digest, f"策略 v{ps.version}")
    pf = load_file(default_policy_dir() / "suitability.toml")
    return SuitabilityPolicy(
        pf.doc, ps.version if ps else None, pf.sha256,
        "默认适当性策略文件 (shipped default suitability.toml; not yet published)",
    )
