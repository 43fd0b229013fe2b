"""Investor-status evidence: the policy's Art. 8 / Art. 11 categories and the figures they test.

Issue 11 item 1. A category (``[[investor_status.categories]]`` for 办法 Art. 8,
``[[investor_status.conversions]]`` for Art. 11) says which kind of client it
covers and what the evidence must show:

- ``one_of``: the institution's type is one of these (Art. 8(1)–(3));
- money thresholds ``min_net_assets``, ``min_financial_assets``,
  ``min_average_income`` combined by ``wealth`` (``all`` for institutions,
  ``any`` for individuals: assets OR the 3-year average income);
- experience: ``min_investment_years`` OR ``min_work_years`` OR one of
  ``qualifications`` (any one suffices).

The figures come from the recorded evidence (documents a second operator
reviews), never from the client record, which is self-declared and editable.
"""

import datetime as dt

from ..kernel.checks import array, number, table, text
from ..kernel.errors import BrokerCRMError, PolicyError
from ..kernel.timeutil import add_months
from ..policy.sets import default_policy_dir, load_file

MONEY = (  # (policy key, figure, label)
    ("min_net_assets", "net_assets", "最近1年末净资产 (year-end net assets)"),
    ("min_financial_assets", "financial_assets", "金融资产 (financial assets)"),
    ("min_average_income", "average_income", "近{n}年年均收入 (average annual income)"),
)
EXPERIENCE = (
    ("min_investment_years", "investment_years", "投资经历年限 (years of investment experience)"),
    ("min_work_years", "work_years", "金融相关工作经历年限 (years of relevant work)"),
)
SETTINGS = ("validity_months", "recheck_days", "figures_max_age_months", "income_years", "knowledge_test_pass")
KINDS = ("individual", "institution")


def settings(policy):
    """The ``[investor_status]`` table in force; a policy published before it existed gets the shipped one."""
    section = policy.doc.get("investor_status")
    if section is None:
        section = load_file(default_policy_dir() / "suitability.toml").doc["investor_status"]
    return section


def _validate_category(cat, where):
    text(cat, "code", where)
    text(cat, "article", where)
    text(cat, "label", where)
    if cat.get("client_kind") not in KINDS:
        raise PolicyError(f"{where}.client_kind: 须为 individual 或 institution, got {cat.get('client_kind')!r}")
    if not isinstance(cat.get("opt_down"), bool):
        raise PolicyError(f"{where}.opt_down: 须为 true 或 false (must be a boolean)")
    if cat.get("wealth", "all") not in ("all", "any"):
        raise PolicyError(f"{where}.wealth: 须为 all 或 any")
    for key, _, _ in MONEY + EXPERIENCE:
        if key in cat:
            number(cat, key, where, minimum=0)
    for key in ("one_of", "qualifications"):
        if key in cat and not (isinstance(cat[key], list) and cat[key] and all(isinstance(x, str) and x for x in cat[key])):
            raise PolicyError(f"{where}.{key}: 须为非空文本列表 (a non-empty list of names)")
    if "one_of" not in cat and not any(k in cat for k, _, _ in MONEY):
        raise PolicyError(f"{where}: 须有 one_of 或金额门槛 (needs one_of or a money threshold)")


def validate(doc):
    """Validate ``[investor_status]`` when the published policy carries it."""
    section = doc.get("investor_status")
    if section is None:
        return
    section = table(doc, "investor_status", "")
    for key in SETTINGS:
        value = number(section, key, "investor_status", minimum=1)
        if int(value) != value:
            raise PolicyError(f"investor_status.{key}: 须为整数 (a whole number)")
    codes = set()
    for group in ("categories", "conversions"):
        for i, cat in enumerate(array(section, group, "investor_status")):
            _validate_category(cat, f"investor_status.{group}[{i}]")
            if cat["code"] in codes:
                raise PolicyError(f"investor_status.{group}[{i}].code: {cat['code']!r} 重复 (used twice)")
            codes.add(cat["code"])


def category(section, code, *, conversion):
    """The category ``code`` of the Art. 8 list (or the Art. 11 list); a clear error naming the choices."""
    group = section["conversions" if conversion else "categories"]
    for cat in group:
        if cat["code"] == code:
            return cat
    choices = ", ".join(f"{c['code']} ({c['article']})" for c in group)
    what = "Art. 11 转换条件" if conversion else "Art. 8 专业投资者类别"
    raise BrokerCRMError(f"未知的{what} {code!r}; 可选 (choose one of): {choices}")


def find_category(section, code):
    """An Art. 8 or Art. 11 category by code, or None (for records made under an older policy)."""
    for cat in section["categories"] + section["conversions"]:
        if cat["code"] == code:
            return cat
    return None


# -- the figures of one piece of evidence --------------------------------------

def parse_number(name, value):
    if value is None or value == "":
        return None
    try:
        number_ = float(str(value).replace(",", "").replace("_", ""))
    except ValueError:
        raise BrokerCRMError(f"{name}: {value!r} 不是数字 (not a number)") from None
    if number_ != number_ or number_ < 0 or number_ == float("inf"):
        raise BrokerCRMError(f"{name}: {value!r} 须为非负数 (must be a non-negative number)")
    return number_


def figures(section, *, financial_assets=None, net_assets=None, income=None, investment_years=None,
            work_years=None, qualification=None, institution_type=None):
    """The evidence's figures, checked; ``income`` is the list of the last N years' incomes (N by policy)."""
    out = {}
    for key, value in (("financial_assets", financial_assets), ("net_assets", net_assets),
                       ("investment_years", investment_years), ("work_years", work_years)):
        parsed = parse_number(f"--{key.replace('_', '-')}", value)
        if parsed is not None:
            out[key] = parsed
    if income not in (None, "", [], ()):
        years = int(section["income_years"])
        parts = income if isinstance(income, (list, tuple)) else [x for x in str(income).replace("，", ",").split(",")]
        values = [parse_number("--income", x.strip() if isinstance(x, str) else x) for x in parts]
        if len(values) != years or any(v is None for v in values):
            raise BrokerCRMError(f"--income: 须给出最近{years}年每年的收入, 逗号分隔 (the income of each of the last {years}"
                                 f" years, comma-separated; Art. 8(5) uses their AVERAGE), got {len(values)}")
        out["incomes"] = values
        out["average_income"] = round(sum(values) / years, 2)
    for key, value in (("qualification", qualification), ("institution_type", institution_type)):
        if value and str(value).strip():
            out[key] = str(value).strip()
    return out


def period(section, start, end, today):
    """(start ISO or None, end ISO): the period the figures cover; the end is required, past and recent."""
    def day(name, value):
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise BrokerCRMError(f"{name}: {value!r} 不是有效日期 YYYY-MM-DD (not a date)") from None

    if not end:
        raise BrokerCRMError("--period-end: 须给出证明材料所载数据的截止日 (the date the evidence's figures are as of)")
    end_day = day("--period-end", end)
    start_day = day("--period-start", start) if start else None
    if end_day > today:
        raise BrokerCRMError(f"--period-end: {end_day} 晚于今天 (in the future)")
    if start_day and start_day > end_day:
        raise BrokerCRMError(f"--period-start: {start_day} 晚于截止日 {end_day} (after the period end)")
    months = int(section["figures_max_age_months"])
    oldest = add_months(today, -months)
    if end_day < oldest:
        raise BrokerCRMError(f"--period-end: {end_day} 早于 {months} 个月前, 证明材料已过时 (evidence older than"
                             f" {months} months: policy investor_status.figures_max_age_months)")
    return (start_day.isoformat() if start_day else None), end_day.isoformat()


def evaluate(section, cat, client_kind, figs):
    """(eligible, [reason, …]): whether the figures meet the category, each test with its figure and threshold.

    The reasons name thresholds and pass/fail, never the client's figures (they are personal data
    and the reasons are shown and stored in places the figures are not).
    """
    art = cat["article"]
    met, failed = [], []
    if client_kind != cat["client_kind"]:
        want = "机构 (institution)" if cat["client_kind"] == "institution" else "个人 (individual)"
        return False, [f"{art}: 仅适用于{want}客户 (this category is for another kind of client)"]
    if "one_of" in cat:
        kind = figs.get("institution_type")
        if kind is None:
            failed.append(f"{art}: 缺少机构类型 --institution-type (one of: {', '.join(cat['one_of'][:8])} …)")
        elif kind.lower() not in [x.lower() for x in cat["one_of"]]:
            failed.append(f"{art}: 机构类型 {kind!r} 不属于本类别 (not a type of this category)")
        else:
            met.append(f"{art}: 机构类型属于本类别 (institution type listed)")
    money = []
    for key, fig, label in MONEY:
        if key in cat:
            label = label.format(n=section["income_years"])
            value = figs.get(fig)
            ok = value is not None and value >= cat[key]
            money.append((ok, f"{label} {'≥' if ok else '<'} {cat[key]:,.0f}" + ("" if value is not None else " (未提供)")))
    if money:
        combine = all if cat.get("wealth", "all") == "all" else any
        ok = combine(ok for ok, _ in money)
        joiner = " 且 " if cat.get("wealth", "all") == "all" else " 或 "
        (met if ok else failed).append(f"{art}: " + joiner.join(t for _, t in money))
    routes = []
    for key, fig, label in EXPERIENCE:
        if key in cat:
            value = figs.get(fig)
            ok = value is not None and value >= cat[key]
            routes.append((ok, f"{label} {'≥' if ok else '<'} {cat[key]:g}" + ("" if value is not None else " (未提供)")))
    if "qualifications" in cat:
        q = figs.get("qualification")
        ok = q is not None and q.lower() in [x.lower() for x in cat["qualifications"]]
        routes.append((ok, "专业资格 (qualification route)" + ("" if ok else " 不符或未提供")))
    if routes:
        ok = any(ok for ok, _ in routes)
        (met if ok else failed).append(f"{art}: " + " 或 ".join(t for _, t in routes))
    return not failed, (failed or met)
