"""Who may do what, where: one deny-by-default table, decided in the library.

Every library function that acts calls ``require(actor, act, branch=…)``
before it reads, reveals or changes anything. The table below is the whole
policy: an act absent from it, a role absent from an act's row, or a branch
outside the actor's scope is refused with ``Forbidden``. The CLI never
decides; it passes the authenticated ``Actor`` down.

Scopes:
- ``FIRM``: any branch, and firm-wide acts (head office, service accounts);
- ``OWN``: only clients and records of the actor's own branch.

Roles are open-ended: a role is a name that appears in the table, or a
position of head office's positions policy (``brokercrm.staff.positions``),
whose acts and scope the actor carries from authentication (``Actor.grants``).
A position only narrows its base role: the policy may grant only acts the
table gives the base role. Acts the policy marks as needing a 证券从业资格
are refused to a person without a valid one (``Actor.unqualified_for``). ``headoffice`` is 经纪业务管理总部,
``branch`` a branch's staff, ``service`` an automation account that runs
scheduled work (nightly classification, scans, publishing) but never
decides, reveals or changes client data.
"""

from ..kernel.errors import Forbidden

FIRM, OWN = "firm", "own"
HEADOFFICE, BRANCH, SERVICE = "headoffice", "branch", "service"
ROLES = (HEADOFFICE, BRANCH, SERVICE)
ROLE_LABELS = {HEADOFFICE: "总部", BRANCH: "营业部", SERVICE: "系统服务"}

_STAFF = {HEADOFFICE: FIRM, BRANCH: OWN}
_HQ = {HEADOFFICE: FIRM}
_SCHEDULED = {HEADOFFICE: FIRM, SERVICE: FIRM}
_READ = {HEADOFFICE: FIRM, BRANCH: OWN, SERVICE: FIRM}

# act: (what it is, in Chinese, {role: scope})
ACTS = {
    # governance of the system itself
    "operator.add": ("新增操作员", _HQ),
    "operator.revoke": ("撤销操作员", _HQ),
    "operator.list": ("查看操作员", _READ),
    "operator.qualify": ("登记操作员证券从业资格", _HQ),
    "branch.add": ("新增营业部", _HQ),
    "policy.publish": ("发布总部策略", _HQ),
    "approval.request": ("申请批准插件", _STAFF),
    "approval.decide": ("审批插件 (批准/驳回/撤销)", _HQ),
    "approval.read": ("查看插件审批", _READ),
    "site.users": ("管理只读站点账号", _HQ),
    "audit.read": ("查看审计日志", _HQ),
    # the client book
    "client.read": ("查看客户 (脱敏)", _READ),
    "client.reveal": ("查看客户完整个人信息", _STAFF),
    "client.import": ("导入客户", _STAFF),
    "client.move": ("客户跨营业部迁移", _HQ),
    "client.archive": ("生成客户完整档案 (一户一档, 含完整个人信息)", _STAFF),
    "archive.retention": ("应用档案保存期限策略", _HQ),
    "client.change.request": ("申请修改客户资料", _STAFF),
    "client.change.review": ("复核客户资料修改", _STAFF),
    "assessment.import": ("导入风险测评", _STAFF),
    # classification and suitability
    "classify.run": ("运行客户分类", _SCHEDULED),
    "product.import": ("导入产品及风险等级", _HQ),
    "holding.import": ("导入持仓", _STAFF),
    "behaviour.import": ("导入交易行为", _STAFF),
    "behaviour.evaluate": ("交易行为复评", _SCHEDULED),
    "suitability.check": ("适当性匹配", _STAFF),
    "suitability.confirm": ("适当性确认 (风险警示)", _STAFF),
    "suitability.scan": ("适当性批量检查", {HEADOFFICE: FIRM, BRANCH: OWN, SERVICE: FIRM}),
    "suitability.read": ("查看适当性记录", _READ),
    "suitability.capacity": ("登记民事行为能力及监护人", _STAFF),
    "suitability.lowest_flag": ("最低类别人工标记 (总部)", _HQ),
    "investor_type.request": ("登记投资者类别证明或转换申请", _STAFF),
    "investor_type.decide": ("复核投资者类别证明或转换", _STAFF),
    "investor_type.recheck": ("专业投资者资格复核清单", _READ),
    "product.rate": ("提议产品风险等级 (总部)", _HQ),
    "product.rate.review": ("复核产品风险等级 (总部)", _HQ),
    "suitability.profile": ("登记投资目标/期限/品种 (KYC)", _STAFF),
    "suitability.withdraw": ("冷静期内撤回购买", _STAFF),
    "suitability.evidence": ("记录适当性留痕 (告知、警示、客户确认、双录)", _STAFF),
    # service
    "interaction.log": ("记录服务接触", _STAFF),
    "interaction.read": ("查看服务记录", _READ),
    "task.done": ("完成任务", _STAFF),
    "task.read": ("查看任务", _READ),
    "complaint.handle": ("处理投诉", _STAFF),
    "complaint.read": ("查看投诉", _READ),
    "care.record": ("记录关怀时刻", _STAFF),
    "care.generate": ("生成关怀任务", _SCHEDULED),
    "retention.handle": ("转销户挽留", _STAFF),
    "retention.read": ("查看挽留记录", _READ),
    "package.read": ("查看服务包", _READ),
    "order.flag": ("异常委托复核", _STAFF),
    "client.status": ("变更客户状态 (转销户办结/撤回)", _STAFF),
    "client.status.refresh": ("认定休眠客户", _SCHEDULED),
    # programmes (issue 14 item 5)
    "callback.sample": ("回访抽样", _SCHEDULED),
    "callback.record": ("记录回访", _STAFF),
    "callback.read": ("查看回访", _READ),
    "prospect.manage": ("管理潜在客户", _STAFF),
    "prospect.read": ("查看潜在客户", _READ),
    "prospect.reveal": ("查看潜在客户联系方式", _STAFF),
    "vip.refresh": ("认定贵宾客户", _SCHEDULED),
    "vip.read": ("查看贵宾客户", _READ),
    "education.manage": ("组织投资者教育活动", _STAFF),
    "education.read": ("查看投资者教育", _READ),
    "event.manage": ("组织客户活动", _STAFF),
    "event.read": ("查看客户活动", _READ),
    "points.accrue": ("积分累计", _SCHEDULED),
    "points.redeem": ("积分兑换", _STAFF),
    "points.adjust": ("积分调整 (总部)", _HQ),
    "points.read": ("查看积分", _READ),
    # KYC (issue 11 items 7 and 8: 办法 Art. 6–7, seeds 000 and 004)
    "kyc.verify": ("记录客户资料核实 (系统核验/当面确认/回访确认)", _STAFF),
    "kyc.sample": ("抽取开户回访样本", _STAFF),
    "kyc.plausibility": ("运行资料合理性检查", {HEADOFFICE: FIRM, BRANCH: OWN, SERVICE: FIRM}),
    "kyc.flag.clear": ("核实并解除资料合理性标记", _STAFF),
    "kyc.id_expiry": ("证件有效期检查", {HEADOFFICE: FIRM, BRANCH: OWN, SERVICE: FIRM}),
    "client.change.csdc": ("标记资料变更已同步中国结算", _STAFF),
    # account managers and the branch's daily reports (issue 14)
    "manager.assign": ("指定或变更客户经理", _STAFF),
    "client.note": ("记录客户投资决策风格等备注 (seed 001 第十一条)", _STAFF),
    "manager.report": ("查看客户经理业绩报表", _READ),
    "report.new_accounts": ("查看新开户及风险测评日报", _READ),
    "threshold.review": ("年末周转率阈值复核 (生成策略草案)", _HQ),
    # publishing
    "publish.run": ("发布只读站点快照", _SCHEDULED),
}


def _role_label(role):
    return ROLE_LABELS.get(role, role)


def scope(actor, act):
    """The actor's scope for ``act`` (FIRM or OWN), or ``Forbidden``."""
    if act not in ACTS:
        raise Forbidden(f"未定义的操作 {act!r}, 一律拒绝 (unknown act: denied by default)")
    label, rule = ACTS[act]
    # Only an authenticated Actor carries a verified role; anything else (a bare id) is nobody.
    role = getattr(actor, "role", None)
    granted = rule.get(role) or getattr(actor, "grants", {}).get(act)
    if not getattr(actor, "fingerprint", None) or not granted:
        who = f"{actor.id} ({_role_label(role)})" if getattr(actor, "id", None) else "未认证的操作员"
        raise Forbidden(f"{who} 无权{label} (not allowed: {act})")
    if act in getattr(actor, "unqualified_for", ()):
        raise Forbidden(f"{actor.id} 没有有效的证券从业资格, 不能{label} (a valid securities qualification is "
                        f"required: {act}; head office records it with `operators qualify`)")
    return granted


def require(actor, act, *, branch=None):
    """Allow ``act`` for ``actor`` on ``branch`` (None: firm-wide), or raise ``Forbidden``."""
    sc = scope(actor, act)
    if sc == FIRM:
        return
    if branch is None:
        raise Forbidden(f"{actor.id} 仅可{ACTS[act][0]}于本营业部 {actor.branch}, 不能全公司范围操作 (own branch only)")
    if branch != actor.branch:
        raise Forbidden(
            f"{actor.id} 是营业部 {actor.branch} 的操作员, 无权{ACTS[act][0]}于营业部 {branch} (own branch only)")


def branch_filter(actor, act, branch=None):
    """The branch a listing may show: the one asked for if allowed; a branch actor's own by default."""
    sc = scope(actor, act)
    if sc == OWN:
        branch = actor.branch if branch is None else branch
        require(actor, act, branch=branch)
    return branch


def allowed(actor, act, *, branch=None):
    try:
        require(actor, act, branch=branch)
        return True
    except Forbidden:
        return False
