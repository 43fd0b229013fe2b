"""``python -m brokercrm.cli``: the command line without the installed script (tests, cron)."""

from . import cli

if __name__ == "__main__":
    cli(prog_name="brokercrm")
