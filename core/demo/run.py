"""`brokercrm demo`: a fresh database with a realistic synthetic book, classified and served.

The demo goes through the same doors as real data: it writes the files a
branch would export (one per branch, in the encodings branches actually use),
imports them with the real, validating importers, scores the questionnaires
with the policy in force and runs the real classification.

Clobbering: the demo rebuilds its database from scratch every time, so it
only ever deletes a database that it built itself. Such a database carries
``DEMO_APPLICATION_ID`` in the SQLite header (``PRAGMA application_id``); any
other existing file at the path is refused with a message, untouched.
"""

import socket
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from .. import plugins
from ..governance import approvals
from ..trust import audit, identity, keys, operators
from ..trust import root as trust_root
from ..book import branches as branches_lib
from . import synth
from . import programmes_story, story
from ..classify.engine import classify
from ..imports import import_assessments, import_clients
from ..staff import managers
from ..kernel.db import connect, readonly_uri
from ..kernel import wal
from ..kernel.errors import BrokerCRMError
from ..policy.sets import publish_defaults
from ..kernel.timeutil import today as local_today
from ..site.serve import demo_site

DEFAULT_DB = "demo.db"
DEFAULT_PORT = 8001
DEFAULT_CLIENTS = 5000
# "BCMD" — brokercrm demo. Stored in the database header, invisible in the tables.
DEMO_APPLICATION_ID = 0x42434D44
# The demo's operators: the root head-office operator and one branch operator, whose
# unencrypted keys live in <db>_files/keys/ (a demo convenience, never a practice).
ROOT = "hq"
BRANCH_OPERATOR = ("ty01", "TY01")

# How each branch hands over its book: Taiyuan saves from Chinese Excel (GBK,
# Chinese headers), Beijing exports UTF-8 with Chinese headers, Shanghai's
# system writes UTF-8 with the standard English column names.
EXPORT_FORMATS = {
    "TY01": {"encoding": "gbk", "chinese_headers": True},
    "BJ01": {"encoding": "utf-8-sig", "chinese_headers": True},
    "SH01": {"encoding": "utf-8", "chinese_headers": False},
}


@dataclass
class DemoResult:
    db: str
    files: dict
    clients: int
    assessments: int
    steps: dict = field(default_factory=dict)  # step -> seconds
    run: object = None  # classify.RunResult

    def as_dict(self):
        return {
            "db": self.db, "files": self.files, "clients": self.clients, "assessments": self.assessments,
            "seconds": {k: round(v, 3) for k, v in self.steps.items()},
            "classification": self.run.as_dict() if self.run else None,
        }


def is_demo_database(path):
    """True if ``path`` is a SQLite file this command built (its header carries the demo id)."""
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True)
        try:
            return conn.execute("PRAGMA application_id").fetchone()[0] == DEMO_APPLICATION_ID
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def _sidecars(path):
    return [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal")]


def prepare_path(path):
    """Make room for a fresh demo database at ``path``, refusing to delete anything else."""
    path = Path(path)
    if path.is_dir():
        raise BrokerCRMError(f"{path} 是目录 (is a directory); 请用 --db 指定文件 (give a file with --db)")
    if path.exists() and path.stat().st_size > 0 and not is_demo_database(path):
        raise BrokerCRMError(
            f"{path} 已存在且不是演示数据库, 不会覆盖 (exists and was not built by `brokercrm demo`; "
            f"refusing to overwrite it). 请用 --db 指定新文件 (choose another file with --db)"
        )
    for p in [path, *_sidecars(path), trust_root.root_path(path)]:
        if p.exists():
            p.unlink()
    keys_dir = keys_dir_for(path)
    if keys_dir.is_dir():
        for key_file in keys_dir.glob("*.key"):
            key_file.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)


def keys_dir_for(db_path):
    return files_dir_for(db_path) / "keys"


def make_operators(db, db_path):
    """The demo's root head-office operator; its key file goes to the demo's keys folder."""
    folder = keys_dir_for(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    key = keys.generate()
    keys.save_private(key, folder / f"{ROOT}.key")
    return operators.bootstrap(db, ROOT, trust_root.root_path(db_path), key)


def add_branch_operator(db, db_path, actor):
    user, branch = BRANCH_OPERATOR
    _, key = operators.add(db, actor, user, "branch", branch=branch)
    keys.save_private(key, keys_dir_for(db_path) / f"{user}.key")


# Two account managers per branch (issue 14): each branch's book is shared between them.
ACCOUNT_MANAGERS = ("am1", "am2")


def add_account_managers(db, db_path, actor):
    """Certify two account managers per branch and share each branch's clients between them."""
    for code in synth.BRANCHES:
        names = [f"{code.lower()}_{m}" for m in ACCOUNT_MANAGERS]
        for user in names:
            _, key = operators.add(db, actor, user, "account_manager", branch=code)
            keys.save_private(key, keys_dir_for(db_path) / f"{user}.key")
        managers.distribute(db, actor, code, names, reason="演示: 初始分配 (demo: first assignment)")


def demo_actor(db_path, user=ROOT):
    """An authenticated demo operator, from the key the demo wrote."""
    db = connect(db_path)
    try:
        key = keys.load_private(keys_dir_for(db_path) / f"{user}.key")
        return identity.authenticate(db, user, key, trust_root.for_db(db))
    finally:
        db.close()


def approve_demo_plugin(db, db_path, actor, today, name="brokercrm-taiyuan"):
    """If the 太原 plugin is installed: its branch operator requests, head office approves."""
    with plugins.load() as host:
        if host.get(name) is None or host.get(name).error:
            return None
        requester = demo_actor(db_path, BRANCH_OPERATOR[0])
        row = approvals.request(db, host, requester, name, BRANCH_OPERATOR[1], today=today,
                                note="演示: 营业部细化分类 (demo: the branch's refinement)")
        approvals.approve(db, host, actor, row["id"], today=today)
    return name


def files_dir_for(db_path):
    db_path = Path(db_path)
    return db_path.parent / f"{db_path.stem}_files"


def write_files(directory, n, *, seed, today, progress=False):
    """Write one client export per branch and the questionnaire file; returns their paths and counts."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {code: directory / f"clients_{code}.csv" for code in synth.BRANCHES}
    assessments_path = directory / "assessments.csv"
    writers = {
        code: synth.ClientWriter(paths[code], **EXPORT_FORMATS.get(code, {})) for code in synth.BRANCHES
    }
    bar = click.progressbar(length=n, label="生成客户 (generating)", file=sys.stderr) if progress else None
    try:
        with synth.AssessmentWriter(assessments_path) as aw:
            for i, (client, assessment) in enumerate(synth.book(n, seed=seed, today=today), start=1):
                writers[client["branch_id"]].write(client)
                if assessment is not None:
                    aw.write(assessment)
                if bar is not None and i % 500 == 0:
                    bar.update(500)
        if bar is not None:
            bar.update(n % 500)
    finally:
        for w in writers.values():
            w.close()
        if bar is not None:
            bar.render_finish()
    counts = {code: w.rows for code, w in writers.items()}
    return {"clients": {code: str(p) for code, p in paths.items()}, "assessments": str(assessments_path)}, \
        counts, aw.rows


def build(db_path=DEFAULT_DB, *, clients=DEFAULT_CLIENTS, seed=synth.DEFAULT_SEED, files_dir=None,
          progress=False, echo=None, today=None):
    """Build a fresh demo database at ``db_path``; returns a DemoResult.

    ``echo`` (a function taking one line) narrates the steps; ``progress``
    draws bars on stderr for the long ones.
    """
    if clients < 1:
        raise BrokerCRMError("--clients 须 ≥ 1 (need at least one client)")
    say = echo or (lambda line: None)
    today = today or local_today()
    db_path = Path(db_path)
    prepare_path(db_path)
    steps = {}
    started = time.perf_counter()

    db = connect(db_path)
    try:
        db.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
        actor = make_operators(db, db_path)
        policy = publish_defaults(db, actor)
        for code, (name, _, _) in synth.BRANCHES.items():
            branches_lib.add(db, actor, code, name)
        add_branch_operator(db, db_path, actor)
        say(f"数据库 (database) {db_path} · 策略 (policy) {policy.label()} · 营业部 (branches) "
            + ", ".join(synth.BRANCHES))
        steps["init"] = time.perf_counter() - started

        t = time.perf_counter()
        files, per_branch, n_assess = write_files(files_dir or files_dir_for(db_path), clients, seed=seed,
                                                  today=today, progress=progress)
        steps["generate"] = time.perf_counter() - t
        say(f"已生成 (generated) {clients:,} 位客户, {n_assess:,} 份问卷 → {Path(files['assessments']).parent}"
            f"  ({steps['generate']:.1f}s)")

        t = time.perf_counter()
        for code, path in files["clients"].items():
            if per_branch[code]:
                import_clients(db, path, actor=actor, progress=progress)
        steps["import_clients"] = time.perf_counter() - t
        imported = db.execute("SELECT count(*) FROM clients").fetchone()[0]
        say(f"已导入客户 (imported clients) {imported:,}  ({steps['import_clients']:.1f}s)")

        t = time.perf_counter()
        if n_assess:
            import_assessments(db, files["assessments"], actor=actor, progress=progress)
        steps["import_assessments"] = time.perf_counter() - t
        assessed = db.execute("SELECT count(*) FROM assessments").fetchone()[0]
        say(f"已导入问卷 (imported assessments) {assessed:,}  ({steps['import_assessments']:.1f}s)")

        add_account_managers(db, db_path, actor)
        approved = approve_demo_plugin(db, db_path, actor, today)
        if approved:
            say(f"插件 (plugin) {approved} 由营业部申请、总部批准 (requested by the branch, approved by head office)")

        t = time.perf_counter()
        run = classify(db, actor=actor, today=today)
        steps["classify"] = time.perf_counter() - t

        # Products, holdings, contacts, complaints, alerts and a second run (brokercrm.demo.story).
        t = time.perf_counter()
        story.tell(db, Path(files["assessments"]).parent, today=today, actor=actor, say=say)
        programmes_story.tell(db, today=today, actor=actor, say=say)  # issue 14: status, programmes
        steps["story"] = time.perf_counter() - t

        with db.atomic():
            audit.record(db, "demo.build", actor=actor, target=str(db_path.name),
                         detail={"clients": imported, "assessments": assessed, "seed": seed, "run_id": run.run_id})
        # Datasette serves the file --immutable, which reads the main file only:
        # fold the WAL in and leave the file in rollback-journal mode (once the
        # classification's own checkpoint has let go of the file).
        wal.settle()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode = DELETE")
    finally:
        db.close()
    steps["total"] = time.perf_counter() - started
    return DemoResult(str(db_path), files, imported, assessed, steps, run)


def port_free(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def serve_demo(db_path, port=DEFAULT_PORT):
    """Publish the demo database and serve the read-only site on 127.0.0.1 until interrupted.

    Masked snapshots go to ``<db>_site/`` beside the database; the demo
    sign-ins (head office and one per branch) are printed.
    """
    if not port_free(port):
        raise BrokerCRMError(f"端口 {port} 已被占用 (port in use); 请用 --port 换一个 (choose another with --port)")
    return demo_site(db_path, port, actor=demo_actor(db_path), echo=click.echo)

