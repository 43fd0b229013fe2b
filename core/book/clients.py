"""Reading the client book: lists and one client's full record."""

import json

from ..trust import audit, authz
from ..classify.compile import DIMENSIONS
from ..classify.engine import CURRENT_ROW_SQL
from ..kernel import rows
from ..kernel.masking import mask_field, mask_record
from ..kernel.registry import registry
from ..kernel.sql_filters import where_equal


# Extension point for `clients show`: features contribute sections through
# brokercrm.kernel.registry. show() calls each as fn(db, client_id, reveal=…, actor=…)
# and merges the dict it returns into the result (the CLI renders it as text).


def _client_obj(row):
    # Lists are for browsing: names are masked like everywhere else (clients show --reveal is the audited way).
    obj = mask_record(dict(row))
    obj["lowest_category"] = bool(obj.get("lowest_category")) if obj.get("lowest_category") is not None else None
    return obj


def list_clients(db, actor, *, branch=None, class_=None, limit=None, offset=0, status=None, manager=None):
    """Clients with their current classification (None where not yet classified).

    A branch operator sees only their own branch's clients. ``status`` (issue 14:
    active, dormant, …) reads ``client_status``, where a client without a row is active;
    ``manager``: one account manager's book.
    """
    branch = authz.branch_filter(actor, "client.read", branch)
    extra = []
    if status == "active":
        extra.append(("c.client_id NOT IN (SELECT client_id FROM client_status WHERE status <> 'active')", []))
    elif status:
        extra.append(("c.client_id IN (SELECT client_id FROM client_status WHERE status = ?)", [status]))
    where, params = where_equal({"c.branch_id": branch, "k.class": class_, "c.account_manager": manager}, extra=extra)
    sql = (
        "SELECT c.client_id, c.branch_id, c.kind, c.name, c.account_manager, "
        + ", ".join(f"k.[{d}]" for d in DIMENSIONS)
        + " FROM clients c LEFT JOIN classifications k ON k.client_key = c.id"
        + where
        + " ORDER BY c.client_id"
    )
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    for row in db.query(sql, params):
        yield _client_obj(row)


INTERNAL_COLUMNS = ("id", "assessment_id", "assessment_level", "assessment_lowest", "assessment_expires_at")


def get(db, client_id):
    return rows.client(db, client_id, "*")


def reasons_for(db, policy_version, values):
    """Reason text for each classified value, as recorded for that policy version."""
    texts = {
        (dim, value): reason
        for dim, value, reason in db.execute(
            "SELECT dimension, value, reason FROM policy_reasons WHERE policy_version = ?", [policy_version]
        )
    }
    return {d: texts.get((d, str(int(values[d]) if d == "lowest_category" else values[d])), "")
            for d in DIMENSIONS}


def history(db, client_id):
    """Every classification the client has had, newest first, with the reasons that made it.

    History rows record changes; the first classification is recorded by its
    run, so it is rebuilt here from the earliest change's old values (or the
    current row when nothing has changed since).
    """
    changes = list(db.query(
        "SELECT * FROM classification_history WHERE client_id = ? ORDER BY id DESC", [client_id]
    ))
    out = []
    for h in changes:
        new = {d: h[f"new_{d}"] for d in DIMENSIONS}
        old = None if h["old_class"] is None else {d: h[f"old_{d}"] for d in DIMENSIONS}
        out.append(_entry(db, h["run_id"], h["created_at"], old, new, h["reason"], h["policy_version"],
                          h["policy_digest"]))
    if changes and changes[-1]["old_run_id"] is not None:
        first = {d: changes[-1][f"old_{d}"] for d in DIMENSIONS}
        first_run = changes[-1]["old_run_id"]
    else:
        current = rows.one(db, CURRENT_ROW_SQL, [client_id])
        if current is None or changes:
            return out
        first = {d: current[d] for d in DIMENSIONS}
        first_run = current["run_id"]
    run = db.execute("SELECT finished_at, policy_version, policy_digest FROM runs WHERE id = ?",
                     [first_run]).fetchone() or (None, None, None)
    out.append(_entry(db, first_run, run[0], None, first, None, run[1], run[2]))
    return out


def _entry(db, run_id, at, old, new, plugin_reason, policy_version, policy_digest):
    changed = [d for d in DIMENSIONS if old is None or old[d] != new[d]]
    texts = reasons_for(db, policy_version, new)
    if plugin_reason:
        # A plugin moved the class: its reason (naming the grid's class) replaces the grid's.
        texts["class"] = plugin_reason
    return {
        "run_id": run_id, "at": at, "old_class": old["class"] if old else None,
        "new_class": new["class"], "old": old, "new": new, "changed": changed,
        "reason": ("首次分类 (first classification): " if old is None else "")
        + "; ".join(texts[d] for d in changed if texts[d]),
        "policy_version": policy_version, "policy_digest": policy_digest,
    }


def show(db, actor, client_id, *, reveal=False):
    """One client: the record, the classification with reasons, the history, the assessments.

    Personal data is masked unless ``reveal``; revealing is an act of its
    own (head office, or the client's own branch) and leaves a signed row in
    the audit log, committed at once.
    """
    client = get(db, client_id)
    authz.require(actor, "client.reveal" if reveal else "client.read", branch=client["branch_id"])
    if reveal:
        with db.atomic():
            audit.record(db, "client.reveal", actor=actor, target=client_id)
    else:
        client = mask_record(client)
    client["extra"] = json.loads(client["extra"]) if client.get("extra") else {}
    current = rows.one(db, CURRENT_ROW_SQL, [client_id])
    obj = {"client_id": client_id, "branch_id": client["branch_id"]}
    if current:
        for d in DIMENSIONS:
            obj[d] = current[d]
        obj["lowest_category"] = bool(current["lowest_category"])
        obj["reasons"] = reasons_for(db, current["policy_version"], obj)
        if current["adjustment"]:
            obj["reasons"]["class"] = current["adjustment"]
        obj["adjustment"] = current["adjustment"]
        obj["classified_by_run"] = current["run_id"]
        obj["policy_version"] = current["policy_version"]
    else:
        for d in DIMENSIONS:
            obj[d] = None
        obj["reasons"] = {}
    # Keys and copies the database keeps for itself; the assessments are listed below.
    obj["client"] = {k: v for k, v in client.items() if k not in INTERNAL_COLUMNS}
    obj["history"] = history(db, client_id)
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
    for section in registry().client_sections:
        obj.update(section(db, client_id, reveal=reveal, actor=actor))
    return obj


def _mask_field(field, value, reveal):
    return value if reveal else mask_field(field, value)
