"""Retention (办法 Art. 32: records kept ≥ 20 years), enforced inside SQLite.

The retention policy (``policies/retention.toml``) names the period; the validator refuses
fewer than 20 years, the regulation's floor. The period the triggers use lives in the one-row
table ``archive_retention``: it can only grow (a trigger refuses lowering it and deleting it),
and ``apply`` raises it to the policy's value. Each retained table (``catalogue.TABLES``) has a
trigger ``archive_retain_<table>`` refusing DELETE of a row younger than the period, counted
from the row's own time column; a row whose time cannot be read is kept. What an attacker with
the file can still do is in docs/security.md.
"""

import tomllib

from ..kernel.checks import number, table, text
from ..kernel.errors import Conflict, PolicyError
from ..kernel.timeutil import now_iso
from ..policy.sets import default_policy_dir, load_file
from ..trust import audit, authz

FLOOR_YEARS = 20   # 办法 Art. 32: 保存期限不得少于20年


def validate(doc):
    r = table(doc, "retention", "")
    years = number(r, "years", "retention", minimum=FLOOR_YEARS)
    if int(years) != years:
        raise PolicyError("retention.years: 须为整数年 (whole years)")
    text(r, "basis", "retention")


def policy_doc(db):
    """(retention table of the policy in force, where it came from); the shipped file if unpublished.

    Only this file is parsed: parsing the whole policy set was two thirds of an archive's time.
    """
    row = db.execute("SELECT f.version, f.body FROM policy_files f WHERE f.name = 'retention'"
                     " AND f.version = (SELECT max(version) FROM policy_versions)").fetchone()
    if row is not None:
        return tomllib.loads(row[1])["retention"], f"策略 v{row[0]} retention"
    return load_file(default_policy_dir() / "retention.toml").doc["retention"], "默认 retention.toml (not yet published)"


def years_in_force(db):
    """The period the triggers enforce now."""
    row = db.execute("SELECT years FROM archive_retention WHERE id = 1").fetchone()
    return row[0] if row else None


def install(db, tables):
    """Create the retention triggers for ``{table: time column}`` (tables that exist only)."""
    present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table_name, since in tables.items():
        if table_name not in present:
            continue
        db.execute(
            f"""CREATE TRIGGER IF NOT EXISTS [archive_retain_{table_name}] BEFORE DELETE ON [{table_name}]
            WHEN old.[{since}] IS NULL OR julianday(old.[{since}]) IS NULL
              OR julianday(old.[{since}]) > julianday('now', '-' || (SELECT years FROM archive_retention WHERE id = 1)
                                                         || ' years')
            BEGIN SELECT RAISE(ABORT, '{table_name}: 保存期限内不得删除 (kept for the retention period, 办法 Art. 32)'); END"""
        )


def apply(db, actor):
    """Raise the enforced period to the policy's (head office); lowering is refused."""
    authz.require(actor, "archive.retention")
    doc, source = policy_doc(db)
    wanted, current = int(doc["years"]), years_in_force(db)
    if current is not None and wanted < current:
        raise Conflict(f"保存期限只能延长: 现行 {current} 年, {source} 为 {wanted} 年 (the period can only grow)")
    if wanted == current:
        return {"years": current, "changed": False, "source": source}
    with db.atomic():
        db.execute("UPDATE archive_retention SET years = ?, set_at = ?, set_by = ? WHERE id = 1",
                   [wanted, now_iso(), actor.id])
        audit.record(db, "archive.retention", actor=actor, target="archive_retention",
                     detail={"years": wanted, "was": current, "basis": doc["basis"]})
    return {"years": wanted, "changed": True, "was": current, "source": source}
