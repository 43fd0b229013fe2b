"""Options and output shared by every command."""

import functools
import json
import os
import sys

import click

from tabulate import tabulate

from ..db import connect
from . import failures


def main_group():
    class Group(click.Group):
        """Ends every failure with one clear message (JSON on stderr with --json), never a traceback."""

        def parse_args(self, ctx, args):
            ctx.meta["brokercrm.argv"] = tuple(args)
            return super().parse_args(ctx, args)

        def invoke(self, ctx):
            try:
                return super().invoke(ctx)
            except (click.exceptions.Exit, click.exceptions.Abort):
                raise
            except click.UsageError as e:
                if not failures.wants_json(ctx):
                    raise
                failures.fail(ctx, e)
            except click.ClickException:
                raise
            except Exception as e:  # every other failure: a message, not a traceback (failures.py)
                failures.fail(ctx, e)

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
    """The existing database at ``db_path`` (only ``init`` creates one)."""
    return connect(db_path, create=False)


def require_db(db_path):
    """Refuse a missing database before a command that opens it its own way (publish)."""
    from ..db import db_path as resolve

    path = resolve(db_path)
    if not path.is_file():
        from ..errors import NotFound

        raise NotFound(f"{path}: 数据库不存在; 新建数据库请用 `brokercrm init --db {path}` "
                       "(no database here; only `brokercrm init` creates one)")
    return path


def echo_stream(rows, columns):
    """A long listing streamed row by row: ``columns`` is [(header, width)]; a header row, then the rows."""
    line = "  ".join(f"{{:<{w}}}" for _, w in columns)
    click.echo(line.format(*(h for h, _ in columns)).rstrip())
    click.echo("  ".join("-" * w for _, w in columns))
    for row in rows:
        click.echo(line.format(*("-" if v is None else v for v in row)).rstrip())


def echo_table(rows, headers, empty="没有记录 (none)"):
    """A plain listing: one header row, then the rows, aligned (tabulate's "simple" format)."""
    if not rows:
        click.echo(empty)
        return
    click.echo(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))


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
