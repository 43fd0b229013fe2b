"""北京营业部 (BJ01): institutions measured against their own turnover threshold.

The head-office grid calls turnover high from 3.0 (seed 001: "暂定为3, 仅供
参考"). Institutional clients move large, slow positions: an institution
that turns its assets over 1.5 times a year is an active trader for its
size. For institutions this branch therefore reads the grid with a
threshold of 1.5: an institution at or above 1.5 that the grid placed in a
band's low-turnover class moves to that band's high-turnover class (B → A,
D → C, …). The bands come from the policy in force, so a new grid needs no
new plugin.

It also adds one KYC rule at import (seed 002 §3: an institution's file
carries its legal representative): an institution without a legal
representative is rejected with the row's other problems.
"""

from brokercrm.hookspecs import hookimpl

BRANCH = "BJ01"
INSTITUTION_THRESHOLD = 1.5


@hookimpl
def classification_adjustments(branch, policy):
    if branch != BRANCH:
        return []
    grid = policy["grid"]
    rules = []
    for band in grid["bands"]:
        if band["high"] == band["low"]:
            continue
        rules.append({
            "when": {"all": [
                {"field": "kind", "op": "=", "value": "institution"},
                {"field": "turnover_rate", "op": ">=", "value": INSTITUTION_THRESHOLD},
                {"field": "class", "op": "=", "value": band["low"]},
            ]},
            "set_class": band["high"],
            "reason": (f"北京营业部: 机构客户周转率阈值 {INSTITUTION_THRESHOLD:g}"
                       f" (总部 {grid['turnover_threshold']:g}), {band['label']} 高周转 → {band['high']}"),
        })
    return rules


@hookimpl
def validate_clients(rows, branch):
    if branch != BRANCH:
        return []
    return [
        (i, "legal_representative", "北京营业部: 机构客户须登记法定代表人 (institution needs a legal representative)")
        for i, row in enumerate(rows)
        if row.get("kind") == "institution" and not (row.get("legal_representative") or "").strip()
    ]
