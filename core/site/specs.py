"""What the read-only site publishes: one declarative spec per table.

A table that is not listed here is never published (deny by default). A
listed table that does not exist yet in the working database is skipped, so
the tables of features still being built appear as soon as they land: add a
``TableSpec`` here (and, for a report, a query in datasette_config/views.yml).

Scope decides which snapshot gets which rows:

- ``branch``  the table has a branch column (``branch_id`` or ``branch``);
- ``client``  the table has ``client_id``: its branch comes from the client;
- ``via``     the branch comes from a parent table already in the snapshot;
- ``shared``  every snapshot gets the table (no personal data in it); a branch
              keeps only the rows ``branch_rows`` allows, so nothing firm-wide
              reaches a branch;
- ``hq``      only the head-office snapshot gets it.

Every published row of a scoped table carries ``branch_id`` in the head-office
snapshot, so a branch snapshot is always ``WHERE branch_id = ?``.

Masking is an allow-list. Columns named in ``mask`` use brokercrm.kernel.masking
(``json``: a JSON document cleaned by ``kernel.masking.clean_json``); ``field_mask``
masks old/new values by the name of the field they belong to; a text column
is published as stored only when listed in ``safe`` (codes, enums, dates,
digests the system writes itself). Every other text column, including one a
later migration adds, passes through the scrubber, which masks ID and mobile
numbers anywhere in the text. Operational metadata (import file paths, the
origin of a change) is dropped.
"""

from dataclasses import dataclass, field

from . import manager_book

# A table with more rows than this in a snapshot is "big": no facets and no
# facet indexes there (the site offers only indexed filters and sorts, and the
# summary views give the breakdowns); smaller tables get both.
SMALL_TABLE_ROWS = 10_000

# Columns that never leave the working database: raw extras, secrets, and
# operational metadata such as the import file a row came from.
NEVER = {"extra", "account", "bank_account", "answers_raw", "password", "password_hash", "source"}


@dataclass
class TableSpec:
    table: str
    scope: str                      # branch | client | via | shared | hq
    title: str = ""                 # Chinese title for the site
    description: str = ""
    mask: dict = field(default_factory=dict)       # column -> masker kind (name|id|phone|birth)
    field_mask: dict = field(default_factory=dict)  # value column -> column naming the field
    drop: tuple = ()                # columns never published
    drop_in_branch: tuple = ()      # columns only head office sees
    safe: tuple = ()                # text columns published as stored (everything else is scrubbed)
    indexes: tuple = ()             # extra indexes: tuples of columns
    facets: tuple = ()              # default facets on the table page (indexed automatically)
    via: tuple = ()                 # (parent table, fk column in this table, key in parent)
    sort_desc: str = ""             # default sort on the table page
    sortable: tuple = ()            # extra columns a big table may be sorted by (indexed)
    labels: dict = field(default_factory=dict)     # column -> Chinese label
    not_personal: tuple = ()        # columns named like personal data that are not (a branch's name)
    key: tuple = ()                 # the snapshot's primary key, where not the working table's own
    branch_rows: str = ""           # shared table: the rows a branch snapshot keeps (SQL; :code is the branch)
    derived: tuple = ()             # not a copy: computed at publish time (``site.derived``) from these working tables


TABLES = [
    # ---- core -------------------------------------------------------------------------
    TableSpec(
        "branches", "shared", "营业部", "营业部代码与名称 (branches)",
        safe=("code", "created_at"), not_personal=("name",), branch_rows="code = :code",
        labels={"code": "营业部代码", "name": "营业部名称", "created_at": "创建时间"},
    ),
    TableSpec(
        "clients", "branch", "客户", "客户基本信息, 个人信息已脱敏 (clients, personal data masked)",
        mask={"name": "name", "id_number": "id", "phone": "phone", "birth_date": "birth",
              "legal_representative": "name"},
        # No facets: a million-row breakdown is a summary view, not a facet.
        # `id` is the working database's integer key; the site keys clients by client_id.
        drop=("extra", "id"), key=("client_id",),
        # Staff filter and sort a branch's book by these (issue 12): indexed, so offered on a big table.
        sortable=("total_assets", "occupation"),
        # occupation, education, business_scope are typed by staff: scrubbed.
        safe=("client_id", "kind", "branch_id", "opened_at", "created_at", "updated_at", "assessment_level",
              "assessment_expires_at"),
        labels={"client_id": "客户号", "kind": "类型", "name": "姓名", "id_number": "证件号码",
                "phone": "手机", "birth_date": "出生日期", "branch_id": "营业部", "opened_at": "开户日期",
                "total_assets": "总资产", "turnover_rate": "换手率", "avg_holding_days": "平均持仓天数",
                "annual_income": "年收入", "occupation": "职业", "education": "学历",
                "investment_years": "投资年限", "net_assets": "净资产",
                "assessment_level": "最近测评等级", "assessment_lowest": "最低类别",
                "assessment_expires_at": "测评到期日"},
    ),
    TableSpec(
        "classifications", "branch", "客户分类", "每位客户当前的分类、风险等级与交易习惯 (current classification)",
        drop=("client_key",), key=("client_id",), facets=("class", "risk_level", "habit"),
        safe=("client_id", "branch_id", "class", "risk_level", "habit", "tier", "value_segment"),
        indexes=(("branch_id", "class"), ("class",)),
        # Offered on a big table as filters and sorts (issue 12): facets are indexed only on small ones.
        sortable=("risk_level", "habit"),
        labels={"client_id": "客户号", "branch_id": "营业部", "class": "类别", "risk_level": "风险等级",
                "lowest_category": "最低类别", "habit": "交易习惯", "tier": "层级", "value_segment": "价值分群",
                "reasons": "理由", "policy_version": "策略版本", "run_id": "运行编号"},
    ),
    TableSpec(
        "classification_history", "branch", "分类变动历史", "每次运行中变动的客户及理由 (classification history)",
        facets=("new_class",), sort_desc="id",
        safe=("client_id", "branch_id", "old_class", "new_class", "old_risk_level", "new_risk_level", "old_habit",
              "new_habit", "old_tier", "new_tier", "old_value_segment", "new_value_segment", "policy_digest",
              "created_at"),
        # The dashboard links a run's moves: (run_id) hands them over in the page's order (id).
        indexes=(("run_id",),),
        labels={"run_id": "运行编号", "client_id": "客户号", "branch_id": "营业部", "old_class": "原类别",
                "new_class": "新类别", "reason": "理由", "policy_version": "策略版本", "created_at": "时间"},
    ),
    TableSpec(
        "assessments", "client", "风险测评", "客户风险承受能力测评 (risk assessments)",
        facets=("level",), sortable=("expires_at",),
        safe=("client_id", "answers", "level", "answered_at", "expires_at", "imported_at"),
        labels={"client_id": "客户号", "score": "得分", "level": "测评等级", "lowest_category": "最低类别",
                "answered_at": "测评时间", "expires_at": "到期时间", "branch_id": "营业部"},
    ),
    TableSpec(
        "runs", "shared", "分类运行", "每次分类运行的时间、策略版本与结果 (classification runs)",
        mask={"summary": "json"}, facets=("kind", "status"), sort_desc="id",
        # A branch sees the runs of the whole firm and its own, without their firm-wide
        # counts: the summary (classes of every client), marks (the book's size), errors.
        drop_in_branch=("summary", "error", "client_mark", "assessment_mark", "fingerprint", "audit_head"),
        branch_rows="branch IS NULL OR branch = :code",
        safe=("kind", "mode", "started_at", "finished_at", "status", "branch", "as_of", "policy_digest",
              "fingerprint", "audit_head"),
        labels={"kind": "类型", "started_at": "开始", "finished_at": "结束", "status": "状态",
                "operator": "操作员", "branch": "营业部", "policy_version": "策略版本"},
    ),
    TableSpec("policy_reasons", "shared", "分类理由", "各策略版本下每个分类取值的理由 (reason texts)",
              safe=("dimension", "value")),
    TableSpec(
        "policy_versions", "shared", "总部策略版本", "已发布的总部策略集版本与摘要 (policy versions)",
        safe=("digest", "published_at"), sort_desc="version",
        labels={"version": "版本", "digest": "摘要", "published_at": "发布时间", "published_by": "发布人",
                "note": "说明"},
    ),
    TableSpec(
        "audit_log", "hq", "审计日志", "只增不改的审计日志 (append-only audit log)",
        facets=("action",), sort_desc="id", mask={"detail": "json"},
        # The chain's hashes and signatures are published as written: a reader can verify them.
        safe=("at", "action", "digest", "key_fingerprint", "prev_hash", "row_hash", "signature"),
        labels={"at": "时间", "operator": "操作员", "action": "动作", "target": "对象", "detail": "详情",
                "digest": "摘要"},
    ),
    TableSpec(
        "client_changes", "client", "客户资料变更", "客户资料变更记录, 个人信息已脱敏 (client data changes)",
        field_mask={"old_value": "field", "new_value": "field"}, sort_desc="id",
        safe=("client_id", "field", "changed_at"),
        labels={"client_id": "客户号", "field": "字段", "old_value": "原值", "new_value": "新值",
                "operator": "操作员", "changed_at": "时间"},
    ),
    TableSpec(
        "events", "client", "事件", "客户生命周期事件 (domain events)",
        drop=("detail",), facets=("kind",), sort_desc="id", safe=("kind", "client_id", "at"),
        labels={"kind": "事件", "client_id": "客户号", "at": "时间", "operator": "操作员"},
    ),
    # ---- service (interactions issue) --------------------------------------------------
    TableSpec(
        "interactions", "branch", "客户接触记录", "电话、面谈、回访、投诉、关怀等接触 (interactions)",
        facets=("kind", "channel"), sort_desc="id",
        safe=("client_id", "branch_id", "kind", "channel", "at", "recorded_at"),
        labels={"client_id": "客户号", "branch_id": "营业部", "kind": "类型", "channel": "渠道",
                "note": "记录", "satisfaction": "满意度", "manager": "客户经理", "at": "时间"},
    ),
    TableSpec(
        "tasks", "branch", "服务任务", "回访、复核、关怀等任务及其期限 (tasks with deadlines)",
        facets=("status", "kind"), indexes=(("status", "due_at"), ("branch_id", "status", "due_at")),
        sortable=("due_at",),
        drop=("dedupe_key",), sort_desc="due_at",
        safe=("client_id", "branch_id", "kind", "origin", "created_at", "due_at", "status", "done_at"),
        labels={"client_id": "客户号", "branch_id": "营业部", "kind": "类型", "title": "任务",
                "origin": "来源", "created_at": "创建", "due_at": "期限", "status": "状态",
                "done_at": "完成时间", "done_by": "完成人", "done_note": "完成说明"},
    ),
    TableSpec(
        "complaints", "branch", "投诉", "投诉处理: 受理 → 调查 → 方案 → 批准 → 告知客户 → 实施 → 办结 (complaints)",
        facets=("state",), indexes=(("branch_id", "state"),), sort_desc="id",
        safe=("client_id", "branch_id", "state", "received_at", "due_at", "informed_at", "updated_at"),
        labels={"client_id": "客户号", "branch_id": "营业部", "summary": "摘要", "state": "状态",
                "handler": "处理人", "proposal": "方案", "approved_by": "批准人", "received_at": "受理时间",
                "due_at": "期限", "informed_at": "告知时间"},
    ),
    TableSpec("complaint_steps", "via", "投诉处理步骤", "投诉状态变更记录 (complaint steps)",
              via=("complaints", "complaint_id", "id"), sort_desc="id", safe=("from_state", "to_state", "at")),
    TableSpec("service_packages", "shared", "服务包定义", "总部策略中的服务包: 服务内容与定期服务动作 (service packages)",
              derived=("clients", "classifications", "interactions"),
              safe=("code", "name", "services", "actions"),
              labels={"code": "服务包代码", "position": "顺序", "name": "服务包", "services": "服务内容",
                      "actions": "服务动作"}),
    TableSpec("client_service_packages", "branch", "客户服务包",
              "每位客户的服务包与各服务动作的上次、下次日期, 按总部策略与已批准插件计算 (clients' service packages)",
              derived=("clients", "classifications", "interactions"), key=("client_id",), facets=("code",),
              safe=("client_id", "branch_id", "code", "chosen_by", "actions", "next_due"),
              labels={"client_id": "客户号", "branch_id": "营业部", "code": "服务包代码", "chosen_by": "插件选择",
                      "actions": "上次/下次 (last, next due)", "next_due": "下次期限"}),
    TableSpec("care_moments", "client", "关怀时点", "生日、节日与重要时刻 (care calendar)",
              facets=("kind",), indexes=(("on_date",),),
              safe=("client_id", "kind", "on_date", "recorded_at")),
    TableSpec("retention_cases", "branch", "挽留案例", "转户、销户请求与挽留结果 (retention cases)",
              facets=("request", "outcome", "state"),
              safe=("client_id", "branch_id", "request", "opened_at", "state", "outcome", "closed_at")),
    TableSpec("retention_attempts", "via", "挽留尝试", "挽留过程记录 (retention attempts)",
              via=("retention_cases", "case_id", "id"), safe=("at",)),
    TableSpec("data_changes", "client", "重要资料变更", "须复核的重要资料变更, 已脱敏 (reviewed data changes)",
              field_mask={"old_value": "field", "new_value": "field"}, facets=("state", "field"),
              safe=("client_id", "field", "state", "requested_at", "decided_at")),
    # ---- suitability (issue 4) ----------------------------------------------------------
    TableSpec("products", "shared", "产品", "产品及其风险等级 R1–R5 (products)",
              not_personal=("name",), facets=("risk_level", "type"),
              safe=("code", "type", "risk_level", "level_source", "imported_at", "updated_at"),
              labels={"code": "产品代码", "name": "产品名称", "type": "类型", "risk_level": "风险等级"}),
    TableSpec("holdings", "client", "持仓", "客户持仓 (holdings)", indexes=(("product_code",),),
              safe=("client_id", "product_code", "since", "imported_at"),
              labels={"client_id": "客户号", "product_code": "产品代码", "amount": "金额", "since": "持有起始"}),
    TableSpec("suitability_exceptions", "branch", "适当性不匹配",
              "最近一次扫描发现的高于客户等级的持仓, 以及是否已有书面确认 (suitability mismatches)",
              facets=("verdict", "product_risk", "client_level"), indexes=(("branch_id", "verdict"),),
              safe=("client_id", "branch_id", "product_code", "product_risk", "client_level", "investor_type",
                    "verdict", "reasons"),
              labels={"client_id": "客户号", "branch_id": "营业部", "product_code": "产品代码",
                      "product_risk": "产品风险", "client_level": "客户等级", "investor_type": "投资者类型",
                      "verdict": "结论", "reasons": "理由", "confirmation_id": "确认编号", "amount": "金额"}),
    TableSpec("suitability_checks", "client", "适当性检查", "适当性匹配检查结果与理由 (suitability checks)",
              facets=("verdict",), sort_desc="id",
              safe=("client_id", "product_code", "product_risk", "client_level", "investor_type", "verdict",
                    "reasons", "policy_digest", "checked_at"),
              labels={"client_id": "客户号", "product_code": "产品代码", "verdict": "结论", "reasons": "理由",
                      "checked_by": "检查人", "checked_at": "时间"}),
    TableSpec("suitability_confirmations", "client", "风险警示确认",
              "特别风险警示书与客户书面确认 (mismatch confirmations)", sort_desc="id",
              safe=("client_id", "product_code", "client_level", "reasons", "policy_digest", "confirmed_at"),
              labels={"client_id": "客户号", "product_code": "产品代码", "client_level": "客户等级",
                      "evidence": "凭证", "confirmed_by": "经办人", "confirmed_at": "确认时间"}),
    TableSpec("investor_type_requests", "client", "投资者类型转换", "普通投资者转专业投资者申请 (conversions)",
              facets=("status", "target"), drop=("evidence",),
              safe=("client_id", "target", "requested_at", "status", "decided_at")),
    TableSpec("behaviour_flags", "client", "交易行为标记", "交易行为与风险等级偏差 (behaviour flags)",
              facets=("flag",), mask={"evidence": "json"},
              safe=("client_id", "flag", "label", "rule", "since", "updated_at")),
    TableSpec("behaviour_flag_history", "client", "交易行为标记历史", "交易行为标记的变化 (behaviour flag history)",
              sort_desc="id", safe=("client_id", "old_flag", "new_flag", "at")),
    # ---- governance (issue 3) ----------------------------------------------------------
    TableSpec("approvals", "branch", "插件审批", "营业部插件审批申请、影响预览与决定 (plugin approvals)",
              facets=("status", "plugin"), sort_desc="id", mask={"impact": "json"},
              # Ids of rows in head office's audit log: its size is firm-wide.
              drop_in_branch=("request_audit_id", "decision_audit_id"),
              safe=("plugin", "version", "digest", "branch", "requested_at", "status", "decided_at"),
              labels={"plugin": "插件", "version": "版本", "digest": "代码摘要", "branch": "营业部",
                      "requested_by": "申请人", "requested_at": "申请时间", "note": "说明", "impact": "影响预览",
                      "status": "状态", "decided_by": "决定人", "decided_at": "决定时间",
                      "decision_reason": "理由"}),
    TableSpec("operators", "hq", "操作员", "操作员及其角色 (operators)", facets=("role",),
              safe=("id", "role", "branch", "created_at", "public_key", "issued_at", "key_custody", "certificate")),
]

BY_NAME = {s.table: s for s in TABLES}


@dataclass
class Summary:
    """A table computed at publish time, so reports answer fast at a million clients.

    ``sql`` runs inside the head-office snapshot (tables already masked and
    indexed) and must yield a ``branch_id`` column; branch snapshots copy
    their rows. ``now`` is bound to the publishing time.
    """

    table: str
    requires: tuple
    sql: str
    title: str
    description: str = ""
    indexes: tuple = ()
    labels: dict = field(default_factory=dict)


SUMMARIES = [
    Summary(
        "summary_class_by_branch", ("classifications",),
        """SELECT branch_id, class, count(*) AS clients FROM classifications GROUP BY branch_id, class""",
        "各营业部客户类别分布", "每个营业部各类别的客户数 (class distribution per branch)",
        labels={"branch_id": "营业部", "class": "类别", "clients": "客户数"},
    ),
    Summary(
        "summary_risk_habit", ("classifications",),
        """SELECT branch_id, risk_level, habit, count(*) AS clients FROM classifications
           GROUP BY branch_id, risk_level, habit""",
        "风险等级与交易习惯", "按风险等级与交易习惯统计的客户数 (clients by risk level and habit)",
        labels={"branch_id": "营业部", "risk_level": "风险等级", "habit": "交易习惯", "clients": "客户数"},
    ),
    Summary(
        "summary_last_run_moves", ("classification_history", "runs", "branches"),
        """WITH last AS (
             SELECT b.code AS branch_id,
                    (SELECT max(r.id) FROM runs r WHERE r.kind = 'classify' AND r.status = 'ok'
                       AND r.dry_run = 0 AND (r.branch IS NULL OR r.branch = b.code)) AS run_id
             FROM branches b)
           SELECT h.branch_id, h.run_id, COALESCE(h.old_class, '新') AS old_class, h.new_class,
                  count(*) AS clients
           FROM last JOIN classification_history h ON h.run_id = last.run_id AND h.branch_id = last.branch_id
           GROUP BY 1, 2, 3, 4""",
        "最近一次分类的类别变动", "最近一次分类运行中各类别之间的移动 (class moves of the last run)",
        labels={"branch_id": "营业部", "run_id": "运行编号", "old_class": "原类别", "new_class": "新类别",
                "clients": "客户数"},
    ),
    Summary(
        "assessment_expiry", ("assessments",),
        """SELECT a.client_id, a.branch_id, a.level, a.answered_at, a.expires_at,
                  CASE WHEN a.expires_at < :today THEN 'expired' ELSE 'expiring' END AS status,
                  CAST(julianday(substr(a.expires_at, 1, 10)) - julianday(:today) AS INTEGER) AS days_left
           FROM assessments a
           WHERE a.expires_at < :in30
             AND a.id = (SELECT x.id FROM assessments x WHERE x.client_id = a.client_id
                         ORDER BY x.answered_at DESC, x.id DESC LIMIT 1)""",
        "测评到期", "最近一次测评已过期或30天内到期的客户 (expired and expiring assessments)",
        indexes=(("status", "expires_at"), ("branch_id", "status", "expires_at")),
        labels={"client_id": "客户号", "branch_id": "营业部", "level": "测评等级", "answered_at": "测评时间",
                "expires_at": "到期时间", "status": "状态", "days_left": "剩余天数"},
    ),
    Summary(
        # Counted from assessment_expiry just above (a summary may read one built before it).
        "summary_assessment_expiry", ("assessments",),
        """SELECT branch_id, status, count(*) AS clients FROM assessment_expiry GROUP BY branch_id, status""",
        "测评到期统计", "各营业部测评已过期与30天内到期的客户数 (expired and expiring, per branch)",
        labels={"branch_id": "营业部", "status": "状态", "clients": "客户数"},
    ),
    Summary(
        "summary_tasks_by_branch", ("tasks",),
        """SELECT branch_id,
                  sum(status = 'done' AND done_at <= due_at) AS on_time,
                  sum(status = 'done' AND done_at > due_at) AS late,
                  sum(status = 'open' AND due_at < :now) AS open_overdue,
                  sum(status = 'open' AND due_at >= :now) AS open_in_time
           FROM tasks GROUP BY branch_id""",
        "任务期限执行情况", "按营业部统计的按时、逾期完成与逾期未办任务 (deadlines kept and missed)",
        labels={"branch_id": "营业部", "on_time": "按时完成", "late": "逾期完成", "open_overdue": "逾期未办",
                "open_in_time": "未到期"},
    ),
    Summary(
        "summary_complaints_by_state", ("complaints",),
        # Overdue as brokercrm.complaints judges it: the promise is a solution *to the
        # client*, so a complaint stays open until informed, and informing late counts.
        """SELECT branch_id, state, count(*) AS complaints,
                  sum((informed_at IS NULL AND due_at < :now) OR informed_at > due_at)
                  AS overdue
           FROM complaints GROUP BY branch_id, state""",
        "投诉状态", "按营业部与状态统计的投诉 (complaints by state)",
        labels={"branch_id": "营业部", "state": "状态", "complaints": "投诉数", "overdue": "超期"},
    ),
    Summary(
        "summary_suitability", ("suitability_exceptions",),
        """SELECT branch_id, verdict, count(*) AS holdings, sum(confirmation_id IS NOT NULL) AS confirmed
           FROM suitability_exceptions GROUP BY branch_id, verdict""",
        "适当性不匹配与确认", "按营业部与结论统计的不匹配持仓及已确认数 (mismatches and confirmations)",
        labels={"branch_id": "营业部", "verdict": "结论", "holdings": "持仓数", "confirmed": "已确认"},
    ),
]
SUMMARIES.append(Summary(**manager_book.SUMMARY))  # issue 14: the manager view (site/manager_book.py)
