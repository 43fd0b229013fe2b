"""Shared fixtures: a real SQLite file per test, initialised like `brokercrm init`."""

import csv
import datetime as dt
import importlib
import textwrap

import pytest
from click.testing import CliRunner

from brokercrm import plugins as plugins_lib
from brokercrm.cli import cli
from brokercrm.governance import approvals
from brokercrm.kernel.db import connect
from brokercrm.policy.sets import publish_defaults
from brokercrm.kernel.validate import id_check_char
from brokercrm.staff import qualifications
from brokercrm.trust import identity, keys, operators
from brokercrm.trust import root as trust_root

BRANCHES = {"TY01": "太原营业部", "BJ01": "北京营业部", "SH01": "上海营业部"}
NOW = "2026-06-30T10:00:00+08:00"


ROOT = "admin"
QUALIFIED_UNTIL = "2030-12-31"


class Actors:
    """Certified operators for a test database, made on first use: ``actors("ty", branch="TY01")``.

    ``admin`` is the root head-office operator ``brokercrm init`` would make.
    Everyone else is certified by it: head office unless a ``branch`` (or
    ``role``) says otherwise. Each has a key file, so the CLI can act as them.
    """

    def __init__(self, db_path, keys_dir):
        self.db_path, self.keys_dir = db_path, keys_dir
        self.made = {}
        keys_dir.mkdir(exist_ok=True)

    def bootstrap(self, db):
        key = keys.generate()
        keys.save_private(key, self.key_file(ROOT))
        self.made[ROOT] = operators.bootstrap(db, ROOT, trust_root.root_path(self.db_path), key)
        qualifications.record(db, self.made[ROOT], ROOT, "S0000000001", QUALIFIED_UNTIL)
        return self.made[ROOT]

    def key_file(self, operator_id):
        return self.keys_dir / f"{operator_id}.key"

    def __call__(self, operator_id=ROOT, *, branch=None, role=None, qualified=True):
        """``qualified``: record a valid 证券从业资格 for them (people at a brokerage usually hold one)."""
        if operator_id not in self.made:
            db = connect(self.db_path)
            try:
                role = role or ("branch" if branch else "headoffice")
                _, key = operators.add(db, self.made[ROOT], operator_id, role, branch=branch)
                if qualified and role != "service":
                    qualifications.record(db, self.made[ROOT], operator_id, f"S{len(self.made):010d}",
                                          QUALIFIED_UNTIL)
                keys.save_private(key, self.key_file(operator_id))
                self.made[operator_id] = identity.authenticate(db, operator_id, key,
                                                               trust_root.for_db(db))
            finally:
                db.close()
        return self.made[operator_id]


@pytest.fixture(autouse=True)
def fresh_plugins():
    """Each test starts with no plugins chosen for the process: the first use discovers them."""
    plugins_lib.use(None)
    yield
    plugins_lib.use(None)


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    monkeypatch.setenv("BROKERCRM_NOW", NOW)
    for name in ("BROKERCRM_DB", "BROKERCRM_OPERATOR", "BROKERCRM_KEY", "BROKERCRM_KEY_PASSPHRASE",
                 "BROKERCRM_TRUST_ROOT", "BROKERCRM_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "crm.db"
    db = connect(path)
    actors = Actors(path, tmp_path / "keys")
    publish_defaults(db, actors.bootstrap(db))
    for code, name in BRANCHES.items():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, NOW])
    db.close()
    _ACTORS[path] = actors
    return path


_ACTORS = {}


@pytest.fixture
def actors(db_path):
    """The operators of the test database (see ``Actors``)."""
    return _ACTORS[db_path]


@pytest.fixture
def admin(actors):
    """The root head-office operator, authenticated."""
    return actors(ROOT)


@pytest.fixture
def db(db_path):
    database = connect(db_path)
    yield database
    database.close()


@pytest.fixture
def run(db_path, actors):
    """Invoke the CLI against the test database: run("classify", "--json").

    How every command identifies its operator, in one place: ``--as ID`` in the
    arguments gets that operator's ``--key`` added (if the test made them with
    ``actors``); without ``--as`` the command runs as the root ``admin``, unless
    ``operator=None`` asks for no operator at all.
    """
    runner = CliRunner()

    def invoke(*args, ok=True, operator=ROOT, env=None):
        args = [str(a) for a in args]
        if "--as" in args:
            who = args[args.index("--as") + 1]
            if "--key" not in args and who in actors.made:
                args += ["--key", str(actors.key_file(who))]
        elif operator is not None:
            args += ["--as", operator, "--key", str(actors.key_file(operator))]
        result = runner.invoke(cli, [*args, "--db", str(db_path)], catch_exceptions=False, env=env)
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
    # channel and the client's acknowledgement of the result: issue 11 item 3 (seed 001 appendix)
    row = {"client_id": client_id, "answered_at": answered_at, **LOWEST, "channel": "柜台", "acknowledged": "是"}
    row.update(over)
    return row


def add_product(db, code, level, ptype="equity"):
    db.execute(
        "INSERT INTO products (code, name, type, risk_level, risk_rank, level_source, imported_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 'test', ?, ?)",
        [code, f"产品{code}", ptype, level, PRODUCT_LEVELS.index(level) + 1, TODAY, TODAY],
    )


# The answers three-way matching reads (issue 11): q10 A (long term, steady growth) and q9 every
# kind, so a test about risk levels is not also about horizon or kind.
BROAD_PROFILE = '{"q9": "ABCDE", "q10": "A"}'


def add_assessment(db, client_id, level, *, lowest=0, answered="2026-01-05", expires="2028-01-05",
                   imported="2026-01-05T09:00:00+08:00", answers=BROAD_PROFILE):
    db.execute(
        "INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version, answered_at,"
        " expires_at, imported_at) VALUES (?, ?, 30, ?, ?, 1, ?, ?, ?)",
        [client_id, answers, level, lowest, answered, expires, imported],
    )


def grant_professional(db, maker, checker, client_id, category="8.5"):
    """Professional status the only way there is (issue 11): Art. 8 evidence recorded by one operator, approved by another."""
    from brokercrm.suitability import investor_type

    figures = ({"financial_assets": 6_000_000, "investment_years": 3} if category == "8.5"
               else {"institution_type": "commercial_bank"})
    rec = investor_type.record_evidence(db, maker, client_id, category=category, evidence_kind="资产证明",
                                        document="DOC-1", period_end="2026-05-31", **figures)
    return investor_type.review(db, checker, rec["id"], approve=True)


# -- branch plugins as real installed distributions ----------------------------------------------

class PluginSite:
    """A folder of installed plugin distributions, as pip leaves them in site-packages.

    ``install`` writes the package, its ``*.dist-info`` (METADATA, the
    ``brokercrm`` entry point, RECORD) — what discovery reads. The folder is
    on ``sys.path``, so the CLI finds these plugins like any installed one;
    ``host()`` gives a library ``Host`` that sees only them.
    """

    def __init__(self, path):
        self.path = path

    def install(self, name, source, *, version="0.1.0", module=None, extra_files=None):
        module = module or name.replace("-", "_")
        pkg = self.path / module
        pkg.mkdir(exist_ok=True)
        files = {f"{module}/__init__.py": textwrap.dedent(source), **(extra_files or {})}
        info = self.path / f"{module}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        files[f"{info.name}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        files[f"{info.name}/entry_points.txt"] = f"[brokercrm]\n{name} = {module}\n"
        for rel, text in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in files) + f"{info.name}/RECORD,,\n",
                                     encoding="utf-8")
        importlib.invalidate_caches()
        return pkg

    def host(self, **kwargs):
        return plugins_lib.load(path=[str(self.path)], **kwargs)


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return PluginSite(site)


@pytest.fixture
def no_installed_plugins(plugin_site):
    """No plugin installed (an empty site-packages) unless the test installs one; yields the host."""
    with plugin_site.host() as host:
        plugins_lib.use(host)
        try:
            yield host
        finally:
            plugins_lib.use(None)


@pytest.fixture
def approve_plugin(db_path, actors):
    """approve_plugin(host, name, branch): the branch's operator requests, the root approves; the row."""

    def approve(host, name, branch):
        db = connect(db_path)
        try:
            requester = actors(f"{branch.lower()}_it", branch=branch)
            row = approvals.request(db, host, requester, name, branch)
            return approvals.approve(db, host, actors(ROOT), row["id"])
        finally:
            db.close()

    return approve
