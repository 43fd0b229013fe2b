"""Publishing read-only snapshots for the Datasette site.

``publish`` writes one snapshot for head office (``hq.db``: every branch) and
one per branch (``<CODE>.db``: only that branch's clients and their records).
Personal data is masked inside the snapshots, so nothing the site serves can
reveal it, whatever the URL.

SQLite does the copying, on every core, in two phases:

1. head office (``head_office``): each published table is copied from the
   working database by one ``INSERT … SELECT`` whose masking is SQL, two
   files side by side, all reading one moment of the book;
2. branches (``branches``), side by side: each reads its rows from the
   finished head-office snapshot through the ``branch_id`` indexes and computes
   its summaries; head office gets their union.

Memory stays flat whatever the book's size (``files``): page caches are
capped, sorts spill to temporary files, and nothing passes through Python but
free text that holds a digit (the scrubber).

The set appears at once (``switch``): everything is built in a temporary
directory, then one rename of the ``current`` link switches every snapshot and
the manifest together. A publish killed at any moment leaves the old set or
the new one; the next publish removes what the dead one left.

What is published is declared in ``specs``; tables not listed there
are never published, tables listed but not yet created are skipped.
"""

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..kernel.db import connect, db_path as resolve_db_path
from ..kernel.errors import BrokerCRMError
from ..kernel.timeutil import now
from ..trust import audit, authz
from . import branches as branch_snapshots, head_office, switch
from .files import finish_snapshot, open_snapshot
from .specs import SUMMARIES, TABLES  # noqa: F401  (re-exported)
from .switch import INSPECT, MANIFEST, fault_point, read_manifest  # noqa: F401  (re-exported)

HQ = "hq"


@dataclass
class PublishResult:
    out_dir: Path
    published_at: str
    databases: dict = field(default_factory=dict)   # name -> {"file", "scope", "tables": {t: rows}, "indexed"}
    skipped: list = field(default_factory=list)     # spec tables not in the source yet
    seconds: float = 0.0
    steps: dict = field(default_factory=dict)       # step -> CPU seconds of its thread
    phases: dict = field(default_factory=dict)      # phase -> wall seconds
    generation: str = ""
    audit_head: dict | None = None                  # the audit chain head the snapshots show

    def as_dict(self):
        return {"out_dir": str(self.out_dir), "published_at": self.published_at, "generation": self.generation,
                "databases": self.databases, "skipped": self.skipped, "seconds": round(self.seconds, 3),
                "steps": {k: round(v, 3) for k, v in self.steps.items()},
                "phases": {k: round(v, 3) for k, v in self.phases.items()}, "audit_head": self.audit_head}


def default_out_dir():
    return Path(os.environ.get("BROKERCRM_SITE_DIR") or "site")


def _inspect_entry(path, final_path, tables_rows, published_at):
    # Datasette uses the hash only for hashed URLs and download ETags, both off
    # here; a digest of what identifies the snapshot saves reading a gigabyte.
    size = os.path.getsize(path)
    ident = json.dumps([final_path.name, published_at, size, tables_rows], sort_keys=True)
    return {"hash": hashlib.sha256(ident.encode("utf-8")).hexdigest(), "size": size, "file": str(final_path),
            "tables": {t: {"count": n} for t, n in tables_rows.items()}}


def _tables_meta(published):
    return {
        b.table: {"scope": b.scope, "summary": b.summary, "branch_col": b.branch_col, "pk": b.pk,
                  "indexed": sorted({c for cols in b.indexes for c in cols[:1]} | set(b.pk[:1])),
                  "columns": [c for c, _ in b.columns], "drop_in_branch": list(b.drop_in_branch)}
        for b in published.values()
    }


def _build(src, build, stamp, result):
    """Every snapshot of the set in ``build``; returns ({name: manifest entry}, published tables, branches)."""
    wall = time.perf_counter()
    # The audit chain head is read at the moment the snapshots show: a later
    # truncation of the log shows against any published copy.
    published, result.skipped, branches, result.audit_head = head_office.build(
        src, build, result.steps, result.phases, at_moment=audit.head, day=stamp.date())
    result.phases["head office"] = time.perf_counter() - wall
    fault_point("head_office")
    hq_path = build / f"{HQ}.db"
    params = branch_snapshots.summary_params(stamp)
    policy = ""
    if "policy_versions" in published:
        conn = open_snapshot(hq_path, new=False)
        policy = conn.execute("SELECT max(version) FROM policy_versions").fetchone()[0] or ""
        conn.close()
    # The generation lets a reader check every file it opened belongs to one set.
    info = {"published_at": result.published_at, "generation": result.generation, "policy_version": policy}
    wall = time.perf_counter()
    entries, summaries = branch_snapshots.build_all(hq_path, build, branches, published, info, params, result.steps)
    result.phases["branches"] = time.perf_counter() - wall
    fault_point("branches")
    wall = time.perf_counter()
    conn = open_snapshot(hq_path, new=False)
    try:
        conn.execute("BEGIN")
        if branches:
            summaries = head_office.add_summaries(conn, summaries, {c: build / f"{c}.db" for c in branches},
                                                 result.steps)
        else:
            summaries = branch_snapshots.build_summaries(conn, published, params, False, result.steps, HQ)
        published.update(summaries)
        t = time.thread_time()
        entries = {HQ: finish_snapshot(conn, {**info, "scope": HQ, "branches": ",".join(branches)},
                                       {b.table: b.rows for b in published.values()}), **entries}
        result.steps[f"{HQ} analyze"] = time.thread_time() - t
    finally:
        conn.close()
    result.phases["head office summaries, statistics"] = time.perf_counter() - wall
    return entries, published, branches


def _publish_into(src, out, build, name, stamp):
    """Build the set in ``build`` and switch it in as generation ``name``; returns the PublishResult."""
    final = (out / name).resolve()
    result = PublishResult(out, stamp.isoformat(timespec="seconds"), generation=name)
    entries, published, branches = _build(src, build, stamp, result)
    inspect, manifest_dbs = {}, {}
    for db_name, entry in entries.items():
        file = f"{db_name}.db"
        inspect[db_name] = _inspect_entry(build / file, final / file, entry["tables"], result.published_at)
        manifest_dbs[db_name] = {"file": file, "scope": db_name, **entry}
    (build / INSPECT).write_text(json.dumps(inspect, ensure_ascii=False, indent=2), encoding="utf-8")
    (build / MANIFEST).write_text(json.dumps({
        "published_at": result.published_at, "generation": name, "hq": HQ, "branches": branches,
        "databases": manifest_dbs, "tables": _tables_meta(published), "audit_head": result.audit_head,
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    fault_point("built")
    switch.switch(out, build, name, [*(f"{n}.db" for n in entries), INSPECT, MANIFEST])
    result.databases = manifest_dbs
    return result


def publish(db_path=None, out_dir=None, *, actor):
    """Write the head-office and branch snapshots into ``out_dir``; return a PublishResult.

    The manifest carries the audit chain head at the moment the snapshots
    show, so a later truncation of the log shows against any published copy;
    the publish itself is a signed audit row in the working database.
    """
    authz.require(actor, "publish.run")
    started = time.perf_counter()
    src = resolve_db_path(db_path)
    if not src.exists():
        raise BrokerCRMError(f"数据库 {src} 不存在 (no such database)")
    # Bring the schema up to date (and check the file is ours) before reading it.
    connect(src).close()
    out = Path(out_dir) if out_dir else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    stamp = now()
    with switch.lock(out):
        switch.remove_stale(out)
        build, name = switch.new_build_dir(out, stamp)
        try:
            result = _publish_into(src, out, build, name, stamp)
        except BaseException:
            # A failed publish leaves nothing behind (a killed one is cleaned by the next).
            shutil.rmtree(build, ignore_errors=True)
            raise
    log = connect(src)
    try:
        with log.atomic():
            audit.record(log, "publish.run", actor=actor, target=str(out.name),
                         detail={"published_at": result.published_at, "audit_head": result.audit_head,
                                 "generation": result.generation, "branches": len(result.databases) - 1})
    finally:
        log.close()
    result.seconds = time.perf_counter() - started
    return result
