"""Seed 004's change flow in full: identity check, change form, review exemptions by policy,
and the 中国结算 synchronisation report (issue 11 item 8)."""

import json
import tomllib

import pytest

from brokercrm.book import data_changes, kyc_policy
from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden, PolicyError
from brokercrm.policy import sets as policy_lib

from conftest import add_client, person, write_csv

STEP = ("--identity-check", "人脸识别", "--form-ref", "ZH-0042")


@pytest.fixture(autouse=True)
def setup(db, actors):
    add_client(db, "C1", occupation="教师")
    add_client(db, "B1", branch="BJ01")
    for op, branch in (("clerk", "TY01"), ("reviewer", "TY01"), ("bj", "BJ01")):
        actors(op, branch=branch)


def value(db, client_id, name):
    return db.execute(f"SELECT [{name}] FROM clients WHERE client_id = ?", [client_id]).fetchone()[0]


def count(db, table="data_changes"):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.mark.parametrize("args, why", [
    (("--form-ref", "ZH-1"), "--identity-check"),
    (("--identity-check", "人脸识别"), "--form-ref"),
    (("--identity-check", "看了一眼", "--form-ref", "ZH-1"), "unknown identity-check method"),
])
def test_a_request_needs_the_identity_check_and_the_form(db, run, args, why):
    # defence: data_changes._step (seed 004 §6.1.1 identity check, §4 the signed form)
    result = run("changes", "request", "C1", "occupation", "工程师", *args, "--as", "clerk", ok=False)
    assert result.exit_code == 1 and why in result.output and "Traceback" not in result.output
    assert count(db) == 0 and value(db, "C1", "occupation") == "教师"


def test_policy_may_exempt_an_ordinary_field_but_not_an_important_one(db, run, admin, tmp_path):
    body = (policy_lib.default_policy_dir() / "kyc.toml").read_text(encoding="utf-8")
    exempt = tmp_path / "kyc.toml"
    exempt.write_text(body.replace("review_exempt = []", 'review_exempt = ["education"]'), encoding="utf-8")
    policy_lib.publish(db, exempt, admin)
    out = json.loads(run("changes", "request", "C1", "education", "硕士", *STEP, "--as", "clerk", "--json").output)
    # defence: request's exempt branch — the change applies at once, recorded as approved, no checker
    assert out["state"] == "approved" and out["checker"] is None and value(db, "C1", "education") == "硕士"
    other = json.loads(run("changes", "request", "C1", "occupation", "工程师", *STEP, "--as", "clerk", "--json").output)
    assert other["state"] == "pending" and value(db, "C1", "occupation") == "教师"
    # defence: kyc_policy.validate refuses exempting 重要资料
    bad = tmp_path / "bad" / "kyc.toml"
    bad.parent.mkdir()
    bad.write_text(body.replace("review_exempt = []", 'review_exempt = ["phone"]'), encoding="utf-8")
    with pytest.raises(PolicyError, match="review_exempt.0.*phone"):
        policy_lib.publish(db, bad, admin)


def test_csdc_changes_are_listed_until_marked_synchronised(db, run, actors):
    phone = json.loads(run("changes", "request", "C1", "phone", "13911112222", *STEP, "--as", "clerk",
                           "--json").output)
    job = json.loads(run("changes", "request", "C1", "occupation", "工程师", *STEP, "--as", "clerk",
                         "--json").output)
    assert phone["csdc_required"] == 1 and job["csdc_required"] == 0
    # pending: nothing to synchronise yet
    assert json.loads(run("changes", "csdc", "--as", "reviewer", "--json").output) == []
    refused = run("changes", "csdc-synced", phone["id"], "--as", "reviewer", ok=False)
    assert refused.exit_code == 1 and "approved" in refused.output
    for change in (phone, job):
        run("changes", "approve", change["id"], "--as", "reviewer")
    listed = json.loads(run("changes", "csdc", "--as", "reviewer", "--json").output)
    assert [c["id"] for c in listed] == [phone["id"]] and listed[0]["new_value"] == "139****2222"
    # another branch's operator neither sees nor marks it
    assert json.loads(run("changes", "csdc", "--as", "bj", "--json").output) == []
    assert run("changes", "csdc-synced", phone["id"], "--as", "bj", ok=False).exit_code == 1
    not_csdc = run("changes", "csdc-synced", job["id"], "--as", "reviewer", ok=False)
    assert not_csdc.exit_code == 1 and "中国结算" in not_csdc.output
    done = json.loads(run("changes", "csdc-synced", phone["id"], "--ref", "YMT-77", "--as", "reviewer",
                          "--json").output)
    assert done["csdc_synced_by"] == "reviewer" and done["csdc_ref"] == "YMT-77"
    assert json.loads(run("changes", "csdc", "--as", "reviewer", "--json").output) == []
    assert [c["id"] for c in json.loads(run("changes", "csdc", "--all", "--json").output)] == [phone["id"]]
    again = run("changes", "csdc-synced", phone["id"], "--as", "reviewer", ok=False)
    assert again.exit_code == 1 and "already" in again.output
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE action = 'client.change.csdc'")]
    assert actions == ["client.change.csdc"]


def test_the_csdc_fields_come_from_the_policy(db):
    _, policy = kyc_policy.load(db)
    assert {"name", "id_number", "id_type", "id_valid_until"} <= set(policy["changes"]["csdc_fields"])


def test_an_imported_change_gets_its_identity_check_from_the_reviewer(db, run, tmp_path):
    run("import", "clients", write_csv(tmp_path / "a.csv", [person("T3")]), "--as", "clerk")
    run("import", "clients", write_csv(tmp_path / "b.csv", [person("T3", phone="13722223333")]), "--as", "clerk")
    [(change_id,)] = db.execute("SELECT id FROM data_changes WHERE state = 'pending'").fetchall()
    # defence: _decide asks the reviewer for what the import could not carry
    refused = run("changes", "approve", change_id, "--as", "reviewer", ok=False)
    assert refused.exit_code == 1 and "--identity-check" in refused.output
    assert value(db, "T3", "phone") == "13800000000"
    run("changes", "approve", change_id, *STEP, "--as", "reviewer")
    assert value(db, "T3", "phone") == "13722223333"
    stored = db.execute("SELECT identity_check, form_ref, csdc_required FROM data_changes").fetchone()
    assert stored == ("人脸识别", "ZH-0042", 1)


def test_a_new_id_number_is_checked_against_a_pending_id_type(db, actors):
    clerk, reviewer = actors("clerk"), actors("reviewer")
    step = {"identity_check": "证件原件", "form_ref": "ZH-9"}
    # a permit number is refused while the client's ID type is the resident ID
    with pytest.raises(BrokerCRMError, match="身份证号须为18位"):
        data_changes.request(db, clerk, "C1", "id_number", "H12345678", **step)
    kind = data_changes.request(db, clerk, "C1", "id_type", "港澳通行证", **step)
    assert kind["new_value"] == "港澳居民来往内地通行证"
    number = data_changes.request(db, clerk, "C1", "id_number", "h12345678", **step)
    data_changes.approve(db, reviewer, kind["id"])
    data_changes.approve(db, reviewer, number["id"])
    assert value(db, "C1", "id_type") == "港澳居民来往内地通行证" and value(db, "C1", "id_number") == "H12345678"
    assert value(db, "C1", "birth_date") == "1980-01-01"  # a permit number carries no birth date
    for name, bad, why in (("gender", "X", "男 或 女"), ("id_valid_until", "明年", "长期"),
                           ("tax_residence", "美国", "CRS"), ("id_type", "统一社会信用代码", "credit code")):
        with pytest.raises(BrokerCRMError, match=why):
            data_changes.request(db, clerk, "C1", name, bad, **step)
    ok = data_changes.request(db, clerk, "C1", "address", "山西省太原市小店区某路1号", **step)
    assert ok["new_value"] == "山" + "*" * (len("山西省太原市小店区某路1号") - 1)  # masked unless revealed
    with pytest.raises(Forbidden):
        data_changes.request(db, actors("bj"), "C1", "address", "北京", **step)
    with pytest.raises(Conflict):
        data_changes.request(db, clerk, "C1", "address", "别处", **step)
