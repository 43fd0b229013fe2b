"""Reviewed changes to important data (maker–checker, seed 004) and ordinary changes at once."""

import json

import pytest

from brokercrm.book import data_changes
from brokercrm.trust import operators
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.plugins import Plugins
from brokercrm.plugins import use as use_plugins

from conftest import add_client, make_id


@pytest.fixture(autouse=True)
def setup(db):
    use_plugins(Plugins())
    add_client(db, "C1", occupation="教师")
    add_client(db, "B1", branch="BJ01")
    operators.bootstrap(db, "admin")
    for op, branch in (("clerk", "TY01"), ("reviewer", "TY01"), ("bjreviewer", "BJ01")):
        operators.add(db, op, "branch", branch=branch, by="admin")
    yield
    use_plugins(None)


def field(db, client_id, name):
    return db.execute(f"SELECT [{name}] FROM clients WHERE client_id = ?", [client_id]).fetchone()[0]


def test_ordinary_field_changes_at_once_with_audit(db):
    r = data_changes.request(db, "C1", "occupation", "工程师", operator="clerk")
    assert r["state"] == "applied" and field(db, "C1", "occupation") == "工程师"
    change = db.execute("SELECT old_value, new_value, operator FROM client_changes WHERE client_id = 'C1'").fetchone()
    assert change == ("教师", "工程师", "clerk")
    detail = json.loads(db.execute("SELECT detail FROM audit_log WHERE action = 'client.change'").fetchone()[0])
    assert detail["old"] == "教师" and detail["new"] == "工程师"
    assert data_changes.list_changes(db, client_id="C1") == []


def test_important_field_waits_for_another_operator(db, run):
    new_phone = "13912345678"
    pending = data_changes.request(db, "C1", "phone", new_phone, operator="clerk", note="客户换号")
    assert pending["state"] == "pending" and field(db, "C1", "phone") == "13800000000"
    assert pending["new_value"] == "139****5678"  # masked unless revealed
    shown = json.loads(run("clients", "show", "C1", "--json").output)
    assert [c["field"] for c in shown["pending_changes"]] == ["phone"]
    assert "139****5678" in run("clients", "show", "C1").output
    with pytest.raises(BrokerCRMError, match="maker–checker"):
        data_changes.approve(db, pending["id"], operator="clerk")
    with pytest.raises(BrokerCRMError, match="own branch"):
        data_changes.approve(db, pending["id"], operator="bjreviewer")
    assert field(db, "C1", "phone") == "13800000000"
    approved = data_changes.approve(db, pending["id"], operator="reviewer")
    assert approved["state"] == "approved" and approved["checker"] == "reviewer"
    assert field(db, "C1", "phone") == new_phone
    with pytest.raises(BrokerCRMError, match="already decided"):
        data_changes.approve(db, pending["id"], operator="admin")
    shown = json.loads(run("clients", "show", "C1", "--json").output)
    assert shown["pending_changes"] == []


def test_audit_has_masked_values_only(db):
    new_id = make_id("1980-01-01", seq="456")
    change = data_changes.request(db, "C1", "id_number", new_id, operator="clerk")
    data_changes.approve(db, change["id"], operator="reviewer")
    name = data_changes.request(db, "C1", "name", "李四", operator="clerk")
    data_changes.reject(db, name["id"], operator="reviewer", reason="证件未核验")
    audit = " ".join(r[0] for r in db.execute("SELECT detail FROM audit_log WHERE action LIKE 'client.change%'"))
    assert new_id not in audit and "李四" not in audit and "13800000000" not in audit
    assert new_id[:6] + "********" + new_id[-4:] in audit and "李*" in audit
    # the protected change table keeps the real values
    stored = db.execute("SELECT new_value FROM data_changes WHERE id = ?", [change["id"]]).fetchone()[0]
    assert stored == new_id and field(db, "C1", "id_number") == new_id
    assert field(db, "C1", "name") == "测试客户"  # rejected: unchanged
    assert data_changes.get(db, name["id"])["state"] == "rejected"


def test_bank_account_is_kept_apart_and_masked(db, run):
    change = data_changes.request(db, "C1", "bank_account", "6222 0212 3456 7890 123", operator="clerk")
    data_changes.approve(db, change["id"], operator="reviewer")
    account = db.execute("SELECT account FROM client_bank_accounts WHERE client_id = 'C1'").fetchone()[0]
    assert account == "6222021234567890123"
    trail = db.execute("SELECT new_value FROM client_changes WHERE field = 'bank_account'").fetchone()[0]
    assert trail == "6222***********0123"
    assert "6222021234567890123" not in run("clients", "show", "C1").output


@pytest.mark.parametrize("name, value, message", [
    ("id_number", "110101198001011234", "check digit"),
    ("phone", "12345", "mobile"),
    ("bank_account", "abc", "10–30 digits"),
    ("annual_income", "-5", "≥ 0"),
    ("kind", "institution", "cannot change"),
    ("occupation", "教师", "equals the current"),
])
def test_bad_values_refused(db, name, value, message):
    with pytest.raises(BrokerCRMError, match=message):
        data_changes.request(db, "C1", name, value, operator="clerk")
    assert db.execute("SELECT count(*) FROM data_changes").fetchone()[0] == 0


def test_one_pending_change_per_field_and_operator_required(db):
    data_changes.request(db, "C1", "phone", "13911112222", operator="clerk")
    with pytest.raises(BrokerCRMError, match="already pending"):
        data_changes.request(db, "C1", "phone", "13933334444", operator="clerk")
    with pytest.raises(BrokerCRMError, match="operator"):
        data_changes.request(db, "C1", "education", "本科", operator=None)
    with pytest.raises(BrokerCRMError, match="unknown operator"):
        data_changes.request(db, "C1", "education", "本科", operator="ghost")


def test_stale_change_cannot_be_approved(db):
    first = data_changes.request(db, "C1", "phone", "13911112222", operator="clerk")
    db.execute("UPDATE clients SET phone = '13700000000' WHERE client_id = 'C1'")  # e.g. re-imported meanwhile
    with pytest.raises(BrokerCRMError, match="changed since the request"):
        data_changes.approve(db, first["id"], operator="reviewer")


def test_cli_flow(db, run):
    out = run("changes", "request", "C1", "phone", "13955556666", "--as", "clerk", "--json")
    change = json.loads(out.output)
    refused = run("changes", "approve", str(change["id"]), "--as", "clerk", ok=False)
    assert refused.exit_code == 1 and "maker–checker" in refused.output and "Traceback" not in refused.output
    listed = json.loads(run("changes", "list", "--json").output)
    assert [c["id"] for c in listed] == [change["id"]]
    run("changes", "approve", str(change["id"]), "--as", "reviewer")
    assert field(db, "C1", "phone") == "13955556666"
    assert "ordinary" in run("changes", "request", "C1", "education", "硕士", "--as", "clerk").output


def test_pending_values_revealed_only_with_an_audited_reveal(db):
    from brokercrm.book import clients

    data_changes.request(db, "C1", "phone", "13912345678", operator="clerk")
    assert clients.show(db, "C1")["pending_changes"][0]["new_value"] == "139****5678"
    shown = clients.show(db, "C1", reveal=True, operator="reviewer")
    assert shown["pending_changes"][0]["new_value"] == "13912345678"
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'client.reveal'").fetchone()[0] == 1
