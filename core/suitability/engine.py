"""Suitability (适当性): is this product right for this client?

The whole verdict is compiled to SQL from the policy — one expression for
the verdict, one for its reasons — over three aliases: ``c`` (the client
row), ``p`` (the product) and ``s`` (the client's suitability state: risk
level, lowest category, assessment state, investor type, behaviour flag).
``check`` runs it for one pair and records the result; the batch scan
(``suitability.scan``) runs the very same expressions over every holding, so
the two can never disagree.

Verdicts, most severe first (every reason that applies is kept):

- ``forbidden`` — no confirmation lifts it: an ordinary investor with no
  risk assessment or an expired one; a lowest-category (最低类别) ordinary
  investor and a product above the policy's ``lowest_category_max`` (R1);
  anything an approved branch plugin forbids.
- ``mismatch`` — the product is above the client's level, or a special group
  applies (default: aged ≥ 70 and product ≥ R4), or (issue 11, ``profile``) the
  product's horizon or kind does not fit the client's, or either side of those
  is unknown, or the objective caps the level. Never to be recommended; a
  sale needs the special risk warning (特别风险警示书) and the client's
  written confirmation (``confirm``).
- ``match``.

Each check also reports the verdict of each dimension (risk / horizon / kind)
and the special-care procedures it triggers (``care_rules``, 办法 Art. 20:
matched or not); a special-care confirmation opens a cooling-off window
(``cooling_off``).

Assessment rules and special groups bind ordinary investors; professional
investors may buy R1–R5 (policy ``matching.professional``) and, unless the
policy sets ``matching.professional_exempt = false``, need no assessment. Plugin rules bind
everyone of the branch they are approved for.
"""

import json
from dataclasses import dataclass, field

from .. import plugins as plugins_mod
from ..trust import audit, authz
from ..kernel import events
from ..kernel import rows
from ..kernel.errors import BrokerCRMError, Conflict, NotFound, PolicyError
from ..kernel.client_fields import age_sql
from ..kernel.rules import compile_condition
from . import investor_type
from . import evidence as evidence_mod
from . import lowest as lowest_mod
from . import care_rules, cooling_off, profile as profile_mod
from .assessments import renewal_flags
from .policy import CLIENT_LEVELS, condition, load as load_policy, pair_fields, rank
from ..kernel.timeutil import now_iso, today as local_today

RULE_VERDICTS = ("forbidden", "mismatch", "warning")
SEP = "\n"  # joins reason texts inside SQL; no reason contains a newline

LATEST_ASSESSMENT_ID = (
    "SELECT x.id FROM assessments x WHERE x.client_id = c.client_id ORDER BY x.answered_at DESC, x.id DESC LIMIT 1"
)


@dataclass
class Rule:
    """An extra check: a condition over pair fields, a verdict it forces, and why."""

    name: str
    verdict: str
    reason: str
    when: dict
    branches: list | None = None   # None: every branch
    source: str = "policy"

    @classmethod
    def from_dict(cls, item, source, branches=None):
        if not isinstance(item, dict):
            raise PolicyError(f"{source}: 适当性规则须为表 (a suitability rule must be a dict), got {item!r}")
        verdict = item.get("verdict", "warning")
        if verdict not in RULE_VERDICTS:
            raise PolicyError(f"{source}: verdict 须为 {'/'.join(RULE_VERDICTS)} 之一, got {verdict!r}")
        when = condition(item)
        reason = item.get("message") or item.get("reason")
        if when is None or not isinstance(reason, str) or not reason:
            raise PolicyError(f"{source}: 适当性规则须有 when 条件与 message (needs `when` and `message`)")
        # Fail here, naming the source, rather than deep inside a scan's SQL.
        compile_condition(when, pair_fields(local_today()), f"{source} {item.get('name') or ''}".strip())
        return cls(str(item.get("name") or source), verdict, reason, when, branches, source)


@dataclass
class Compiled:
    """The suitability policy compiled to SQL for one day."""

    policy: object
    today: object
    rules: list = field(default_factory=list)
    decisions: bool = True   # False when no investor status was ever approved: skip that look-up
    marks: bool = True       # False when no capacity record or head-office flag exists: skip those look-ups
    profiles: bool = True    # False when no operator-recorded investor profile exists: skip that look-up
    qdoc: dict | None = None  # the questionnaire in force (its [profile] maps answers to the profile)

    def __post_init__(self):
        self.doc = self.policy.doc
        self.fields = pair_fields(self.today)
        self.label = self.policy.source
        m = self.doc["matching"]
        self.lowest_max = rank(m["lowest_category_max"])
        self.professional_max = rank(m["professional"])
        self.professional_exempt = m.get("professional_exempt", True)
        self.three_way = profile_mod.ThreeWay(self.policy, self.qdoc)   # issue 11: horizon and kind
        self.care = care_rules.Care(self.policy, self.fields)          # issue 11: special care (Art. 20)

    # -- the per-client state ------------------------------------------------
    def state_select(self):
        """SELECT of one state row per client; ``{where}`` in it takes a WHERE over ``c``.

        Everything that depends on the client alone — level, lowest category,
        assessment state, investor type, the level cap, age — is computed here
        once per client, so the per-holding verdict is a few integer compares.
        """
        t = self.today.isoformat()
        level_case = " ".join(f"WHEN '{lv}' THEN {rank(self.doc['matching'][lv])}" for lv in CLIENT_LEVELS)
        # A classification newer than the latest assessment carries the level (plugins may
        # refine it); otherwise the assessment itself does. Expiry is always judged today.
        # (A row's run_id is the run that last changed it; that run's start is its age.)
        fresh = "k.risk_level GLOB 'C[0-9]*' AND kr.started_at >= a.imported_at"
        # MATERIALIZED: computed once per client, then read by the per-column CASEs below
        # (a flattened query would re-evaluate the investor-type rules at every reference).
        # Investor status comes from reviewed evidence only (issue 11), never from client fields.
        professional = investor_type.professional_sql(t) if self.decisions else "0"
        # Whom the assessment checks and special groups bind: ordinary investors, or everyone.
        careful = "NOT COALESCE(professional, 0)" if self.professional_exempt else "1"
        # 最低类别 causes outside the questionnaire (issue 11): they bind everyone, assessed or not.
        minor, incapable, hq_flag = lowest_mod.state_columns(self.policy, self.today, self.marks)
        objective, horizon, kinds = self.three_way.state_columns(self.profiles)
        operator_profile = ("LEFT JOIN investor_profiles op ON op.id = (SELECT max(x.id) FROM investor_profiles x"
                            " WHERE x.client_id = c.client_id)" if self.profiles else "")
        sql = f"""WITH st AS MATERIALIZED (
            SELECT c.client_id, c.branch_id,
                CASE WHEN a.id IS NULL THEN 'unassessed' WHEN a.expires_at <= '{t}' THEN 'expired'
                     WHEN {fresh} THEN k.risk_level ELSE a.level END AS level,
                CASE WHEN {fresh} THEN k.lowest_category ELSE COALESCE(a.lowest_category, 0) END AS lowest,
                CASE WHEN a.id IS NULL THEN 'unassessed' WHEN a.expires_at <= '{t}' THEN 'expired' ELSE 'valid' END
                    AS assess_state,
                a.expires_at AS expires_at,
                {professional} AS professional,
                {age_sql(self.today)} AS age, fl.flag AS behaviour_flag,
                {minor} AS minor, {incapable} AS incapable, {hq_flag} AS hq_flag,
                {self.three_way.raw_columns(self.profiles)}
            FROM clients c
            LEFT JOIN assessments a ON a.id = ({LATEST_ASSESSMENT_ID}) AND a.ack_state != 'unacknowledged'
            LEFT JOIN classifications k ON k.client_key = c.id
            LEFT JOIN runs kr ON kr.id = k.run_id
            LEFT JOIN behaviour_flags fl ON fl.client_id = c.client_id
            {operator_profile}
            {{where}})
        SELECT client_id, branch_id, level,
            (COALESCE(lowest, 0) OR minor OR incapable OR hq_flag) AS lowest, assess_state, expires_at,
            CASE WHEN professional THEN 'professional' ELSE 'ordinary' END AS investor_type,
            NOT COALESCE(professional, 0) AS ordinary,
            CASE WHEN professional THEN {self.professional_max}
                 WHEN assess_state = 'valid' THEN COALESCE(CASE level {level_case} END, 0) ELSE 0 END AS max_rank,
            CASE WHEN minor OR incapable OR hq_flag THEN {self.lowest_max}
                 WHEN {careful} AND assess_state = 'valid' AND lowest = 1 THEN {self.lowest_max}
                 ELSE 99 END AS forbid_above,
            {careful} AND assess_state != 'valid' AS blocked,
            age, behaviour_flag, {careful} AS careful,
            {lowest_mod.cause_sql(lowest_mod.minor_age(self.policy))} AS lowest_cause,
            {objective} AS objective, {horizon} AS horizon, {kinds} AS kinds,
            {self.three_way.objective_max(objective)} AS objective_max,
            {self.three_way.fit_state_columns(careful, objective, horizon, kinds)}
        FROM st"""
        return sql, []

    # -- the verdict over (c, p, s) -------------------------------------------
    def _extra(self):
        """[(verdict, cond_sql, params, reason)] of special groups and extra rules."""
        out = []
        for i, g in enumerate(self.doc.get("special_groups", [])):
            sql, p = compile_condition(condition(g), self.fields, f"special_groups[{i}]")
            out.append(("mismatch", f"s.careful AND ({sql})", p,
                        f"{self.label} 特殊群体 {g.get('label', g['name'])}: {g['reason']}"))
        for rule in self.rules:
            sql, p = compile_condition(rule.when, self.fields, f"{rule.source} rule {rule.name}")
            if rule.branches is not None:
                sql = f"({sql}) AND s.branch_id IN ({', '.join('?' * len(rule.branches))})"
                p = p + list(rule.branches)
            out.append((rule.verdict, sql, p, f"{rule.source} {rule.name}: {rule.reason}"))
        return out

    def _verdict_parts(self, compact=False):
        forbid = ["s.blocked", "p.risk_rank > s.forbid_above"]
        mismatch = ["p.risk_rank > s.max_rank"]
        fparams, mparams = [], []
        # Three-way matching (issue 11): a dimension the client never stated is never a match.
        # ``compact`` (the scan's filter only needs "not a match") tests all of it at once.
        if compact:
            mismatch.append(f"({self.three_way.not_ok_sql()})")
        for (dim, kind), sql in ({} if compact else self.three_way.conditions()).items():
            strict = kind == "unknown" and self.three_way.unknown == "forbidden"
            (forbid if strict else mismatch).append(f"({sql})")
        for verdict, sql, p, _ in self._extra():
            if verdict == "forbidden":
                forbid.append(f"({sql})")
                fparams += p
            elif verdict == "mismatch":
                mismatch.append(f"({sql})")
                mparams += p
        return forbid, fparams, mismatch, mparams

    def verdict_sql(self):
        forbid, fparams, mismatch, mparams = self._verdict_parts()
        return (f"CASE WHEN {' OR '.join(forbid)} THEN 'forbidden' WHEN {' OR '.join(mismatch)} THEN 'mismatch'"
                " ELSE 'match' END", fparams + mparams)

    def not_match_sql(self):
        """True exactly when the verdict is not 'match' (a cheap filter for the scan)."""
        forbid, fparams, mismatch, mparams = self._verdict_parts(compact=True)
        return " OR ".join(forbid + mismatch), fparams + mparams

    def reasons_sql(self):
        """Every applying reason joined by SEP (only worth computing for the rows you keep)."""
        v = self.label
        items = [
            ("s.blocked AND s.assess_state = 'unassessed'", [], "?",
             [f"{v}: 无有效风险测评记录 (或最新测评结果未经客户确认), 不得销售或提供"
              " (no risk assessment, or the latest result is not acknowledged by the client: forbidden)"]),
            ("s.blocked AND s.assess_state = 'expired'", [], "? || s.expires_at || ?",
             [f"{v}: 风险测评已于 ", " 过期, 须重新测评 (assessment expired: forbidden)"]),
            ("p.risk_rank > s.forbid_above", [], "? || s.lowest_cause || ? || p.risk_level || ?",
             [f"{v}: 最低类别 (", f") 客户只可购买 {'R1' if self.lowest_max == 1 else f'R1–R{self.lowest_max}'}"
              " 产品, 产品为 ", " — 任何确认均不能解除 (lowest category: forbidden, no confirmation lifts it;"
              " 办法 Art. 19, 22(5))"]),
            ("NOT s.blocked AND p.risk_rank > s.max_rank", [], "? || s.level || ? || s.max_rank || ? || p.risk_level || ?",
             [f"{v}: 客户等级 ", " 可购 R1–R", ", 产品 ", " 高于客户等级 (product above the client's level)"]),
        ]
        # The three-way reasons sit behind one combined test: most rows pass it and skip all five.
        # Not for a client forbidden for want of a valid assessment: that reason is the one that
        # counts, and the dimension verdicts still show what is unknown (half the scan's rows).
        tw_parts = [f"CASE WHEN {cond} THEN {text} || char(10) ELSE '' END"
                    for cond, _, text, _ in self.three_way.reason_items(v)]
        tw_params = [x for _, p, _, tp in self.three_way.reason_items(v) for x in p + tp]
        items.append((f"NOT s.blocked AND {self.three_way.not_ok_sql()}", [], f"rtrim({' || '.join(tw_parts)}, char(10))", tw_params))
        items += [(sql, p, "?", [reason]) for _, sql, p, reason in self._extra()]
        items += [
            ("NOT s.ordinary", [], "? || p.risk_level || ?",
             [f"{v}: 专业投资者可购 R1–R{self.professional_max}, 产品 ", " (professional investor)"]),
            ("s.ordinary AND NOT s.blocked AND p.risk_rank <= s.max_rank", [],
             "? || s.level || ? || s.max_rank || ? || p.risk_level || ?",
             [f"{v}: 客户等级 ", " 可购 R1–R", ", 产品 ", " 在范围内 (within the client's level)"]),
        ]
        parts, params = [], []
        for cond, p, reason, rp in items:
            parts.append(f"CASE WHEN {cond} THEN {reason} || char(10) ELSE '' END")
            params += p + rp
        return f"rtrim({' || '.join(parts)}, char(10))", params

    def dimensions_sql(self, reasons=True):
        """Per-dimension verdict (and reason) columns — risk, horizon, kind — over s and p."""
        return self.three_way.dimension_sql("s.blocked OR p.risk_rank > s.forbid_above", "p.risk_rank > s.max_rank",
                                            reasons)

    def products_select(self):
        """SELECT of products with the columns the verdict reads (horizon rank and kind bit from the policy)."""
        horizon, kind = self.three_way.product_columns("p")
        return (f"SELECT p.code, p.name, p.type, p.risk_level, p.risk_rank, {horizon} AS horizon_rank,"
                f" {kind} AS kind_bit, {self.three_way.fit_product_columns(horizon, kind)} FROM products p")


def rules_from_items(items, source, branches=None):
    return [Rule.from_dict(item, source, branches) for item in items or ()]


def plugin_rules(db, branches, plugins=None):
    """Rules that plugins approved for each of ``branches`` add through the ``suitability_checks`` hook."""
    wanted = sorted(plugins_mod.dispatch.branches_with_plugins(db, branches))
    if not wanted:
        return []
    host = plugins if plugins is not None else plugins_mod.current()
    out = []
    for branch in wanted:
        for info, result in plugins_mod.call_for_branch(db, host, branch, "suitability_checks"):
            try:
                out += rules_from_items(result, f"插件 {info.name}", [branch])
            except PolicyError as e:
                raise plugins_mod.PluginError(info.name, branch, f"suitability_checks 返回格式错误 (malformed): {e}")
    return out


def compiled(db, *, today=None, rules=None, branches=(), plugins=None):
    """The compiled policy; ``rules`` (extra Rule objects) default to the approved plugins' rules."""
    policy = load_policy(db)
    if rules is None:
        rules = plugin_rules(db, branches, plugins)
    return Compiled(policy, today or local_today(), list(rules), investor_type.any_status(db), lowest_mod.any_marks(db),
                    profile_mod.any_profiles(db), profile_mod.questionnaire_doc(db))


def evaluate_pair(db, comp, client_id, product_code):
    """The verdict row for one client and one product, computed by the shared SQL."""
    state_sql, state_params = comp.state_select()
    verdict, vparams = comp.verdict_sql()
    reasons, rparams = comp.reasons_sql()
    care, cparams = comp.care.triggered_sql()
    return db.execute(
        f"""SELECT s.client_id, s.branch_id, p.code, p.name, p.risk_level, s.level, s.investor_type,
                   s.behaviour_flag, s.expires_at, {verdict}, {reasons}, {care}, p.type, {comp.dimensions_sql()}
        FROM ({state_sql.replace('{where}', 'WHERE c.client_id = ?')}) s
        JOIN clients c ON c.client_id = s.client_id
        JOIN ({comp.products_select()} WHERE p.code = ?) p""",
        [*vparams, *rparams, *cparams, *state_params, client_id, product_code],
    ).fetchone()


def _product_code(db, product_code):
    code = product_code.strip().upper()
    if not db.execute("SELECT 1 FROM products WHERE code = ?", [code]).fetchone():
        raise NotFound(f"产品 {code} 不存在 (no such product)")
    return code


def check(db, actor, client_id, product_code, *, today=None, rules=None, plugins=None, record=True):
    """Check one client against one product; the result is stored (who, when, policy, reasons)."""
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "suitability.check", branch=branch)
    code = _product_code(db, product_code)
    comp = compiled(db, today=today, rules=rules, branches=[branch], plugins=plugins)
    (cid, branch_id, code, name, risk, level, itype, flag, expires, verdict, reasons, care, ptype,
     *dims) = evaluate_pair(db, comp, client_id, code)
    reasons = reasons.split(SEP)
    dimensions = {d: {"verdict": dims[i], "reason": dims[3 + i]} for i, d in enumerate(profile_mod.DIMENSIONS)}
    special_care = None if verdict == "forbidden" else comp.care.describe(care.split(SEP) if care else [], ptype)
    notes = []
    if flag:
        notes.append(f"交易行为标记 {flag}: 近期交易行为与风险等级存在偏差 (behaviour flag; informs, never blocks)")
    low = lowest_mod.status(db, actor, cid, today=comp.today)
    if low["guardian_required"]:
        notes.append("须由监护人代理 (a guardian acts for this client: minor or lacking full civil capacity)")
    if unacknowledged(db, cid):
        notes.append("最新风险测评结果未经客户确认, 不计入匹配 (the latest assessment is not acknowledged by the"
                     " client: it does not count; seed 001 appendix)")
    if renewal_flags(db, client_ids=[cid]):
        notes.append("客户信息已变化, 风险测评须更新 (information changed: assessment due for renewal, Art. 21)")
    result = {
        "client_id": cid, "branch_id": branch_id, "product_code": code, "product_name": name,
        "product_risk": risk, "client_level": level, "investor_type": itype, "verdict": verdict,
        "reasons": reasons, "notes": notes, "lowest_category": low["lowest"],
        "dimensions": dimensions, "special_care": special_care, "product_type": ptype,
        "policy_version": comp.policy.version, "policy_digest": comp.policy.digest, "policy_source": comp.label,
        "checked_by": actor.id, "checked_at": now_iso(), "confirmation": None,
    }
    if verdict == "mismatch":
        result["requires"] = "特别风险警示书 + 客户书面确认 (special risk warning and written confirmation)"
        result["confirmation"] = covering_confirmation(db, cid, code, level)
    if record:
        with db.atomic():
            result["id"] = db.execute(
                "INSERT INTO suitability_checks (client_id, product_code, product_risk, client_level, investor_type,"
                " verdict, reasons, policy_version, policy_digest, checked_by, checked_at, dimensions, special_care)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [cid, code, risk, level, itype, verdict, json.dumps(reasons, ensure_ascii=False),
                 comp.policy.version, comp.policy.digest, actor.id, result["checked_at"],
                 json.dumps(dimensions, ensure_ascii=False),
                 json.dumps(special_care, ensure_ascii=False) if special_care else None],
            ).lastrowid
            audit.record(db, "suitability.check", actor=actor, target=f"{cid}/{code}",
                         detail={"verdict": verdict, "check_id": result["id"], "policy_version": comp.policy.version},
                         digest=comp.policy.digest)
    return result


def unacknowledged(db, client_id):
    """True when the client's latest assessment was imported without the client's acknowledgement."""
    row = db.execute("SELECT ack_state FROM assessments WHERE client_id = ? ORDER BY answered_at DESC, id DESC LIMIT 1",
                     [client_id]).fetchone()
    return bool(row and row[0] == "unacknowledged")


def covering_confirmation(db, client_id, product_code, level):
    """The latest written confirmation for this pair given at the client's current level, if any.

    One the client withdrew inside its cooling-off window covers nothing (issue 11).
    """
    row = db.execute(
        "SELECT id, evidence, confirmed_by, confirmed_at FROM suitability_confirmations"
        f" WHERE client_id = ? AND product_code = ? AND client_level = ? AND {cooling_off.NOT_WITHDRAWN.format(x='id')}"
        " ORDER BY id DESC LIMIT 1",
        [client_id, product_code, level],
    ).fetchone()
    if not row:
        return None
    conf = dict(zip(("id", "evidence", "confirmed_by", "confirmed_at"), row))
    conf.update(cooling_off.confirmation_status(db, conf["id"]))
    return conf


def confirm(db, actor, client_id, product_code, evidence, *, today=None, rules=None, plugins=None, shown=None):
    """Record the client's written insistence after the special risk warning, or their
    acknowledgement of the special-care notice (issue 11: Art. 20 binds matched sales too).

    A forbidden verdict cannot be confirmed; a match needs no confirmation unless special
    care applies. A confirmed mismatch for an ordinary investor, or a special-care sale
    with a callback, emits ``high_risk_sale`` (the task engine opens the 5-working-day
    callback); a special-care sale opens its cooling-off window (``cooling_off``).
    ``shown`` (channel, recording, template_id) becomes the act's evidence row
    (``suitability.evidence``); a 双录 rule it fails refuses first.
    """
    evidence = (evidence or "").strip()
    if not evidence:
        raise BrokerCRMError("须提供书面确认的凭证编号 --evidence REF (the signed confirmation's reference is required)")
    shown = evidence_mod.precheck_confirmation(db, client_id, product_code, shown)
    result = check(db, actor, client_id, product_code, today=today, rules=rules, plugins=plugins)
    authz.require(actor, "suitability.confirm", branch=result["branch_id"])
    if result["verdict"] == "forbidden":
        raise BrokerCRMError(
            f"{client_id} / {result['product_code']}: 禁止销售, 任何确认均不能解除 (forbidden; no confirmation lifts it): "
            + "; ".join(result["reasons"]))
    if result["verdict"] == "match" and not result["special_care"]:
        raise Conflict(f"{client_id} / {result['product_code']}: 适当, 无需确认 (a match needs no confirmation)")
    with db.atomic():
        stamp = now_iso()
        conf_id = db.execute(
            "INSERT INTO suitability_confirmations (client_id, product_code, check_id, client_level, evidence,"
            " reasons, policy_version, policy_digest, confirmed_by, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [client_id, result["product_code"], result["id"], result["client_level"], evidence,
             json.dumps(result["reasons"], ensure_ascii=False), result["policy_version"], result["policy_digest"],
             actor.id, stamp],
        ).lastrowid
        audit.record(db, "suitability.confirm", actor=actor, target=f"{client_id}/{result['product_code']}",
                     detail={"confirmation_id": conf_id, "check_id": result["id"], "evidence": evidence},
                     digest=result["policy_digest"])
        result["evidence_record"] = evidence_mod.record_confirmation(db, actor, result, conf_id, evidence, shown)
        care = result["special_care"]
        window = cooling_off.open_window(db, actor, result, conf_id, stamp) if care else None
        if result["investor_type"] == "ordinary" and (result["verdict"] == "mismatch" or (care and care["callback"])):
            events.emit(db, "high_risk_sale", client_id, operator=actor.id, detail={
                "product_code": result["product_code"], "product_risk": result["product_risk"],
                "client_level": result["client_level"], "confirmation_id": conf_id, "check_id": result["id"],
                "evidence": evidence, "branch_id": result["branch_id"],
                "special_care": [t["name"] for t in care["triggers"]] if care else None,
            })
    result["confirmation"] = {"id": conf_id, "evidence": evidence, "confirmed_by": actor.id, "confirmed_at": stamp,
                              **cooling_off.confirmation_status(db, conf_id)}
    result["cooling_off"] = window
    return result

