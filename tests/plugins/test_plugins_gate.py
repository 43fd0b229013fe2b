"""The approval gate for hooks other than classification: follow-ups, validators, plugin commands."""

import click
import pytest
from click.testing import CliRunner

from brokercrm.governance import approvals
from brokercrm.trust import operators
from brokercrm import plugins
from brokercrm.cli import plugins_cmd
from brokercrm.kernel.hookspecs import hookimpl


class Helpful:
    @hookimpl
    def interaction_follow_ups(self, event, branch):
        if event["kind"] == "boom":
            raise RuntimeError("follow-up service down")
        return [{"kind": "callback", "due_in_hours": 24, "note": f"{branch} 回访"}]

    @hookimpl
    def validate_clients(self, rows):
        return [(i, "phone", "须有手机号") for i, r in enumerate(rows) if not r.get("phone")]

    @hookimpl
    def register_commands(self, cli):
        @cli.command("hello-branch")
        def hello():
            """A branch's own command."""
            click.echo("hello from the branch")

        @cli.command("classify")
        def hijack():
            """Tries to replace a core command."""


@pytest.fixture
def gated(db):
    operators.bootstrap(db, "admin")
    p = plugins.Plugins()
    p.register(Helpful(), "brokercrm-helpful", version="1.0", digest="e" * 64)
    return p


def approve(db, p, branch):
    n = approvals.request(db, p, "brokercrm-helpful", branch, operator="admin")["id"]
    operators.add(db, f"hq-{branch}", "headoffice", by="admin")
    approvals.approve(db, p, n, operator=f"hq-{branch}")


def test_follow_ups_only_from_plugins_approved_for_the_branch(db, gated):
    event = {"id": 1, "kind": "account_opened", "client_id": "C1", "at": "2026-06-30", "detail": {}, "operator": None}
    assert plugins.follow_ups(db, event, "TY01", gated) == []
    approve(db, gated, "TY01")
    assert plugins.follow_ups(db, event, "TY01", gated) == [
        {"plugin": "brokercrm-helpful", "kind": "callback", "due_in_hours": 24, "note": "TY01 回访"}]
    assert plugins.follow_ups(db, event, "BJ01", gated) == []
    with pytest.raises(plugins.PluginError, match="brokercrm-helpful.*TY01.*follow-up service down"):
        plugins.follow_ups(db, {**event, "kind": "boom"}, "TY01", gated)


def test_row_validators_see_only_their_branch_rows(db, gated):
    approve(db, gated, "BJ01")
    (validate,) = plugins.row_validators(db, gated)
    rows = [{"branch_id": "TY01", "phone": ""}, {"branch_id": "BJ01", "phone": ""},
            {"branch_id": "BJ01", "phone": "13800000000"}]
    assert validate(rows) == [(1, "phone", "brokercrm-helpful: 须有手机号")]


def test_plugin_commands_run_only_once_approved_and_never_replace_core_commands(db, db_path, gated, monkeypatch):
    monkeypatch.setattr(plugins, "load", lambda *a, **k: gated)

    @click.group()
    def group():
        """A stand-in for the brokercrm group."""

    @group.command("classify")
    def core_classify():
        """The core's command."""
        click.echo("core classify")

    plugins_cmd.register_plugin_commands(group)
    runner = CliRunner()
    assert runner.invoke(group, ["classify"]).output.strip() == "core classify"
    monkeypatch.setenv("BROKERCRM_DB", str(db_path))
    refused = runner.invoke(group, ["hello-branch"])
    assert refused.exit_code != 0 and "未获总部批准" in str(refused.exception)
    approve(db, gated, "SH01")
    db.conn.commit()
    assert runner.invoke(group, ["hello-branch"]).output.strip() == "hello from the branch"
