"""Positions as head-office policy data, plugged into the authorisation table, and the
securities qualification (证券从业资格) that some acts need (issue 14, item 1)."""

import json

import pytest

from brokercrm.kernel.errors import BrokerCRMError, PolicyError
from brokercrm.policy import sets as policy_lib
from brokercrm.staff import positions, qualifications
from brokercrm.suitability import engine as suitability
from brokercrm.trust import authz, identity, keys
from brokercrm.trust import root as trust_root
from conftest import add_assessment, add_client, add_product


def shipped():
    return (policy_lib.default_policy_dir() / "positions.toml").read_text(encoding="utf-8")


def variant(tmp_path, old, new):
    body = shipped()
    assert old in body
    path = tmp_path / "positions.toml"
    path.write_text(body.replace(old, new, 1), encoding="utf-8")
    return path


def reauthenticate(db, actors, operator_id):
    """The actor as a new command would see them: the policy and qualification in force now."""
    key = keys.load_private(actors.key_file(operator_id))
    return identity.authenticate(db, operator_id, key, trust_root.for_db(db))


@pytest.fixture
def book(db):
    add_product(db, "PR4", "R4")
    for cid, branch in (("c1", "TY01"), ("c2", "BJ01")):
        add_client(db, cid, branch=branch)
        add_assessment(db, cid, "C2")
    return db


def test_the_shipped_positions_are_the_seeds_and_cite_them(db):
    cat = positions.catalogue(db)
    names = {p["name"] for p in cat.values()}
    assert {"柜台业务岗", "复核岗", "客户经理", "客服经理", "投诉组", "运营总监", "客服总监", "合规风控部"} <= names
    assert all(p["source"].strip() for p in cat.values())
    assert cat["account_manager"]["scope"] == authz.OWN and cat["compliance"]["scope"] == authz.FIRM


@pytest.mark.parametrize("old, new, message", [
    ('"retention.read", "package.read", "complaint.read", "manager.report"]',
     '"retention.read", "package.read", "complaint.read", "manager.report", "operator.add"]', "positions[2].acts[17]: operator.add 只属于总部角色"),
    ('acts = ["client.read", "client.reveal", "client.change.review"',
     'acts = ["client.read", "client.move", "client.change.review"', "positions[1].acts[1]: branch 岗位不能 client.move"),
    ('acts = ["client.read", "client.reveal", "client.change.review"',
     'acts = ["client.read", "client.fly", "client.change.review"', "positions[1].acts[1]: 未知操作 'client.fly'"),
    ('id = "reviewer"', 'id = "counter_clerk"', "positions[1].id: 岗位 'counter_clerk' 重复"),
    ('id = "reviewer"', 'id = "headoffice"', "positions[1].id: 'headoffice' 是内置角色"),
    ('base = "headoffice"', 'base = "region"', "positions[7].base: 须为 branch 或 headoffice"),
    ('required_for = ["suitability.confirm"', 'required_for = ["suitability.advise"',
     "qualification.required_for[0]: 未知操作"),
])
def test_a_bad_positions_policy_is_refused_naming_file_and_key(db, admin, tmp_path, old, new, message):
    # defence: positions.validate — a position never widens its base role nor takes governance acts
    path = variant(tmp_path, old, new)
    before = db.execute("SELECT count(*) FROM policy_versions").fetchone()[0]
    with pytest.raises(PolicyError) as e:
        policy_lib.publish(db, path, admin)
    assert str(path) in str(e.value) and message in str(e.value)
    assert db.execute("SELECT count(*) FROM policy_versions").fetchone()[0] == before


def test_a_position_acts_in_its_own_branch_and_only_its_acts(book, actors):
    # defence: authz.scope consults Actor.grants with the position's scope
    am = actors("am1", branch="TY01", role="account_manager")
    assert am.grants["suitability.confirm"] == authz.OWN
    assert suitability.confirm(book, am, "c1", "PR4", "WARN-1")["confirmation"]["evidence"] == "WARN-1"
    with pytest.raises(authz.Forbidden, match="无权适当性确认|BJ01"):
        suitability.confirm(book, am, "c2", "PR4", "WARN-2")
    # The plain branch role may import clients; the account manager's position does not grant it.
    assert authz.allowed(actors("clerk", branch="TY01"), "client.import", branch="TY01")
    assert not authz.allowed(am, "client.import", branch="TY01")
    reviewer = actors("rv1", branch="TY01", role="reviewer")
    with pytest.raises(authz.Forbidden, match=r"rv1 \(reviewer\) 无权适当性"):
        suitability.confirm(book, reviewer, "c1", "PR4", "WARN-3")


def test_a_head_office_position_acts_firm_wide_but_never_governs(db, actors):
    co = actors("co1", role="compliance")
    assert authz.allowed(co, "suitability.scan") and authz.allowed(co, "client.read", branch="BJ01")
    assert not authz.allowed(co, "operator.add") and not authz.allowed(co, "client.reveal", branch="TY01")


def test_the_published_policy_decides_not_the_file_shipped(db, admin, actors, book, tmp_path):
    # defence: positions._doc reads the set in force; a revoked act takes effect at the next authentication
    actors("am1", branch="TY01", role="account_manager")
    path = variant(tmp_path, '"investor_type.request", "interaction.log"', '"investor_type.request"')
    path.write_text(path.read_text(encoding="utf-8").replace(
        'acts = ["client.read", "client.reveal", "suitability.read", "suitability.check", "suitability.confirm",\n'
        '        "investor_type.request"',
        'acts = ["client.read", "client.reveal", "suitability.read", "suitability.check",\n'
        '        "investor_type.request"'), encoding="utf-8")
    policy_lib.publish(db, path, admin)
    am = reauthenticate(db, actors, "am1")
    assert "suitability.confirm" not in am.grants and "interaction.log" not in am.grants
    with pytest.raises(authz.Forbidden, match="无权适当性确认"):
        suitability.confirm(book, am, "c1", "PR4", "WARN-1")


def test_operators_are_certified_only_in_known_roles_with_the_right_branch(db, admin):
    from brokercrm.trust import operators

    with pytest.raises(BrokerCRMError, match="unknown role or position"):
        operators.add(db, admin, "x1", "astronaut", branch="TY01")
    with pytest.raises(BrokerCRMError, match="--branch"):
        operators.add(db, admin, "x2", "account_manager")
    with pytest.raises(BrokerCRMError, match="no branch for this role"):
        operators.add(db, admin, "x3", "compliance", branch="TY01")
    assert db.execute("SELECT count(*) FROM operators WHERE id LIKE 'x%'").fetchone()[0] == 0


def test_acts_needing_a_qualification_refuse_an_unqualified_person(book, admin, actors):
    # defence: authz.scope refuses Actor.unqualified_for; positions.authority fills it from the policy
    am = actors("am2", branch="TY01", role="account_manager", qualified=False)
    assert suitability.check(book, am, "c1", "PR4")["verdict"] == "mismatch"  # a check needs no qualification
    with pytest.raises(authz.Forbidden, match="没有有效的证券从业资格"):
        suitability.confirm(book, am, "c1", "PR4", "WARN-1")
    assert book.execute("SELECT count(*) FROM suitability_confirmations").fetchone()[0] == 0
    qualifications.record(book, admin, "am2", "S20260001", "2026-06-29")   # expired the day before today
    with pytest.raises(authz.Forbidden, match="没有有效的证券从业资格"):
        suitability.confirm(book, reauthenticate(book, actors, "am2"), "c1", "PR4", "WARN-1")
    qualifications.record(book, admin, "am2", "S20260001", "2026-06-30")   # valid through today
    assert suitability.confirm(book, reauthenticate(book, actors, "am2"), "c1", "PR4", "WARN-1")["confirmation"]
    # Head office people need one too: the rule is about the person, not the role.
    hq = actors("hq9", qualified=False)
    assert not authz.allowed(hq, "investor_type.decide") and authz.allowed(hq, "client.reveal")


def test_recording_a_qualification_is_head_office_only_checked_and_audited(db, admin, actors):
    clerk = actors("clerk", branch="TY01")
    with pytest.raises(authz.Forbidden):
        qualifications.record(db, clerk, "clerk", "S1234567", "2030-01-01")
    for number, until, why in (("S1", "2030-01-01", "invalid certificate number"),
                               ("S1234567", "2030-13-01", "must be a date"),
                               ("S1234567; DROP", "2030-01-01", "invalid certificate number")):
        with pytest.raises(BrokerCRMError, match=why):
            qualifications.record(db, admin, "clerk", number, until)
    with pytest.raises(BrokerCRMError, match="no such operator"):
        qualifications.record(db, admin, "ghost", "S1234567", "2030-01-01")
    before = db.execute("SELECT count(*) FROM operator_qualifications").fetchone()[0]
    qualifications.record(db, admin, "clerk", "S7654321", "2031-01-01")
    assert qualifications.current(db, "clerk")["certificate_no"] == "S7654321"
    assert db.execute("SELECT count(*) FROM operator_qualifications").fetchone()[0] == before + 1
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'operator.qualify' AND target = 'clerk'"
                      ).fetchone()[0] == 2   # the fixture's and this one
    with pytest.raises(Exception, match="append-only"):
        db.execute("UPDATE operator_qualifications SET valid_until = '2099-01-01'")


def test_cli_positions_qualify_and_list(run, actors, db_path):
    positions_out = json.loads(run("operators", "positions", "--json").output)
    assert positions_out["qualification_required_for"] == ["investor_type.decide", "suitability.confirm"]
    assert positions_out["positions"]["complaints_group"]["name"] == "投诉组"
    assert "客户经理" in run("operators", "positions").output
    actors("am3", branch="TY01", role="account_manager", qualified=False)
    added = run("operators", "add", "am4", "--role", "counter_clerk", "--branch", "TY01", "--key-out",
                db_path.parent / "am4.key", "--no-passphrase")
    assert "柜台业务岗" in added.output
    listed = {o["id"]: o for o in json.loads(run("operators", "list", "--json").output)}
    assert listed["am3"]["role"] == "account_manager" and listed["am3"]["qualification"] is None
    done = json.loads(run("operators", "qualify", "am3", "--certificate", "S20269999", "--valid-until",
                          "2028-12-31", "--json").output)
    assert done["valid_until"] == "2028-12-31"
    assert "有效 (valid)" in run("operators", "list").output
    bad = run("operators", "qualify", "am3", "--certificate", "S20269999", "--valid-until", "soon", ok=False)
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output and "Traceback" not in bad.output
    refused = run("operators", "qualify", "am3", "--certificate", "S20269999", "--valid-until", "2029-01-01",
                  "--as", "am3", ok=False)
    assert refused.exit_code != 0 and "无权" in refused.output
