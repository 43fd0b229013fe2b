"""The programmes policy (policies/programmes.toml): one table per programme, validated here.

Loaded from the published policy set like every head-office policy; a database
whose set predates this file uses the shipped default until head office
publishes one (``source`` says which).
"""

import datetime as dt

from ..kernel.checks import array, number, table, text, unique_text
from ..kernel.errors import PolicyError
from ..kernel.rules import compile_condition
from ..service import packages
from ..service import policy as sp

NAME, FILENAME = "programmes", "programmes.toml"
GRADES = ("A", "B", "C", "D", "E")


def _flag(doc, key, where):
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise PolicyError(f"{where}.{key}: 须为 true 或 false (must be a boolean), got {value!r}")
    return value


def _callbacks(doc):
    callbacks = table(doc, "callbacks", "")
    codes = set()
    for i, script in enumerate(array(callbacks, "scripts", "callbacks")):
        where = f"callbacks.scripts[{i}]"
        unique_text(script, "code", where, codes, ("回访脚本代码", "script code"))
        for key in ("name", "version", "population"):
            text(script, key, where)
        rate = number(script, "sample_rate", where)
        if not 0 < rate <= 1:
            raise PolicyError(f"{where}.sample_rate: 须在 (0, 1] 之间 (must be > 0 and ≤ 1), got {rate!r}")
        sp.parse_duration(script.get("within"), f"{where}.within")
        items, disclosure = set(), False
        for j, item in enumerate(array(script, "items", where)):
            iw = f"{where}.items[{j}]"
            unique_text(item, "code", iw, items, ("回访要点代码", "item code"))
            text(item, "text", iw)
            required, risk = _flag(item, "required", iw), _flag(item, "risk_disclosure", iw)
            disclosure = disclosure or (required and risk)
        if not disclosure:
            raise PolicyError(f"{where}.items: 至少须有一项必答的风险揭示 (at least one item must be required = true"
                              " and risk_disclosure = true; seed 001 part 7: 回访内容及风险提示)")


def _prospects(doc):
    prospects = table(doc, "prospects", "")
    grades = array(prospects, "grades", "prospects")
    seen = []
    for i, grade in enumerate(grades):
        where = f"prospects.grades[{i}]"
        code = text(grade, "code", where)
        if code not in GRADES or code in seen:
            raise PolicyError(f"{where}.code: 须为 A–E 且不重复 (must be one of A–E, once each), got {code!r}")
        seen.append(code)
        text(grade, "name", where)
        number(grade, "follow_up_days", where, minimum=1)
    if seen != list(GRADES):
        raise PolicyError(f"prospects.grades: 须依次为 A, B, C, D, E (must list A to E in order), got {seen}")
    _texts(prospects, "sources", "prospects")


def _vip(doc):
    probe = packages.fields(dt.date(2000, 1, 1))
    codes = set()
    for i, level in enumerate(array(table(doc, "vip", ""), "levels", "vip")):
        where = f"vip.levels[{i}]"
        unique_text(level, "code", where, codes, ("贵宾等级代码", "VIP level code"))
        text(level, "name", where)
        if "when" not in level:
            raise PolicyError(f"{where}.when: 须写明准入条件 (an entry condition is required)")
        compile_condition(level["when"], probe, f"{where}.when")
        if "keep_when" in level:
            compile_condition(level["keep_when"], probe, f"{where}.keep_when")
        benefits = array(level, "benefits", where)
        if not all(isinstance(b, str) and b.strip() for b in benefits):
            raise PolicyError(f"{where}.benefits: 须为文本列表 (must be a list of text)")


def _texts(doc, key, where):
    values = array(doc, key, where)
    if not all(isinstance(v, str) and v.strip() for v in values) or len(set(values)) != len(values):
        raise PolicyError(f"{where}.{key}: 须为不重复的文本列表 (must be a list of distinct texts)")
    return values


def _education(doc):
    education = table(doc, "education", "")
    number(education, "sessions_per_year", "education", minimum=0)
    target = number(education, "coverage_target", "education")
    if target > 1:
        raise PolicyError(f"education.coverage_target: 须在 0–1 之间 (a share, 0–1), got {target!r}")
    _texts(education, "topics", "education")


def _points(doc):
    points = table(doc, "points", "")
    number(points, "assets_per_10k", "points")
    months = number(points, "tier_window_months", "points", minimum=1)
    if int(months) != months:
        raise PolicyError(f"points.tier_window_months: 须为整数月 (whole months), got {months!r}")
    events_ = set()
    for i, rule in enumerate(points.get("earn", [])):
        where = f"points.earn[{i}]"
        unique_text(rule, "event", where, events_, ("事件", "event kind"))
        text(rule, "name", where)
        number(rule, "points", where, minimum=1)
    codes, last = set(), None
    for i, tier in enumerate(array(points, "tiers", "points")):
        where = f"points.tiers[{i}]"
        unique_text(tier, "code", where, codes, ("会员等级代码", "tier code"))
        text(tier, "name", where)
        low = number(tier, "min_points", where)
        if (i == 0 and low != 0) or (last is not None and low <= last):
            raise PolicyError(f"{where}.min_points: 首个等级须为 0, 其后逐级递增 (the first tier starts at 0 and each"
                              f" next one is higher), got {low!r}")
        last = low
        _texts(tier, "benefits", where)
    redeem = set()
    for i, option in enumerate(array(points, "redeem", "points")):
        where = f"points.redeem[{i}]"
        unique_text(option, "code", where, redeem, ("兑换代码", "redemption code"))
        text(option, "name", where)
        number(option, "points_per_yuan", where, minimum=1)


def validate(doc):
    _callbacks(doc)
    _prospects(doc)
    _vip(doc)
    _education(doc)
    _texts(table(doc, "events", ""), "kinds", "events")
    _points(doc)


def load(db):
    """(doc, source) of the programmes policy in force."""
    return sp.load_named(db, NAME, FILENAME)
