"""Code-pinned approval, for real: pip installs a copy of the 太原 plugin, head office approves it,
someone edits the installed code, and the engine notices.

The copy is installed (not editable) into its own target directory, which
the CLI subprocesses put first on PYTHONPATH, so they discover the copy
through its entry point instead of the editable install in the venv. The
digest is ``Snapshot.digest()`` of what discovery read, as ``Host`` reports it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from brokercrm import plugins
from brokercrm.kernel.db import connect

ROOT = Path(__file__).resolve().parents[2]
NAME = "brokercrm-taiyuan"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("plugin-copy")
    copy = work / "src"
    shutil.copytree(ROOT / "plugins" / NAME, copy,
                    ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__", "tests"))
    target = work / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), str(copy)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return target


def installed_module(site):
    return site / "brokercrm_taiyuan" / "__init__.py"


def digest_in(site):
    with plugins.load(path=[str(site)], env={}) as host:
        info = host.get(NAME)
    assert info is not None and info.version == "0.1.0" and info.error is None
    assert info.digest == info.snapshot.digest()
    return info.digest


def test_editing_an_installed_file_changes_the_digest(site):
    before = digest_in(site)
    assert digest_in(site) == before  # deterministic
    module = installed_module(site)
    original = module.read_text(encoding="utf-8")
    try:
        module.write_text(original.replace("MIN_HOLDING_DAYS = 180", "MIN_HOLDING_DAYS = 30"), encoding="utf-8")
        assert digest_in(site) != before
    finally:
        module.write_text(original, encoding="utf-8")
    assert digest_in(site) == before
    # Byte-compiled caches are not code the digest pins (pip records them in RECORD).
    pyc = module.parent / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"
    pyc.parent.mkdir(exist_ok=True)
    had = pyc.read_bytes() if pyc.exists() else None
    try:
        pyc.write_bytes(b"junk")
        assert digest_in(site) == before
    finally:
        pyc.write_bytes(had) if had is not None else pyc.unlink()


def cli(site, db, *args, key=None):
    """The CLI in its own process; ``key``: the operator's key file (``--as`` names them)."""
    env = {**os.environ, "PYTHONPATH": str(site), "BROKERCRM_DB": str(db),
           "BROKERCRM_NOW": "2026-06-30T10:00:00+08:00"}
    for name in ("BROKERCRM_LOAD_PLUGINS", "BROKERCRM_OPERATOR", "BROKERCRM_KEY", "BROKERCRM_KEY_PASSPHRASE",
                 "BROKERCRM_TRUST_ROOT"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-c", "from brokercrm.cli import cli; cli()", *args,
                           *(["--key", str(key)] if key else [])],
                          capture_output=True, text=True, env=env, timeout=120)


def ok(done):
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def failed(done):
    assert done.returncode == 1, done.stdout + done.stderr
    return done


def test_approval_is_pinned_to_the_installed_code(site, tmp_path):
    db = tmp_path / "crm.db"
    clients = tmp_path / "clients.json"
    from conftest import make_id

    clients.write_text(json.dumps([{
        "client_id": "T001", "kind": "individual", "name": "王小明", "id_number": make_id("1970-03-04"),
        "phone": "13800000000", "birth_date": "1970-03-04", "branch_id": "TY01", "opened_at": "2019-05-01",
        "total_assets": 1500000, "turnover_rate": 0.4, "avg_holding_days": 400,
    }], ensure_ascii=False), encoding="utf-8")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps([{"client_id": "T001", "answered_at": "2026-01-10",
                                    **{f"q{i}": "C" for i in range(1, 13)}, "channel": "柜台",
                                    "acknowledged": "是"}]), encoding="utf-8")
    admin, ty = tmp_path / "admin.key", tmp_path / "ty.key"
    ok(cli(site, db, "init", "--admin", "admin", "--key-out", str(admin), "--no-passphrase"))
    ok(cli(site, db, "branches", "add", "TY01", "太原营业部", "--as", "admin", key=admin))
    ok(cli(site, db, "import", "clients", str(clients), "--as", "admin", key=admin))
    ok(cli(site, db, "import", "assessments", str(answers), "--as", "admin", key=admin))
    ok(cli(site, db, "operators", "add", "ty", "--role", "branch", "--branch", "TY01", "--key-out", str(ty),
           "--no-passphrase", "--as", "admin", key=admin))
    requested = json.loads(ok(cli(site, db, "approvals", "request", NAME, "--branch", "TY01", "--as", "ty", "--json",
                                  key=ty)))
    assert requested["digest"] == digest_in(site)  # the copy was discovered, not the editable install
    assert requested["impact"]["moves"] == {"B → A": 1}
    ok(cli(site, db, "approvals", "approve", str(requested["id"]), "--as", "admin", key=admin))

    def state():
        (row,) = [p for p in json.loads(ok(cli(site, db, "plugins", "list", "--json"))) if p["name"] == NAME]
        return row["branches"]["TY01"]["state"]

    assert state() == "approved"
    run = json.loads(ok(cli(site, db, "classify", "--json", "--as", "admin", key=admin)))
    assert [(a["plugin"], a["branch"]) for a in run["plugins"]["applied"]] == [(NAME, "TY01")]
    assert run["moves"] == {"新 → A": 1}

    module = installed_module(site)
    original = module.read_text(encoding="utf-8")
    try:
        # A quiet edit after approval: the engine must not run the plugin from now on. The branch
        # is left out loudly (its previous classes kept, the run partial, exit 1), never silently
        # classified as if the plugin had gone.
        module.write_text(original.replace("MIN_HOLDING_DAYS = 180", "MIN_HOLDING_DAYS = 30"), encoding="utf-8")
        assert state() == "changed since approval"
        done = failed(cli(site, db, "classify", "--json", "--as", "admin", key=admin))
        run = json.loads(done.stdout)
        assert run["plugins"]["applied"] == [] and run["plugins"]["excluded_branches"] == ["TY01"]
        (failure,) = run["plugins"]["failed"]
        assert (failure["plugin"], failure["branch"]) == (NAME, "TY01") and "code changed" in failure["error"]
        assert NAME in done.stderr and "TY01" in done.stderr and "code changed" in done.stderr
        assert run["moves"] == {}
        check = connect(db)
        try:  # T001 keeps the class the approved code gave it; the run is on record as partial
            assert check.execute("SELECT class FROM classifications WHERE client_id = 'T001'").fetchone() == ("A",)
            status, error = check.execute("SELECT status, error FROM runs ORDER BY id DESC LIMIT 1").fetchone()
            assert status == "partial" and NAME in error and "TY01" in error
        finally:
            check.close()
        text = ok(cli(site, db, "plugins", "list"))
        assert "changed since approval" in text
    finally:
        module.write_text(original, encoding="utf-8")
    assert state() == "approved"
    run = json.loads(ok(cli(site, db, "classify", "--json", "--as", "admin", key=admin)))
    assert [(a["plugin"], a["branch"]) for a in run["plugins"]["applied"]] == [(NAME, "TY01")]
