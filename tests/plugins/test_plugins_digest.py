"""Code-pinned approval, for real: pip installs a copy of the 太原 plugin, head office approves it,
someone edits the installed code, and the engine notices.

The copy is installed (not editable) into its own target directory, which
the CLI subprocesses put first on PYTHONPATH, so they discover the copy
through its entry point instead of the editable install in the venv.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from brokercrm import plugins

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
    info = plugins.load(path=[str(site)], env={}).get(NAME)
    assert info is not None and info.version == "0.1.0"
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
    # Byte-compiled caches are not code the digest pins.
    (module.parent / "__pycache__").mkdir(exist_ok=True)
    (module.parent / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"junk")
    assert digest_in(site) == before


def cli(site, db, *args):
    env = {**os.environ, "PYTHONPATH": str(site), "BROKERCRM_DB": str(db),
           "BROKERCRM_NOW": "2026-06-30T10:00:00+08:00"}
    env.pop("BROKERCRM_LOAD_PLUGINS", None)
    env.pop("BROKERCRM_OPERATOR", None)
    return subprocess.run([sys.executable, "-c", "from brokercrm.cli import cli; cli()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def ok(done):
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


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
                                    **{f"q{i}": "C" for i in range(1, 13)}}]), encoding="utf-8")
    ok(cli(site, db, "init"))
    ok(cli(site, db, "branches", "add", "TY01", "太原营业部"))
    ok(cli(site, db, "import", "clients", str(clients)))
    ok(cli(site, db, "import", "assessments", str(answers)))
    ok(cli(site, db, "operators", "add", "ty", "--role", "branch", "--branch", "TY01", "--as", "admin"))
    requested = json.loads(ok(cli(site, db, "approvals", "request", NAME, "--branch", "TY01", "--as", "ty", "--json")))
    assert requested["digest"] == digest_in(site)  # the copy was discovered, not the editable install
    assert requested["impact"]["moves"] == {"B → A": 1}
    ok(cli(site, db, "approvals", "approve", str(requested["id"]), "--as", "admin"))

    def state():
        (row,) = [p for p in json.loads(ok(cli(site, db, "plugins", "list", "--json"))) if p["name"] == NAME]
        return row["branches"]["TY01"]["state"]

    assert state() == "approved"
    run = json.loads(ok(cli(site, db, "classify", "--json")))
    assert [(a["plugin"], a["branch"]) for a in run["plugins"]["applied"]] == [(NAME, "TY01")]
    assert run["moves"] == {"新 → A": 1}

    module = installed_module(site)
    original = module.read_text(encoding="utf-8")
    try:
        # A quiet edit after approval: the engine must ignore the plugin from now on.
        module.write_text(original.replace("MIN_HOLDING_DAYS = 180", "MIN_HOLDING_DAYS = 30"), encoding="utf-8")
        assert state() == "changed since approval"
        run = json.loads(ok(cli(site, db, "classify", "--json")))
        assert run["plugins"]["applied"] == []
        (skip,) = [s for s in run["plugins"]["skipped"] if s["plugin"] == NAME]
        assert skip["state"] == "changed since approval" and "code changed" in skip["why"]
        assert run["moves"] == {"A → B": 1}
        text = ok(cli(site, db, "plugins", "list"))
        assert "changed since approval" in text
    finally:
        module.write_text(original, encoding="utf-8")
    assert state() == "approved"
