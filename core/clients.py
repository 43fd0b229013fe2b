"""Reading the client book: lists and one client's full record."""

import json

from . import audit
from .errors import BrokerCRMError
from .masking import mask_record

CLASSIFIED = ["class", "risk_level", "lowest_category", "habit", "tier", "value_segment"]

# Extension point for `clients show`: feature modules (interactions, suitability, …)
# append "module:function" refs. show() calls each as fn(db, client_id, reveal=…)
# and merges the dict it returns into the result; each may also offer
# ``fn.lines(show_result) -> [str]`` for the text output (see section_lines).
SECTIONS = [
    "brokercrm.service_view:section",
    "brokercrm.suitability:client_section",
]


def _resolve(ref):
    import importlib

    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def section_lines(obj):
    """Text lines for `clients show` from every registered section that can render."""
    lines = []
    for ref in SECTIONS:
        render = getattr(_resolve(ref), "lines", None)
        if render is not None:
            lines.extend(render(obj))
    return lines


def _client_obj(row):
    obj = dict(row)
    obj["lowest_category"] = bool(obj.get("lowest_category")) if obj.get("lowest_category") is not None else None
    return obj


def list_clients(db, *, branch=None, class_=None, limit=None, offset=0):
    """Clients with their current classification (None where not yet classified)."""
    where, params = [], []
    if branch:
        where.append("c.branch_id = ?")
        params.append(branch)
    if class_:
        where.append("k.class = ?")
        params.append(class_)
    sql = (
        "SELECT c.client_id, c.branch_id, c.kind, c.name, "
        + ", ".join(f"k.[{d}]" for d in CLASSIFIED)
        + " FROM clients c LEFT JOIN classifications k ON k.client_id = c.client_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY c.client_id"
    )
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield _client_obj(zip(names, row))


def get(db, client_id):
    cursor = db.execute("SELECT * FROM clients WHERE client_id = ?", [client_id])
    row = cursor.fetchone()
    if row is None:
        raise BrokerCRMError(f"客户 {client_id} 不存在 (no such client)")
    return dict(zip([d[0] for d in cursor.description], row))


def show(db, client_id, *, reveal=False, operator=None):
    """One client: the record, the classification with reasons, the history, the assessments.

    Personal data is masked unless ``reveal``; revealing needs a named
    operator and leaves a row in the audit log.
    """
    client = get(db, client_id)
    if reveal:
        if not operator:
            raise BrokerCRMError("查看完整个人信息须指明操作员 --as ID (revealing personal data needs an operator)")
        audit.record(db, "client.reveal", operator=operator, target=client_id)
    else:
        client = mask_record(client)
    client["extra"] = json.loads(client["extra"]) if client.get("extra") else {}
    cursor = db.execute("SELECT * FROM classifications WHERE client_id = ?", [client_id])
    current = cursor.fetchone()
    obj = {"client_id": client_id, "branch_id": client["branch_id"]}
    if current:
        current = dict(zip([d[0] for d in cursor.description], current))
        for d in CLASSIFIED:
            obj[d] = current[d]
        obj["lowest_category"] = bool(current["lowest_category"])
        obj["reasons"] = json.loads(current["reasons"])
        obj["classified_by_run"] = current["run_id"]
        obj["policy_version"] = current["policy_version"]
    else:
        for d in CLASSIFIED:
            obj[d] = None
        obj["reasons"] = {}
    obj["client"] = client
    obj["history"] = [
        {
            "run_id": r[0], "at": r[1], "old_class": r[2], "new_class": r[3],
            "old": json.loads(r[4]) if r[4] else None, "new": json.loads(r[5]),
            "reason": r[6], "policy_version": r[7], "policy_digest": r[8],
        }
        for r in db.execute(
            "SELECT run_id, created_at, old_class, new_class, old_value, new_value, reason, policy_version,"
            " policy_digest FROM classification_history WHERE client_id = ? ORDER BY id DESC",
            [client_id],
        )
    ]
    obj["assessments"] = [
        {"answered_at": r[0], "expires_at": r[1], "score": r[2], "level": r[3],
         "lowest_category": bool(r[4]), "policy_version": r[5]}
        for r in db.execute(
            "SELECT answered_at, expires_at, score, level, lowest_category, policy_version FROM assessments"
            " WHERE client_id = ? ORDER BY answered_at DESC, id DESC",
            [client_id],
        )
    ]
    obj["changes"] = [
        {"field": r[0], "old": _mask_field(r[0], r[1], reveal), "new": _mask_field(r[0], r[2], reveal),
         "at": r[3], "source": r[4]}
        for r in db.execute(
            "SELECT field, old_value, new_value, changed_at, source FROM client_changes"
            " WHERE client_id = ? ORDER BY id DESC",
            [client_id],
        )
    ]
    for ref in SECTIONS:
        obj.update(_resolve(ref)(db, client_id, reveal=reveal))
    return obj


def _mask_field(field, value, reveal):
    if reveal:
        return value
    return mask_record({field: value})[field]
