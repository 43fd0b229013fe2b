"""Three-way matching (issue 11 item 4): the client's investment profile and the product's
horizon and kind, compiled to SQL.

办法 Art. 6(4) makes the firm learn the client's 投资期限、品种、期望收益等投资目标 and
Art. 22(4) forbids recommending to an ordinary investor a product that does not fit
that objective; the SAC 实施指引 matches on risk level, horizon (投资期限) and kind
(投资品种). Risk stays in ``engine``; this module supplies:

- the client's profile — objective, horizon (a rank, shortest = 1) and wanted kinds (a
  bit mask) — from the latest assessment's answers through the questionnaire's
  ``[profile]`` mapping, or from the operator's latest record (``set_profile``, a KYC
  act with evidence); whichever is newer wins, dimension by dimension;
- the product's horizon rank and kind bit: its own columns, else the policy's default
  for its type;
- the per-dimension verdict and reason expressions over ``s`` (state) and ``p`` (product).

Everything is SQL computed once per client or per product, so the per-holding cost of
the two new dimensions is two integer compares (the scan's speed target, issue 11).
"""

import re

from ..kernel import rows
from ..kernel.errors import BrokerCRMError, PolicyError
from ..kernel.timeutil import now_iso
from ..policy.sets import current as current_policy
from ..policy.sets import default_policy_dir, load_file
from ..trust import audit, authz
from .policy import PRODUCT_LEVELS, load as load_policy, rank

CODE = re.compile(r"^[a-z][a-z0-9_]*$")   # codes are inlined into SQL: nothing else may pass
DIMENSIONS = ("risk", "horizon", "kind")
DIM_VERDICTS = ("match", "mismatch", "unknown", "exempt", "forbidden")
UNKNOWN_VERDICTS = ("mismatch", "forbidden")
UNKNOWN_KIND_BIT = 1 << 30   # kinds are bits 0–29 (at most 30 kinds, checked by validate)

def sql_text(value):
    """A policy label as an SQL string literal (labels are head office's free text: quote them)."""
    return "'" + str(value).replace("'", "''") + "'"


PRODUCT_TERM_ALIASES = {
    "期限": "horizon", "投资期限": "horizon", "产品期限": "horizon", "product_horizon": "horizon",
    "品种": "kind", "品种类别": "kind", "投资品种": "kind", "产品品种": "kind", "product_kind": "kind",
}


# -- policy ------------------------------------------------------------------

def _shipped(key):
    return load_file(default_policy_dir() / "suitability.toml").doc.get(key)


def section(policy, key):
    """A suitability policy section; a policy published before it existed gets the shipped one."""
    return policy.doc.get(key) or _shipped(key)


def _entries(tw, key, where):
    items = tw.get(key)
    if not isinstance(items, list) or not items:
        raise PolicyError(f"{where}.{key}: 须为非空列表 (must be a non-empty list)")
    seen = {}
    for i, item in enumerate(items):
        w = f"{where}.{key}[{i}]"
        code = item.get("code") if isinstance(item, dict) else None
        if not isinstance(code, str) or not CODE.match(code):
            raise PolicyError(f"{w}.code: 须为小写英文代码 (a lower-case code), got {code!r}")
        if not isinstance(item.get("label"), str) or not item["label"]:
            raise PolicyError(f"{w}.label: 缺少名称 (missing label)")
        names = item.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise PolicyError(f"{w}.names: 须为文本列表 (must be a list of names)")
        for n in [code, item["label"], *names]:
            if n.lower() in seen and seen[n.lower()] != code:
                raise PolicyError(f"{w}.names: {n!r} 已用于 {seen[n.lower()]} (name used twice)")
            seen[n.lower()] = code
    return [i["code"] for i in items]


def validate(doc):
    """The ``[three_way]`` section of suitability.toml (called by ``policy.validate``)."""
    tw = doc.get("three_way")
    if tw is None:
        return
    if tw.get("unknown", "mismatch") not in UNKNOWN_VERDICTS:
        raise PolicyError(f"three_way.unknown: 须为 {'/'.join(UNKNOWN_VERDICTS)} 之一, got {tw.get('unknown')!r}")
    horizons = _entries(tw, "horizons", "three_way")
    _entries(tw, "objectives", "three_way")
    kinds = _entries(tw, "kinds", "three_way")
    if len(kinds) > 30:
        raise PolicyError("three_way.kinds: 最多30种 (at most 30 kinds: they are bits of a mask)")
    for i, o in enumerate(tw["objectives"]):
        if "max_risk" in o and o["max_risk"] not in PRODUCT_LEVELS:
            raise PolicyError(f"three_way.objectives[{i}].max_risk: 须为 R1–R5 (must be R1–R5), got {o['max_risk']!r}")
    types = {t.get("type") for t in doc.get("types", [])}
    for ptype, d in (tw.get("product_defaults") or {}).items():
        w = f"three_way.product_defaults.{ptype}"
        if ptype not in types:
            raise PolicyError(f"{w}: 产品类型 {ptype!r} 不在 [[types]] 中 (not a product type)")
        if not isinstance(d, dict) or d.get("horizon") not in horizons or d.get("kind") not in kinds:
            raise PolicyError(f"{w}: 须为 {{horizon = {'/'.join(horizons)}, kind = {'/'.join(kinds)}}}")


def questionnaire_doc(db):
    """The questionnaire policy in force (its ``[profile]`` maps answers to the profile)."""
    try:
        ps = current_policy(db)
    except BrokerCRMError:
        ps = None
    if ps is not None and "questionnaire" in ps.files and "profile" in ps["questionnaire"]:
        return ps["questionnaire"]
    shipped = load_file(default_policy_dir() / "questionnaire.toml").doc
    if ps is None or "questionnaire" not in ps.files:
        return shipped
    doc = ps["questionnaire"]
    # Published before issue 11: borrow the shipped answer mapping where its questions exist
    # (same ids: the seed's questionnaire), rather than leave every client's profile unknown.
    ids = {q.get("id") for q in doc.get("questions", [])}
    borrowed = {k: m for k, m in (shipped.get("profile") or {}).items() if m.get("question") in ids}
    return {**doc, "profile": borrowed}


class ThreeWay:
    """The three-way policy compiled to SQL fragments."""

    def __init__(self, policy, qdoc):
        tw = section(policy, "three_way")
        self.unknown = tw.get("unknown", "mismatch")
        self.horizons = tw["horizons"]
        self.objectives = tw["objectives"]
        self.kinds = tw["kinds"]
        self.defaults = tw.get("product_defaults") or {}
        self.hrank = {h["code"]: i + 1 for i, h in enumerate(self.horizons)}
        self.kbit = {k["code"]: 1 << i for i, k in enumerate(self.kinds)}
        self.qprofile = (qdoc or {}).get("profile") or {}

    # names → codes (import rows, the operator's options)
    def code(self, dimension, value):
        items = {"horizon": self.horizons, "objective": self.objectives, "kind": self.kinds}[dimension]
        key = (value or "").strip().lower()
        for item in items:
            if key in [item["code"], item["label"].lower(), *(n.lower() for n in item.get("names", []))]:
                return item["code"]
        return None

    def known(self, dimension):
        items = {"horizon": self.horizons, "objective": self.objectives, "kind": self.kinds}[dimension]
        return "/".join(f"{i['code']} {i['label']}" for i in items)

    def label(self, dimension, code):
        items = {"horizon": self.horizons, "objective": self.objectives, "kind": self.kinds}[dimension]
        return next((i["label"] for i in items if i["code"] == code), code)

    # -- SQL over codes -------------------------------------------------------
    def horizon_rank(self, expr):
        whens = " ".join(f"WHEN '{c}' THEN {r}" for c, r in self.hrank.items())
        return f"(CASE {expr} {whens} END)"

    def kind_bit(self, expr):
        whens = " ".join(f"WHEN '{c}' THEN {b}" for c, b in self.kbit.items())
        return f"(CASE {expr} {whens} END)"

    def kinds_mask(self, expr):
        """Mask of a comma-separated code list (the operator's record); NULL stays NULL."""
        parts = " | ".join(f"(CASE WHEN instr(',' || {expr} || ',', ',{c},') THEN {b} ELSE 0 END)"
                           for c, b in self.kbit.items())
        return f"(CASE WHEN {expr} IS NULL THEN NULL ELSE NULLIF({parts}, 0) END)"

    def objective_max(self, expr):
        whens = " ".join(f"WHEN '{o['code']}' THEN {rank(o['max_risk'])}" for o in self.objectives if "max_risk" in o)
        return f"(CASE {expr} {whens} ELSE 5 END)" if whens else "5"

    def _question(self, key):
        m = self.qprofile.get(key) or {}
        qid = m.get("question")
        if not qid or not re.match(r"^[A-Za-z0-9_]+$", qid) or not m.get("answers"):
            return None
        return qid

    def _answer(self, key):
        """The state column holding the raw answer (read once per client by ``raw_columns``)."""
        qid = self._question(key)
        if not qid:
            return None, {}
        return f"jq_{qid}", self.qprofile[key]["answers"]

    def raw_columns(self, with_operator):
        """Columns of the per-client CTE over ``a`` and ``op``: each question's answer parsed once per
        client (objective and horizon share q10 by default: one parse, not two)."""
        qids = sorted({q for q in map(self._question, ("objective", "horizon", "kinds")) if q})
        cols = [f"json_extract(a.answers, '$.{q}') AS jq_{q}" for q in qids] or ["NULL AS jq_none"]
        if with_operator:
            cols += ["op.objective AS op_objective", "op.horizon AS op_horizon", "op.kinds AS op_kinds",
                     "(op.recorded_at IS NOT NULL AND (a.imported_at IS NULL OR op.recorded_at >= a.imported_at))"
                     " AS op_newer"]
        return ", ".join(cols)

    def _letter(self, letter):
        if not re.match(r"^[A-Z]$", letter):
            raise PolicyError(f"questionnaire profile: 选项须为字母 (option letters), got {letter!r}")
        return letter

    def answer_code(self, key, ranks=None):
        """Objective or horizon from a single-choice answer: a code, or a rank when ``ranks``."""
        expr, mapping = self._answer(key)
        if not expr or not mapping:
            return "NULL"
        valid = self.hrank if ranks else {o["code"]: o["code"] for o in self.objectives}
        whens = []
        for letter, code in mapping.items():
            if code not in valid:
                raise PolicyError(f"questionnaire profile.{key}: {code!r} 不是适当性策略中的代码 (not a [three_way] code)")
            whens.append(f"WHEN '{self._letter(letter)}' THEN " + (str(valid[code]) if ranks else f"'{code}'"))
        return f"(CASE {expr} {' '.join(whens)} END)"

    def answer_kinds(self):
        expr, mapping = self._answer("kinds")
        if not expr or not mapping:
            return "NULL"
        parts = []
        for letter, codes in mapping.items():
            codes = [codes] if isinstance(codes, str) else list(codes)
            bad = [c for c in codes if c not in self.kbit]
            if bad:
                raise PolicyError(f"questionnaire profile.kinds: {bad} 不是适当性策略中的品种代码 (not [three_way] kinds)")
            mask = 0
            for c in codes:
                mask |= self.kbit[c]
            parts.append(f"(CASE WHEN instr({expr}, '{self._letter(letter)}') THEN {mask} ELSE 0 END)")
        return f"(CASE WHEN {expr} IS NULL THEN NULL ELSE NULLIF({' | '.join(parts)}, 0) END)"

    def state_columns(self, with_operator):
        """(objective, horizon rank, kinds mask) over the columns of ``raw_columns``.

        The operator's record wins when it is newer than the latest assessment; otherwise
        the answers do, falling back to the record for a dimension they leave unknown.
        """
        q_obj, q_hz, q_kd = self.answer_code("objective"), self.answer_code("horizon", True), self.answer_kinds()
        if not with_operator:
            return q_obj, q_hz, q_kd

        def pick(q, o):
            return f"(CASE WHEN op_newer AND {o} IS NOT NULL THEN {o} ELSE COALESCE({q}, {o}) END)"

        return (pick(q_obj, "op_objective"), pick(q_hz, self.horizon_rank("op_horizon")),
                pick(q_kd, self.kinds_mask("op_kinds")))

    def product_columns(self, alias="p"):
        """(horizon rank, kind bit) of a product row: its own values, else its type's defaults."""
        hz = " ".join(f"WHEN '{t}' THEN {self.hrank[d['horizon']]}" for t, d in self.defaults.items())
        kd = " ".join(f"WHEN '{t}' THEN {self.kbit[d['kind']]}" for t, d in self.defaults.items())
        return (f"COALESCE({self.horizon_rank(f'{alias}.horizon')}, CASE {alias}.type {hz or 'WHEN NULL THEN NULL'} END)",
                f"COALESCE({self.kind_bit(f'{alias}.kind')}, CASE {alias}.type {kd or 'WHEN NULL THEN NULL'} END)")

    # -- verdicts over s and p ----------------------------------------------
    def conditions(self):
        """{(dimension, 'mismatch'|'unknown'): SQL true exactly then} for horizon, kind and the objective cap."""
        return {
            ("horizon", "unknown"): "s.careful AND (s.horizon IS NULL OR p.horizon_rank IS NULL)",
            ("horizon", "mismatch"): "s.careful AND p.horizon_rank > s.horizon",
            ("kind", "unknown"): "s.careful AND (s.kinds IS NULL OR p.kind_bit IS NULL)",
            ("kind", "mismatch"): "s.careful AND (s.kinds & p.kind_bit) = 0",
            ("objective", "mismatch"): "s.careful AND p.risk_rank > s.objective_max",
        }

    def fit_state_columns(self, careful, objective, horizon, kinds):
        """State columns that fold "binds this client?" and "unknown" into plain integers, so the
        per-holding test of ``not_ok_sql`` is three integer compares: an unknown client side is 0
        (fits nothing), a client the rules do not bind gets 100 / all bits / R5 (fits anything)."""
        return (f"CASE WHEN {careful} THEN COALESCE({horizon}, 0) ELSE 100 END AS fit_h,"
                f" CASE WHEN {careful} THEN COALESCE({kinds}, 0) ELSE -1 END AS fit_k,"
                f" CASE WHEN {careful} THEN {self.objective_max(objective)} ELSE 5 END AS obj_cap")

    def fit_product_columns(self, horizon, kind):
        """Product side of ``not_ok_sql``: an unknown horizon is 99 (longer than any client's), an
        unknown kind a bit no client mask has (1 << 30)."""
        return f"COALESCE({horizon}, 99) AS fit_h, COALESCE({kind}, {UNKNOWN_KIND_BIT}) AS fit_k"

    def not_ok_sql(self):
        """True exactly when any of ``conditions()`` holds (see the fit columns); one test per holding."""
        return "(p.fit_h > s.fit_h OR (s.fit_k & p.fit_k) = 0 OR p.risk_rank > s.obj_cap)"

    def horizon_label(self, rank_expr):
        whens = " ".join(f"WHEN {r} THEN {sql_text(self.label('horizon', c))}" for c, r in self.hrank.items())
        return f"COALESCE(CASE {rank_expr} {whens} END, '未知')"

    def kind_label(self, bit_expr):
        whens = " ".join(f"WHEN {b} THEN {sql_text(self.label('kind', c))}" for c, b in self.kbit.items())
        return f"COALESCE(CASE {bit_expr} {whens} END, '未知')"

    def kinds_label(self, mask_expr):
        parts = " || ".join(f"CASE WHEN {mask_expr} & {b} THEN {sql_text(self.label('kind', c) + '/')} ELSE '' END"
                            for c, b in self.kbit.items())
        return f"COALESCE(NULLIF(rtrim({parts}, '/'), ''), '未知')"

    def objective_label(self, expr):
        whens = " ".join(f"WHEN '{o['code']}' THEN {sql_text(o['label'])}" for o in self.objectives)
        return f"COALESCE(CASE {expr} {whens} END, '未说明')"

    def reason_items(self, label):
        """(condition, params, text SQL, text params) reason entries for the engine's reasons list."""
        c = self.conditions()
        v = label
        unk = "不适当" if self.unknown == "mismatch" else "禁止"
        return [
            (c[("horizon", "unknown")], [],
             f"? || {self.horizon_label('s.horizon')} || ? || {self.horizon_label('p.horizon_rank')} || ?",
             [f"{v}: 投资期限未知 — 客户 ", ", 产品 ", f"; 未说明的维度不视为匹配, 按{unk}处理"
              " (horizon unknown: not treated as a match; 办法 Art. 6(4), 22(4))"]),
            (c[("horizon", "mismatch")], [],
             f"? || {self.horizon_label('p.horizon_rank')} || ? || {self.horizon_label('s.horizon')} || ?",
             [f"{v}: 产品期限 ", " 长于客户投资期限 ", " (horizon: product longer than the client's; 办法 Art. 22(4))"]),
            (c[("kind", "unknown")], [],
             f"? || {self.kinds_label('s.kinds')} || ? || {self.kind_label('p.kind_bit')} || ?",
             [f"{v}: 投资品种未知 — 客户意向 ", ", 产品 ", f"; 未说明的维度不视为匹配, 按{unk}处理"
              " (kind unknown: not treated as a match; 办法 Art. 6(4), 22(4))"]),
            (c[("kind", "mismatch")], [],
             f"? || {self.kind_label('p.kind_bit')} || ? || {self.kinds_label('s.kinds')} || ?",
             [f"{v}: 产品品种 ", " 不在客户意向品种 (", ") 之内 (kind: not among the client's wanted kinds; 办法 Art. 22(4))"]),
            (c[("objective", "mismatch")], [],
             f"? || {self.objective_label('s.objective')} || ? || s.objective_max || ? || p.risk_level || ?",
             [f"{v}: 投资目标 ", " 只适合 R1–R", " 产品, 产品为 ", " (objective caps the risk level; 办法 Art. 22(4))"]),
        ]

    def dimension_sql(self, risk_forbid, risk_mismatch, reasons=True):
        """SELECT-list SQL for the three per-dimension verdicts and reasons (check and scan alike)."""
        c = self.conditions()
        risk = (f"CASE WHEN {risk_forbid} THEN 'forbidden' WHEN {risk_mismatch} OR ({c[('objective', 'mismatch')]})"
                " THEN 'mismatch' ELSE 'match' END")

        def dim(name):
            return (f"CASE WHEN NOT s.careful THEN 'exempt' WHEN {c[(name, 'unknown')]} THEN 'unknown'"
                    f" WHEN {c[(name, 'mismatch')]} THEN 'mismatch' ELSE 'match' END")

        horizon_reason = (f"'客户 ' || {self.horizon_label('s.horizon')} || ', 产品 ' || "
                          f"{self.horizon_label('p.horizon_rank')}")
        kind_reason = f"'客户意向 ' || {self.kinds_label('s.kinds')} || ', 产品 ' || {self.kind_label('p.kind_bit')}"
        risk_reason = (f"'客户 ' || s.level || ' 可购 R1–R' || s.max_rank || ', 投资目标 ' || "
                       f"{self.objective_label('s.objective')} || ', 产品 ' || p.risk_level")
        verdicts = f"{risk} AS risk_verdict, {dim('horizon')} AS horizon_verdict, {dim('kind')} AS kind_verdict"
        if not reasons:
            return verdicts
        return (f"{verdicts}, {risk_reason} AS risk_reason, {horizon_reason} AS horizon_reason,"
                f" {kind_reason} AS kind_reason")


def any_profiles(db):
    return db.execute("SELECT 1 FROM investor_profiles LIMIT 1").fetchone() is not None


def compiled_for(db, policy=None):
    return ThreeWay(policy or load_policy(db), questionnaire_doc(db))


# -- product import columns -----------------------------------------------------

def product_terms(tw, row):
    """(horizon code, kind code, [(column, reason)]) of one product import row; blanks stay None."""
    out, errors = {}, []
    for dim, col in (("horizon", "horizon"), ("kind", "kind")):
        raw = (row.get(col) or "").strip()
        if not raw:
            out[dim] = None
            continue
        code = tw.code(dim, raw)
        if code is None:
            errors.append((col, f"未知{'期限' if dim == 'horizon' else '品种'} {raw!r}, 可选 {tw.known(dim)}"
                                f" (unknown {dim})"))
        out[dim] = code
    return out["horizon"], out["kind"], errors


# -- the operator's record (a KYC act) ------------------------------------------

def latest_record(db, client_id):
    return rows.one(db, "SELECT id, objective, horizon, kinds, evidence, recorded_by, recorded_at FROM investor_profiles"
                        " WHERE client_id = ? ORDER BY id DESC LIMIT 1", [client_id])


def set_profile(db, actor, client_id, *, evidence, objective=None, horizon=None, kinds=None):
    """Record the client's objective / horizon / wanted kinds as stated on a signed KYC form.

    Values not given are carried over from the previous record. Names may be
    codes, labels or the policy's Chinese names; an unknown one is refused naming it.
    """
    branch = rows.client(db, client_id)["branch_id"]
    authz.require(actor, "suitability.profile", branch=branch)
    evidence = (evidence or "").strip()
    if not evidence:
        raise BrokerCRMError("须提供客户签署的信息表凭证编号 --evidence REF (the signed KYC form's reference is required)")
    if objective is None and horizon is None and kinds is None:
        raise BrokerCRMError("须至少给出 --objective / --horizon / --kinds 之一 (nothing to record)")
    tw = compiled_for(db)
    new = {}
    for dim, value in (("objective", objective), ("horizon", horizon)):
        if value is not None:
            code = tw.code(dim, value)
            if code is None:
                raise BrokerCRMError(f"--{dim}: 未知值 {value!r}, 可选 {tw.known(dim)} (unknown {dim})")
            new[dim] = code
    if kinds is not None:
        codes = []
        for name in [k for k in re.split(r"[,，、/\s]+", kinds) if k]:
            code = tw.code("kind", name)
            if code is None:
                raise BrokerCRMError(f"--kinds: 未知品种 {name!r}, 可选 {tw.known('kind')} (unknown kind)")
            if code not in codes:
                codes.append(code)
        if not codes:
            raise BrokerCRMError("--kinds: 至少一个品种 (at least one kind)")
        new["kinds"] = ",".join(codes)
    prev = latest_record(db, client_id) or {}
    record = {k: new.get(k, prev.get(k)) for k in ("objective", "horizon", "kinds")}
    with db.atomic():
        pid = db.execute(
            "INSERT INTO investor_profiles (client_id, objective, horizon, kinds, evidence, recorded_by, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [client_id, record["objective"], record["horizon"], record["kinds"], evidence, actor.id, now_iso()],
        ).lastrowid
        # The profile is the client's financial data: the audit names which fields changed, not their values.
        audit.record(db, "suitability.profile", actor=actor, target=client_id,
                     detail={"profile_id": pid, "fields": sorted(new)})
    return pid


def with_product_terms(db, policy, check, write):
    """Wrap the product importer's check and write with the horizon and kind columns.

    A blank cell stores NULL (the type's default applies when matching); an
    unknown name is a row error naming the column and the allowed values.
    """
    tw = ThreeWay(policy, None)

    def checked(batch):
        out = []
        for (record, errors), (_, row) in zip(check(batch), batch):
            horizon, kind, more = product_terms(tw, row)
            out.append(({**record, "horizon": horizon, "kind": kind}, errors + more))
        return out

    def written(records, result):
        write(records, result)
        db.conn.executemany("UPDATE products SET horizon = ?, kind = ? WHERE code = ?",
                            [(r["horizon"], r["kind"], r["code"]) for r in records])

    return checked, written
