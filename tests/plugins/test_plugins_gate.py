"""The approval gate for hooks other than classification: follow-ups, validators, plugin commands."""

import json

import pytest
from click.testing import CliRunner

from brokercrm import plugins
from brokercrm.cli import cli

# A plugin may import only the standard library, brokercrm, pluggy and its own files, so its
# command writes with print(); ``cli`` is a click group of its own that it adds commands to.
HELPFUL = """
from brokercrm.hookspecs import hookimpl


@hookimpl
def interaction_follow_ups(event, branch):
    if event["kind"] == "boom":
        raise RuntimeError("follow-up service down")
    return [{"kind": "callback", "due_in_hours": 24, "note": f"{branch} 回访"}]


@hookimpl
def validate_clients(rows):
    return [(i, "phone", "须有手机号") for i, r in enumerate(rows) if not r.get("phone")]


@hookimpl
def register_commands(cli):
    @cli.command("hello-branch")
    def hello():
        \"\"\"A branch's own command.\"\"\"
        print("hello from the branch")

    @cli.command("classify")
    def hijack():
        \"\"\"Tries to replace a core command.\"\"\"
        print("hijacked")
"""


@pytest.fixture
def gated(plugin_site):
    plugin_site.install("brokercrm-helpful", HELPFUL, version="1.0")
    with plugin_site.host() as host:
        yield host


def test_follow_ups_only_from_plugins_approved_for_the_branch(db, gated, approve_plugin):
    event = {"id": 1, "kind": "account_opened", "client_id": "C1", "at": "2026-06-30", "detail": {}, "operator": None}
    assert plugins.follow_ups(db, event, "TY01", gated) == []
    approve_plugin(gated, "brokercrm-helpful", "TY01")
    assert plugins.follow_ups(db, event, "TY01", gated) == [
        {"plugin": "brokercrm-helpful", "kind": "callback", "due_in_hours": 24, "note": "TY01 回访"}]
    assert plugins.follow_ups(db, event, "BJ01", gated) == []
    with pytest.raises(plugins.PluginError, match="brokercrm-helpful.*TY01.*follow-up service down"):
        plugins.follow_ups(db, {**event, "kind": "boom"}, "TY01", gated)


def test_row_validators_see_only_their_branch_rows(db, gated, approve_plugin):
    assert plugins.row_validators(db, gated) == []  # nothing approved anywhere: no validators at all
    approve_plugin(gated, "brokercrm-helpful", "BJ01")
    (validate,) = plugins.row_validators(db, gated)
    rows = [{"branch_id": "TY01", "phone": ""}, {"branch_id": "BJ01", "phone": ""},
            {"branch_id": "BJ01", "phone": "13800000000"}]
    assert validate(rows) == [(1, "phone", "brokercrm-helpful: 须有手机号")]


def test_plugin_commands_run_only_once_approved_and_never_replace_core_commands(db_path, gated, approve_plugin,
                                                                                actors, plugin_site):
    runner = CliRunner()
    env = {"BROKERCRM_DB": str(db_path), "BROKERCRM_OPERATOR": "admin", "BROKERCRM_KEY": str(actors.key_file("admin"))}
    # Not approved: the command does not exist (the plugin is not even loaded to look).
    refused = runner.invoke(cli, ["hello-branch"], env=env)
    assert refused.exit_code == 2 and "No such command 'hello-branch'" in refused.output
    approve_plugin(gated, "brokercrm-helpful", "SH01")
    hello = runner.invoke(cli, ["hello-branch"], env=env)
    assert hello.exit_code == 0 and hello.output.strip() == "hello from the branch"
    # A core name always resolves to the core's command.
    core = runner.invoke(cli, ["classify", "--json"], env=env)
    assert core.exit_code == 0, core.output
    assert "hijacked" not in core.output and json.loads(core.output)["policy_version"] == 1
    assert "hijack" not in runner.invoke(cli, ["classify", "--help"], env=env).output
    # Changed since approval: its commands are gone again, not run from the new code.
    module = plugin_site.path / "brokercrm_helpful" / "__init__.py"
    module.write_text(module.read_text().replace("hello from the branch", "changed"))
    changed = runner.invoke(cli, ["hello-branch"], env=env)
    assert changed.exit_code == 2 and "No such command 'hello-branch'" in changed.output
