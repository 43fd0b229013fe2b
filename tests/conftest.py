"""Shared fixtures: a real SQLite file per test, initialised like `brokercrm init`."""

import csv
import datetime as dt

import pytest
from click.testing import CliRunner

from brokercrm import plugins
from brokercrm.cli import cli
from brokercrm.kernel.db import connect
from brokercrm.policy.sets import publish_defaults
from brokercrm.trust import operators
from brokercrm.kernel.validate import id_check_char

BRANCHES = {"TY01": "太原营业部", "BJ01": "北京营业部", "SH01": "上海营业部"}
NOW = "2026-06-30T10:00:00+08:00"


@pytest.fixture(autouse=True)
def fresh_plugins():
    """Each test starts with no plugins chosen for the process: the first use discovers them."""
    plugins.use(None)
    yield
    plugins.use(None)


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
def admin(db):
    """A head-office operator, "admin": publishing policy and deciding requests need one."""
    operators.bootstrap(db, "admin")
    return "admin"


@pytest.fixture
def staff(db, admin):
    """Operators: admin and hq2 (head office), ty (branch TY01), bj (branch BJ01)."""
    operators.add(db, "hq2", "headoffice", by=admin)
    operators.add(db, "ty", "branch", branch="TY01", by=admin)
    operators.add(db, "bj", "branch", branch="BJ01", by=admin)
    return db


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


# -- rows and files several test packages build -------------------------------------------------

TODAY = NOW[:10]
PRODUCT_LEVELS = ["R1", "R2", "R3", "R4", "R5"]


def person(client_id="C001", birth="1980-01-01", **over):
    row = {"client_id": client_id, "kind": "individual", "name": "张三", "id_number": make_id(birth),
           "phone": "13800000000", "birth_date": birth, "branch_id": "TY01", "opened_at": "2020-05-06",
           "total_assets": "120000", "turnover_rate": "1.5", "avg_holding_days": "40",
           "annual_income": "200000", "occupation": "工程师", "education": "本科", "investment_years": "5"}
    row.update(over)
    return row


def write_csv(path, rows, header=None, encoding="utf-8"):
    columns = header or list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([r.get(c, "") for c in columns])
    return path


QUESTIONS = [f"q{i}" for i in range(1, 13)]
# Default policy: options per question are 5,4,5,4,3,4,3,3,5(multiple),4,3,5; A=1, B=2, …
LOWEST = dict.fromkeys(QUESTIONS, "A")                                   # 12 → C1, lowest category
HIGHEST = dict(zip(QUESTIONS, "EDEDCDCCEDCE"))                            # 48 → C5


def answers(client_id="C001", answered_at="2025-01-15", **over):
    row = {"client_id": client_id, "answered_at": answered_at, **LOWEST}
    row.update(over)
    return row


def add_product(db, code, level, ptype="equity"):
    db.execute(
        "INSERT INTO products (code, name, type, risk_level, risk_rank, level_source, imported_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 'test', ?, ?)",
        [code, f"产品{code}", ptype, level, PRODUCT_LEVELS.index(level) + 1, TODAY, TODAY],
    )


def add_assessment(db, client_id, level, *, lowest=0, answered="2026-01-05", expires="2028-01-05",
                   imported="2026-01-05T09:00:00+08:00"):
    db.execute(
        "INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version, answered_at,"
        " expires_at, imported_at) VALUES (?, '{}', 30, ?, ?, 1, ?, ?, ?)",
        [client_id, level, lowest, answered, expires, imported],
    )
