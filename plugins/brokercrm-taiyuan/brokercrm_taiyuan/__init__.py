"""太原营业部 (TY01): steady long-term holders move up one class.

Seed 001 (客户分类服务管理办法), articles 3 and 12, lets a branch refine the
unified standard "by the suitability principle", with head office's
approval. The survey of 太原营业部's clients (seed 004) found most of them
steady investors (稳健 46%) with years of experience: a client who has been
with the branch three years or more, holds positions half a year on average
and turns assets over less than once a year brings steady, long-term assets
that the asset × turnover grid undervalues. Such a client moves up one class.

Not moved: clients without a valid risk assessment or in the lowest risk
category (suitability comes first), clients under 100,000 yuan, and clients
already in the top class.
"""

from brokercrm.hookspecs import hookimpl

BRANCH = "TY01"
YEARS = 3
MIN_HOLDING_DAYS = 180
MAX_TURNOVER = 1.0
MIN_ASSETS = 100_000

REASON = (
    f"太原营业部: 开户满{YEARS}年, 平均持仓≥{MIN_HOLDING_DAYS}天, 周转率<{MAX_TURNOVER:g}"
    " (长期持有且资产稳定) → 上调一级"
)


@hookimpl
def classification_adjustments(branch, policy):
    if branch != BRANCH:
        return []
    top = policy["grid"]["order"][-1]  # already at the top: nowhere to move
    return [
        {
            "when": {"all": [
                {"field": "kind", "op": "=", "value": "individual"},
                {"field": "account_years", "op": ">=", "value": YEARS},
                {"field": "avg_holding_days", "op": ">=", "value": MIN_HOLDING_DAYS},
                {"field": "turnover_rate", "op": "<", "value": MAX_TURNOVER},
                {"field": "total_assets", "op": ">=", "value": MIN_ASSETS},
                {"field": "risk_level", "op": "not in", "value": ["unassessed", "expired"]},
                {"field": "lowest_category", "op": "=", "value": 0},
                {"field": "class", "op": "!=", "value": top},
            ]},
            "shift": 1,
            "reason": REASON,
        }
    ]
