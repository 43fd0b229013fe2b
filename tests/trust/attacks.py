"""What the attacker in tests/trust uses: the database file opened with plain sqlite3, plugins.

Nothing here goes through brokercrm's library: an attacker with write access
to the database file has ``sqlite3`` and drops whatever trigger is in the way.
"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import add_client

REPO = Path(__file__).resolve().parents[2]


def raw(db_path):
    """The database file as sqlite3 sees it, autocommit: the attacker's own connection."""
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=10)
    return conn


def drop_triggers(conn, table):
    """Drop every trigger on ``table`` (what an attacker with the file does first); their names."""
    names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                                        [table])]
    for name in names:
        conn.execute(f"DROP TRIGGER [{name}]")
    return names


def rows(conn, sql, params=()):
    cur = conn.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur]


def audit_rows(conn):
    return rows(conn, "SELECT * FROM audit_log ORDER BY id")


def classes(db):
    return dict(db.execute("SELECT client_id, class FROM classifications ORDER BY client_id").fetchall())


def rules(cls="A", reason="plugin"):
    """Plugin source whose classification_adjustments sets every client to ``cls``."""
    return f"""
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    return [{{"when": {{"field": "total_assets", "op": ">=", "value": 0}}, "set_class": {cls!r}, "reason": {reason!r}}}]
"""


def cli_env(db_path, **extra):
    """A clean environment for the CLI in a subprocess (a real shell session)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROKERCRM_") and k != "PYTHONPATH"}
    env.update({"BROKERCRM_NOW": os.environ.get("BROKERCRM_NOW", "2026-06-30T10:00:00+08:00"),
                "BROKERCRM_DB": str(db_path)})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def brokercrm(*args, env, timeout=180, cwd=None):
    """Run the real CLI in its own process: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-c", "from brokercrm.cli import cli; cli()", *map(str, args)],
                          env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def as_json(text):
    return json.loads(text)


def misbehave(body, trigger, hook="classification_adjustments(branch, policy)"):
    """Approved while it behaves; misbehaves once ``trigger`` exists: same code, same digest."""
    return f"""
import os, sys, signal, time
from brokercrm.hookspecs import hookimpl

@hookimpl
def {hook}:
    if not os.path.exists({str(trigger)!r}):
        return []
{body}
"""


@pytest.fixture
def book(db):
    """A TY01 and a BJ01 client: the two branches the plugin attacks compare."""
    add_client(db, "T1", branch="TY01", assets=50_000)
    add_client(db, "B1", branch="BJ01", assets=50_000)
    return db
