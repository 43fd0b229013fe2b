"""Reviewed changes to client data (maker–checker, seed 004): important and ordinary fields alike."""

import json

import pytest

from brokercrm.book import data_changes
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.trust import authz, identity, keys
from brokercrm.trust import root as trust_root
from brokercrm.plugins import use as use_plugins

from conftest import add_client, make_id

STEP = {"identity_check": "证件原件", "form_ref": "F-2026-001"}
CLI_STEP = ("--identity-check", "证件原件", "--form-ref", "F-2026-001")


def request(db, actor, client_id, name, value, **kw):
    """A change as the counter enters it: with the identity check and the form's number."""
    return data_changes.request(db, actor, client_id, name, value, **{**STEP, **kw})


@pytest.fixture(autouse=True)
def setup(db, actors, plugin_site):
    """C1 of TY01, B1 of BJ01; a clerk and a reviewer of TY01, a reviewer of BJ01; no plugins installed."""
    add_client(db, "C1", occupation="教师")
    add_client(db, "B1", branch="BJ01")
    for op, branch in (("clerk", "TY01"), ("reviewer", "TY01"), ("bjreviewer", "BJ01")):
        actors(op, branch=branch)
    with plugin_site.host() as host:
        use_plugins(host)
        try:
            yield
        finally:
            use_plugins(None)


@pytest.fixture
def clerk(actors):
    return actors("clerk")


@pytest.fixture
def reviewer(actors):
    return actors("reviewer")


def field(db, client_id, name):
    return db.execute(f"SELECT [{name}] FROM clients WHERE client_id = ?", [client_id]).fetchone()[0]


def test_ordinary_field_is_reviewed_too(db, clerk, reviewer):
    # defence: seed 004 §6.1.3 — ordinary changes wait for the 复核岗 like important ones
    r = request(db, clerk, "C1", "occupation", "工程师")
    assert r["state"] == "pending" and field(db, "C1", "occupation") == "教师"
    assert r["identity_check"] == "证件原件" and r["form_ref"] == "F-2026-001"
    with pytest.raises(BrokerCRMError, match="maker–checker"):
        data_changes.approve(db, clerk, r["id"])
    data_changes.approve(db, reviewer, r["id"])
    assert field(db, "C1", "occupation") == "工程师"
    change = db.execute("SELECT old_value, new_value, operator FROM client_changes WHERE client_id = 'C1'").fetchone()
    assert change == ("教师", "工程师", "reviewer")
    detail = json.loads(db.execute("SELECT detail FROM audit_log WHERE action = 'client.change.request'").fetchone()[0])
    assert detail["old"] == "教师" and detail["new"] == "工程师" and detail["identity_check"] == "证件原件"


def test_important_field_waits_for_another_operator(db, run, actors, clerk, reviewer, admin):
    new_phone = "13912345678"
    pending = request(db, clerk, "C1", "phone", new_phone, note="客户换号")
    assert pending["state"] == "pending" and field(db, "C1", "phone") == "13800000000"
    assert pending["new_value"] == "139****5678"  # masked unless revealed
    shown = json.loads(run("clients", "show", "C1", "--json").output)
    assert [c["field"] for c in shown["pending_changes"]] == ["phone"]
    assert "139****5678" in run("clients", "show", "C1").output
    with pytest.raises(BrokerCRMError, match="maker–checker"):
        data_changes.approve(db, clerk, pending["id"])
    with pytest.raises(BrokerCRMError, match="own branch"):
        data_changes.approve(db, actors("bjreviewer"), pending["id"])
    assert field(db, "C1", "phone") == "13800000000"
    approved = data_changes.approve(db, reviewer, pending["id"])
    assert approved["state"] == "approved" and approved["checker"] == "reviewer"
    assert field(db, "C1", "phone") == new_phone
    with pytest.raises(BrokerCRMError, match="already decided"):
        data_changes.approve(db, admin, pending["id"])
    shown = json.loads(run("clients", "show", "C1", "--json").output)
    assert shown["pending_changes"] == []


def test_audit_has_masked_values_only(db, clerk, reviewer):
    new_id = make_id("1980-01-01", seq="456")
    change = request(db, clerk, "C1", "id_number", new_id)
    data_changes.approve(db, reviewer, change["id"])
    name = request(db, clerk, "C1", "name", "李四")
    data_changes.reject(db, reviewer, name["id"], reason="证件未核验")
    audit = " ".join(r[0] for r in db.execute("SELECT detail FROM audit_log WHERE action LIKE 'client.change%'"))
    assert new_id not in audit and "李四" not in audit and "13800000000" not in audit
    assert new_id[:6] + "********" + new_id[-4:] in audit and "李*" in audit
    # the protected change table keeps the real values
    stored = db.execute("SELECT new_value FROM data_changes WHERE id = ?", [change["id"]]).fetchone()[0]
    assert stored == new_id and field(db, "C1", "id_number") == new_id
    assert field(db, "C1", "name") == "测试客户"  # rejected: unchanged
    assert data_changes.get(db, name["id"])["state"] == "rejected"


def test_bank_account_is_kept_apart_and_masked(db, run, clerk, reviewer):
    change = request(db, clerk, "C1", "bank_account", "6222 0212 3456 7890 123")
    data_changes.approve(db, reviewer, change["id"])
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
def test_bad_values_refused(db, name, value, message, clerk):
    with pytest.raises(BrokerCRMError, match=message):
        request(db, clerk, "C1", name, value)
    assert db.execute("SELECT count(*) FROM data_changes").fetchone()[0] == 0


def test_one_pending_change_per_field_and_operator_required(db, clerk):
    request(db, clerk, "C1", "phone", "13911112222")
    with pytest.raises(BrokerCRMError, match="already pending"):
        request(db, clerk, "C1", "phone", "13933334444")
    # No operator, or a bare name, is nobody; an unregistered name cannot become an actor.
    for nobody in (None, "clerk"):
        with pytest.raises(authz.Forbidden, match="未认证的操作员"):
            request(db, nobody, "C1", "education", "本科")
    with pytest.raises(identity.AuthenticationError, match="unknown operator"):
        identity.authenticate(db, "ghost", keys.generate(), trust_root.for_db(db))
    assert field(db, "C1", "education") is None


def test_stale_change_cannot_be_approved(db, clerk, reviewer):
    first = request(db, clerk, "C1", "phone", "13911112222")
    db.execute("UPDATE clients SET phone = '13700000000' WHERE client_id = 'C1'")  # e.g. re-imported meanwhile
    with pytest.raises(BrokerCRMError, match="changed since the request"):
        data_changes.approve(db, reviewer, first["id"])


def test_cli_flow(db, run):
    out = run("changes", "request", "C1", "phone", "13955556666", *CLI_STEP, "--as", "clerk", "--json")
    change = json.loads(out.output)
    refused = run("changes", "approve", str(change["id"]), "--as", "clerk", ok=False)
    assert refused.exit_code == 1 and "maker–checker" in refused.output and "Traceback" not in refused.output
    listed = json.loads(run("changes", "list", "--json").output)
    assert [c["id"] for c in listed] == [change["id"]]
    run("changes", "approve", str(change["id"]), "--as", "reviewer")
    assert field(db, "C1", "phone") == "13955556666"
    assert "pending" in run("changes", "request", "C1", "education", "硕士", *CLI_STEP, "--as", "clerk").output


def test_pending_values_revealed_only_with_an_audited_reveal(db, clerk, reviewer):
    from brokercrm.book import clients

    request(db, clerk, "C1", "phone", "13912345678")
    assert clients.show(db, clerk, "C1")["pending_changes"][0]["new_value"] == "139****5678"
    shown = clients.show(db, reviewer, "C1", reveal=True)
    assert shown["pending_changes"][0]["new_value"] == "13912345678"
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'client.reveal'").fetchone()[0] == 1
