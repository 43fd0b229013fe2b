import pytest
from click.testing import CliRunner

from brokercrm.cli import cli

ENV = ("BROKERCRM_DB", "BROKERCRM_OPERATOR", "BROKERCRM_KEY", "BROKERCRM_KEY_PASSPHRASE", "BROKERCRM_TRUST_ROOT",
       "BROKERCRM_LOAD_PLUGINS")


def walk(command, path):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, path + [name])


def test_every_command_has_help():
    """Every command and group documents itself (a missing docstring fails here)."""
    for path, command in walk(cli, []):
        assert command.help and command.help.strip(), f"brokercrm {' '.join(path)} has no help"


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """An empty working directory, no database, no operator, no key: a newcomer's first `--help`."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_commands_help_works_without_a_database_or_operator(nowhere, plugin_site):
    # An installed plugin whose import would leave a mark: `--help` must never import it (issue 10).
    marker = nowhere / "imported"
    plugin_site.install("brokercrm-noisy", f"open({str(marker)!r}, 'w').close()\n")
    runner = CliRunner()
    paths = [path for path, _ in walk(cli, [])]
    assert len(paths) > 30
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"], catch_exceptions=False)
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output and "Error" not in result.output, (path, result.output)
    assert list(nowhere.iterdir()) == [plugin_site.path]  # no brokercrm.db, no key, no trust root made
    assert not marker.exists()
