"""Which tables hold a client's records, found from the schema, and what each one is.

The archive must hold *every* stored record of a client, including tables other features
add later. So the tables are discovered from the schema, not listed by hand:

- ``clients`` itself;
- every table with a foreign key to ``clients`` (to ``client_id`` or to its integer ``id``),
  or a column named ``client_id``;
- every table with a foreign key to a table already found (``complaint_steps`` through
  ``complaints``), repeated until nothing new is found;
- the audit log, through the rows whose target names the client or one of its records.

``TABLES`` then says, per discovered table, its section of the archive, what it is (Chinese,
for the regulator's README), and whether the retention triggers keep it (with the time column
the retention period counts from). ``EXCLUDED`` names tables that are working state rather than
records, with the reason. A discovered table in neither is still archived (section
``99_undeclared``) and makes ``tests/archive/test_catalogue.py`` fail: a new table is never
silently left out, and its author is told to declare it here.
"""

from dataclasses import dataclass

SECTIONS = {
    "01_client": "客户资料与变更 (client record, KYC data, changes and reviews)",
    "02_assessments": "风险承受能力评估 (risk assessments)",
    "03_classification": "客户分类及其历史 (classification and its history)",
    "04_suitability": "适当性: 匹配检查、确认、持仓、交易行为 (suitability checks, confirmations, holdings, behaviour)",
    "05_evidence": "留痕: 告知、警示、客户确认与双录 (evidence of what the client was shown; recordings' references)",
    "06_service": "服务: 接触记录、任务、投诉、关怀、挽留、事件 (interactions, tasks, complaints, care, retention, events)",
    "07_audit": "审计日志中关于该客户的记录 (audit rows about the client)",
    "99_undeclared": "未登记的表 (tables found in the schema that nobody declared; see catalogue.py)",
}


@dataclass(frozen=True)
class Entry:
    section: str
    label: str
    retained: bool          # the retention triggers refuse DELETE inside the period
    since: str | None       # the column the period counts from (None: not retained)


def _keep(section, label, since):
    return Entry(section, label, True, since)


def _current(section, label):
    """A table holding current state that its feature replaces; its history lives elsewhere."""
    return Entry(section, label, False, None)


TABLES = {
    "clients": _keep("01_client", "客户基本资料 (the client record: identity, contact, KYC fields)", "created_at"),
    "client_bank_accounts": _keep("01_client", "客户银行账户 (bank account on file)", "updated_at"),
    "client_changes": _keep("01_client", "客户资料变更记录 (every change of a client field, old and new value)",
                            "changed_at"),
    "data_changes": _keep("01_client", "资料修改申请与复核 (change requests, maker and checker)", "requested_at"),
    "lowest_category_marks": _keep("01_client", "最低类别: 民事行为能力、监护人、总部标记 (capacity, guardian, "
                                   "head-office flag)", "recorded_at"),
    "investor_type_requests": _keep("01_client", "投资者类别转换申请与审核 (professional/ordinary conversions)",
                                    "requested_at"),
    "assessments": _keep("02_assessments", "风险测评: 答案、得分、等级、有效期 (answers, score, level, expiry)",
                         "imported_at"),
    "classifications": _current("03_classification", "现行分类 (current classification; history below)"),
    "classification_history": _keep("03_classification", "分类变更历史 (every change of class, with reason and "
                                    "policy version)", "created_at"),
    "suitability_checks": _keep("04_suitability", "适当性检查记录 (every check: verdict, reasons, policy)",
                                "checked_at"),
    "suitability_confirmations": _keep("04_suitability", "不适当销售的客户书面确认 (written confirmations after "
                                       "the special risk warning)", "confirmed_at"),
    "suitability_exceptions": _current("04_suitability", "最近一次适当性扫描的异常 (last scan's exceptions; "
                                       "recomputed by each scan)"),
    "holdings": _current("04_suitability", "当前持仓 (current holdings; replaced by each holdings import)"),
    "behaviour_daily": _keep("04_suitability", "每日交易行为 (daily turnover and ST share)", "imported_at"),
    "behaviour_flags": _current("04_suitability", "当前交易行为标记 (current behaviour flag; history below)"),
    "behaviour_flag_history": _keep("04_suitability", "交易行为标记历史 (behaviour flag history)", "at"),
    "suitability_evidence": _keep("05_evidence", "留痕: 每次告知/警示/确认的内容摘要、模板版本与 SHA-256、渠道、"
                                  "时间、经办人、客户确认凭证、双录编号/SHA-256/时长", "recorded_at"),
    "evidence_templates": _keep("05_evidence", "向客户展示的告知/警示文本全文 (each template version shown)",
                                "first_used_at"),
    "interactions": _keep("06_service", "服务接触记录 (contacts: visits, calls, callbacks)", "recorded_at"),
    # Work items, not records Art. 32 names: a task's completion is its signed `task.done` audit row
    # and the interaction logged with it, both kept; benchmarks and tools clear tasks.
    "tasks": _current("06_service", "服务任务 (tasks: callbacks, follow-ups, due times; completion is in the audit "
                      "rows and interactions)"),
    "complaints": _keep("06_service", "投诉 (complaints)", "received_at"),
    "complaint_steps": _keep("06_service", "投诉处理步骤 (every step of a complaint)", "at"),
    "care_moments": _keep("06_service", "关怀时刻 (care moments)", "recorded_at"),
    "retention_cases": _keep("06_service", "转销户挽留 (transfer/closure retention cases)", "opened_at"),
    "retention_attempts": _keep("06_service", "挽留尝试 (retention attempts)", "at"),
    "events": _keep("06_service", "客户事件 (domain events about the client)", "at"),
    "audit_log": _keep("07_audit", "审计日志中关于该客户的行 (audit rows naming the client or its records; "
                       "signed and hash-chained)", "at"),
    # Issue 11 (investor status, three-way profile, special care, KYC) and issue 14 (managers, status,
    # programmes): declared when those features were merged.
    "investor_status": _keep("01_client", "专业投资者资格: 证明材料、复核、有效期 (investor status: evidence, "
                             "review, validity)", "recorded_at"),
    "kyc_verifications": _keep("01_client", "客户资料核实: 系统核验/当面确认/回访确认 (KYC verification levels)", "at"),
    "kyc_flags": _keep("01_client", "资料合理性标记及解除 (plausibility flags and their clearing)", "flagged_at"),
    "kyc_id_notices": _keep("01_client", "证件到期提醒 (ID expiry notices)", "noticed_at"),
    "kyc_sampling_population": _current("01_client", "开户回访抽样总体及是否抽中 (the callback sample's population; "
                                        "the run's time and seed are in kyc_sampling_runs)"),
    "client_notes": _keep("01_client", "客户经理备注: 投资决策风格 (account manager notes: decision style)", "recorded_at"),
    "manager_assignments": _keep("01_client", "客户经理指定与变更 (account manager assignments, with reasons)", "at"),
    "client_status": _current("01_client", "现行客户状态 (current status; history below)"),
    "client_status_history": _keep("01_client", "客户状态变更历史 (status changes: dormant, transfer, closure)", "at"),
    "exit_reasons": _keep("01_client", "转销户原因 (reasons for leaving)", "recorded_at"),
    "investor_profiles": _keep("04_suitability", "投资目标/期限/品种 (the client's objective, horizon and kinds, "
                               "recorded from a KYC form)", "recorded_at"),
    "special_care_sales": _keep("04_suitability", "特别关注销售: 触发条件、告知、回访、冷静期 (special-care sales and "
                                "their cooling-off windows)", "opened_at"),
    "cooling_off_withdrawals": _keep("04_suitability", "冷静期内撤回 (withdrawals inside the cooling-off window)",
                                     "withdrawn_at"),
    "complaint_opinions": _keep("06_service", "客户对投诉处理方案的意见 (the client's opinion of the solution)", "at"),
    "callback_samples": _keep("06_service", "回访抽样 (callback samples; the run's time and seed are in its run)", None),
    "callback_records": _keep("06_service", "回访记录及覆盖的风险揭示要点 (callbacks and the disclosure items covered)",
                              "at"),
    "prospects": _keep("06_service", "潜在客户 (the prospect this client was converted from)", "created_at"),
    "prospect_steps": _keep("06_service", "潜在客户跟进记录 (prospect follow-ups)", "at"),
    "vip_status": _current("06_service", "现行贵宾等级 (current VIP level; history below)"),
    "vip_history": _keep("06_service", "贵宾等级变更历史 (VIP level history)", "at"),
    "points_ledger": _keep("06_service", "积分明细 (points ledger)", "at"),
    "programme_invitations": _keep("06_service", "活动及投教邀请 (invitations to events and education sessions)",
                                   "invited_at"),
    "programme_attendance": _keep("06_service", "活动及投教出席 (attendance)", "recorded_at"),
    # Only in databases older than the signed chain (trust m002): the unsigned rows kept from then.
    "audit_log_legacy": _keep("07_audit", "签名链之前的审计行 (audit rows from before the signed chain; unsigned)",
                              "at"),
}
# Declared tables that only some databases have.
OPTIONAL = {"audit_log_legacy"}

EXCLUDED = {
    "classify_queue": "分类待办队列: 仅为下次分类运行的工作状态, 不是记录 (working queue of the next run, not a record)",
}

# Tables reached from the client's rows by a value rather than a foreign key:
# table -> (from table, [its columns], [this table's columns]).
REFERENCED = {
    "evidence_templates": ("suitability_evidence", ["template_id", "template_version"], ["template_id", "version"]),
}

# The audit log names its subject in ``target``: the client id, "client/product", or one of the
# client's complaints or tasks.
AUDIT_SQL = (
    # "client/…" as a range ('0' follows '/'), so the index on target answers it.
    "target = :cid OR (target > :cid || '/' AND target < :cid || '0')"
    " OR target IN (SELECT 'complaint ' || id FROM complaints WHERE client_id = :cid)"
    " OR target IN (SELECT 'task ' || id FROM tasks WHERE client_id = :cid)"
)


@dataclass(frozen=True)
class Found:
    table: str
    where: str        # SQL over the table (alias-free) with the named parameter :cid
    how: str          # the link, in words, for the manifest
    entry: Entry | None


def _tables(db):
    return [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name != '_sqlite_migrations' ORDER BY name")]


def columns(db, table):
    return [r[1] for r in db.execute(f"PRAGMA table_info([{table}])")]


def _fks(db, table):
    """[(column, parent table, parent column)]; a FK to a parent's primary key names it."""
    out = []
    for r in db.execute(f"PRAGMA foreign_key_list([{table}])"):
        parent, col, pcol = r[2], r[3], r[4]
        if pcol is None:
            pk = [c[1] for c in db.execute(f"PRAGMA table_info([{parent}])") if c[5]]
            pcol = pk[0] if len(pk) == 1 else None
        if pcol is not None:
            out.append((col, parent, pcol))
    return out


def _scans(db, table, where):
    """1 when SQLite would read the whole table for ``where``, else 0."""
    plan = db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM [{table}] WHERE {where}", {"cid": ""}).fetchall()
    return int(any(str(row[-1]).startswith(f"SCAN {table}") for row in plan))


def discover(db):
    """{table: Found} for every table holding records of a client (see the module docstring)."""
    found = {"clients": Found("clients", "client_id = :cid", "客户本身 (the client row)", TABLES.get("clients"))}
    tables = [t for t in _tables(db) if t not in ("clients",)]
    for t in tables:
        links = []
        if "client_id" in columns(db, t):
            links.append(("[client_id] = :cid", "client_id 列 (column)"))
        for col, parent, pcol in _fks(db, t):
            if parent == "clients":
                links.append((f"[{col}] = :cid" if pcol == "client_id" else
                              f"[{col}] = (SELECT [{pcol}] FROM clients WHERE client_id = :cid)",
                              f"外键 {col} → clients.{pcol} (foreign key)"))
        if links:
            # Every link names the same rows; take one SQLite can answer from an index.
            where, how = min(links, key=lambda link: _scans(db, t, link[0]))
            found[t] = Found(t, where, how, TABLES.get(t))
    grown = True
    while grown:   # children of found tables, to any depth
        grown = False
        for t in tables:
            if t in found or t in ("audit_log", "audit_log_legacy"):
                continue
            for col, parent, pcol in _fks(db, t):
                if parent in found and parent != t:
                    p = found[parent]
                    found[t] = Found(t, f"[{col}] IN (SELECT [{pcol}] FROM [{parent}] WHERE {p.where})",
                                     f"外键 {col} → {parent}.{pcol} (through {parent})", TABLES.get(t))
                    grown = True
                    break
    for t, (parent, pcols, cols) in REFERENCED.items():
        if t in tables and parent in found and t not in found:
            match = " AND ".join(f"x.[{pc}] = [{t}].[{c}]" for pc, c in zip(pcols, cols))
            found[t] = Found(t, f"EXISTS (SELECT 1 FROM [{parent}] x WHERE {match} AND x.rowid IN"
                                f" (SELECT rowid FROM [{parent}] WHERE {found[parent].where}))",
                             f"{parent} 所引用 (referenced by {parent}: {', '.join(pcols)})", TABLES.get(t))
    for log in ("audit_log", "audit_log_legacy"):
        if log in tables:
            found[log] = Found(log, AUDIT_SQL, "target 指向该客户或其投诉/任务 (target names the client)",
                               TABLES.get(log))
    for t in EXCLUDED:
        found.pop(t, None)
    return found


def undeclared(db):
    """Tables holding client records that neither ``TABLES`` nor ``EXCLUDED`` declares."""
    return sorted(t for t, f in discover(db).items() if f.entry is None)

