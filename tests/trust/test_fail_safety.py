"""Fail-safety: a misbehaving plugin takes out only its own branch, never silently (issue 10, item 8).

Complements test_plugin_isolation.py (raise, sys.exit, KeyboardInterrupt,
os._exit, endless loop, too many rules, memory). Attacker: a branch plugin's
author (or a bug) and a branch IT person: 20,000 rules, output floods, a
corrupted reply, an approved plugin switched off, missing or failing to load,
follow-up hooks that fail or ask for absurd due times, and the worker reaching
for its parent. Defence: bounded worker processes; an approved plugin that
cannot run as approved excludes its branch, the run is partial and
``classify`` exits 1 naming plugin, branch and reason; interactions and
complaints are recorded whatever the follow-up hook does; hook outputs are
range-checked.
"""

import json
import time

import pytest

from brokercrm.classify.engine import classify
from brokercrm.plugins import Limits
from brokercrm.plugins import use as use_plugins
from brokercrm.service import interactions
from tests.conftest import add_client
from tests.trust.attacks import book, brokercrm, classes, cli_env, misbehave, rules  # noqa: F401  (book: a fixture)


def approve_bad(plugin_site, approve_plugin, source, name="brokercrm-bad", branch="TY01"):
    plugin_site.install(name, source)
    plugin_site.install("brokercrm-good", rules("A", "good"))
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-good", "BJ01")
        approve_plugin(host, name, branch)


def assert_only_ty01_out(db, result, why):
    assert classes(db) == {"B1": "A"}                      # TY01 left out, BJ01 classified with its plugin
    assert result.as_dict()["status"] == "partial"
    [failure] = result.failures
    assert failure["branch"] == "TY01" and failure["plugin"] == "brokercrm-bad", failure
    assert why in failure["error"], failure["error"]
    [(status, error)] = db.execute("SELECT status, error FROM runs").fetchall()
    assert status == "partial" and "brokercrm-bad" in error


RULE = "{'when': {'field': 'total_assets', 'op': '>=', 'value': 0}, 'shift': 1, 'reason': 'x'}"


@pytest.mark.parametrize("body, why", [
    (f"    return [{RULE}] * 20000", "too many rules"),                       # the 20,000 rules
    (f"    return [{RULE}] * 400000", "output over the limit"),               # ~30 MB of rules
    ("    return 'x' * (64 << 20)", "output over the limit"),                  # a 64 MB string
    ("    return [[1, [2]], 'x', None, {'when': 1}]", "规则"),                     # nonsense shapes
    ("    os.kill(os.getpid(), signal.SIGKILL)", "exited"),                    # dies mid-call
    ("    time.sleep(3600)", "timed out"),
    ("    import threading\n    threading.Thread(target=lambda: time.sleep(3600)).start()\n    raise SystemExit(0)",
     "SystemExit"),
])
def test_a_flooding_or_dying_plugin_takes_out_only_its_branch_quickly(book, plugin_site, approve_plugin, admin,
                                                                      tmp_path, body, why):
    # defence: worker limits (time, output bytes, rule count) and PluginError → branch excluded, run partial
    trigger = tmp_path / "now"
    approve_bad(plugin_site, approve_plugin, misbehave(body, trigger))
    trigger.touch()
    # Only the endless call needs a short time limit; the others must meet their own limit first,
    # however loaded the machine is.
    seconds = 3 if why == "timed out" else 60
    started = time.monotonic()
    with plugin_site.host(limits=Limits(seconds=seconds, memory_mb=512, rules=1000)) as host:
        result = classify(book, actor=admin, plugins=host)
    assert time.monotonic() - started < seconds + 30
    assert_only_ty01_out(book, result, why)


@pytest.mark.parametrize("garbage", [
    b"\x00\x00\x00\x07garbage",         # not JSON
    b"\x00\x00\x00\x02[]",              # JSON, not a reply
    b"\x00\x00\x00\x02\xff\xfe",        # not UTF-8
    b'\x00\x00\x00\x0c{"ok": true}',    # a reply without its result
    b'\x00\x00\x00\x0e{"hooks": 7}  ',  # a reply that is not ok nor an error
])
def test_a_plugin_that_writes_into_the_reply_channel_takes_out_only_its_branch(book, plugin_site, approve_plugin,
                                                                              admin, tmp_path, garbage):
    # defence: a reply that is not a well-formed message is the plugin's failure, not the engine's crash
    trigger = tmp_path / "now"
    body = ("    for fd in range(3, 16):\n"
            "        try:\n"
            f"            os.write(fd, {garbage!r})\n"
            "        except OSError:\n"
            "            pass\n"
            "    return []")
    approve_bad(plugin_site, approve_plugin, misbehave(body, trigger))
    trigger.touch()
    with plugin_site.host(limits=Limits(seconds=60, memory_mb=512, rules=1000)) as host:
        result = classify(book, actor=admin, plugins=host)
    assert classes(book) == {"B1": "A"} and result.as_dict()["status"] == "partial"
    assert [(f["plugin"], f["branch"]) for f in result.failures] == [("brokercrm-bad", "TY01")]


def test_twenty_thousand_rules_through_the_cli_with_head_office_limits(book, plugin_site, approve_plugin, run,
                                                                       tmp_path):
    # defence: [plugins] max_rules from head-office policy; the branch is named, classify exits 1, fast
    trigger = tmp_path / "now"
    approve_bad(plugin_site, approve_plugin, misbehave(f"    return [{RULE}] * 20000", trigger))
    trigger.touch()
    started = time.monotonic()
    result = run("classify", ok=False)
    assert time.monotonic() - started < 20
    assert result.exit_code == 1 and "brokercrm-bad" in result.output and "TY01" in result.output
    assert "too many rules" in result.output


# -- an approved plugin that cannot run as approved ------------------------------------------------

@pytest.mark.parametrize("how, why", [
    ("switched off with BROKERCRM_LOAD_PLUGINS", "未安装"),
    ("entry point removed", "未安装"),
    ("metadata renamed", "未安装"),
    ("a file of the package deleted", "代码已改"),
    ("fails at import", "RuntimeError"),
    ("syntax error in new code", "代码已改"),
])
def test_an_approved_plugin_that_cannot_run_excludes_its_branch_loudly(book, db_path, plugin_site, approve_plugin,
                                                                       actors, tmp_path, how, why):
    # defence: adjustments/gate — approved but missing, changed or unloadable → PluginError, never a silent revert
    trigger = tmp_path / "now"
    source = rules("A", "ty") + f"\nimport os\nif os.path.exists({str(trigger)!r}):\n    raise RuntimeError('no')\n"
    pkg = plugin_site.install("brokercrm-ty", source, extra_files={"brokercrm_ty/data.py": "X = 1\n"})
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-ty", "TY01")
    env = {}
    info = plugin_site.path / "brokercrm_ty-0.1.0.dist-info"
    if how.startswith("switched off"):
        env["BROKERCRM_LOAD_PLUGINS"] = "brokercrm-other"
    elif how == "entry point removed":
        (info / "entry_points.txt").write_text("")
    elif how == "metadata renamed":
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokercrm-ty2\nVersion: 0.1.0\n")
    elif how == "a file of the package deleted":
        (pkg / "data.py").unlink()
    elif how == "fails at import":
        trigger.touch()
    else:
        (pkg / "__init__.py").write_text("def (:\n")
    code, out, err = brokercrm("classify", "--json", "--as", "admin", "--key", actors.key_file("admin"),
                               env=cli_env(db_path, PYTHONPATH=plugin_site.path, **env))
    assert code == 1, err
    assert json.loads(out)["status"] == "partial"
    assert "brokercrm-ty" in err and "TY01" in err and why in err
    assert "T1" not in classes(book) and "B1" in classes(book)
    [(status,)] = book.execute("SELECT status FROM runs").fetchall()
    assert status == "partial"


# -- follow-up hooks -------------------------------------------------------------------------------

FOLLOW = "interaction_follow_ups(event, branch)"


@pytest.fixture
def ty_client(db):
    add_client(db, "T1", branch="TY01")
    return db


@pytest.mark.parametrize("body, why", [
    ("    raise ValueError('boom')", "ValueError"),
    ("    sys.exit(2)", "SystemExit"),
    ("    raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("    os._exit(9)", "exited"),
    ("    while True: pass", "timed out"),
    ("    return [{'kind': 'callback', 'due_in_hours': -5}]", "due_in_hours"),
    ("    return [{'kind': 'callback', 'due_in_hours': 10 ** 9}]", "due_in_hours"),
    ("    return [{'kind': 'callback', 'due_in_hours': float('nan')}]", "due_in_hours"),
    ("    return [{'kind': 'callback', 'due_in_hours': float('inf')}]", "due_in_hours"),
    ("    return [{'kind': 'callback', 'due_in_hours': '24'}]", "due_in_hours"),
    ("    return [{'kind': 'callback', 'due_in_hours': True}]", "due_in_hours"),
    ("    return [{'kind': '', 'due_in_hours': 1}]", "malformed"),
    ("    return [{'kind': 'callback', 'note': ['x']}]", "note"),
    ("    return 'not a list'", "列表"),
    ("    return [{'kind': 'callback', 'due_in_hours': 1}] + [42]", "malformed"),
    ("    for fd in range(3, 16):\n        try:\n            os.write(fd, b'\\x00\\x00\\x00\\x02[]')\n"
     "        except OSError:\n            pass\n    return []", "malformed reply"),   # garbage in the reply channel
])
def test_a_failing_follow_up_hook_never_loses_the_complaint(ty_client, plugin_site, approve_plugin, actors,
                                                             tmp_path, body, why):
    # defence: tasks._plugin_followups keeps the failure in plugin_errors; dispatch._follow_up range-checks
    trigger = tmp_path / "now"
    plugin_site.install("brokercrm-bad", misbehave(body, trigger, hook=FOLLOW))
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-bad", "TY01")
    trigger.touch()
    ty = actors("ty", branch="TY01")
    with plugin_site.host(limits=Limits(seconds=2, memory_mb=512)) as host:
        use_plugins(host)
        try:
            logged = interactions.log(ty_client, ty, "T1", kind="complaint", channel="counter", note="对服务不满意")
        finally:
            use_plugins(None)
    db = ty_client
    assert db.execute("SELECT count(*) FROM interactions").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM complaints WHERE id = ?", [logged["complaint"]]).fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM tasks WHERE origin LIKE 'plugin:%'").fetchone()[0] == 0
    errors = db.execute("SELECT plugin, branch, hook, error FROM plugin_errors").fetchall()
    assert errors and all(e[:3] == ("brokercrm-bad", "TY01", "interaction_follow_ups") for e in errors)
    assert any(why in e[3] for e in errors), errors


def test_a_sane_follow_up_still_makes_its_task(ty_client, plugin_site, approve_plugin, actors):
    # the positive control for the test above: range checks do not refuse good output
    plugin_site.install("brokercrm-ok", """
from brokercrm.hookspecs import hookimpl

@hookimpl
def interaction_follow_ups(event, branch):
    return [{"kind": "callback", "due_in_hours": 24, "note": "回访"}]
""")
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-ok", "TY01")
        use_plugins(host)
        try:
            interactions.log(ty_client, actors("ty", branch="TY01"), "T1", kind="call", channel="phone", note="hi")
        finally:
            use_plugins(None)
    assert ty_client.execute("SELECT count(*) FROM tasks WHERE origin = 'plugin:brokercrm-ok'").fetchone()[0] == 1
    assert ty_client.execute("SELECT count(*) FROM plugin_errors").fetchone()[0] == 0


# -- the worker reaching for its parent ------------------------------------------------------------

@pytest.mark.xfail(strict=True, reason="RESIDUAL (docs/security.md): the worker runs as the same OS user as the "
                                       "engine, so an approved plugin can signal its parent (os.kill(os.getppid(), "
                                       "SIGTERM)): the whole run dies with no run record and no partial status")
def test_a_plugin_that_signals_the_engine_takes_out_only_its_branch(book, db_path, plugin_site, approve_plugin,
                                                                    actors, tmp_path):
    # defence wanted: the worker cannot reach the engine (another uid or a PID namespace)
    trigger = tmp_path / "now"
    approve_bad(plugin_site, approve_plugin, misbehave("    os.kill(os.getppid(), signal.SIGTERM)\n    return []",
                                                       trigger))
    trigger.touch()
    code, out, err = brokercrm("classify", "--as", "admin", "--key", actors.key_file("admin"),
                               env=cli_env(db_path, PYTHONPATH=plugin_site.path))
    assert code == 1 and "brokercrm-bad" in err
    assert book.execute("SELECT status FROM runs").fetchall() == [("partial",)]


@pytest.mark.xfail(strict=True, reason="RESIDUAL (docs/security.md): the worker runs as the same OS user as the "
                                       "engine and reads the path of an unencrypted key file from /proc/<ppid>/cmdline, "
                                       "then the file; the passphrase of an encrypted key is shielded (next test)")
def test_an_approved_plugin_cannot_steal_the_key_of_the_operator_running_it(book, db_path, plugin_site,
                                                                            approve_plugin, actors, tmp_path):
    # defence wanted: the worker cannot read the engine's key file or environment (sandbox / another uid)
    loot = tmp_path / "loot"
    steal = f"""
import os
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    try:
        args = open(f"/proc/{{os.getppid()}}/cmdline", "rb").read().split(b"\\0")
        key = args[args.index(b"--key") + 1].decode()
        with open({str(loot)!r}, "wb") as f:
            f.write(open(key, "rb").read())
    except Exception:
        pass
    return []
"""
    plugin_site.install("brokercrm-thief", steal)
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-thief", "TY01")
    code, out, err = brokercrm("classify", "--as", "admin", "--key", actors.key_file("admin"),
                               env=cli_env(db_path, PYTHONPATH=plugin_site.path))
    assert code == 0
    assert not loot.exists() or b"PRIVATE KEY" not in loot.read_bytes()


def test_an_approved_plugin_cannot_read_the_passphrase_from_the_engines_environment(book, db_path, plugin_site,
                                                                                   approve_plugin, actors, tmp_path):
    # defence: the engine is not dumpable and the worker holds no capabilities (isolation._shield_engine,
    # _drop_capabilities), so /proc/<engine>/environ is closed to the plugin even as the same user
    loot = tmp_path / "loot"
    plugin_site.install("brokercrm-thief", f"""
import os
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    try:
        data = open(f"/proc/{{os.getppid()}}/environ", "rb").read()
    except OSError as e:
        data = repr(e).encode()
    with open({str(loot)!r}, "wb") as f:
        f.write(data)
    return []
""")
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-thief", "TY01")
    code, out, err = brokercrm("classify", "--as", "admin", "--key", actors.key_file("admin"),
                               env=cli_env(db_path, PYTHONPATH=plugin_site.path,
                                           BROKERCRM_KEY_PASSPHRASE="s3cret-passphrase"))
    assert code == 0, err
    assert loot.exists()                                   # the plugin ran and tried
    assert b"s3cret-passphrase" not in loot.read_bytes()
    assert b"Permission" in loot.read_bytes() or b"denied" in loot.read_bytes()
