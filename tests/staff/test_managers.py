"""Account managers (issue 14 item 2): the import column, reassignment with a reason, handover,
tasks to the manager by default, "my" lists."""

import json

import pytest

from brokercrm.imports import import_clients
from brokercrm.kernel import events
from brokercrm.kernel.errors import BrokerCRMError, Forbidden, ValidationFailed
from brokercrm.plugins import use as use_plugins
from brokercrm.service import tasks
from brokercrm.staff import managers

from conftest import add_client, person, write_csv


@pytest.fixture(autouse=True)
def people(actors, plugin_site):
    """am1, am2, am3 of TY01; bj1 of BJ01; no plugins installed."""
    for op, branch in (("am1", "TY01"), ("am2", "TY01"), ("am3", "TY01"), ("bj1", "BJ01")):
        actors(op, branch=branch, role="account_manager")
    with plugin_site.host() as host:
        use_plugins(host)
        try:
            yield
        finally:
            use_plugins(None)


def manager_of(db, client_id):
    return db.execute("SELECT account_manager FROM clients WHERE client_id = ?", [client_id]).fetchone()[0]


def count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# -- the import column ---------------------------------------------------------------------------


def test_import_column_and_its_chinese_alias_set_the_manager(db, tmp_path, admin):
    import_clients(db, write_csv(tmp_path / "in.csv", [person("C1", 客户经理="am1"), person("C3", 客户经理="")]),
                   actor=admin)
    import_clients(db, write_csv(tmp_path / "en.csv", [person("C2", account_manager="am2")]), actor=admin)
    assert [manager_of(db, c) for c in ("C1", "C2", "C3")] == ["am1", "am2", None]
    # stored on the client, not among its extra columns
    assert db.execute("SELECT extra FROM clients WHERE client_id = 'C1'").fetchone()[0] is None
    rows = list(db.query("SELECT client_id, new_manager, source FROM manager_assignments ORDER BY client_id"))
    assert rows == [{"client_id": "C1", "new_manager": "am1", "source": "in.csv:2"},
                    {"client_id": "C2", "new_manager": "am2", "source": "en.csv:2"}]


@pytest.mark.parametrize("manager, why", [
    ("nobody", "not a registered operator"),
    ("bj1", "must be an operator of the client's branch"),
    ("admin", "must be an operator of the client's branch"),
])
def test_import_refuses_a_manager_who_is_not_an_operator_of_the_rows_branch(db, tmp_path, admin, manager, why):
    path = write_csv(tmp_path / "in.csv", [person("C1", 客户经理="am1"), person("C2", 客户经理=manager)])
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, path, actor=admin)
    [problem] = e.value.problems
    assert "in.csv:3:account_manager:" in problem and why in problem and manager in problem
    assert count(db, "clients") == 0 and count(db, "manager_assignments") == 0


def test_import_refuses_a_revoked_manager(db, tmp_path, admin, run):
    run("operators", "revoke", "am3", "--reason", "离职")
    with pytest.raises(ValidationFailed, match="revoked"):
        import_clients(db, write_csv(tmp_path / "in.csv", [person("C1", account_manager="am3")]), actor=admin)


def test_import_refusal_through_the_cli_is_clean(db, tmp_path, run):
    path = write_csv(tmp_path / "in.csv", [person("C1", 客户经理="bj1")])
    out = run("import", "clients", path, ok=False)
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert "in.csv:2" in out.output and "account_manager" in out.output and "bj1" in out.output
    assert count(db, "clients") == 0


def test_skip_invalid_writes_the_good_rows_and_their_managers_only(db, tmp_path, admin):
    path = write_csv(tmp_path / "in.csv", [person("C1", account_manager="am1"), person("C2", account_manager="bj1")])
    result = import_clients(db, path, actor=admin, skip_invalid=True, rejects=tmp_path / "rejects.csv")
    assert result.rejected == 1
    assert manager_of(db, "C1") == "am1" and count(db, "clients") == 1
    assert "bj1" in (tmp_path / "rejects.csv").read_text(encoding="utf-8-sig")


def test_reimport_with_another_manager_is_a_recorded_reassignment_and_blank_keeps(db, tmp_path, admin):
    import_clients(db, write_csv(tmp_path / "a.csv", [person("C1", account_manager="am1")]), actor=admin)
    import_clients(db, write_csv(tmp_path / "b.csv", [person("C1", account_manager="am2")]), actor=admin)
    assert manager_of(db, "C1") == "am2"
    import_clients(db, write_csv(tmp_path / "c.csv", [person("C1", account_manager="")]), actor=admin)
    assert manager_of(db, "C1") == "am2"
    history = list(db.query("SELECT old_manager, new_manager FROM manager_assignments ORDER BY id"))
    assert history == [{"old_manager": None, "new_manager": "am1"}, {"old_manager": "am1", "new_manager": "am2"}]


def test_the_callback_after_opening_goes_to_the_imported_manager(db, tmp_path, admin):
    import_clients(db, write_csv(tmp_path / "in.csv", [person("C1", opened_at="2026-06-30", account_manager="am1")]),
                   actor=admin)
    [task] = tasks.list_tasks(db, admin, client_id="C1")
    assert task["kind"] == "callback" and task["assignee"] == "am1"


# -- assigning and reassigning --------------------------------------------------------------------


def test_reassignment_needs_a_reason_and_is_audited(db, actors, admin):
    add_client(db, "C1")
    with pytest.raises(BrokerCRMError, match="reason is required"):
        managers.assign(db, admin, "C1", "am1", reason=" ")
    managers.assign(db, admin, "C1", "am1", reason="开户分配")
    # the branch's 运营总监 reassigns; an account manager may not move clients between managers
    with pytest.raises(Forbidden, match="manager.assign"):
        managers.assign(db, actors("am2"), "C1", "am2", reason="客户要求更换")
    done = managers.assign(db, actors("ops", branch="TY01", role="ops_director"), "C1", "am2", reason="客户要求更换")
    assert done["old_manager"] == "am1" and manager_of(db, "C1") == "am2"
    audit = list(db.query("SELECT action, operator, detail FROM audit_log WHERE action = 'manager.assign' ORDER BY id"))
    assert [a["operator"] for a in audit] == ["admin", "ops"]
    assert json.loads(audit[1]["detail"]) == {"old": "am1", "new": "am2", "reason": "客户要求更换"}
    with pytest.raises(BrokerCRMError, match="already the manager"):
        managers.assign(db, admin, "C1", "am2", reason="x")


def test_a_manager_of_another_branch_is_refused_and_nothing_changes(db, actors, admin):
    add_client(db, "C1")
    with pytest.raises(BrokerCRMError, match="must be an operator of the client's branch"):
        managers.assign(db, admin, "C1", "bj1", reason="x")
    with pytest.raises(Forbidden, match="own branch"):
        managers.assign(db, actors("bjops", branch="BJ01"), "C1", "bj1", reason="x")
    assert manager_of(db, "C1") is None and count(db, "manager_assignments") == 0


def test_open_tasks_follow_the_client_to_the_new_manager(db, admin):
    add_client(db, "C1")
    managers.assign(db, admin, "C1", "am1", reason="分配")
    with db.atomic():
        events.emit(db, "behaviour_alert", "C1")
    [task] = tasks.list_tasks(db, admin, client_id="C1")
    assert task["assignee"] == "am1"
    managers.assign(db, admin, "C1", "am2", reason="调岗")
    assert tasks.get(db, task["id"])["assignee"] == "am2"


def test_handover_to_one_or_spread_over_several(db, admin, run):
    for i in range(5):
        add_client(db, f"C{i}")
        managers.assign(db, admin, f"C{i}", "am1", reason="分配")
    add_client(db, "X1")
    managers.assign(db, admin, "X1", "am2", reason="分配")
    out = json.loads(run("managers", "handover", "am1", "--to", "am2", "--to", "am3", "--reason", "离职",
                         "--json").output)
    # am2 already has one client: the five go so the books end even (3 and 3)
    assert out["clients"] == 5 and out["to"] == {"am2": 2, "am3": 3}
    assert db.execute("SELECT count(*) FROM clients WHERE account_manager = 'am1'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM manager_assignments WHERE source = 'bulk' AND reason = '离职'"
                      ).fetchone()[0] == 5
    out = run("managers", "handover", "am1", "--to", "am2", "--reason", "离职", ok=False)
    assert out.exit_code != 0 and "no clients managed by am1" in out.output


def test_handover_to_someone_of_another_branch_changes_nothing(db, admin, run):
    add_client(db, "C1")
    managers.assign(db, admin, "C1", "am1", reason="分配")
    out = run("managers", "handover", "am1", "--to", "am2", "--to", "bj1", "--reason", "离职", ok=False)
    assert out.exit_code != 0 and "bj1" in out.output and "Traceback" not in out.output
    assert manager_of(db, "C1") == "am1"


# -- my lists ---------------------------------------------------------------------------------------


def test_clients_list_mine_and_tasks_list_mine(db, admin, run):
    for c, m in (("C1", "am1"), ("C2", "am2"), ("C3", "am1")):
        add_client(db, c)
        managers.assign(db, admin, c, m, reason="分配")
    with db.atomic():
        for c in ("C1", "C2"):
            events.emit(db, "behaviour_alert", c)
    mine = json.loads(run("clients", "list", "--mine", "--json", "--as", "am1").output)
    assert [c["client_id"] for c in mine] == ["C1", "C3"]
    mine = json.loads(run("tasks", "list", "--mine", "--json", "--as", "am1").output)
    assert [t["client_id"] for t in mine] == ["C1"]
    everyone = json.loads(run("tasks", "list", "--json", "--as", "am1").output)
    assert len(everyone) == 2


def test_distribute_shares_a_branchs_unassigned_clients(db, admin, run):
    for i in range(4):
        add_client(db, f"C{i}")
    add_client(db, "B1", branch="BJ01")
    managers.assign(db, admin, "C0", "am1", reason="分配")
    out = json.loads(run("managers", "distribute", "--branch", "TY01", "--to", "am1", "--to", "am2",
                         "--reason", "初始分配", "--json").output)
    assert out["clients"] == 3 and out["to"] == {"am1": 1, "am2": 2}
    assert manager_of(db, "B1") is None
    add_client(db, "C9")
    out = run("managers", "distribute", "--branch", "TY01", "--to", "bj1", "--reason", "x", ok=False)
    assert out.exit_code != 0 and "bj1" in out.output and manager_of(db, "C9") is None


def test_clients_show_names_the_manager(db, admin, run):
    add_client(db, "C1")
    assert "未指派" in run("clients", "show", "C1").output
    managers.assign(db, admin, "C1", "am1", reason="分配")
    assert "客户经理 (account manager) am1" in run("clients", "show", "C1").output
    assert json.loads(run("clients", "show", "C1", "--json").output)["client"]["account_manager"] == "am1"


def test_look_ups_by_manager_use_the_partial_index_that_skips_unmanaged_clients(db, tmp_path, admin):
    import_clients(db, write_csv(tmp_path / "in.csv", [person("C1", 客户经理="am1"), person("C2"), person("C3")]),
                   actor=admin)
    plans = [" ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + sql, ["am1"])) for sql in (
        "SELECT client_id FROM clients WHERE account_manager = ?",
        "SELECT count(*) FROM clients WHERE account_manager = ?")]
    assert all("clients_account_manager" in plan for plan in plans), plans
    # Only the managed client has an entry: an import of unmanaged clients pays nothing for it.
    assert db.execute("SELECT count(*) FROM clients INDEXED BY clients_account_manager"
                      " WHERE account_manager IS NOT NULL").fetchone()[0] == 1
    assert "WHERE account_manager IS NOT NULL" in db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'clients_account_manager'").fetchone()[0]
