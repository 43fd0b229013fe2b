from brokercrm.cli import cli


def test_every_command_has_help():
    """Every command and group documents itself (a missing docstring fails here)."""

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, path + [name])

    for path, command in walk(cli, []):
        assert command.help and command.help.strip(), f"brokercrm {' '.join(path)} has no help"
