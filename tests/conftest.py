"""Shared fixtures: a real SQLite file per test, initialised like `brokercrm init`."""

import datetime as dt

import pytest
from click.testing import CliRunner

from brokercrm.cli import cli
from brokercrm.db import connect
from brokercrm.policy import publish_defaults
from brokercrm.validate import id_check_char

BRANCHES = {"TY01": "太原营业部", "BJ01": "北京营业部", "SH01": "上海营业部"}
NOW = "2026-06-30T10:00:00+08:00"


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    monkeypatch.setenv("BROKERCRM_NOW", NOW)
    monkeypatch.delenv("BROKERCRM_DB", raising=False)
    monkeypatch.delenv("BROKERCRM_OPERATOR", raising=False)
    path = tmp_path / "crm.db"
    db = connect(path)
    publish_defaults(db)
    for code, name in BRANCHES.items():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, NOW])
    db.close()
    return path


@pytest.fixture
def db(db_path):
    database = connect(db_path)
    yield database
    database.close()


@pytest.fixture
def run(db_path):
    """Invoke the CLI against the test database: run("classify", "--json")."""
    runner = CliRunner()

    def invoke(*args, ok=True):
        result = runner.invoke(cli, [*args, "--db", str(db_path)], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def make_id(birth, area="140105", seq="123"):
    """A valid 18-digit resident ID for a birth date (date or 'YYYY-MM-DD')."""
    if isinstance(birth, str):
        birth = dt.date.fromisoformat(birth)
    first17 = f"{area}{birth:%Y%m%d}{seq}"
    return first17 + id_check_char(first17)


def add_client(db, client_id, *, branch="TY01", kind="individual", assets=0.0, turnover=0.0,
               holding=None, birth="1980-01-01", income=None, education=None, **extra):
    """Insert a client row directly (the importer's own tests go through the importer)."""
    row = {
        "client_id": client_id, "kind": kind, "name": "测试客户", "branch_id": branch,
        "id_number": make_id(birth), "phone": "13800000000", "birth_date": birth,
        "total_assets": assets, "turnover_rate": turnover, "avg_holding_days": holding,
        "annual_income": income, "education": education,
        "created_at": NOW, "updated_at": NOW, **extra,
    }
    cols = ", ".join(row)
    db.execute(f"INSERT INTO clients ({cols}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))
