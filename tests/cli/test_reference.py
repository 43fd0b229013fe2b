"""docs/cli.md is the CLI's own help text, regenerated, never hand-edited."""

from pathlib import Path

import click

from brokercrm.cli import cli, reference

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_reference_is_up_to_date():
    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == reference.render(), (
        "docs/cli.md is out of date: .venv/bin/python -m brokercrm.cli.reference > docs/cli.md")


def test_the_reference_covers_every_core_command():
    text = reference.render()
    for name, command in cli.commands.items():
        if reference._is_core(command):
            assert f"## `brokercrm {name}`" in text
            assert command.help.splitlines()[0].strip() in text
    assert "## `brokercrm clients show`" in text and "--reveal" in text


def test_plugin_commands_stay_out_of_the_core_reference(monkeypatch):
    # What is installed on this machine must not change docs/cli.md.
    before = reference.render()

    @click.command("zzz-branch-report")
    def plugin_command():
        """A command a branch plugin registered."""

    plugin_command.callback.__module__ = "brokercrm_somebranch"
    monkeypatch.setitem(cli.commands, "zzz-branch-report", plugin_command)
    assert reference.render() == before
