"""Operators, maker–checker approvals and policy publishing: every refusal path, the audit trail."""

import json

import pytest

from brokercrm.governance import approvals
from brokercrm.trust import operators
from brokercrm import plugins
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.kernel.hookspecs import hookimpl
from conftest import add_client

TY = "brokercrm-taiyuan"


def assess(db, client_id, level="C3", lowest=0, expires="2028-01-01"):
    db.execute(
        "INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version,"
        " answered_at, expires_at, imported_at) VALUES (?, '{}', 30, ?, ?, 1, '2026-01-01', ?, '2026-01-01')",
        [client_id, level, lowest, expires],
    )


def long_holder(db, client_id, branch="TY01", assets=1_500_000, **kw):
    """A client the 太原 rule moves up: 3+ years, holds ≥180 days, turnover < 1, assessed."""
    add_client(db, client_id, branch=branch, assets=assets, turnover=0.4, holding=400,
               opened_at="2019-05-01", name="王小明", **kw)
    assess(db, client_id)


@pytest.fixture
def gov(db):
    """admin and hq2 (head office), ty (branch TY01), bj (branch BJ01)."""
    operators.bootstrap(db, "admin")
    operators.add(db, "hq2", "headoffice", by="admin")
    operators.add(db, "ty", "branch", branch="TY01", by="admin")
    operators.add(db, "bj", "branch", branch="BJ01", by="admin")
    for i in range(3):
        long_holder(db, f"T{i:03d}")
    add_client(db, "T100", branch="TY01", assets=1_500_000, turnover=5.0, holding=10)  # short-term: stays
    return db


@pytest.fixture
def loaded(monkeypatch):
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    return plugins.load()


# -- operators -----------------------------------------------------------------------

@pytest.mark.parametrize("by, args, message", [
    (None, ("x", "branch", "TY01"), "须指明操作员"),
    ("nobody", ("x", "branch", "TY01"), "未登记"),
    ("ty", ("x", "branch", "TY01"), "仅限总部"),
    ("admin", ("x", "branch", None), "--branch"),
    ("admin", ("x", "branch", "ZZ99"), "不存在"),
    ("admin", ("x", "headoffice", "TY01"), "总部操作员不属于营业部"),
    ("admin", ("hq2", "headoffice", None), "已存在"),
    ("admin", ("x y", "headoffice", None), "无效"),
])
def test_operator_add_refusals(gov, by, args, message):
    name, role, branch = args
    with pytest.raises(BrokerCRMError, match=message):
        operators.add(gov, name, role, branch=branch, by=by)


def test_init_creates_the_first_head_office_operator_once(run, db_path):
    out = json.loads(run("init", "--admin", "chief", "--json").output)
    assert out["headoffice_operators"] == ["chief"]
    again = json.loads(run("init", "--admin", "other", "--json").output)
    assert again["headoffice_operators"] == ["chief"]
    listed = json.loads(run("operators", "list", "--as", "chief", "--json").output)
    assert [o["id"] for o in listed] == ["chief"]
    run("operators", "add", "ty", "--role", "branch", "--branch", "TY01", "--as", "chief")
    refused = run("operators", "add", "ty2", "--role", "branch", "--branch", "TY01", "--as", "ty", ok=False)
    assert refused.exit_code == 1 and "仅限总部" in refused.output
    refused = run("operators", "list", ok=False)
    assert refused.exit_code == 1 and "须指明操作员" in refused.output


def test_operator_from_environment(run, monkeypatch):
    run("init")
    monkeypatch.setenv("BROKERCRM_OPERATOR", "admin")
    run("operators", "add", "hq9", "--role", "headoffice")
    monkeypatch.setenv("BROKERCRM_OPERATOR", "hq9")
    assert "hq9" in run("operators", "list").output


# -- requests ------------------------------------------------------------------------

def test_request_records_name_version_digest_and_impact(gov, loaded):
    row = approvals.request(gov, loaded, TY, "TY01", operator="ty", note="长期持有客户上调")
    info = loaded.get(TY)
    assert (row["plugin"], row["version"], row["digest"], row["branch"]) == (TY, "0.1.0", info.digest, "TY01")
    assert row["status"] == "pending" and row["requested_by"] == "ty" and row["note"] == "长期持有客户上调"
    impact = row["impact"]
    assert impact["moves"] == {"B → A": 3} and impact["moved"] == 3 and impact["clients"] == 4
    ex = impact["examples"][0]
    assert ex["client_id"] == "T000" and (ex["from"], ex["to"]) == ("B", "A")
    assert ex["name"] == "王**" and "太原营业部" in ex["reason"]
    # The preview wrote nothing.
    assert gov.execute("SELECT count(*) FROM classifications").fetchone()[0] == 0
    assert approvals.state(gov, TY, info.version, info.digest, "TY01")[0] == "pending"


@pytest.mark.parametrize("operator, plugin, branch, message", [
    (None, TY, "TY01", "须指明操作员"),
    ("ghost", TY, "TY01", "未登记"),
    ("bj", TY, "TY01", "不能为 TY01 申请"),
    ("ty", TY, "ZZ99", "不存在"),
    ("ty", "brokercrm-nonexistent", "TY01", "未安装"),
])
def test_request_refusals(gov, loaded, operator, plugin, branch, message):
    with pytest.raises(BrokerCRMError, match=message):
        approvals.request(gov, loaded, plugin, branch, operator=operator)
    assert gov.execute("SELECT count(*) FROM approvals").fetchone()[0] == 0


def test_request_twice_or_when_already_approved_is_refused(gov, loaded):
    row = approvals.request(gov, loaded, TY, "TY01", operator="ty")
    with pytest.raises(BrokerCRMError, match="待审批"):
        approvals.request(gov, loaded, TY, "TY01", operator="ty")
    approvals.approve(gov, loaded, row["id"], operator="admin")
    with pytest.raises(BrokerCRMError, match="已获批"):
        approvals.request(gov, loaded, TY, "TY01", operator="hq2")


def test_head_office_may_request_for_any_branch(gov, loaded):
    assert approvals.request(gov, loaded, TY, "BJ01", operator="hq2")["impact"]["moves"] == {}


# -- decisions -----------------------------------------------------------------------

def test_only_head_office_decides(gov, loaded):
    row = approvals.request(gov, loaded, TY, "TY01", operator="ty")
    for who in ("ty", "bj"):
        with pytest.raises(BrokerCRMError, match="仅限总部"):
            approvals.approve(gov, loaded, row["id"], operator=who)
        with pytest.raises(BrokerCRMError, match="仅限总部"):
            approvals.reject(gov, row["id"], operator=who, reason="no")
    with pytest.raises(BrokerCRMError, match="未登记"):
        approvals.approve(gov, loaded, row["id"], operator="ghost")
    with pytest.raises(BrokerCRMError, match="须指明操作员"):
        approvals.approve(gov, loaded, row["id"], operator=None)
    assert approvals.get(gov, row["id"])["status"] == "pending"


def test_nobody_decides_their_own_request(gov, loaded):
    row = approvals.request(gov, loaded, TY, "TY01", operator="admin")
    with pytest.raises(BrokerCRMError, match="不能审批自己"):
        approvals.approve(gov, loaded, row["id"], operator="admin")
    with pytest.raises(BrokerCRMError, match="不能审批自己"):
        approvals.reject(gov, row["id"], operator="admin", reason="mine")
    approved = approvals.approve(gov, loaded, row["id"], operator="hq2")
    assert approved["status"] == "approved" and approved["decided_by"] == "hq2"
    with pytest.raises(BrokerCRMError, match="不能审批自己"):
        approvals.revoke(gov, row["id"], operator="admin", reason="mine")


def test_self_approval_refused_through_the_cli(gov, run):
    out = run("approvals", "request", TY, "--branch", "TY01", "--as", "hq2", "--json")
    n = str(json.loads(out.output)["id"])
    refused = run("approvals", "approve", n, "--as", "hq2", ok=False)
    assert refused.exit_code == 1 and "maker–checker" in refused.output
    assert "Traceback" not in refused.output
    run("approvals", "approve", n, "--as", "admin")
    shown = json.loads(run("approvals", "show", n, "--as", "ty", "--json").output)
    assert shown["status"] == "approved" and shown["decided_by"] == "admin"


def test_decisions_only_from_the_right_status_and_with_reasons(gov, loaded):
    row = approvals.request(gov, loaded, TY, "TY01", operator="ty")
    n = row["id"]
    with pytest.raises(BrokerCRMError, match="status must be approved"):
        approvals.revoke(gov, n, operator="admin", reason="x")
    with pytest.raises(BrokerCRMError, match="理由"):
        approvals.reject(gov, n, operator="admin", reason="  ")
    approvals.reject(gov, n, operator="admin", reason="资产稳定的口径不清")
    with pytest.raises(BrokerCRMError, match="只能批准待审批"):
        approvals.approve(gov, loaded, n, operator="admin")
    info = loaded.get(TY)
    st, why = approvals.state(gov, TY, info.version, info.digest, "TY01")
    assert st == "rejected" and "资产稳定的口径不清" in why
    with pytest.raises(BrokerCRMError, match="不存在"):
        approvals.approve(gov, loaded, 999, operator="admin")


def test_revoke_stops_an_approval(gov, loaded):
    n = approvals.request(gov, loaded, TY, "TY01", operator="ty")["id"]
    approvals.approve(gov, loaded, n, operator="admin")
    info = loaded.get(TY)
    assert approvals.standing(gov, TY, info.version, info.digest, "TY01") == n
    with pytest.raises(BrokerCRMError, match="理由"):
        approvals.revoke(gov, n, operator="hq2", reason="")
    approvals.revoke(gov, n, operator="hq2", reason="复核发现口径过宽")
    assert approvals.standing(gov, TY, info.version, info.digest, "TY01") is None
    assert approvals.state(gov, TY, info.version, info.digest, "TY01")[0] == "revoked"


class Steady:
    """An in-process stand-in for an installed plugin whose code or version can 'change'."""

    @hookimpl
    def classification_adjustments(self, branch):
        return [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "shift": 1, "reason": "测试: 上调一级"}]


def _plugins(version="1.0", digest="a" * 64):
    p = plugins.Plugins()
    p.register(Steady(), "brokercrm-steady", version=version, digest=digest)
    return p


def test_approve_refused_when_installed_code_changed_since_request(gov):
    n = approvals.request(gov, _plugins(), "brokercrm-steady", "TY01", operator="ty")["id"]
    with pytest.raises(BrokerCRMError, match="与申请 #1 时"):
        approvals.approve(gov, _plugins(digest="b" * 64), n, operator="admin")
    with pytest.raises(BrokerCRMError, match="与申请 #1 时"):
        approvals.approve(gov, _plugins(version="1.1"), n, operator="admin")
    with pytest.raises(BrokerCRMError, match="未安装"):
        approvals.approve(gov, plugins.Plugins(), n, operator="admin")


def test_states_for_each_branch(gov):
    p = _plugins()
    assert approvals.state(gov, "brokercrm-steady", "1.0", "a" * 64, "TY01")[0] == "none"
    n = approvals.request(gov, p, "brokercrm-steady", "TY01", operator="ty")["id"]
    approvals.approve(gov, p, n, operator="admin")
    assert approvals.state(gov, "brokercrm-steady", "1.0", "a" * 64, "TY01")[0] == "approved"
    st, why = approvals.state(gov, "brokercrm-steady", "1.0", "a" * 64, "BJ01")
    assert st == "none" and "TY01" in why
    st, why = approvals.state(gov, "brokercrm-steady", "1.0", "b" * 64, "TY01")
    assert st == "changed since approval" and "code changed" in why
    st, why = approvals.state(gov, "brokercrm-steady", "1.1", "a" * 64, "TY01")
    assert st == "changed since approval" and "1.0 → 1.1" in why
    # Re-approving new code supersedes the old approval: going back to the old code needs approval again.
    p2 = _plugins(digest="b" * 64)
    m = approvals.request(gov, p2, "brokercrm-steady", "TY01", operator="ty")["id"]
    approvals.approve(gov, p2, m, operator="hq2")
    assert approvals.standing(gov, "brokercrm-steady", "1.0", "a" * 64, "TY01") is None
    assert approvals.standing(gov, "brokercrm-steady", "1.0", "b" * 64, "TY01") == m


def test_plugins_list_shows_every_state(gov, run, monkeypatch):
    p = _plugins()
    monkeypatch.setattr(plugins, "load", lambda *a, **k: p)
    n = approvals.request(gov, p, "brokercrm-steady", "TY01", operator="ty")["id"]
    approvals.request(gov, p, "brokercrm-steady", "BJ01", operator="bj")
    approvals.approve(gov, p, n, operator="admin")
    gov.conn.commit()
    rows = json.loads(run("plugins", "list", "--json").output)
    (row,) = rows
    assert row["name"] == "brokercrm-steady" and row["version"] == "1.0" and row["digest"] == "a" * 64
    assert row["hooks"] == ["classification_adjustments"]
    assert {b: s["state"] for b, s in row["branches"].items()} == {"TY01": "approved", "BJ01": "pending", "SH01": "none"}
    text = run("plugins", "list").output
    assert "brokercrm-steady 1.0" in text and "pending" in text


def test_approval_rows_are_immutable_in_the_database(gov, loaded):
    import sqlite3

    n = approvals.request(gov, loaded, TY, "TY01", operator="ty")["id"]
    with pytest.raises(sqlite3.IntegrityError):
        gov.execute("UPDATE approvals SET digest = 'x' WHERE id = ?", [n])
    with pytest.raises(sqlite3.IntegrityError):
        gov.execute("UPDATE approvals SET status = 'revoked' WHERE id = ?", [n])
    with pytest.raises(sqlite3.IntegrityError):
        gov.execute("DELETE FROM approvals WHERE id = ?", [n])


def test_listing_and_showing_need_a_known_operator(gov, run):
    run("approvals", "request", TY, "--branch", "TY01", "--as", "ty")
    assert run("approvals", "list", ok=False).exit_code == 1
    assert run("approvals", "show", "1", "--as", "ghost", ok=False).exit_code == 1
    listed = json.loads(run("approvals", "list", "--as", "bj", "--json").output)
    assert [a["status"] for a in listed] == ["pending"]
    text = run("approvals", "show", "1", "--as", "bj").output
    assert "B → A: 3" in text and "王**" in text and "王小明" not in text


def test_everything_lands_in_the_audit_log_without_personal_data(gov, loaded):
    n = approvals.request(gov, loaded, TY, "TY01", operator="ty")["id"]
    approvals.approve(gov, loaded, n, operator="admin")
    approvals.revoke(gov, n, operator="hq2", reason="复核")
    m = approvals.request(gov, loaded, TY, "TY01", operator="ty")["id"]
    approvals.reject(gov, m, operator="hq2", reason="暂缓")
    rows = gov.execute("SELECT operator, action, target, digest, detail FROM audit_log ORDER BY id").fetchall()
    actions = [(op, action) for op, action, *_ in rows if action.startswith("approval.")]
    assert actions == [("ty", "approval.request"), ("admin", "approval.approve"), ("hq2", "approval.revoke"),
                       ("ty", "approval.request"), ("hq2", "approval.reject")]
    digest = loaded.get(TY).digest
    assert all(d == digest for _, a, _, d, _ in rows if a.startswith("approval."))
    assert ("admin", "operator.add") in [(op, a) for op, a, *_ in rows]
    everything = " ".join(str(r) for r in rows) + " ".join(
        str(r) for r in gov.execute("SELECT * FROM approvals").fetchall())
    assert "王小明" not in everything


# -- head-office policy ----------------------------------------------------------------

def test_policy_publish_is_head_office_only(gov, run, tmp_path):
    from brokercrm.policy.sets import default_policy_dir

    body = (default_policy_dir() / "classification.toml").read_text(encoding="utf-8")
    new = tmp_path / "classification.toml"
    new.write_text(body.replace("turnover_threshold = 3.0", "turnover_threshold = 2.5"), encoding="utf-8")
    for who, message in ((None, "须指明操作员"), ("ty", "仅限总部"), ("ghost", "未登记")):
        args = ["policy", "publish", str(new)] + (["--as", who] if who else [])
        refused = run(*args, ok=False)
        assert refused.exit_code == 1 and message in refused.output
    out = json.loads(run("policy", "publish", str(new), "--as", "hq2", "--json").output)
    assert out["version"] == 2 and out["published_by"] == "hq2"
    audit = gov.execute("SELECT operator, digest FROM audit_log WHERE action = 'policy.publish' ORDER BY id DESC").fetchone()
    assert audit == ("hq2", out["digest"])
    # classify uses the published set, not the file on disk, and says which version.
    new.write_text(body.replace("turnover_threshold = 3.0", "turnover_threshold = 0.1"), encoding="utf-8")
    result = json.loads(run("classify", "--json").output)
    assert result["policy_version"] == 2 and result["policy_digest"] == out["digest"]
    assert "v2" in run("classify", "--dry-run").output
