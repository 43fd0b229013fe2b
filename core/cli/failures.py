"""How a failed command ends: one clear message on stderr, never a traceback.

Every error a user can cause ends here (``common.main_group``). Plain output
prints the message (and, for rejected files, the ``file:row:column: reason``
lines); with ``--json`` stderr carries one JSON object of a stable shape::

    {"error": {"code": "invalid_input", "message": "…", "problems": ["file:2:phone: …"], "total": 1}}

``problems`` and ``total`` appear only for rejected input. The codes (see
docs/cli-errors.md): usage, invalid_input, invalid_policy, not_found,
not_a_database, busy, refused (any other domain error), io_error,
database_error, internal. Exit status: 2 for usage errors, 1 for the rest.
An unexpected error prints its type and message; BROKERCRM_DEBUG=1 shows the
traceback instead.
"""

import json
import os
import sqlite3
import sys

import click

from ..kernel.errors import BrokerCRMError, ValidationFailed
from ..kernel.locking import busy, is_busy

DEBUG_ENV = "BROKERCRM_DEBUG"


def wants_json(ctx):
    """Whether the command line asked for --json (looked up in the raw arguments, so it works for usage errors)."""
    return "--json" in ctx.meta.get("brokercrm.argv", ())


def describe(error):
    """(code, message, problems, total) for an exception."""
    if isinstance(error, ValidationFailed):
        return error.code, str(error), error.problems, error.total
    if isinstance(error, BrokerCRMError):
        code = error.code if error.code != "error" else "refused"
        return code, str(error), None, None
    if isinstance(error, click.UsageError):
        return "usage", error.format_message(), None, None
    if isinstance(error, sqlite3.OperationalError) and is_busy(error):
        return "busy", str(busy(error)), None, None
    if isinstance(error, sqlite3.DatabaseError):
        return "database_error", f"数据库错误 (database error): {error}", None, None
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return "io_error", f"{where}{error.strerror or error} (file system error)", None, None
    if isinstance(error, RecursionError):
        return "invalid_input", "输入嵌套过深 (input nested too deeply)", None, None
    return "internal", (f"内部错误 (internal error): {type(error).__name__}: {error}; "
                        f"设 {DEBUG_ENV}=1 可看到详情 (set {DEBUG_ENV}=1 for the traceback)"), None, None


def fail(ctx, error):
    """Print ``error`` for a person or, with --json, as JSON on stderr; exit 1 (2 for usage errors)."""
    if os.environ.get(DEBUG_ENV) and not isinstance(error, (BrokerCRMError, click.UsageError)):
        raise error
    code, message, problems, total = describe(error)
    status = 2 if code == "usage" else 1
    if wants_json(ctx):
        body = {"code": code, "message": message}
        if problems is not None:
            body.update(problems=problems, total=total)
        click.echo(json.dumps({"error": body}, ensure_ascii=False), err=True)
    else:
        if code == "usage" and isinstance(error, click.UsageError):
            error.show(file=sys.stderr)
            ctx.exit(status)
        for line in problems or ():
            if line != message:
                click.echo(line, err=True)
        if total and problems is not None and total > len(problems):
            click.echo(f"… 另有 {total - len(problems)} 处问题 (and {total - len(problems)} more)", err=True)
        click.echo(f"Error: {message}", err=True)
    ctx.exit(status)
