"""The year-end review of the turnover threshold (seed 001 第六条; issue 14 item 4).

"经纪业务管理总部将在每年年底根据前三年公司客户资产周转率的平均值对该指标进行调整."
``review`` computes, for each of the three years ending with ``year``, the average
asset turnover rate of the clients the firm had at that year's end, from recorded
data: each client's ``turnover_rate`` as it stood on 31 December, rebuilt from the
change log ``client_changes`` (the value set by the last change before the year
end; before a client's first change, that change's old value; without changes, the
value held now). The proposed threshold is the mean of those yearly averages.

Two readings of "average" are possible and the seed does not say which: the plain
mean over clients (``mean``, the default) or the firm's asset-weighted turnover
(``weighted``: Σ assets × turnover / Σ assets). Both are computed and shown; the
method is a choice the command names.

Nothing is applied: ``draft`` writes the classification policy in force with the
new threshold as a policy file, for head office to check and publish through the
ordinary flow (``brokercrm policy check`` / ``policy publish``).
"""

import re
from pathlib import Path

from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import now_iso
from ..policy import sets as policy_lib
from ..trust import audit, authz

METHODS = ("mean", "weighted")
YEARS = 3
THRESHOLD_LINE = re.compile(r"^(\s*turnover_threshold\s*=\s*)([0-9.eE+-]+)(.*)$", re.MULTILINE)

# A field's value as it stood at :end, rebuilt from the change log (see the module docstring).
_AS_OF = """COALESCE(
    (SELECT CAST(new_value AS REAL) FROM client_changes h WHERE h.client_id = c.client_id AND h.field = '{f}'
       AND h.changed_at <= :end ORDER BY h.changed_at DESC, h.id DESC LIMIT 1),
    (SELECT CAST(old_value AS REAL) FROM client_changes h WHERE h.client_id = c.client_id AND h.field = '{f}'
       AND h.changed_at > :end ORDER BY h.changed_at, h.id LIMIT 1),
    c.{f})"""


def _year_average(db, year):
    end = f"{year}-12-31T23:59:59+08:00"
    sql = (f"SELECT count(*), avg(t), sum(a * t), sum(a) FROM (SELECT {_AS_OF.format(f='turnover_rate')} AS t,"
           f" {_AS_OF.format(f='total_assets')} AS a FROM clients c"
           " WHERE COALESCE(c.opened_at, substr(c.created_at, 1, 10)) <= :day) WHERE t IS NOT NULL")
    n, mean, weighted_sum, assets = db.execute(sql, {"end": end, "day": f"{year}-12-31"}).fetchone()
    return {"year": year, "clients": n, "mean": round(mean, 4) if n else None,
            "weighted": round(weighted_sum / assets, 4) if n and assets else None}


def review(db, actor, year, *, method="mean", years=YEARS):
    """The proposal: per-year averages, the current and the proposed threshold."""
    authz.require(actor, "threshold.review")
    if method not in METHODS:
        raise BrokerCRMError(f"--method 须为 {' 或 '.join(METHODS)} (unknown method {method!r})")
    if not isinstance(year, int) or not 1990 <= year <= 2200:
        raise BrokerCRMError(f"年份 {year!r} 无效 (invalid year)")
    per_year = [_year_average(db, y) for y in range(year - years + 1, year + 1)]
    usable = [y[method] for y in per_year if y[method] is not None]
    if not usable:
        raise BrokerCRMError(f"{year - years + 1}–{year} 年没有客户周转率数据, 无法计算 (no turnover data in those years)")
    ps = policy_lib.current(db)
    current = ps["classification"]["grid"]["turnover_threshold"]
    proposed = round(sum(usable) / len(usable), 2)
    return {"year": year, "method": method, "years": per_year, "years_with_data": len(usable),
            "current_threshold": current, "proposed_threshold": proposed, "policy_version": ps.version,
            "source": "seed 001 第六条 (每年年底根据前三年客户资产周转率的平均值调整)"}


def draft(db, actor, year, out, *, method="mean", years=YEARS):
    """Write the classification policy in force with the proposed threshold to ``out`` (not published)."""
    result = review(db, actor, year, method=method, years=years)
    out = Path(out)
    if out.exists():
        raise BrokerCRMError(f"{out} 已存在, 不覆盖 (exists; not overwritten)")
    if out.suffix.lower() != ".toml":
        raise BrokerCRMError(f"{out.name}: 策略草案须为 .toml 文件 (the draft is a .toml policy file)")
    body = policy_lib.current(db).files["classification"].body
    if len(THRESHOLD_LINE.findall(body)) != 1:
        raise BrokerCRMError("现行分类策略中找不到唯一的 turnover_threshold (cannot find the threshold line)")
    averages = ", ".join(f"{y['year']}: {y[method] if y[method] is not None else '无数据'}" for y in result["years"])
    note = (f"# 年末复核 {year} (year-end review, seed 001 第六条): 前{years}年平均资产周转率 ({method}) {averages};"
            f" 原阈值 {result['current_threshold']}. 草案, 须经总部发布方生效 (a draft: publish to apply).\n")
    new_body = THRESHOLD_LINE.sub(lambda m: note + m.group(1) + repr(float(result["proposed_threshold"])) + m.group(3),
                                  body, count=1)
    policy_lib.parse(new_body, out.name)  # the draft must be a valid classification policy
    out.write_text(new_body, encoding="utf-8")
    with db.atomic():
        audit.record(db, "threshold.review", actor=actor, target=str(year),
                     detail={"method": method, "current": result["current_threshold"],
                             "proposed": result["proposed_threshold"], "draft": out.name, "at": now_iso()})
    return {**result, "draft": str(out)}
