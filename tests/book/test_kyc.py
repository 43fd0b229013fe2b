"""Three-level verification, the random callback sample, plausibility flags and ID expiry
(issue 11 item 7; seed 000; 办法 Art. 6–7)."""

import json

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden
from brokercrm.kyc import id_expiry, plausibility, verification
from brokercrm.trust import authz

from conftest import add_client

# conftest's clock: 2026-06-30


@pytest.fixture(autouse=True)
def setup(db, actors):
    add_client(db, "C1", occupation="兼职网约车司机", income=500000, opened_at="2026-06-20")
    add_client(db, "C2", occupation="教师", income=120000, opened_at="2026-06-21", id_valid_until="2026-07-15")
    add_client(db, "C3", occupation="在校学生", assets=2_000_000, opened_at="2026-06-22", id_valid_until="2026-01-01")
    add_client(db, "C4", birth="2000-01-01", investment_years=15, opened_at="2026-06-23", id_valid_until="长期")
    add_client(db, "B1", branch="BJ01", opened_at="2026-06-24")
    for op, branch in (("clerk", "TY01"), ("manager", "TY01"), ("bj", "BJ01")):
        actors(op, branch=branch)
    actors("svc", role="service")


def audit_actions(db, prefix):
    return [r[0] for r in db.execute("SELECT action FROM audit_log WHERE action LIKE ? ORDER BY id", [prefix + "%"])]


def test_three_levels_are_audited_acts(db, run):
    run("kyc", "verify", "C1", "--level", "system", "--method", "公安部公民身份信息核查", "--as", "clerk")
    run("kyc", "verify", "C1", "--level", "in_person", "--note", "职业与收入来源当面确认", "--as", "manager")
    status = json.loads(run("kyc", "status", "C1", "--json").output)
    assert status["verification"]["system"]["operator"] == "clerk"
    assert status["verification"]["in_person"]["result"] == "confirmed"
    assert status["verification"]["callback"] is None
    assert audit_actions(db, "kyc.verify") == ["kyc.verify", "kyc.verify"]
    # defence: a confirmation needs a note; another branch may not record; service accounts never
    assert "--note" in run("kyc", "verify", "C1", "--level", "callback", "--as", "clerk", ok=False).output
    assert "无权" in run("kyc", "verify", "C1", "--level", "system", "--as", "bj", ok=False).output
    assert "无权" in run("kyc", "verify", "C1", "--level", "system", "--as", "svc", ok=False).output
    assert len(audit_actions(db, "kyc.verify")) == 2


def test_a_system_check_cannot_confirm_an_expired_or_invalid_id(db, actors):
    clerk = actors("clerk")
    # defence: verification.record refuses a confirmed system check on an expired ID (C3: 2026-01-01)
    with pytest.raises(Conflict, match="expired"):
        verification.record(db, clerk, "C3", "system")
    db.execute("UPDATE clients SET id_number = 'H12345678' WHERE client_id = 'C2'")  # no type: a resident ID
    with pytest.raises(Conflict, match="居民身份证"):
        verification.record(db, clerk, "C2", "system")
    failed = verification.record(db, clerk, "C3", "system", result="failed", method="公安联网")
    assert failed["failed"] == ["system"] and failed["confirmed"] == []


def test_callback_sample_is_seeded_recorded_and_reproducible(db, run, actors, admin):
    first = json.loads(run("kyc", "sample", "--from", "2026-06-01", "--to", "2026-06-30", "--seed", "k11c",
                           "--json").output)
    # 5 new accounts, rate 10% rounded up (policy): one
    assert first["population"] == 5 and first["sampled"] == 1 and first["seed"] == "k11c"
    replay = json.loads(run("kyc", "sample-replay", first["id"], "--json").output)
    assert replay["matches"] and replay["recomputed"] == first["clients"]
    # the same seed over the same population draws the same clients
    assert verification._draw(["B1", "C1", "C2", "C3", "C4"], "k11c", 1) == first["clients"]
    [client] = first["clients"]
    task = db.execute("SELECT kind, status, origin FROM tasks WHERE client_id = ? AND kind = 'kyc_callback'",
                      [client]).fetchone()
    assert task == ("kyc_callback", "open", f"kyc_sample:{first['id']}")
    # a client is considered by one sample only
    again = json.loads(run("kyc", "sample", "--from", "2026-06-01", "--to", "2026-06-30", "--json").output)
    assert again["population"] == 0 and again["sampled"] == 0 and len(again["seed"]) == 16
    # the callback answers the sampled task
    verification.record(db, admin, client, "callback", method="电话", note="开户资料回访确认无误")
    assert db.execute("SELECT status FROM tasks WHERE client_id = ? AND kind = 'kyc_callback'",
                      [client]).fetchone()[0] == "done"
    assert "kyc.sample" in audit_actions(db, "kyc.sample")


def test_a_branch_samples_its_own_new_accounts(db, actors):
    clerk = actors("clerk")
    r = verification.sample(db, clerk, opened_from="2026-06-01", opened_to="2026-06-30", seed="x")
    assert r["population"] == 4  # TY01 only: B1 is BJ01's
    with pytest.raises(Forbidden):
        verification.sample(db, clerk, branch="BJ01")
    assert verification.sample_size(0, 0.1, 1) == 0 and verification.sample_size(25, 0.1, 1) == 3
    with pytest.raises(BrokerCRMError, match="not a real date"):
        verification.sample(db, clerk, opened_from="2026-02-30")


def test_plausibility_flags_never_block(db, run, tmp_path):
    shown = json.loads(run("clients", "show", "C1", "--json").output)
    assert [r["rule"] for r in shown["kyc"]["plausibility"]] == ["gig_high_income"]
    assert "资料合理性" in run("clients", "show", "C1").output
    out = json.loads(run("kyc", "plausibility", "--json").output)
    # defence: each rule of policies/kyc.toml (seed 000's ride-hail driver, a student with
    # large assets, investment years beyond the age)
    assert out["new_flags"] == {"gig_high_income": 1, "student_large_assets": 1, "unemployed_high_income": 0,
                                "years_exceed_age": 1}
    assert {(f["client_id"], f["rule_id"]) for f in out["open"]} == {
        ("C1", "gig_high_income"), ("C3", "student_large_assets"), ("C4", "years_exceed_age")}
    again = json.loads(run("kyc", "plausibility", "--json").output)
    assert set(again["new_flags"].values()) == {0}  # an open flag is not repeated
    flag = out["open"][0]["id"]
    assert run("kyc", "flag-clear", flag, ok=False).exit_code != 0  # a note is required
    cleared = json.loads(run("kyc", "flag-clear", flag, "--note", "核实为兼职, 年收入改为9.6万", "--as", "clerk",
                             "--json").output)
    assert cleared["state"] == "cleared" and cleared["cleared_by"] == "clerk"
    assert [f["client_id"] for f in json.loads(run("kyc", "flags", "--json").output)] == ["C3", "C4"]
    # a branch operator's run and report cover their own branch only
    assert json.loads(run("kyc", "flags", "--as", "bj", "--json").output) == []


def test_plausibility_does_not_block_an_import(db, run, tmp_path):
    from conftest import person, write_csv
    path = write_csv(tmp_path / "c.csv", [person("N1", occupation="外卖骑手", annual_income="600000")])
    run("import", "clients", path)
    assert [r["rule"] for r in plausibility.reasons(db, "N1")] == ["gig_high_income"]


def test_expiring_ids_open_a_task_once_and_expired_ones_are_listed(db, run):
    out = json.loads(run("kyc", "id-expiry", "--json").output)
    assert [r["client_id"] for r in out["expiring"]] == ["C2"]      # 2026-07-15, within 30 days
    assert [r["client_id"] for r in out["expired"]] == ["C3"]       # 2026-01-01; 长期 never expires
    assert out["tasks_opened"] == 1
    task = db.execute("SELECT kind, title FROM tasks WHERE client_id = 'C2' AND kind = 'id_renewal'").fetchall()
    assert len(task) == 1 and "2026-07-15" in task[0][1]
    assert json.loads(run("kyc", "id-expiry", "--json").output)["tasks_opened"] == 0
    # a shorter notice period (a setting) leaves C2 out
    assert json.loads(run("kyc", "id-expiry", "--days", "5", "--json").output)["expiring"] == []
    shown = json.loads(run("clients", "show", "C3", "--json").output)
    assert shown["kyc"]["id_status"] == "expired"


def test_kyc_facts_are_masked_in_clients_show(db, run):
    db.execute("UPDATE clients SET address = '山西省太原市小店区某路1号', gender = '男', actual_controller = '王五'"
               " WHERE client_id = 'C1'")
    shown = json.loads(run("clients", "show", "C1", "--json").output)["client"]
    assert shown["address"].startswith("山*") and "小店区" not in json.dumps(shown, ensure_ascii=False)
    assert shown["gender"] == "男" and shown["actual_controller"] == "王*"
    revealed = json.loads(run("clients", "show", "C1", "--reveal", "--json").output)["client"]
    assert revealed["address"] == "山西省太原市小店区某路1号"


def test_new_acts_are_denied_by_default():
    for act in ("kyc.verify", "kyc.sample", "kyc.flag.clear", "client.change.csdc"):
        assert authz.SERVICE not in authz.ACTS[act][1]


def test_incomplete_kyc_is_reported_per_kind(db, run):
    full = dict(gender="男", address="太原", income_source="工资", debts="无", integrity_record="无不良记录",
                tax_residence="中国税收居民", id_valid_until="2035-01-01", occupation="教师", income=100000)
    add_client(db, "F1", **full)
    add_client(db, "I1", kind="institution", legal_representative="王五", address="太原", business_scope="贸易",
               net_assets=1e7, integrity_record="无", tax_residence="中国税收居民", id_valid_until="长期",
               beneficial_owners="张三(60%)")
    report = {r["client_id"]: r["missing"] for r in json.loads(run("kyc", "incomplete", "--json").output)}
    # defence: the policy's [completeness] lists, per kind
    assert "F1" not in report and report["I1"] == ["actual_controller"]
    assert "gender" in report["C1"] and "address" in report["C1"]
    assert json.loads(run("clients", "show", "I1", "--json").output)["kyc"]["missing"] == ["actual_controller"]
    assert "缺少资料" in run("clients", "show", "C1").output
    assert all(r["branch_id"] == "BJ01" for r in json.loads(run("kyc", "incomplete", "--as", "bj", "--json").output))
