"""`brokercrm demo`: fresh database, real importers, classification, summary, read-only serve."""

import importlib.metadata
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from brokercrm.demo import run as demo_lib
from brokercrm.cli import cli
from brokercrm.kernel.db import connect
from brokercrm.trust import identity, keys
from brokercrm.trust import root as trust_root

NOW = "2026-06-30T10:00:00+08:00"


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("BROKERCRM_NOW", NOW)
    monkeypatch.delenv("BROKERCRM_DB", raising=False)


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def counts(path, *tables):
    conn = sqlite3.connect(path)
    try:
        return [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]
    finally:
        conn.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_builds_imports_classifies_and_summarises(env, tmp_path):
    path = tmp_path / "demo.db"
    result = invoke("demo", "--clients", "300", "--no-serve", "--db", str(path))
    assert result.exit_code == 0, result.output
    assert "类别分布 (classes)" in result.output
    assert "新 →" in result.output  # the moves of a first run
    clients, assessments, classified, runs = counts(path, "clients", "assessments", "classifications", "runs")
    assert clients == 300 and classified == 300 and runs >= 2
    assert 0.75 * 300 < assessments < 0.95 * 300
    assert demo_lib.is_demo_database(path)
    db = connect(path)
    assert {r[0] for r in db.execute("SELECT code FROM branches")} == {"TY01", "BJ01", "SH01"}
    assert db.execute("SELECT count(DISTINCT branch_id) FROM clients").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM clients WHERE kind = 'institution'").fetchone()[0] >= 1
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'import.clients'").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'demo.build'").fetchone()[0] == 1
    levels = {r[0] for r in db.execute("SELECT DISTINCT risk_level FROM classifications")}
    assert {"unassessed", "C1", "C3"} <= levels
    db.close()
    files = tmp_path / "demo_files"
    # Taiyuan's export is what Chinese Excel saves: GBK with Chinese headers.
    ty = (files / "clients_TY01.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        ty.decode("utf-8")
    assert ty.decode("gbk").startswith("客户号,客户类型,姓名")
    assert (files / "assessments.csv").exists()


def taiyuan_installed():
    try:
        importlib.metadata.distribution("brokercrm-taiyuan")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def test_demo_makes_its_operators_keys_and_a_verifiable_audit_log(env, tmp_path):
    """Trust work (issue 10): the demo's first commands just work because it makes its operators' keys."""
    path = tmp_path / "demo.db"
    result = invoke("demo", "--clients", "200", "--no-serve", "--db", str(path))
    assert result.exit_code == 0, result.output
    keys_dir = tmp_path / "demo_files" / "keys"
    managers = [f"{b.lower()}_{m}.key" for b in demo_lib.synth.BRANCHES for m in demo_lib.ACCOUNT_MANAGERS]
    assert sorted(p.name for p in keys_dir.iterdir()) == sorted(["hq.key", "ty01.key", *managers])
    # every client of the demo has an account manager of its own branch (issue 14)
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM clients WHERE account_manager IS NULL"
                      " OR account_manager NOT LIKE lower(branch_id) || '_am%'").fetchone()[0] == 0
    db.close()
    assert trust_root.root_path(path).exists()
    hq, ty = demo_lib.demo_actor(path), demo_lib.demo_actor(path, "ty01")
    assert (hq.id, hq.role, hq.branch) == ("hq", "headoffice", None)
    assert (ty.id, ty.role, ty.branch) == ("ty01", "branch", "TY01")
    # Someone else's key does not make you hq.
    db = connect(path)
    with pytest.raises(identity.AuthenticationError):
        identity.authenticate(db, "hq", keys.load_private(keys_dir / "ty01.key"), trust_root.for_db(db))
    db.close()
    verified = invoke("audit", "verify", "--json", "--db", str(path))
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["ok"] is True
    # The demo's commands work with those keys, as the README's tour runs them.
    shown = invoke("clients", "list", "--as", "ty01", "--key", str(keys_dir / "ty01.key"), "--json",
                   "--db", str(path))
    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.output)
    assert listed and {c["branch_id"] for c in listed} == {"TY01"}


def test_demo_has_the_branch_request_and_head_office_approve_the_taiyuan_plugin(env, tmp_path):
    path = tmp_path / "demo.db"
    result = invoke("demo", "--clients", "200", "--no-serve", "--json", "--db", str(path))
    assert result.exit_code == 0, result.output
    plugins = json.loads(result.output)["classification"]["plugins"]
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT plugin, branch, requested_by, status, decided_by FROM approvals").fetchall()
    signed = conn.execute("SELECT operator, action, target FROM audit_log WHERE action LIKE 'approval.%'"
                          " ORDER BY id").fetchall()
    conn.close()
    assert json.loads(result.output)["classification"]["status"] == "ok"
    if not taiyuan_installed():
        assert rows == [] and signed == [] and plugins["applied"] == []
        return
    assert rows == [("brokercrm-taiyuan", "TY01", "ty01", "approved", "hq")]
    assert signed == [("ty01", "approval.request", "plugin:brokercrm-taiyuan@TY01"),
                      ("hq", "approval.approve", "plugin:brokercrm-taiyuan@TY01")]
    assert [(p["plugin"], p["branch"]) for p in plugins["applied"]] == [("brokercrm-taiyuan", "TY01")]
    assert plugins["failed"] == [] and plugins["excluded_branches"] == []
    # The engine believes the signed decision, not the table: the gate verifies it for TY01 only.
    listed = json.loads(invoke("plugins", "list", "--json", "--db", str(path)).output)
    [taiyuan] = [p for p in listed if p["name"] == "brokercrm-taiyuan"]
    assert {code: st["state"] for code, st in taiyuan["branches"].items()} == {
        "TY01": "approved", "BJ01": "none", "SH01": "none"}


def test_demo_without_the_plugin_installed_approves_nothing(env, tmp_path):
    path = tmp_path / "demo.db"
    assert invoke("demo", "--clients", "20", "--no-serve", "--db", str(path)).exit_code == 0
    db = connect(path)
    try:
        before = db.execute("SELECT count(*) FROM approvals").fetchone()[0]
        assert demo_lib.approve_demo_plugin(db, path, demo_lib.demo_actor(path), NOW[:10],
                                            name="brokercrm-not-installed") is None
        assert db.execute("SELECT count(*) FROM approvals").fetchone()[0] == before
    finally:
        db.close()


def test_demo_replaces_its_own_database(env, tmp_path):
    path = tmp_path / "demo.db"
    assert invoke("demo", "--clients", "120", "--no-serve", "--db", str(path)).exit_code == 0
    old_key = (tmp_path / "demo_files" / "keys" / "hq.key").read_bytes()
    first = json.loads(invoke("demo", "--clients", "150", "--no-serve", "--db", str(path), "--json").output)
    assert first["clients"] == 150
    assert counts(path, "clients")[0] == 150
    db = connect(path)
    assert db.execute("SELECT count(*) FROM runs WHERE kind = 'classify'").fetchone()[0] == 2
    db.close()
    # A new database, a new trust root, new keys: the old ones are gone, the new ones work.
    assert (tmp_path / "demo_files" / "keys" / "hq.key").read_bytes() != old_key
    assert demo_lib.demo_actor(path).id == "hq"


def test_demo_tells_the_whole_story(env, tmp_path):
    """After the demo every report on the site has rows: products, holdings, moves, complaints, tasks…"""
    path = tmp_path / "demo.db"
    result = invoke("demo", "--clients", "400", "--no-serve", "--db", str(path))
    assert result.exit_code == 0, result.output
    # --no-serve still says how to sign in.
    assert "演示登录" in result.output and "demo-hq" in result.output and "demo-ty01" in result.output
    db = connect(path)
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    assert {r[0] for r in db.execute("SELECT DISTINCT risk_level FROM products")} == {"R1", "R2", "R3", "R4", "R5"}
    assert one("SELECT count(*) FROM holdings") > 100
    # Mismatches, some confirmed in writing and some not.
    assert one("SELECT count(*) FROM suitability_exceptions WHERE verdict = 'mismatch' AND confirmation_id IS NOT NULL") > 0
    assert one("SELECT count(*) FROM suitability_exceptions WHERE verdict = 'mismatch' AND confirmation_id IS NULL") > 0
    # Two classification runs, with moves between them.
    runs = [r[0] for r in db.execute("SELECT id FROM runs WHERE kind = 'classify' AND status = 'ok' ORDER BY id")]
    assert len(runs) == 2
    assert one(f"SELECT count(*) FROM classification_history WHERE run_id = {runs[1]} AND old_class != new_class") > 0
    # Complaints at several steps, one past its deadline and still open.
    assert one("SELECT count(DISTINCT state) FROM complaints") >= 3
    assert one("SELECT count(*) FROM complaints WHERE informed_at IS NULL AND due_at < "
               "(SELECT max(finished_at) FROM runs)") >= 1
    # Overdue and done tasks, a behaviour alert, care moments.
    assert one("SELECT count(*) FROM tasks WHERE status = 'done'") > 0
    assert one("SELECT count(*) FROM tasks WHERE status = 'open' AND due_at < (SELECT max(finished_at) FROM runs)") > 0
    assert one("SELECT count(*) FROM behaviour_flags") >= 1
    assert one("SELECT count(*) FROM events WHERE kind = 'behaviour_alert'") >= 1
    assert one("SELECT count(*) FROM care_moments") >= 1
    db.close()


def test_demo_refuses_a_database_it_did_not_build(run, db_path):
    """The `run` fixture points --db at a real brokercrm database: the demo must leave it alone."""
    before = db_path.read_bytes()
    result = run("demo", "--clients", "50", "--no-serve", ok=False, operator=None)  # the demo takes no --as
    assert result.exit_code == 1
    assert "不会覆盖" in result.output and "Traceback" not in result.output
    assert db_path.read_bytes() == before


def test_demo_refuses_a_file_that_is_not_a_database(env, tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("客户名单, 不是数据库", encoding="utf-8")
    result = invoke("demo", "--clients", "10", "--no-serve", "--db", str(path))
    assert result.exit_code == 1
    assert path.read_text(encoding="utf-8") == "客户名单, 不是数据库"


def test_demo_json_is_deterministic_by_seed(env, tmp_path):
    a = json.loads(invoke("demo", "--clients", "200", "--no-serve", "--json", "--db", str(tmp_path / "a.db")).output)
    b = json.loads(invoke("demo", "--clients", "200", "--no-serve", "--json", "--db", str(tmp_path / "b.db")).output)
    c = json.loads(invoke("demo", "--clients", "200", "--no-serve", "--json", "--seed", "9",
                          "--db", str(tmp_path / "c.db")).output)
    assert a["classification"]["classes"] == b["classification"]["classes"]
    assert a["classification"]["classes"] != c["classification"]["classes"]
    assert a["clients"] == 200 and a["assessments"] == b["assessments"]
    assert set(a["seconds"]) >= {"generate", "import_clients", "import_assessments", "classify", "total"}


def test_demo_serves_through_serve_demo(env, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(demo_lib, "serve_demo", lambda db, port: calls.append((db, port)) or 0)
    result = invoke("demo", "--clients", "30", "--port", "8123", "--db", str(tmp_path / "d.db"))
    assert result.exit_code == 0, result.output
    assert calls == [(str(tmp_path / "d.db"), 8123)]


def test_serve_demo_publishes_and_serves_the_site_on_localhost(env, tmp_path, monkeypatch):
    from brokercrm.site import serve as serve_lib

    seen = []
    monkeypatch.setattr(serve_lib, "serve", lambda out, host, port: seen.append((Path(out), host, port)))
    monkeypatch.delenv("BROKERCRM_SITE_USERS", raising=False)
    invoke("demo", "--clients", "40", "--no-serve", "--db", str(tmp_path / "x.db"))
    port = free_port()
    assert demo_lib.serve_demo(tmp_path / "x.db", port) == 0
    out, host, got_port = seen[0]
    assert (host, got_port) == ("127.0.0.1", port)
    assert out == tmp_path / "x_site" and (out / "hq.db").exists()
    # The snapshot is masked in the file itself.
    names = [r[0] for r in sqlite3.connect(out / "hq.db").execute("SELECT name FROM clients LIMIT 20")]
    assert names and all("*" in n for n in names)


def test_demo_fails_fast_when_the_port_is_taken(env, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = invoke("demo", "--clients", "30", "--port", str(port), "--db", str(tmp_path / "d.db"))
    assert result.exit_code == 1 and "端口" in result.output
    assert not (tmp_path / "d.db").exists()


def _console_script():
    script = Path(sys.executable).parent / "brokercrm"
    return [str(script)] if script.exists() else [shutil.which("brokercrm")]


def test_demo_as_a_real_subprocess(tmp_path):
    """The console script, in a fresh directory: demo.db appears there."""
    env = {**os.environ, "BROKERCRM_NOW": NOW}
    env.pop("BROKERCRM_DB", None)
    proc = subprocess.run([*_console_script(), "demo", "--clients", "300", "--no-serve"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "类别分布 (classes)" in proc.stdout
    assert counts(tmp_path / "demo.db", "clients", "classifications") == [300, 300]


def test_demo_serves_read_only_over_http(tmp_path):
    """The whole path once: build, then Datasette answers on 127.0.0.1 with the demo's rows."""
    port = free_port()
    env = {**os.environ, "BROKERCRM_NOW": NOW}
    proc = subprocess.Popen([*_console_script(), "demo", "--clients", "60", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                from site_support import sign_in

                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/login", timeout=5)  # up yet?
                client, _ = sign_in(f"http://127.0.0.1:{port}", "hq", "demo-hq")
                resp = client.get("/hq/classifications.json?_shape=array&_size=5")
                if resp.status_code != 200:
                    raise OSError(resp.status_code)
                body = resp.json()
                anonymous = urllib.request.Request(f"http://127.0.0.1:{port}/hq/classifications.json")
                try:
                    urllib.request.urlopen(anonymous, timeout=5)
                    raise AssertionError("an anonymous visitor read a table")
                except urllib.error.HTTPError as e:
                    assert e.code in (302, 401, 403)
                break
            except OSError:
                time.sleep(0.5)
        assert body is not None, proc.stdout.read1().decode() if proc.poll() is not None else "no answer"
        assert len(body) == 5 and {"client_id", "class"} <= set(body[0])
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the demo and its Datasette child
        except ProcessLookupError:
            pass
        proc.wait(timeout=20)
