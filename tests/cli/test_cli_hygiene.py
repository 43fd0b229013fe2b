"""Issue 13 §4: no traceback for any input a user can give; only init creates a database;
--json errors have one shape; unknown values are errors; listings have a header row."""

import json

import click
import pytest
from click.testing import CliRunner

from brokercrm.cli import cli

NO_DB = {"init", "demo", "serve", "site-password"}
SKIP_RUN = {"serve", "demo"}  # they start a web server


def leaves(command=cli, path=()):
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from leaves(sub, path + (name,))
    else:
        yield path, command


def garbage_args(command):
    """Arguments and required options filled with values that name nothing."""
    args = []
    for p in command.params:
        if isinstance(p, click.Argument):
            args.append("1" if isinstance(p.type, click.types.IntParamType) else "NOPE")
        elif p.required:
            if isinstance(p.type, click.Choice):
                value = p.type.choices[0]
            elif isinstance(p.type, click.types.IntParamType):
                value = "1"
            else:
                value = "NOPE"
            args += [p.opts[0], value]
    return args


COMMANDS = [(path, command) for path, command in leaves() if path[0] not in SKIP_RUN]


def takes_db(command):
    return any(p.name == "db_path" for p in command.params)


def invoke(*args, env=None):
    result = CliRunner().invoke(cli, list(args), env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    return result


@pytest.mark.parametrize("path,command", [c for c in COMMANDS if takes_db(c[1]) and c[0][0] not in NO_DB],
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_a_missing_database_is_refused_not_created(tmp_path, path, command):
    db = tmp_path / "typo.db"
    result = invoke(*path, *garbage_args(command), "--db", str(db))
    assert result.exit_code != 0 and not db.exists()
    if result.exit_code == 1:
        assert "数据库不存在" in result.output or "NOPE" in result.output


@pytest.mark.parametrize("path,command", [c for c in COMMANDS if takes_db(c[1])],
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_not_a_database_and_a_missing_folder(tmp_path, path, command):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not SQLite" * 100)
    result = invoke(*path, *garbage_args(command), "--db", str(junk))
    assert result.exit_code != 0
    result = invoke(*path, *garbage_args(command), "--db", str(tmp_path / "no" / "such" / "x.db"))
    assert result.exit_code != 0


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory):
    """One initialised database for the walk (garbage values change nothing worth a fresh one)."""
    from conftest import BRANCHES, NOW, Actors

    from brokercrm.kernel.db import connect
    from brokercrm.policy import publish_defaults

    path = tmp_path_factory.mktemp("walk") / "crm.db"
    db = connect(path)
    actors = Actors(path, path.parent / "keys")
    publish_defaults(db, actors.bootstrap(db))
    for code, name in BRANCHES.items():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, NOW])
    db.close()
    return path, actors.key_file("admin")


def takes_operator(command):
    return any(p.name == "operator" for p in command.params)


@pytest.mark.parametrize("path,command", COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_garbage_values_and_environment_never_give_a_traceback(shared_db, tmp_path, path, command):
    db, key = shared_db
    extra = ["--db", str(db)] if takes_db(command) else []
    if takes_operator(command):  # as the root operator, so the walk reaches past authentication
        extra += ["--as", "admin", "--key", str(key)]
    if path == ("publish",):
        extra += ["--out", str(tmp_path / "site")]
    invoke(*path, *garbage_args(command), *extra)
    invoke(*path, *garbage_args(command), *extra, env={"BROKERCRM_NOW": "yesterday"})
    invoke(*path, *garbage_args(command), *extra, env={"BROKERCRM_BUSY_TIMEOUT": "soon"})


def test_bad_environment_is_named(run):
    result = run("classify", env={"BROKERCRM_NOW": "yesterday"}, ok=False)
    assert result.exit_code == 1 and "BROKERCRM_NOW" in result.output
    result = run("classify", env={"BROKERCRM_BUSY_TIMEOUT": "-3"}, ok=False)
    assert result.exit_code == 1 and "BROKERCRM_BUSY_TIMEOUT" in result.output


def test_only_init_creates_a_database(tmp_path):
    db = tmp_path / "new.db"
    assert invoke("branches", "list", "--db", str(db)).exit_code == 1 and not db.exists()
    assert invoke("init", "--no-passphrase", "--db", str(db)).exit_code == 0 and db.exists()
    result = invoke("init", "--no-passphrase", "--db", str(tmp_path / "missing" / "new.db"))
    assert result.exit_code == 1 and "目录" in result.output


def error_of(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return json.loads(lines[0])["error"]


def test_json_errors_have_one_shape_on_stderr(db_path, run, tmp_path):
    cases = [
        (["clients", "list", "--branch", "XX", "--json"], "not_found", 1),
        (["clients", "list", "--json", "--limit", "many"], "usage", 2),
        (["import", "clients", "--json"], "usage", 2),
        (["import", "clients", str(tmp_path / "none.csv"), "--json"], "not_found", 1),
        (["tasks", "done", "12345", "--note", "x", "--json"], "not_found", 1),
    ]
    for args, code, status in cases:
        result = run(*args, ok=False)
        assert result.exit_code == status, (args, result.output)
        error = error_of(result)
        assert error["code"] == code and error["message"] and set(error) == {"code", "message"}, error
        assert result.stdout == ""
    path = tmp_path / "bad.csv"
    path.write_text("client_id,kind,name,id_number,branch_id\nC1,individual,张三,1,TY01\n", encoding="utf-8")
    error = error_of(run("import", "clients", str(path), "--json", ok=False))
    assert error["code"] == "invalid_input" and error["total"] == len(error["problems"]) >= 1
    assert error["problems"][0].startswith(f"{path}:2:")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 4096)
    assert error_of(invoke("branches", "list", "--json", "--db", str(junk)))["code"] == "not_a_database"
    assert error_of(invoke("branches", "list", "--json", "--db", str(tmp_path / "nope.db")))["code"] == "not_found"


@pytest.mark.parametrize("args", [
    ["clients", "list", "--branch", "XX99"], ["clients", "list", "--class", "Z"],
    ["clients", "show", "NOPE"], ["interactions", "list", "--client", "NOPE"],
    ["interactions", "list", "--branch", "XX99"], ["tasks", "list", "--branch", "XX99"],
    ["tasks", "list", "--client", "NOPE"], ["complaints", "list", "--branch", "XX99"],
    ["retention", "list", "--branch", "XX99"], ["packages", "report", "--branch", "XX99"],
    ["changes", "list", "--client", "NOPE"], ["suitability", "scan", "--branch", "XX99"],
    ["suitability", "check", "NOPE", "NOPE"], ["classify", "--branch", "XX99"],
    ["tasks", "report", "--branch", "XX99"], ["interactions", "satisfaction", "--branch", "XX99"],
])
def test_unknown_values_are_errors_not_empty_results(run, args):
    result = run(*args, ok=False)
    assert result.exit_code == 1 and "不存在" in result.output


def test_branch_codes_match_whatever_the_case(run, db):
    from conftest import add_client

    add_client(db, "L1")
    rows = json.loads(run("clients", "list", "--branch", "ty01", "--json").output)
    assert [r["client_id"] for r in rows] == ["L1"]


def test_plain_listings_have_a_header_row(run, db):
    from conftest import add_client

    add_client(db, "L1")
    assert run("clients", "list").output.splitlines()[0].split()[:2] == ["客户号", "client"]
    first = run("branches", "list", operator=None).output.splitlines()
    assert first[0].startswith("营业部 code") and set(first[1]) <= {"-", " "}
    assert run("tasks", "list").output.splitlines()[0] in ("没有任务 (no tasks)",) or "任务 id" in run(
        "tasks", "list").output.splitlines()[0]
