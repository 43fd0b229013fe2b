"""What the site shows instead of codes: Chinese column labels, Chinese names for
enumerated values, amounts in 元/万元 and dates in a Chinese form.

One table of words for every page, report and export, so a column reads the
same wherever it appears. Codes staff use in Chinese too (A+ … G, C1–C5,
R1–R5, branch codes) stay as they are; other codes get their Chinese name
with the code beside it where staff know both (``电话沟通 call``).
"""

import datetime as dt
import re

from brokercrm.site.specs import BY_NAME, SUMMARIES

# The domain's order of the eleven classes (seed 001): charts and breakdowns follow it.
CLASS_ORDER = ["A+", "B+", "A", "B", "C", "D", "C-", "D-", "E", "F", "G"]
RISK_LEVELS = {"C1": "保守型", "C2": "谨慎型", "C3": "稳健型", "C4": "积极型", "C5": "激进型"}
PRODUCT_RISKS = {"R1": "低风险", "R2": "中低风险", "R3": "中风险", "R4": "中高风险", "R5": "高风险"}

# value -> Chinese, by the column that holds it. A column not listed shows its value as is.
ENUMS = {
    "kind": {  # clients, interactions, tasks, care moments, events share the name
        "individual": "个人", "institution": "机构",
        "call": "电话沟通", "visit": "拜访", "message": "消息", "callback": "回访", "complaint": "投诉",
        "care": "关怀", "education": "投资者教育", "transfer": "转户申请", "closure": "销户申请",
        "exam": "考试/高考", "retirement": "退休", "wedding": "婚礼", "newborn": "添丁",
        "graduation": "毕业", "anniversary": "纪念日", "other": "其他", "birthday": "生日", "holiday": "节日",
        "review": "复核", "follow_up": "跟进", "solution": "解决方案", "contact": "联系", "retention": "挽留", "classify": "分类", "account_opened": "开户",
        "behaviour_alert": "交易行为提示", "suitability_mismatch": "适当性不匹配",
        "complaint_received": "收到投诉", "high_risk_sale": "高风险销售", "interaction_logged": "接触记录",
        "low_satisfaction": "满意度低", "retention_closed": "挽留结案", "retention_requested": "转销户请求",
    },
    "channel": {"phone": "电话", "counter": "柜台", "online": "网上", "app": "APP", "sms": "短信"},
    "habit": {"short": "短线", "swing": "波段", "value": "价值"},
    "tier": {"bronze": "青铜", "silver": "白银", "gold": "黄金", "diamond": "钻石",
             "small": "小型", "medium": "中型", "large": "大型"},
    "status": {"open": "未办", "done": "已办", "pending": "待审批", "approved": "已批准", "rejected": "已驳回",
               "revoked": "已撤销", "superseded": "已替代", "ok": "成功", "failed": "失败", "running": "进行中",
               "expired": "已过期", "expiring": "30天内到期", "decided": "已决定"},
    "state": {"received": "已受理", "investigating": "调查中", "proposed": "已提方案", "approved": "已批准",
              "resolved": "已实施", "informed": "方案已告知客户", "open": "处理中", "closed": "已结案",
              "pending": "待复核", "rejected": "已驳回"},
    "verdict": {"match": "匹配", "mismatch": "不匹配", "forbidden": "禁止", "warning": "提示"},
    "investor_type": {"ordinary": "普通投资者", "professional": "专业投资者"},
    "request": {"transfer": "转户", "closure": "销户"},
    "outcome": {"retained": "挽留成功", "transferred": "已转户", "closed": "已销户"},
    "flag": {"aggressive": "进取型"},
    "type": {"equity": "股票型", "index": "指数型", "enhanced_index": "增强指数型", "equity_heavy": "偏股型",
             "balanced": "平衡型", "flexible_allocation": "灵活配置型", "bond_heavy": "偏债型", "bond": "债券型",
             "short_term_bond": "中短债型", "capital_guaranteed": "保本型", "money_market": "货币型",
             "derivative": "衍生品"},
    "mode": {"full": "全量", "incremental": "增量"},
}
ENUMS["new_habit"] = ENUMS["old_habit"] = ENUMS["habit"]
ENUMS["new_tier"] = ENUMS["old_tier"] = ENUMS["tier"]
ENUMS["from_state"] = ENUMS["to_state"] = ENUMS["state"]
ENUMS["new_flag"] = ENUMS["old_flag"] = ENUMS["flag"]
ENUMS["risk_level"] = {**RISK_LEVELS, **PRODUCT_RISKS}
ENUMS["client_level"] = ENUMS["level"] = RISK_LEVELS
ENUMS["product_risk"] = PRODUCT_RISKS
# Columns whose Chinese reads alone; the rest keep the code beside it for staff who know the codes.
CHINESE_ONLY = {"status", "state", "from_state", "to_state", "verdict", "request", "outcome", "mode", "channel"}
# Levels read best as "C3 稳健型": the code first.
CODE_FIRST = {"risk_level", "client_level", "level", "product_risk", "old_risk_level", "new_risk_level"}
ENUMS["old_risk_level"] = ENUMS["new_risk_level"] = RISK_LEVELS

# Amounts in yuan: shown as 元 (万元 from 10,000), right-aligned; exports keep the number.
AMOUNTS = {"total_assets", "annual_income", "net_assets", "amount", "总资产", "金额", "年收入", "净资产"}
BOOLEANS = {"lowest_category", "assessment_lowest", "old_lowest_category", "new_lowest_category", "yearly",
            "dry_run"}
# Reports (views.yml) alias their columns in Chinese: the enum each alias holds.
VIEW_COLUMNS = {
    "交易习惯": "habit", "结论": "verdict", "类型": "kind", "渠道": "channel", "风险等级": "risk_level",
    "客户等级": "client_level", "产品风险": "product_risk", "测评等级": "level", "层级": "tier",
    "状态": "status_or_state", "金额": "amount", "总资产": "total_assets", "原状态": "state", "新状态": "state",
}
ENUMS["status_or_state"] = {**ENUMS["status"], **ENUMS["state"]}
CHINESE_ONLY.add("status_or_state")

# Columns that hold a client id, in tables (client_id) and in reports (客户号).
CLIENT_ID_COLUMNS = {"client_id", "客户号"}

# Labels for columns the publish specs do not label, and for whole tables' common columns.
EXTRA_LABELS = {
    "id": "编号", "client_id": "客户号", "branch_id": "营业部", "branch": "营业部", "kind": "类型",
    "adjustment": "插件调整", "reason": "理由", "reasons": "理由", "old_run_id": "上次运行",
    "old_risk_level": "原风险等级", "new_risk_level": "新风险等级", "old_lowest_category": "原最低类别",
    "new_lowest_category": "新最低类别", "old_habit": "原交易习惯", "new_habit": "新交易习惯",
    "old_tier": "原层级", "new_tier": "新层级", "old_value_segment": "原价值分群", "new_value_segment": "新价值分群",
    "policy_digest": "策略摘要", "answers": "答卷", "imported_at": "导入时间", "mode": "方式", "as_of": "基准日",
    "dry_run": "试运行", "fingerprint": "指纹", "client_mark": "客户数", "assessment_mark": "测评数",
    "summary": "摘要", "error": "错误", "legal_representative": "法定代表人", "business_scope": "经营范围",
    "created_at": "创建时间", "updated_at": "更新时间", "interaction_id": "接触编号", "task_id": "任务编号",
    "complaint_id": "投诉编号", "from_state": "原状态", "to_state": "新状态", "note": "说明",
    "on_date": "日期", "yearly": "每年", "recorded_by": "记录人", "recorded_at": "记录时间",
    "flag": "标记", "label": "标记名称", "rule": "规则", "evidence": "依据", "since": "起始",
    "old_flag": "原标记", "new_flag": "新标记", "request": "请求", "opened_at": "开立时间",
    "outcome": "结果", "closed_at": "结案时间", "closed_by": "结案人", "case_id": "案例编号",
    "risk_rank": "风险序号", "level_source": "等级来源", "check_id": "检查编号", "policy_version": "策略版本",
    "product_risk": "产品风险", "client_level": "客户等级", "investor_type": "投资者类型",
    "confirmation_id": "确认编号", "event_id": "事件编号", "source": "来源", "operator": "操作员",
    "maker": "录入人", "checker": "复核人", "requested_at": "申请时间", "field": "字段",
    "old_value": "原值", "new_value": "新值", "dimension": "维度", "value": "取值", "key": "项目",
    "target": "目标", "assessment_id": "测评编号", "days_left": "剩余天数", "status": "状态", "state": "状态", "verdict": "结论",
    "run_id": "运行编号", "old_class": "原类别", "new_class": "新类别", "clients": "客户数",
    "holdings": "持仓数", "confirmed": "已确认", "complaints": "投诉数", "overdue": "超期",
    "on_time": "按时完成", "late": "逾期完成", "open_overdue": "逾期未办", "open_in_time": "未到期",
}


def column_label(table, column):
    """Chinese label of a column of a published table (the column's own name when none)."""
    spec = BY_NAME.get(table) or next((s for s in SUMMARIES if s.table == table), None)
    if spec is not None and column in spec.labels:
        return spec.labels[column]
    return EXTRA_LABELS.get(column, column)


def enum_label(column, value, *, with_code=True):
    """Chinese for an enumerated value, with the code beside it where staff use both."""
    column = VIEW_COLUMNS.get(column, column)
    names = ENUMS.get(column)
    if names is None or value is None or str(value) not in names:
        return None
    name = names[str(value)]
    if not with_code or column in CHINESE_ONLY:
        return name
    if column in CODE_FIRST:
        return f"{value} {name}"
    return f"{name} {value}"


def yuan(value):
    """``1137820.55`` -> ``113.78 万元``; under 10,000: ``9,800.00 元``."""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    if abs(amount) >= 10_000:
        return f"{amount / 10_000:,.2f} 万元"
    return f"{amount:,.2f} 元"


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def chinese_date(value):
    """``2026-06-30T10:00:00+08:00`` -> ``2026年6月30日 10:00``; other text -> None.

    Times are shown as written (the firm records Beijing time); the offset is dropped.
    """
    if not isinstance(value, str):
        return None
    m = _DATE.match(value.strip())
    if not m:
        return None
    year, month, day, hour, minute = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), m.group(5)
    try:
        dt.date(int(year), month, day)
    except ValueError:
        return None
    text = f"{year}年{month}月{day}日"
    return f"{text} {hour}:{minute}" if hour is not None else text


# Measures shown with a fixed number of decimals (a float of days reads as whole days).
DECIMALS = {"avg_holding_days": 0, "turnover_rate": 2, "investment_years": 0, "score": 0}


def display(column, value):
    """(text, kind) for one cell: kind is ``amount``, ``enum``, ``date``, ``bool`` or None (as is)."""
    if value is None or value == "":
        return None, None
    if column in DECIMALS and isinstance(value, (int, float)):
        return f"{value:,.{DECIMALS[column]}f}", "amount"
    if column in AMOUNTS:
        text = yuan(value)
        if text is not None:
            return text, "amount"
    if column in BOOLEANS and value in (0, 1, "0", "1"):
        return ("是" if int(value) else "否"), "bool"
    label = enum_label(column, value)
    if label is not None:
        return label, "enum"
    text = chinese_date(value)
    if text is not None:
        return text, "date"
    return None, None


def export_value(column, value):
    """The value as an export shows it: Chinese enums and booleans; numbers stay numbers."""
    if value is None:
        return None
    if column in BOOLEANS and value in (0, 1, "0", "1"):
        return "是" if int(value) else "否"
    label = enum_label(column, value)
    if label is not None:
        return label
    return value


def class_key(value):
    """Sort key putting classes in the domain's order A+ … G (unknown ones after)."""
    return CLASS_ORDER.index(value) if value in CLASS_ORDER else len(CLASS_ORDER)
