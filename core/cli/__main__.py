"""``python -m brokercrm.cli_main``: the command line without the installed script (tests, cron)."""

from .cli import cli

if __name__ == "__main__":
    cli(prog_name="brokercrm")
