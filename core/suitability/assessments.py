"""Assessments over time: expired and expiring assessments per branch, and renewal flags.

Renewal (办法 Art. 21: re-assess when the investor's information changes):
the client importer writes every changed field to ``client_changes``; a change
to income, assets or birth date recorded after the latest assessment was
imported, that moves the value across a policy band, flags that assessment
for renewal. The flags are derived in SQL from that table on demand, so the
importer needs no knowledge of suitability.
"""

import datetime as dt

from ..kernel.client_fields import age_sql
from .policy import load as load_policy
from ..kernel.timeutil import today as local_today

LATEST = (
    "JOIN assessments a ON a.id = (SELECT x.id FROM assessments x WHERE x.client_id = c.client_id"
    " ORDER BY x.answered_at DESC, x.id DESC LIMIT 1)"
)
RENEWAL_FIELDS = {"annual_income": "income_bands", "total_assets": "asset_bands", "birth_date": "age_bands"}


def expiry_report(db, *, branch=None, today=None, days=None):
    """Per branch: clients, unassessed, expired, expiring within ``days``, valid; and the lists."""
    today = today or local_today()
    policy = load_policy(db)
    days = int(days if days is not None else policy.doc["assessments"]["expiring_days"])
    t, horizon = today.isoformat(), (today + dt.timedelta(days=days)).isoformat()
    where, params = "", []
    if branch:
        where, params = "WHERE c.branch_id = ?", [branch]
    state = (
        f"CASE WHEN a.id IS NULL THEN 'unassessed' WHEN a.expires_at <= '{t}' THEN 'expired'"
        f" WHEN a.expires_at <= '{horizon}' THEN 'expiring' ELSE 'valid' END"
    )
    latest_left = LATEST.replace("JOIN assessments", "LEFT JOIN assessments", 1)
    branches = {}
    for b, st, n in db.execute(
        f"SELECT c.branch_id, {state}, count(*) FROM clients c {latest_left} {where} GROUP BY 1, 2", params
    ):
        row = branches.setdefault(b, {"branch_id": b, "clients": 0, "unassessed": 0, "expired": 0,
                                       "expiring": 0, "valid": 0})
        row[st] += n
        row["clients"] += n
    lists = {"expired": [], "expiring": []}
    for cid, b, level, answered, expires, st in db.execute(
        f"SELECT c.client_id, c.branch_id, a.level, a.answered_at, a.expires_at, {state} FROM clients c {LATEST}"
        f" WHERE a.expires_at <= '{horizon}' {'AND c.branch_id = ?' if branch else ''}"
        " ORDER BY c.branch_id, a.expires_at, c.client_id", params
    ):
        lists[st].append({"client_id": cid, "branch_id": b, "level": level, "answered_at": answered,
                          "expires_at": expires, "days_left": (dt.date.fromisoformat(expires) - today).days})
    return {"today": t, "expiring_days": days, "branches": sorted(branches.values(), key=lambda r: r["branch_id"]),
            **lists}


def _band_sql(expr, bands):
    """Index of the band ``expr`` falls in (0 below the first cut); NULL stays NULL."""
    return "(" + " + ".join(f"({expr} >= {float(b)!r})" for b in bands) + ")"


def _band_label(index, bands):
    if index is None:
        return "空 (blank)"
    if index == 0:
        return f"<{bands[0]:,}"
    if index == len(bands):
        return f"≥{bands[-1]:,}"
    return f"{bands[index - 1]:,}–{bands[index]:,}"


def renewal_flags(db, *, branch=None, client_ids=None, today=None):
    """Clients whose latest assessment predates a band-crossing change of income, assets or age.

    Returns [{client_id, branch_id, answered_at, changes: [{field, from, to, changed_at}]}];
    personal values (birth dates) never appear, only their bands.
    """
    today = today or local_today()
    renewal = load_policy(db).doc["renewal"]
    cases_old, cases_new = [], []
    for field_, key in RENEWAL_FIELDS.items():
        bands = renewal[key]
        if field_ == "birth_date":
            old, new = age_sql(today, "x.old_value"), age_sql(today, "x.new_value")
        else:
            old, new = "CAST(x.old_value AS REAL)", "CAST(x.new_value AS REAL)"
        cases_old.append(f"WHEN '{field_}' THEN {_band_sql(old, bands)}")
        cases_new.append(f"WHEN '{field_}' THEN {_band_sql(new, bands)}")
    where, params = [], []
    if branch:
        where.append("c.branch_id = ?")
        params.append(branch)
    if client_ids is not None:
        ids = list(client_ids)
        if not ids:
            return []
        where.append(f"c.client_id IN ({', '.join('?' * len(ids))})")
        params += ids
    rows = db.execute(
        f"""SELECT client_id, branch_id, answered_at, field, old_band, new_band, changed_at FROM (
            SELECT c.client_id, c.branch_id, a.answered_at, x.field, x.changed_at,
                   CASE x.field {' '.join(cases_old)} END AS old_band,
                   CASE x.field {' '.join(cases_new)} END AS new_band
            FROM clients c {LATEST}
            JOIN client_changes x ON x.client_id = c.client_id AND x.changed_at > a.imported_at
            WHERE x.field IN ({', '.join('?' * len(RENEWAL_FIELDS))}) {'AND ' + ' AND '.join(where) if where else ''}
        ) WHERE old_band IS NOT new_band ORDER BY branch_id, client_id, changed_at""",
        [*RENEWAL_FIELDS, *params],
    ).fetchall()
    out = {}
    for cid, b, answered, field_, old, new, at in rows:
        bands = renewal[RENEWAL_FIELDS[field_]]
        item = out.setdefault(cid, {"client_id": cid, "branch_id": b, "answered_at": answered, "changes": []})
        item["changes"].append({"field": field_, "from": _band_label(old, bands), "to": _band_label(new, bands),
                                "changed_at": at})
    return list(out.values())
