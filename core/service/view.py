"""The service part of `clients show` (registered in ``brokercrm.book.clients.SECTIONS``):
interactions newest first, tasks, complaints, retention cases, care moments,
the service package and its due actions, and pending important-data changes."""

from . import care
from . import complaints
from ..book import data_changes
from . import interactions
from . import retention
from . import packages as service_packages
from . import tasks


def section(db, client_id, *, reveal=False, actor):
    """``actor`` is already allowed to read this client (``clients.show`` checked it)."""
    return {
        "interactions": interactions.list_for_client(db, client_id),
        "tasks": [
            {k: t[k] for k in ("id", "kind", "title", "origin", "due_at", "status", "state", "done_at")}
            for t in tasks.list_tasks(db, actor, client_id=client_id)
        ],
        "complaints": [
            {k: c[k] for k in ("id", "state", "summary", "handler", "received_at", "due_at", "flag")}
            for c in complaints.list_complaints(db, actor, client_id=client_id)
        ],
        "retention_cases": [
            {k: r[k] for k in ("id", "request", "state", "outcome", "opened_at", "closed_at")}
            for r in retention.list_cases(db, actor, client_id=client_id)
        ],
        "care_moments": care.moments_for(db, client_id),
        "service_package": service_packages.for_client(db, client_id),
        "pending_changes": [
            {k: c[k] for k in ("id", "field", "old_value", "new_value", "maker", "requested_at")}
            for c in data_changes.changes(db, state="pending", client_id=client_id, reveal=reveal)
        ],
    }


def lines(obj):
    out = []
    package = obj.get("service_package")
    if package:
        out.append(f"服务包 (service package): {package['name']} [{package['code']}] · {package['chosen_by']}")
        out.append("  服务 (services): " + "; ".join(package["services"]))
        for a in package["actions"]:
            mark = "到期 DUE" if a["due"] else "下次"
            out.append(f"  {mark} {a['due_on']}  {a['title']}  (上次 last: {(a['last'] or '无 never')[:10]})")
    if obj.get("pending_changes"):
        out.append("待复核资料修改 (pending changes, maker–checker):")
        for c in obj["pending_changes"]:
            out.append(f"  #{c['id']} {c['field']}: {c['old_value']} → {c['new_value']}  录入 {c['maker']}"
                       f" {c['requested_at']}")
    if obj.get("tasks"):
        out.append("任务 (tasks):")
        for t in obj["tasks"]:
            out.append(f"  #{t['id']} [{t['state']}] 截止 {t['due_at']}  {t['title']}  ({t['origin']})")
    if obj.get("complaints"):
        out.append("投诉 (complaints):")
        for c in obj["complaints"]:
            flag = f"  ⚠ {c['flag']}" if c["flag"] else ""
            out.append(f"  #{c['id']} {complaints.LABELS[c['state']]} {c['state']} 截止 {c['due_at']}{flag}")
    if obj.get("retention_cases"):
        out.append("转销户挽留 (retention):")
        for r in obj["retention_cases"]:
            out.append(f"  #{r['id']} {r['request']} {r['state']} {r['outcome'] or ''} 开立 {r['opened_at']}")
    if obj.get("care_moments"):
        out.append("重要时刻 (care moments):")
        for m in obj["care_moments"]:
            out.append(f"  {m['on_date']} {care.MOMENT_KINDS.get(m['kind'], m['kind'])}"
                       f"{' 每年 yearly' if m['yearly'] else ''} {m['note'] or ''}")
    if obj.get("interactions"):
        out.append("接触记录 (interactions, newest first):")
        for i in obj["interactions"]:
            score = f" 满意度 {i['satisfaction']}" if i["satisfaction"] else ""
            out.append(f"  {i['at']} {interactions.label(i['kind'])} · {interactions.CHANNELS.get(i['channel'], i['channel'])}"
                       f"{score} · {i['manager'] or '-'}: {i['note']}")
    return out


section.lines = lines
