"""A realistic synthetic client book, for the demo and the benchmarks.

Deterministic: the same ``seed``, ``n`` and ``today`` give the same rows.
Rows stream from generators, so a million-client book never sits in memory.

The distributions come from the survey of 68 clients in seeds/004 (digest in
DOMAIN.md): age <30 18%, 30–45 49%, 45–65 26%, >65 7%; education 大专 40%,
本科 28%, 中专 23%, 初中及以下 6%, 硕士 3%; years investing <1 14%, 1–3 21%,
3–5 36%, 5–10 29%; risk attitude no risk 29%, conservative 23%, steady 46%,
aggressive 2%. Risk attitude drives the questionnaire answers, the turnover
and the holding period. Assets are log-normal, spread so that every class of
the head-office grid (A+ … G) appears in a book of a few thousand.

Every identity number is valid: 18-digit resident IDs (GB 11643) whose
embedded birth date is the client's, unified social credit codes (GB 32100)
for institutions, mainland mobile numbers.
"""

import bisect
import csv
import datetime as dt
import itertools
import math
import random
from dataclasses import dataclass

from ..kernel.validate import id_check_char, uscc_check_char

# code -> (name, city, area codes of the city's districts)
BRANCHES = {
    "TY01": ("太原营业部", "太原", ["140105", "140106", "140107", "140108", "140109", "140110"]),
    "BJ01": ("北京营业部", "北京", ["110101", "110102", "110105", "110106", "110108"]),
    "SH01": ("上海营业部", "上海", ["310101", "310104", "310105", "310106", "310115"]),
}
BRANCH_WEIGHTS = {"TY01": 40, "BJ01": 32, "SH01": 28}
# Numeric prefix of the branch's fund accounts (资金账号): client ids look like 140100000001.
ACCOUNT_PREFIX = {"TY01": "1401", "BJ01": "1101", "SH01": "3101"}
# People born elsewhere who moved to the branch's city (ID area code of their birthplace).
OTHER_AREAS = ["130102", "410105", "320102", "330106", "440106", "510107", "370102", "610113", "210102", "420106"]
MIGRANT_SHARE = 0.15

INSTITUTION_SHARE = 0.03

# The ~40 commonest surnames with their share (%), from the 2020 census ranking.
SURNAMES = [
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.6), ("杨", 3.1), ("黄", 2.4), ("赵", 2.3),
    ("吴", 2.0), ("周", 2.0), ("徐", 1.7), ("孙", 1.5), ("马", 1.5), ("朱", 1.3), ("胡", 1.3), ("郭", 1.2),
    ("何", 1.2), ("林", 1.1), ("高", 1.1), ("罗", 1.1), ("郑", 1.0), ("梁", 1.0), ("谢", 0.8), ("宋", 0.8),
    ("唐", 0.8), ("许", 0.7), ("韩", 0.7), ("冯", 0.7), ("邓", 0.7), ("曹", 0.6), ("彭", 0.6), ("曾", 0.6),
    ("肖", 0.6), ("田", 0.5), ("董", 0.5), ("袁", 0.5), ("潘", 0.5), ("于", 0.5), ("蒋", 0.5), ("蔡", 0.5),
    ("余", 0.4), ("杜", 0.4), ("叶", 0.4), ("程", 0.4), ("苏", 0.4), ("魏", 0.4), ("吕", 0.4), ("丁", 0.4),
    ("任", 0.4), ("沈", 0.4), ("姚", 0.3), ("卢", 0.3), ("姜", 0.3), ("崔", 0.3), ("钟", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("汪", 0.3), ("范", 0.3), ("金", 0.3), ("石", 0.3), ("廖", 0.3), ("贾", 0.3), ("夏", 0.3),
    ("欧阳", 0.05), ("司马", 0.01),
]
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣博文斌志建国庆春晨阳"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀玲桂英华燕红梅琳雪婷慧莹颖洁佳倩悦璐瑶欣怡萍丹月蕾晶"

EDUCATION = [("大专", 40), ("本科", 28), ("中专", 23), ("初中及以下", 6), ("硕士", 3)]
AGE_BANDS = [((18, 30), 18), ((30, 45), 49), ((45, 65), 26), ((65, 86), 7)]
YEARS_INVESTING = [((0, 1), 14), ((1, 3), 21), ((3, 5), 36), ((5, 10), 29)]
# Risk attitude: share, typical annual turnover (×), and where answers sit on each question's scale.
ATTITUDES = [
    # name, share, turnover median, answer position 0..1
    ("no_risk", 29, 0.6, 0.08),
    ("conservative", 23, 1.3, 0.32),
    ("steady", 46, 2.6, 0.55),
    ("aggressive", 2, 9.0, 0.9),
]
OCCUPATIONS = [
    ("企业职员", 30), ("个体工商户", 14), ("专业技术人员", 12), ("公务员/事业单位", 10), ("教师", 6),
    ("医生", 4), ("企业主", 5), ("自由职业", 8), ("金融从业人员", 3), ("网约车司机", 2), ("其他", 6),
]
INSTITUTION_WORDS = ["恒信", "华泰", "鼎盛", "瑞丰", "汇通", "嘉禾", "中和", "宏远", "金石", "博远", "天成", "晋商"]
INSTITUTION_TRADES = ["科技", "投资管理", "贸易", "实业", "能源", "建设", "医药", "物流"]
INSTITUTION_FORMS = [("有限公司", 70), ("股份有限公司", 20), ("私募基金管理有限公司", 7), ("有限合伙企业", 3)]
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "166", "170", "173", "175", "176", "177", "178", "180", "181", "182", "183",
    "184", "185", "186", "187", "188", "189", "191", "198", "199",
]

CLIENT_COLUMNS = [
    "client_id", "kind", "name", "id_number", "phone", "birth_date", "branch_id", "opened_at",
    "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "occupation", "education",
    "investment_years",
]
# How a branch's Excel export spells the columns (the aliases the importer accepts).
CHINESE_HEADERS = {
    "client_id": "客户号", "kind": "客户类型", "name": "姓名", "id_number": "身份证号", "phone": "手机号",
    "birth_date": "出生日期", "branch_id": "营业部", "opened_at": "开户日期", "total_assets": "总资产",
    "turnover_rate": "资产周转率", "avg_holding_days": "平均持仓天数", "annual_income": "年收入",
    "occupation": "职业", "education": "学历", "investment_years": "投资年限",
}
# ... and how it spells the client kind.
CHINESE_KINDS = {"individual": "个人", "institution": "机构"}
QUESTIONS = 12
ASSESSMENT_COLUMNS = ["client_id", "answered_at"] + [f"q{i}" for i in range(1, QUESTIONS + 1)] + [
    "channel", "acknowledged"]   # issue 11: how it was taken, and the client's signed acknowledgement
# Option count of each question in the shipped questionnaire (seeds/001 appendix 1).
DEFAULT_OPTION_COUNTS = [5, 4, 5, 4, 3, 4, 3, 3, 5, 4, 3, 5]
MULTIPLE_CHOICE = {"q9"}
ASSESSED_SHARE = 0.85
# Of the assessed, how many answered more than 24 months ago (expired).
EXPIRED_SHARE = 0.08

DEFAULT_SEED = 2026


class _Choice:
    """Weighted choice by one uniform draw and a bisect (faster than random.choices per call)."""

    def __init__(self, pairs):
        self.values = [v for v, _ in pairs]
        total = float(sum(w for _, w in pairs))
        self.cum = list(itertools.accumulate(w / total for _, w in pairs))
        self.cum[-1] = 1.0

    def __call__(self, rng):
        return self.values[bisect.bisect_right(self.cum, rng.random())]


_SURNAME = _Choice(SURNAMES)
_EDUCATION = _Choice(EDUCATION)
_AGE = _Choice(AGE_BANDS)
_YEARS = _Choice(YEARS_INVESTING)
_ATTITUDE = _Choice([(a, a[1]) for a in ATTITUDES])
_OCCUPATION = _Choice(OCCUPATIONS)
_BRANCH = _Choice(list(BRANCH_WEIGHTS.items()))
_FORM = _Choice(INSTITUTION_FORMS)

# Income multipliers by education (median annual income ≈ 80k yuan × this).
_EDU_INCOME = {"初中及以下": 0.55, "中专": 0.75, "大专": 1.0, "本科": 1.45, "硕士": 2.1}


@dataclass
class Person:
    """One synthetic client: the CSV row plus what the generator knew (for assessments)."""

    row: dict
    attitude: str
    answer_position: float


def _birth_date(rng, today, age_low, age_high):
    age_days = rng.uniform(age_low * 365.25, age_high * 365.25 - 1)
    return today - dt.timedelta(days=int(age_days))


def resident_id(area, birth, rng, male):
    seq = rng.randrange(0, 500) * 2 + (1 if male else 0)  # 17th digit: odd for men, even for women
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def _org_code(rng):
    """A 9-character organisation code (GB 11714) with its own check character."""
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(rng.choice(chars) for _ in range(8))
    values = [int(c, 36) for c in body]
    c9 = 11 - sum(v * w for v, w in zip(values, [3, 7, 9, 10, 5, 8, 4, 2])) % 11
    return body + {10: "X", 11: "0"}.get(c9, str(c9))


def credit_code(area, rng):
    """A unified social credit code (GB 32100): 9 = registered by the market regulator, 1 = enterprise."""
    first17 = f"91{area}{_org_code(rng)}"
    return first17 + uscc_check_char(first17)


def mobile(rng):
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"


def _given_name(rng, male):
    pool = GIVEN_MALE if male else GIVEN_FEMALE
    if rng.random() < 0.35:
        return rng.choice(pool)
    return rng.choice(pool) + rng.choice(pool)


def _round_money(x):
    return round(x, 2)


def _individual(rng, i, branch, today):
    (age_low, age_high) = _AGE(rng)
    birth = _birth_date(rng, today, age_low, age_high)
    age = (today - birth).days / 365.25
    male = rng.random() < 0.56
    _, _, areas = BRANCHES[branch]
    area = rng.choice(OTHER_AREAS) if rng.random() < MIGRANT_SHARE else rng.choice(areas)
    education = _EDUCATION(rng)
    attitude = _ATTITUDE(rng)
    name, _, turnover_median, position = attitude

    low, high = _YEARS(rng)
    years = min(rng.uniform(low, high), max(age - 18, 0.1))
    opened = today - dt.timedelta(days=int(years * 365.25))

    if age >= 62 and rng.random() < 0.8:
        occupation = "退休"
    elif age < 23 and rng.random() < 0.6:
        occupation = "学生"
    else:
        occupation = _OCCUPATION(rng)
    income_scale = _EDU_INCOME[education] * (0.6 if occupation in ("退休", "学生") else 1.0)
    if occupation in ("企业主", "金融从业人员"):
        income_scale *= 2.2
    income = 80_000 * income_scale * math.exp(rng.gauss(0, 0.6))

    # Assets grow with age and income; σ wide enough that every grid band is populated.
    age_factor = 0.5 + min(age, 70) / 45
    assets = 45_000 * age_factor * (income / 80_000) ** 0.6 * math.exp(rng.gauss(0, 1.75))
    if rng.random() < 0.04:  # dormant accounts: a few hundred yuan left, no trading
        assets = rng.uniform(0, 800)
        turnover = 0.0
    else:
        turnover = turnover_median * math.exp(rng.gauss(0, 0.75))
    holding = 200 / max(turnover, 0.2) * math.exp(rng.gauss(0, 0.45))

    row = {
        "client_id": f"{ACCOUNT_PREFIX[branch]}{i:08d}",
        "kind": "individual",
        "name": _SURNAME(rng) + _given_name(rng, male),
        "id_number": resident_id(area, birth, rng, male),
        "phone": mobile(rng),
        "birth_date": birth.isoformat(),
        "branch_id": branch,
        "opened_at": opened.isoformat(),
        "total_assets": _round_money(assets),
        "turnover_rate": round(turnover, 2),
        "avg_holding_days": max(1, round(holding)),
        "annual_income": round(income, -2),
        "occupation": occupation,
        "education": education,
        "investment_years": round(years, 1),
    }
    return Person(row, name, position)


def _institution(rng, i, branch, today):
    _, city, areas = BRANCHES[branch]
    area = rng.choice(areas)
    name = f"{city}{rng.choice(INSTITUTION_WORDS)}{rng.choice(INSTITUTION_TRADES)}{_FORM(rng)}"
    years = rng.uniform(0.5, 15)
    opened = today - dt.timedelta(days=int(years * 365.25))
    assets = 3_000_000 * math.exp(rng.gauss(0, 1.8))
    attitude = rng.choice(ATTITUDES[1:3])
    turnover = attitude[2] * math.exp(rng.gauss(0, 0.7))
    holding = 200 / max(turnover, 0.2) * math.exp(rng.gauss(0, 0.45))
    row = {
        "client_id": f"{ACCOUNT_PREFIX[branch]}{i:08d}",
        "kind": "institution",
        "name": name,
        "id_number": credit_code(area, rng),
        "phone": mobile(rng),
        "birth_date": "",
        "branch_id": branch,
        "opened_at": opened.isoformat(),
        "total_assets": _round_money(assets),
        "turnover_rate": round(turnover, 2),
        "avg_holding_days": max(1, round(holding)),
        "annual_income": round(assets * rng.uniform(0.05, 0.4), -2),
        "occupation": "",
        "education": "",
        "investment_years": round(years, 1),
    }
    return Person(row, attitude[0], attitude[3])


def people(n, *, seed=DEFAULT_SEED, today=None, branches=None):
    """Yield ``n`` Person records, deterministically for (seed, today).

    ``branches`` limits the book to some of the branch codes in ``BRANCHES``.
    """
    today = today or dt.date.today()
    rng = random.Random(seed)
    pick = _BRANCH if not branches else _Choice([(b, BRANCH_WEIGHTS.get(b, 1)) for b in branches])
    for i in range(1, n + 1):
        branch = pick(rng)
        if rng.random() < INSTITUTION_SHARE:
            yield _institution(rng, i, branch, today)
        else:
            yield _individual(rng, i, branch, today)


def clients(n, **kwargs):
    """Yield ``n`` client rows (dicts keyed by CLIENT_COLUMNS)."""
    for person in people(n, **kwargs):
        yield person.row


def answers(rng, position, option_counts=DEFAULT_OPTION_COUNTS):
    """Answers {q1: 'B', …} around ``position`` (0 = most cautious option, 1 = boldest)."""
    out = {}
    rand = rng.random
    for q, count in enumerate(option_counts, start=1):
        top = count - 1
        # Irwin–Hall noise (σ 0.6): near-normal at a fraction of random.gauss's cost, 12 draws a form.
        k = min(top, max(0, round(position * top + (rand() + rand() + rand() - 1.5) * 1.2)))
        letters = chr(ord("A") + k)
        qid = f"q{q}"
        if qid in MULTIPLE_CHOICE and k > 0 and rng.random() < 0.5:
            # Wanting information on a risky product usually goes with the safer ones too.
            extra = rng.sample(range(k), min(k, rng.randint(1, 2)))
            letters = "".join(sorted(letters + "".join(chr(ord("A") + e) for e in extra)))
        out[qid] = letters
    return out


def assessment_for(person, rng, today):
    """One assessment row for a person, or None for the ~15% never assessed."""
    if rng.random() >= ASSESSED_SHARE:
        return None
    opened = dt.date.fromisoformat(person.row["opened_at"])
    if rng.random() < EXPIRED_SHARE:
        days_ago = rng.randint(731, 1200)
    else:
        days_ago = rng.randint(0, 725)
    answered = max(today - dt.timedelta(days=days_ago), opened)
    hour, minute = rng.randint(9, 16), rng.randint(0, 59)
    row = {"client_id": person.row["client_id"], "answered_at": f"{answered.isoformat()} {hour:02d}:{minute:02d}:00"}
    row.update(answers(rng, person.answer_position))
    # Not drawn from rng, so the rest of the synthetic book stays as it was.
    row.update(channel=("柜台", "网上", "手机")[answered.toordinal() % 3], acknowledged="是")
    return row


def book(n, *, seed=DEFAULT_SEED, today=None, branches=None):
    """Yield (client_row, assessment_row_or_None) pairs: one pass makes both files."""
    today = today or dt.date.today()
    arng = random.Random(seed * 7919 + 1)
    for person in people(n, seed=seed, today=today, branches=branches):
        yield person.row, assessment_for(person, arng, today)


def _format(value):
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return "" if value is None else str(value)


class ClientWriter:
    """Writes client rows as CSV the way a branch exports them.

    ``chinese_headers`` uses the Excel export's Chinese column names;
    ``encoding`` "gbk" writes what Chinese Excel saves as "CSV".
    """

    def __init__(self, path, *, encoding="utf-8", chinese_headers=False):
        self.path = path
        self.file = open(path, "w", newline="", encoding=encoding)
        self.writer = csv.writer(self.file)
        self.writer.writerow([CHINESE_HEADERS[c] if chinese_headers else c for c in CLIENT_COLUMNS])
        self.kinds = CHINESE_KINDS if chinese_headers else None
        self.rows = 0

    def write(self, row):
        values = [_format(row[c]) for c in CLIENT_COLUMNS]
        if self.kinds:
            values[1] = self.kinds[values[1]]
        self.writer.writerow(values)
        self.rows += 1

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AssessmentWriter:
    def __init__(self, path, *, encoding="utf-8"):
        self.path = path
        self.file = open(path, "w", newline="", encoding=encoding)
        self.writer = csv.writer(self.file)
        self.writer.writerow(ASSESSMENT_COLUMNS)
        self.rows = 0

    def write(self, row):
        self.writer.writerow([row.get(c, "") for c in ASSESSMENT_COLUMNS])
        self.rows += 1

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_clients_csv(path, rows, *, encoding="utf-8", chinese_headers=False):
    """Write client rows (any iterable; streamed) to ``path``; returns the row count."""
    with ClientWriter(path, encoding=encoding, chinese_headers=chinese_headers) as w:
        for row in rows:
            w.write(row)
    return w.rows


def write_assessments_csv(path, rows, *, encoding="utf-8"):
    """Write assessment rows (None entries skipped) to ``path``; returns the row count."""
    with AssessmentWriter(path, encoding=encoding) as w:
        for row in rows:
            if row is not None:
                w.write(row)
    return w.rows


def write_book(clients_path, assessments_path, n, *, seed=DEFAULT_SEED, today=None, encoding="utf-8",
               chinese_headers=False, progress=None):
    """Write a book of ``n`` clients and their assessments in one streamed pass.

    ``progress``, if given, is called with the number of rows written since the last call.
    Returns (clients written, assessments written).
    """
    with ClientWriter(clients_path, encoding=encoding, chinese_headers=chinese_headers) as cw, \
            AssessmentWriter(assessments_path) as aw:
        for client, assessment in book(n, seed=seed, today=today):
            cw.write(client)
            if assessment is not None:
                aw.write(assessment)
            if progress is not None and cw.rows % 1000 == 0:
                progress(1000)
    if progress is not None and cw.rows % 1000:
        progress(cw.rows % 1000)
    return cw.rows, aw.rows
