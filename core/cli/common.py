"""Options and output shared by every command."""

import functools
import json
import os
import sys

import click

from ..kernel.db import connect
from ..kernel.errors import BrokerCRMError, ValidationFailed


def main_group():
    class Group(click.Group):
        """Prints domain errors as one message and exits 1, never a traceback."""

        def invoke(self, ctx):
            try:
                return super().invoke(ctx)
            except ValidationFailed as e:
                for line in e.problems:
                    click.echo(line, err=True)
                if e.total > len(e.problems):
                    click.echo(f"… 另有 {e.total - len(e.problems)} 处问题 (and {e.total - len(e.problems)} more)", err=True)
                raise click.ClickException(str(e)) from None
            except BrokerCRMError as e:
                raise click.ClickException(str(e)) from None

    return Group


def db_option(f):
    @click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
                  help="SQLite 数据库文件 (default $BROKERCRM_DB or ./brokercrm.db)")
    @functools.wraps(f)
    def wrapper(*args, db_path=None, **kwargs):
        return f(*args, db_path=db_path, **kwargs)

    return wrapper


def operator_option(f):
    @click.option("--as", "operator", default=None, metavar="ID",
                  help="操作员 (operator); default $BROKERCRM_OPERATOR")
    @functools.wraps(f)
    def wrapper(*args, operator=None, **kwargs):
        return f(*args, operator=operator or os.environ.get("BROKERCRM_OPERATOR") or None, **kwargs)

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="输出 JSON (machine-readable output)")


def open_db(db_path):
    return connect(db_path)


def emit_json(data):
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def emit_json_stream(items):
    """A JSON array written item by item, so a million clients never sit in memory."""
    first = True
    click.echo("[", nl=False)
    for item in items:
        click.echo(("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False, default=str), nl=False)
        first = False
    click.echo("\n]" if not first else "]")


def show_progress(as_json=False):
    """Progress bars only for a person at a terminal, never into --json output."""
    return not as_json and sys.stderr.isatty()
