"""Only approved code is imported, and never into the engine (issue 10, item 3).

Attacker: a branch IT person who pip-installs a plugin and hopes its
import-time code runs (it used to, on every command, even ``--help``): to
rebind the approval check in memory, or to replace a core command such as
``approvals approve`` through ``register_commands``. Defence: discovery reads
metadata and bytes only; hooks run in worker processes; ``register_commands``
is loaded only from plugins approved for some branch and only for names that
are no core command.
"""

import os
import sys

import pytest
from click.testing import CliRunner

from brokercrm.classify.engine import classify
from brokercrm.cli import cli
from tests.conftest import add_client
from tests.trust.attacks import brokercrm, classes, cli_env, rules


def spy(marker, body=""):
    """A plugin that notes every process its module-level code runs in (pid and argv[0])."""
    return f"""
import os, sys
with open({str(marker)!r}, "a") as _f:
    _f.write(f"{{os.getpid()}} {{sys.argv[0]}}\\n")
{body}
"""


REBIND = """
import brokercrm.plugins.gate as _gate
import brokercrm.trust.audit as _audit
from brokercrm.plugins import dispatch as _dispatch
_every = lambda *a, **k: True
_audit.verify_row = lambda *a, **k: None             # every signature "verifies"
_real_in_force = _gate.in_force
def _all_branches(db, root, branch=None):              # every approval "stands" for every branch
    found = _real_in_force(db, root)
    out = dict(found)
    for (name, _), d in found.items():
        for b in ("TY01", "BJ01", "SH01"):
            out[(name, b)] = d
    return {k: v for k, v in out.items() if branch is None or k[1] == branch}
_gate.in_force = _all_branches
"""

CLASSIFY_A = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    return [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "set_class": "A", "reason": "spy"}]
"""

COMMANDS = """
def register_commands(cli):
    def hijack_classify():
        print("PWNED classify")
    cli.command("classify")(hijack_classify)

    approvals = cli.group("approvals")(lambda: None)

    def hijack_approve():
        print("PWNED approve")
    approvals.command("approve")(hijack_approve)
    cli.command("audit")(lambda: print("PWNED audit"))

    def tyreport():
        print("TY REPORT")
    cli.command("tyreport")(tyreport)
"""


@pytest.fixture
def book(db):
    for cid, branch in (("T1", "TY01"), ("B1", "BJ01"), ("S1", "SH01")):
        add_client(db, cid, branch=branch, assets=50_000)
    return db


def adjusted(db):
    return dict(db.execute("SELECT client_id, adjustment FROM classifications WHERE adjustment IS NOT NULL"))


def lines(marker):
    return marker.read_text().splitlines() if marker.exists() else []


def test_an_unapproved_plugin_is_never_imported(book, db_path, actors, plugin_site, tmp_path):
    # defence: host.discover reads metadata and bytes only (snapshot.take); nothing imports an unapproved plugin
    marker = tmp_path / "imported"
    plugin_site.install("brokercrm-spy", spy(marker, REBIND + CLASSIFY_A + COMMANDS))
    env = cli_env(db_path, PYTHONPATH=plugin_site.path)
    key = actors.key_file("admin")
    for args in (["--help"], ["classify", "--help"], ["plugins", "list"], ["plugins", "list", "--json"],
                 ["audit", "verify"], ["clients", "list", "--as", "admin", "--key", key],
                 ["approvals", "list", "--as", "admin", "--key", key], ["tyreport"], ["brokercrm-spy"],
                 ["classify", "--as", "admin", "--key", key]):
        code, out, err = brokercrm(*args, env=env)
        assert "PWNED" not in out + err and "TY REPORT" not in out
        assert not marker.exists(), args
    # Naming it in BROKERCRM_LOAD_PLUGINS (by distribution, module or entry point) imports nothing either.
    for value in ("brokercrm-spy", "brokercrm_spy", "BrokerCRM.Spy"):
        code, out, err = brokercrm("classify", "--as", "admin", "--key", key,
                                   env={**env, "BROKERCRM_LOAD_PLUGINS": value})
        assert code == 0 and not marker.exists()
    assert len(classes(book)) == 3 and adjusted(book) == {}
    assert "brokercrm_spy" not in sys.modules


def test_an_approved_plugin_runs_only_in_its_own_worker(book, plugin_site, approve_plugin, run, tmp_path):
    # defence: isolation.PluginProcess — approved code executes in a `python -I` worker, never in the engine
    marker = tmp_path / "imported"
    plugin_site.install("brokercrm-spy", spy(marker, CLASSIFY_A))
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-spy", "TY01")
    run("classify")
    seen = lines(marker)
    assert seen, "the approved plugin ran somewhere"
    assert all(int(line.split()[0]) != os.getpid() for line in seen), seen   # never the engine's process
    assert all("pytest" not in line for line in seen), seen
    assert "brokercrm_spy" not in sys.modules
    assert classes(book)["T1"] == "A"


def test_rebinding_the_approval_check_from_plugin_code_changes_nothing(book, plugin_site, approve_plugin, admin,
                                                                      tmp_path):
    # defence: the gate runs in the engine; plugin code (approved or not) only ever rebinds its worker's copy
    plugin_site.install("brokercrm-spy", spy(tmp_path / "a", REBIND + CLASSIFY_A))
    plugin_site.install("brokercrm-rogue", spy(tmp_path / "b", REBIND + CLASSIFY_A.replace('"A"', '"D"')))
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-spy", "TY01")
    with plugin_site.host() as host:
        result = classify(book, actor=admin, plugins=host)
    assert classes(book)["T1"] == "A"                      # approved where approved
    assert classes(book)["B1"] != "A" and classes(book)["S1"] != "A"
    assert "D" not in classes(book).values()               # the unapproved one nowhere
    assert result.as_dict()["status"] == "ok"
    assert [(a["plugin"], a["branch"]) for a in result.plugins["applied"]] == [("brokercrm-spy", "TY01")]


def test_register_commands_never_replaces_a_core_command(book, db_path, plugin_site, approve_plugin, run, tmp_path):
    # defence: Group.get_command resolves core commands first; plugin_command only for unknown names
    plugin_site.install("brokercrm-cmds", CLASSIFY_A + COMMANDS)
    with plugin_site.host() as host:
        approved = approve_plugin(host, "brokercrm-cmds", "TY01")
    assert approved["status"] == "approved"
    out = run("classify").output
    assert "PWNED" not in out and "运行 (run)" in out
    verify = run("audit", "verify", operator=None)
    assert "PWNED" not in verify.output and "完好" in verify.output
    approve = run("approvals", "approve", "1", ok=False)
    assert "PWNED" not in approve.output
    # What it adds under a new name works: it is approved code. (Found through BROKERCRM_DB: the
    # plugin command lookup does not see --db under Click 8.2, where resolve_command gets the args.)
    added = CliRunner().invoke(cli, ["tyreport"], env={"BROKERCRM_DB": str(db_path)}, catch_exceptions=False)
    assert added.exit_code == 0 and "TY REPORT" in added.output


def test_commands_of_an_unapproved_or_changed_plugin_do_not_exist(book, db_path, plugin_site, approve_plugin,
                                                                  tmp_path):
    # defence: plugin_command loads only plugins whose approval stands for their exact installed code
    marker = tmp_path / "imported"
    plugin_site.install("brokercrm-rogue", spy(marker, COMMANDS))
    result = CliRunner().invoke(cli, ["tyreport"], env={"BROKERCRM_DB": str(db_path)})
    assert result.exit_code == 2 and "TY REPORT" not in result.output and not marker.exists()
    plugin_site.install("brokercrm-cmds2", CLASSIFY_A + COMMANDS.replace("tyreport", "spyreport"))
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-cmds2", "TY01")
    plugin_site.install("brokercrm-cmds2", spy(marker, CLASSIFY_A + COMMANDS.replace("tyreport", "spyreport")))
    result = CliRunner().invoke(cli, ["spyreport"], env={"BROKERCRM_DB": str(db_path)})
    assert result.exit_code == 2 and "TY REPORT" not in result.output and not marker.exists()
