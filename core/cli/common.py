"""Options and output shared by every command."""

import functools
import json
import os
import sys

import click

from tabulate import tabulate

from ..kernel.db import connect
from ..kernel.db import db_path as resolve_db_path
from ..kernel.errors import NotFound
from ..trust import identity, keys
from ..trust import root as trust_root
from . import failures


def main_group():
    class Group(click.Group):
        """Ends every failure with one clear message (JSON on stderr with --json), never a traceback
        (``failures``).

        Core commands are resolved first and never from plugin code; only a
        name that is no core command asks ``plugin_commands`` (set by
        ``plugins_cmd``), which alone may load approved plugins in-process.
        """

        plugin_commands = None

        def parse_args(self, ctx, args):
            ctx.meta["brokercrm.argv"] = tuple(args)
            return super().parse_args(ctx, args)

        def get_command(self, ctx, name):
            command = super().get_command(ctx, name)
            if command is None and self.plugin_commands is not None:
                command = self.plugin_commands(ctx, name)
            return command

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


class Credentials:
    """Who the command line says is acting: ``--as`` and ``--key`` (or their variables).

    Nothing is trusted here: ``actor()`` has the library authenticate them
    against the trust root configured for the database.
    """

    def __init__(self, operator_id, key_file):
        self.id, self.key_file = operator_id, key_file

    def __bool__(self):
        return bool(self.id)

    def actor(self, db):
        if not self.id:
            raise identity.AuthenticationError(
                "此操作须指明操作员: --as ID --key FILE (或 BROKERCRM_OPERATOR / BROKERCRM_KEY) (an operator is required)")
        if not self.key_file:
            raise identity.AuthenticationError(
                f"操作员 {self.id} 须提供其私钥: --key FILE 或 BROKERCRM_KEY (naming an operator needs their key)")
        return identity.authenticate(db, self.id, load_key(self.key_file), trust_root.for_db(db))


def load_key(path):
    """A private key file; the passphrase from BROKERCRM_KEY_PASSPHRASE, else asked at a terminal."""
    passphrase = os.environ.get(keys.ENV_PASSPHRASE)
    if passphrase is None and keys.is_encrypted(path) and sys.stdin.isatty():
        passphrase = click.prompt(f"{path} 的口令 (passphrase)", hide_input=True, err=True)
    return keys.load_private(path, passphrase)


def new_passphrase(no_passphrase):
    """The passphrase for a key file being written: none, the variable's, or asked twice."""
    if no_passphrase:
        return None
    passphrase = os.environ.get(keys.ENV_PASSPHRASE)
    if passphrase:
        return passphrase
    if not sys.stdin.isatty():
        raise keys.KeyFileError(
            f"私钥默认以口令保护: 请设置 {keys.ENV_PASSPHRASE}, 或用 --no-passphrase (a passphrase is needed)")
    return click.prompt("新私钥的口令 (passphrase for the new key)", hide_input=True, confirmation_prompt=True,
                        err=True)


def operator_option(f):
    @click.option("--as", "operator", default=None, metavar="ID",
                  help="操作员 (operator); default $BROKERCRM_OPERATOR")
    @click.option("--key", "key_file", default=None, metavar="FILE",
                  help="操作员私钥文件 (the operator's private key file); default $BROKERCRM_KEY")
    @functools.wraps(f)
    def wrapper(*args, operator=None, key_file=None, **kwargs):
        creds = Credentials(operator or os.environ.get("BROKERCRM_OPERATOR") or None,
                            key_file or os.environ.get("BROKERCRM_KEY") or None)
        return f(*args, operator=creds, **kwargs)

    return wrapper


def acting(db_path, operator):
    """(db, Actor): open the database and authenticate the operator, in one step."""
    db = open_db(db_path)
    return db, operator.actor(db)


json_option = click.option("--json", "as_json", is_flag=True, help="输出 JSON (machine-readable output)")


def open_db(db_path):
    """The existing database at ``db_path`` (only ``init`` creates one)."""
    return connect(db_path, create=False)


def require_db(db_path):
    """Refuse a missing database before a command that opens it its own way (publish)."""
    path = resolve_db_path(db_path)
    if not path.is_file():
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
