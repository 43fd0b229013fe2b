"""Branch plugins' classification adjustments, validated up front and compiled to SQL.

A plugin returns declarative rules from its ``classification_adjustments``
hook (see ``brokercrm.hookspecs``). ``plan()`` asks every approved plugin of
every branch in scope for its rules *before* any SQL runs and validates them:
a plugin that raises, returns something malformed or names an unknown class
is recorded as a failure and its branch is left out of the run, so that
branch keeps its previous classifications while the others complete.

``class_columns()`` folds every valid rule into the class expression of the
single ``INSERT … SELECT`` the engine already runs:

    CASE WHEN c.branch_id = 'TY01' THEN (CASE WHEN <rule 1> THEN <shifted>
                                              … ELSE <grid> END)
         …
         ELSE <grid> END

so three approved plugins cost one more CASE per row, not a Python call per
client. ``adjustment_column()`` gives the history's text naming the plugin
rule that moved the client and why.
"""

import hashlib
import json
import math
import re
from dataclasses import dataclass, field

from .compile import DIMENSIONS
from ..kernel.client_fields import AgeField
from ..kernel.errors import PolicyError
from ..plugins import PluginError, gate
from ..trust import root as trust_root
from ..kernel.rules import compile_condition

RULE_KEYS = {"when", "shift", "set_class", "reason"}


def literal(value):
    """A SQL literal for a rule value (inlined: the plan is one param-free expression)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(f"not a number or text: {value!r}")


_TOKEN = re.compile(r"'(?:[^']|'')*'|\?")


def inline(sql, params):
    """Replace each ``?`` outside string literals with its parameter as a literal."""
    it = iter(params)

    def sub(m):
        return literal(next(it)) if m.group(0) == "?" else m.group(0)

    out = _TOKEN.sub(sub, sql)
    if next(it, _TOKEN) is not _TOKEN:
        raise AssertionError("more parameters than placeholders")
    return out


def rule_fields(comp):
    """What a rule's ``when`` may test: client fields plus the head-office proposal.

    ``account_years`` (whole years since ``opened_at``) lets a rule say
    "client for three years" without a date that changes every day, so the
    rules, and with them incremental runs, stay the same from day to day.
    """
    fields = dict(comp.fields)
    fields["account_years"] = AgeField(comp.today, "c.opened_at")  # whole years, compared as one date
    for name, sql, params in comp.columns():
        if name in DIMENSIONS:
            fields[name] = f"({inline(sql, params)})"
    return fields


@dataclass
class Rule:
    id: int
    plugin: str
    version: str
    branch: str
    approval_id: int | None
    when_sql: str
    reason: str
    shift: int | None = None
    set_class: str | None = None
    source: str = ""          # the rule as the plugin returned it, canonical JSON

    def history_reason(self):
        tag = f"插件 {self.plugin} {self.version}" + (f", 批准 #{self.approval_id}" if self.approval_id else "")
        return f"{self.reason} [{tag}]"


@dataclass
class Plan:
    """What a run applies: valid rules per branch, and why anything else was left out."""

    rules: dict = field(default_factory=dict)      # branch -> [Rule]
    applied: list = field(default_factory=list)    # {"plugin", "version", "branch", "rules"}
    skipped: list = field(default_factory=list)    # {"plugin", "branch", "state", "why"}
    failures: list = field(default_factory=list)   # {"plugin", "branch", "error"}
    excluded: set = field(default_factory=set)     # branches left out of the run

    def all_rules(self):
        return [r for rules in self.rules.values() for r in rules]

    def fingerprint(self):
        """Digest of everything the plan changes: each rule as returned, its plugin, approval, branch.

        Equal fingerprints mean equal adjustments, so an incremental run may
        build on the last full one.
        """
        items = sorted((r.branch, r.plugin, r.version, r.approval_id or 0, r.id, r.source)
                       for r in self.all_rules())
        text = json.dumps([items, sorted(self.excluded)], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def as_dict(self):
        return {"applied": self.applied, "skipped": self.skipped, "failed": self.failures,
                "excluded_branches": sorted(self.excluded)}


def validate_rules(result, *, plugin, version, branch, order, fields, first_id=1, approval_id=None):
    """Rules from one plugin's hook, checked and compiled; PluginError names what is wrong."""
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        raise PluginError(plugin, branch, f"classification_adjustments 须返回规则列表 (must return a list), got {type(result).__name__}")
    rules = []
    for i, raw in enumerate(result):
        where = f"rule[{i}]"
        if not isinstance(raw, dict):
            raise PluginError(plugin, branch, f"{where}: 须为字典 (must be a dict), got {type(raw).__name__}")
        unknown = set(raw) - RULE_KEYS
        if unknown:
            raise PluginError(plugin, branch, f"{where}: 未知键 (unknown keys) {sorted(unknown)}")
        reason = raw.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise PluginError(plugin, branch, f"{where}.reason: 每条调整须有理由 (every adjustment needs a reason)")
        if ("shift" in raw) == ("set_class" in raw):
            raise PluginError(plugin, branch, f"{where}: 须有 shift 或 set_class 之一 (exactly one of shift, set_class)")
        if "when" not in raw:
            raise PluginError(plugin, branch, f"{where}.when: 缺少条件 (missing condition)")
        try:
            sql, params = compile_condition(raw["when"], fields, f"{where}.when")
            when_sql = inline(sql, params)
        except PolicyError as e:
            raise PluginError(plugin, branch, str(e)) from None
        except ValueError as e:
            raise PluginError(plugin, branch, f"{where}.when: {e}") from None
        rule = Rule(first_id + i, plugin, version, branch, approval_id, when_sql, reason.strip(),
                    source=json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str))
        if "shift" in raw:
            shift = raw["shift"]
            if isinstance(shift, bool) or not isinstance(shift, int) or shift == 0 or abs(shift) >= len(order):
                raise PluginError(plugin, branch, f"{where}.shift: 须为非零整数, |n| < {len(order)} (a non-zero whole number), got {shift!r}")
            rule.shift = shift
        else:
            if raw["set_class"] not in order:
                raise PluginError(plugin, branch, f"{where}.set_class: 未知类别 (unknown class) {raw['set_class']!r};"
                                                  f" 已知 (known): {', '.join(order)}")
            rule.set_class = raw["set_class"]
        rules.append(rule)
    return rules


def plan(db, host, comp, policy_doc, today, branches, *, root=None, force=None, leave_out=None):
    """Ask every plugin in force for ``branches`` for its rules (in its worker); validate them all now.

    A plugin is asked only where head office's signed decision for (plugin,
    branch) stands (``plugins.gate``), its installed code is the approved
    code, and its rules match the approved fingerprint. Anything else that
    stands approved — missing, changed, unverifiable, misbehaving — is a
    failure that leaves its whole branch out of the run, loudly.

    ``force`` names a plugin to include without an approval and
    ``leave_out`` one to drop: the impact preview of an approval request
    compares the branch with and without the requested plugin.
    """
    root = root or trust_root.for_db(db)
    result = Plan()
    fields = rule_fields(comp)
    next_id = 1
    decided = gate.decisions(db, root)
    standing = {k: d for k, d in decided.items() if isinstance(d, gate.Refused) or d.approved}
    wanted = {}
    for branch in branches:
        entries = {name: d for (name, b), d in standing.items() if b == branch and name != leave_out}
        if force and force != leave_out:
            entries[force] = None  # a preview: the installed code, approved or not
        wanted[branch] = sorted(entries.items())
    host.prestart({name for entries in wanted.values() for name, _ in entries if host.get(name)})
    for branch, entries in wanted.items():
        for name, decision in entries:
            try:
                rules = _rules_of(db, host, root, comp, fields, policy_doc, today, branch, name, decision, next_id)
            except PluginError as e:
                result.failures.append({"plugin": name, "branch": branch, "error": e.detail})
                result.excluded.add(branch)
                continue
            if rules is None:
                continue
            next_id += len(rules)
            info = host.get(name)
            result.rules.setdefault(branch, []).extend(rules)
            result.applied.append({"plugin": name, "version": info.version, "branch": branch, "rules": len(rules)})
    # A failing plugin takes its whole branch out: the other plugins of that branch do not apply either.
    for branch in result.excluded:
        result.rules.pop(branch, None)
        for a in result.applied:
            if a["branch"] == branch:
                result.skipped.append({"plugin": a["plugin"], "branch": branch, "state": "approved",
                                       "why": "同营业部另一插件出错, 该营业部本次未分类 (another plugin of this branch failed; branch left out)"})
        result.applied = [a for a in result.applied if a["branch"] != branch]
    # Plugins that do not run anywhere in scope: say why per branch where a request or decision
    # exists (pending, rejected, revoked), else once that nothing approves them. Their code is not run.
    in_scope = {name for entries in wanted.values() for name, _ in entries}
    requested = set(db.execute("SELECT DISTINCT plugin, branch FROM approvals").fetchall()) | set(decided)
    for info in host:
        if info.name in in_scope or info.name == leave_out:
            continue
        states = []
        for branch in branches:
            if (info.name, branch) in requested:
                state, why = gate.state(db, root, info, branch, decision_=decided.get((info.name, branch)))
                if state != "none":
                    states.append({"plugin": info.name, "branch": branch, "state": state, "why": why})
        result.skipped.extend(states or [{"plugin": info.name, "branch": None, "state": "none",
                                          "why": "未获任何营业部批准 (not approved for any branch in scope)"}])
    return result


def _rules_of(db, host, root, comp, fields, policy_doc, today, branch, name, decision, first_id):
    """One plugin's validated rules for one branch, None when it has none to give; PluginError otherwise."""
    if isinstance(decision, gate.Refused):
        raise PluginError(name, branch, decision.why)
    info = host.get(name)
    if info is None:
        raise PluginError(name, branch, "已获批准但未安装 (approved but not installed)")
    if decision is not None:
        state, why = gate.state(db, root, info, branch, decision_=decision)
        if state != "approved":
            raise PluginError(name, branch, why)
    elif info.error:
        raise PluginError(name, branch, info.error)
    try:
        if "classification_adjustments" not in host.hooks(name):
            return None
        raw = host.call(name, "classification_adjustments", branch=branch, policy=policy_doc,
                        today=today.isoformat())
    except PluginError as e:
        raise PluginError(name, branch, e.detail) from None
    if isinstance(raw, (list, tuple)) and len(raw) > host.limits.rules:
        raise PluginError(name, branch, f"规则过多: {len(raw)} 条, 上限 {host.limits.rules} (too many rules)")
    if decision is not None and decision.rules.get("classification_adjustments") != gate.rules_fingerprint(raw):
        raise PluginError(name, branch, "返回的规则与总部批准时不同, 本次不予执行"
                                        f" (rules changed since approval #{decision.approval_id})")
    return validate_rules(raw, plugin=name, version=info.version, branch=branch, order=comp.order, fields=fields,
                          first_id=first_id, approval_id=decision.approval_id if decision else None)


def _shifted(base, order, shift):
    """CASE mapping every class to the one ``shift`` steps along ``order`` (clamped at the ends)."""
    whens = " ".join(
        f"WHEN {literal(cls)} THEN {literal(order[min(max(i + shift, 0), len(order) - 1)])}"
        for i, cls in enumerate(order)
    )
    return f"(CASE {base} {whens} END)"


def class_columns(comp, plan):
    """SQL for (class, _adj, _base_class) over client ``c``, with every planned rule folded in."""
    name, sql, params = comp.columns()[0]
    assert name == "class"
    base = f"({inline(sql, params)})"
    if not plan or not plan.all_rules():
        return base, "NULL", "NULL"
    cls_parts, adj_parts = [], []
    for branch, rules in sorted(plan.rules.items()):
        if not rules:
            continue
        cls_whens, adj_whens = [], []
        for r in rules:
            target = literal(r.set_class) if r.set_class else _shifted(base, comp.order, r.shift)
            cls_whens.append(f"WHEN {r.when_sql} THEN {target}")
            adj_whens.append(f"WHEN {r.when_sql} THEN {r.id}")
        b = literal(branch)
        cls_parts.append(f"WHEN c.branch_id = {b} THEN (CASE {' '.join(cls_whens)} ELSE {base} END)")
        adj_parts.append(f"WHEN c.branch_id = {b} THEN (CASE {' '.join(adj_whens)} END)")
    in_list = ", ".join(literal(b) for b in sorted(plan.rules) if plan.rules[b])
    return (
        f"(CASE {' '.join(cls_parts)} ELSE {base} END)",
        f"(CASE {' '.join(adj_parts)} END)",
        f"(CASE WHEN c.branch_id IN ({in_list}) THEN {base} END)",
    )


def adjustment_column(comp, plan):
    """SQL (with params) for the history's adjustment text over client ``c``: the matching rule's
    reason, the grid's class and the class the rule gives; NULL where no rule matches.

    Written out per rule rather than as a CASE over a rule number computed in a
    subquery: SQLite flattens such a subquery and evaluates a referenced
    column's expression again at each reference, which made the three-plugin
    run 2.3x the plain one (bench_plugins.py); this way each condition is
    tested once for the class and once here.
    """
    if not plan or not plan.all_rules():
        return "NULL", []
    name, sql, params = comp.columns()[0]
    base = f"({inline(sql, params)})"
    parts, out = [], []
    for branch, rules in sorted(plan.rules.items()):
        if not rules:
            continue
        whens = []
        for r in rules:
            target = literal(r.set_class) if r.set_class else _shifted(base, comp.order, r.shift)
            whens.append(f"WHEN {r.when_sql} THEN ? || {base} || ' → ' || {target}")
            out.append(r.history_reason() + ": ")
        parts.append(f"WHEN c.branch_id = {literal(branch)} THEN (CASE {' '.join(whens)} END)")
    return f"(CASE {' '.join(parts)} END)", out
