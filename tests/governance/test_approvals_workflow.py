"""Operators, maker–checker approvals and policy publishing: every refusal path, the audit trail.

Operators are certified people holding their keys (``actors``); a bare
operator id is nobody. Decisions are signed audit rows that the gate
(``brokercrm.plugins.gate``) verifies; the approvals table is a display cache.
"""

import dataclasses
import json
import sqlite3

import pytest
from click.testing import CliRunner

from brokercrm import plugins
from brokercrm.cli import cli
from brokercrm.governance import approvals
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.plugins import gate
from brokercrm.trust import identity, keys, operators
from brokercrm.trust import root as trust_root
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
def people(actors, admin):
    """admin (the root) and hq2 (head office), ty (branch TY01), bj (branch BJ01); None and a bare id."""
    return {"admin": admin, "hq2": actors("hq2"), "ty": actors("ty", branch="TY01"),
            "bj": actors("bj", branch="BJ01"), None: None, "ghost": "ghost"}


@pytest.fixture
def gov(db, people):
    for i in range(3):
        long_holder(db, f"T{i:03d}")
    add_client(db, "T100", branch="TY01", assets=1_500_000, turnover=5.0, holding=10)  # short-term: stays
    return db


@pytest.fixture
def loaded(monkeypatch):
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    with plugins.load() as host:
        yield host


def state(db, host, name, branch, **changed):
    """(state, why) of installed plugin ``name`` for ``branch``; ``changed`` pretends its version/digest moved."""
    info = dataclasses.replace(host.require(name), **changed)
    return gate.state(db, trust_root.for_db(db), info, branch)


def self_certified(db, admin, operator_id):
    """A head-office operator who made their own key: custody "self", nobody else ever held it."""
    key = keys.generate()
    operators.add(db, admin, operator_id, "headoffice", public_key=keys.public_b64(key))
    return identity.authenticate(db, operator_id, key, admin.root)


# -- operators -----------------------------------------------------------------------

@pytest.mark.parametrize("by, args, message", [
    (None, ("x", "branch", "TY01"), "未认证的操作员"),
    ("ghost", ("x", "branch", "TY01"), "未认证的操作员"),      # a bare id is nobody
    ("ty", ("x", "branch", "TY01"), "无权新增操作员"),
    ("hq2", ("x", "headoffice", None), "只有根操作员可以新增总部操作员"),
    ("admin", ("x", "branch", None), "--branch"),
    ("admin", ("x", "branch", "ZZ99"), "不存在"),
    ("admin", ("x", "headoffice", "TY01"), "总部操作员不属于营业部"),
    ("admin", ("hq2", "headoffice", None), "已存在"),
    ("admin", ("x y", "headoffice", None), "无效"),
    ("admin", ("x\x1b[2J", "headoffice", None), "无效"),         # no control characters in ids
])
def test_operator_add_refusals(gov, people, by, args, message):
    name, role, branch = args
    before = gov.execute("SELECT count(*) FROM operators").fetchone()[0]
    with pytest.raises(BrokerCRMError, match=message):
        operators.add(gov, people[by], name, role, branch=branch)
    assert gov.execute("SELECT count(*) FROM operators").fetchone()[0] == before


def test_operator_add_refusals_through_the_cli(gov, people, run, actors, tmp_path):
    args = ["operators", "add", "x", "--role", "branch", "--branch", "TY01", "--key-out", tmp_path / "x.key",
            "--no-passphrase"]
    admin_key = actors.key_file("admin")
    for extra, message in (([], "须指明操作员"),
                           (["--as", "ghost"], "须提供其私钥"),                      # named, no key
                           (["--as", "nobody", "--key", admin_key], "未登记"),
                           (["--as", "hq2", "--key", admin_key], "不属于操作员 hq2"),  # someone else's key
                           (["--as", "ty"], "无权新增操作员")):
        refused = run(*args, *extra, operator=None, ok=False)
        assert refused.exit_code == 1 and message in refused.output, (extra, refused.output)
        assert "Traceback" not in refused.output
    assert not (tmp_path / "x.key").exists()
    run(*args)  # as admin
    assert (tmp_path / "x.key").exists()


def test_init_creates_the_first_head_office_operator_once(tmp_path, monkeypatch):
    monkeypatch.setenv("BROKERCRM_NOW", "2026-06-30T10:00:00+08:00")
    for name in ("BROKERCRM_DB", "BROKERCRM_OPERATOR", "BROKERCRM_KEY", "BROKERCRM_TRUST_ROOT"):
        monkeypatch.delenv(name, raising=False)
    db, runner = tmp_path / "fresh.db", CliRunner()

    def fresh(*args, ok=True):
        result = runner.invoke(cli, [*map(str, args), "--db", str(db)])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    chief, other = tmp_path / "chief.key", tmp_path / "other.key"
    out = json.loads(fresh("init", "--admin", "chief", "--key-out", chief, "--no-passphrase", "--json").output)
    assert out["created"] == "chief" and out["key_file"] == str(chief) and chief.exists()
    assert out["trust_root"] == f"{db}.trust-root"
    again = json.loads(fresh("init", "--admin", "other", "--key-out", other, "--no-passphrase", "--json").output)
    assert again["created"] is None and again["fingerprint"] == out["fingerprint"] and not other.exists()
    as_chief = ["--as", "chief", "--key", chief]
    listed = json.loads(fresh("operators", "list", *as_chief, "--json").output)
    assert [o["id"] for o in listed] == ["chief"] and listed[0]["trusted"]
    fresh("branches", "add", "TY01", "太原营业部", *as_chief)
    ty = tmp_path / "ty.key"
    fresh("operators", "add", "ty", "--role", "branch", "--branch", "TY01", "--key-out", ty, "--no-passphrase",
          *as_chief)
    refused = fresh("operators", "add", "ty2", "--role", "branch", "--branch", "TY01", "--key-out",
                    tmp_path / "ty2.key", "--no-passphrase", "--as", "ty", "--key", ty, ok=False)
    assert refused.exit_code == 1 and "无权新增操作员" in refused.output
    refused = fresh("operators", "list", ok=False)
    assert refused.exit_code == 1 and "须指明操作员" in refused.output


def test_operator_from_environment(run, actors, monkeypatch, tmp_path):
    monkeypatch.setenv("BROKERCRM_OPERATOR", "admin")
    refused = run("operators", "list", operator=None, ok=False)  # named by the variable, but no key
    assert refused.exit_code == 1 and "须提供其私钥" in refused.output
    monkeypatch.setenv("BROKERCRM_KEY", str(actors.key_file("admin")))
    hq9 = tmp_path / "hq9.key"
    run("operators", "add", "hq9", "--role", "headoffice", "--key-out", hq9, "--no-passphrase", operator=None)
    monkeypatch.setenv("BROKERCRM_OPERATOR", "hq9")
    monkeypatch.setenv("BROKERCRM_KEY", str(hq9))
    assert "hq9" in run("operators", "list", operator=None).output


# -- requests ------------------------------------------------------------------------

def test_request_records_name_version_digest_and_impact(gov, loaded, people):
    row = approvals.request(gov, loaded, people["ty"], TY, "TY01", note="长期持有客户上调")
    info = loaded.get(TY)
    assert (row["plugin"], row["version"], row["digest"], row["branch"]) == (TY, "0.1.0", info.digest, "TY01")
    assert row["status"] == "pending" and row["requested_by"] == "ty" and row["note"] == "长期持有客户上调"
    assert set(row["rules"]) == {"classification_adjustments"} and row["policy_version"] == 1
    impact = row["impact"]
    assert impact["moves"] == {"B → A": 3} and impact["moved"] == 3 and impact["clients"] == 4
    ex = impact["examples"][0]
    assert ex["client_id"] == "T000" and (ex["from"], ex["to"]) == ("B", "A")
    assert ex["name"] == "王**" and "太原营业部" in ex["reason"]
    # The preview wrote nothing.
    assert gov.execute("SELECT count(*) FROM classifications").fetchone()[0] == 0
    assert state(gov, loaded, TY, "TY01")[0] == "pending"
    # The request is a row signed by the requester, binding code and rules.
    operator, detail = gov.execute("SELECT operator, detail FROM audit_log WHERE id = ?",
                                   [row["request_audit_id"]]).fetchone()
    detail = json.loads(detail)
    assert operator == "ty" and (detail["digest"], detail["rules"]) == (info.digest, row["rules"])


@pytest.mark.parametrize("operator, plugin, branch, message", [
    (None, TY, "TY01", "未认证的操作员"),
    ("ghost", TY, "TY01", "未认证的操作员"),
    ("bj", TY, "TY01", "无权申请批准插件于营业部 TY01"),
    ("ty", TY, "ZZ99", "无权申请批准插件于营业部 ZZ99"),
    ("hq2", TY, "ZZ99", "不存在"),
    ("ty", "brokercrm-nonexistent", "TY01", "未安装"),
])
def test_request_refusals(gov, loaded, people, operator, plugin, branch, message):
    with pytest.raises(BrokerCRMError, match=message):
        approvals.request(gov, loaded, people[operator], plugin, branch)
    assert gov.execute("SELECT count(*) FROM approvals").fetchone()[0] == 0


def test_request_twice_or_when_already_approved_is_refused(gov, loaded, people):
    row = approvals.request(gov, loaded, people["ty"], TY, "TY01")
    with pytest.raises(BrokerCRMError, match="待审批"):
        approvals.request(gov, loaded, people["ty"], TY, "TY01")
    approvals.approve(gov, loaded, people["admin"], row["id"])
    with pytest.raises(BrokerCRMError, match="已获批"):
        approvals.request(gov, loaded, people["hq2"], TY, "TY01")


def test_head_office_may_request_for_any_branch(gov, loaded, people):
    assert approvals.request(gov, loaded, people["hq2"], TY, "BJ01")["impact"]["moves"] == {}


# -- decisions -----------------------------------------------------------------------

def test_only_head_office_decides(gov, loaded, people):
    row = approvals.request(gov, loaded, people["ty"], TY, "TY01")
    for who in ("ty", "bj"):
        with pytest.raises(BrokerCRMError, match="无权审批插件"):
            approvals.approve(gov, loaded, people[who], row["id"])
        with pytest.raises(BrokerCRMError, match="无权审批插件"):
            approvals.reject(gov, people[who], row["id"], reason="no")
    for who in ("ghost", None):
        with pytest.raises(BrokerCRMError, match="未认证的操作员"):
            approvals.approve(gov, loaded, people[who], row["id"])
    assert approvals.get(gov, row["id"])["status"] == "pending"
    assert gate.decision(gov, trust_root.for_db(gov), TY, "TY01") is None


def test_nobody_decides_their_own_request(gov, loaded, people):
    admin = people["admin"]
    row = approvals.request(gov, loaded, admin, TY, "TY01")
    with pytest.raises(BrokerCRMError, match="不能审批自己"):
        approvals.approve(gov, loaded, admin, row["id"])
    with pytest.raises(BrokerCRMError, match="不能审批自己"):
        approvals.reject(gov, admin, row["id"], reason="mine")
    # Another id is not enough: hq2's key was generated by admin, the requester, who holds it too.
    with pytest.raises(BrokerCRMError, match="的密钥由申请人 admin 生成"):
        approvals.approve(gov, loaded, people["hq2"], row["id"])
    assert approvals.get(gov, row["id"])["status"] == "pending"
    hq3 = self_certified(gov, admin, "hq3")
    approved = approvals.approve(gov, loaded, hq3, row["id"])
    assert approved["status"] == "approved" and approved["decided_by"] == "hq3"
    assert state(gov, loaded, TY, "TY01")[0] == "approved"
    # Stopping a plugin is never a maker–checker risk: any head-office operator may revoke,
    # the requester too (the trust work made revocation head office's alone, not another person's).
    revoked = approvals.revoke(gov, admin, row["id"], reason="mine")
    assert revoked["status"] == "revoked" and revoked["decided_by"] == "admin"


def test_self_approval_refused_through_the_cli(gov, run):
    out = run("approvals", "request", TY, "--branch", "TY01", "--as", "hq2", "--json")
    n = str(json.loads(out.output)["id"])
    refused = run("approvals", "approve", n, "--as", "hq2", ok=False)
    assert refused.exit_code == 1 and "maker–checker" in refused.output
    assert "Traceback" not in refused.output
    run("approvals", "approve", n, "--as", "admin")
    shown = json.loads(run("approvals", "show", n, "--as", "ty", "--json").output)
    assert shown["status"] == "approved" and shown["decided_by"] == "admin"


def test_decisions_only_from_the_right_status_and_with_reasons(gov, loaded, people):
    admin = people["admin"]
    row = approvals.request(gov, loaded, people["ty"], TY, "TY01")
    n = row["id"]
    with pytest.raises(BrokerCRMError, match="status must be approved"):
        approvals.revoke(gov, admin, n, reason="x")
    with pytest.raises(BrokerCRMError, match="理由"):
        approvals.reject(gov, admin, n, reason="  ")
    approvals.reject(gov, admin, n, reason="资产稳定的口径不清")
    with pytest.raises(BrokerCRMError, match="只能批准待审批"):
        approvals.approve(gov, loaded, admin, n)
    st, why = state(gov, loaded, TY, "TY01")
    assert st == "rejected" and "资产稳定的口径不清" in why
    with pytest.raises(BrokerCRMError, match="不存在"):
        approvals.approve(gov, loaded, admin, 999)


def test_revoke_stops_an_approval(gov, loaded, people):
    n = approvals.request(gov, loaded, people["ty"], TY, "TY01")["id"]
    approvals.approve(gov, loaded, people["admin"], n)
    assert [(info.name, d.approval_id) for info, d in gate.approved_for(gov, loaded, "TY01")] == [(TY, n)]
    with pytest.raises(BrokerCRMError, match="理由"):
        approvals.revoke(gov, people["hq2"], n, reason="")
    approvals.revoke(gov, people["hq2"], n, reason="复核发现口径过宽")
    assert gate.approved_for(gov, loaded, "TY01") == []
    st, why = state(gov, loaded, TY, "TY01")
    assert st == "revoked" and "hq2" in why and "复核发现口径过宽" in why


STEADY = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch):
    return [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "shift": 1, "reason": "测试: 上调一级"}]
"""


def test_approve_refused_when_installed_code_changed_since_request(gov, plugin_site, people, tmp_path):
    pkg = plugin_site.install("brokercrm-steady", STEADY, version="1.0")
    with plugin_site.host() as p:
        n = approvals.request(gov, p, people["ty"], "brokercrm-steady", "TY01")["id"]
    source = (pkg / "__init__.py").read_text()
    (pkg / "__init__.py").write_text(source + "# changed\n")
    with plugin_site.host() as changed, pytest.raises(BrokerCRMError, match="与申请 #1 时"):
        approvals.approve(gov, changed, people["admin"], n)
    (pkg / "__init__.py").write_text(source)
    (next(plugin_site.path.glob("*.dist-info")) / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: brokercrm-steady\nVersion: 1.1\n")
    with plugin_site.host() as newer:
        assert newer.get("brokercrm-steady").version == "1.1"
        with pytest.raises(BrokerCRMError, match="与申请 #1 时"):
            approvals.approve(gov, newer, people["admin"], n)
    empty = tmp_path / "empty-site"
    empty.mkdir()
    with plugins.load(path=[str(empty)]) as none, pytest.raises(BrokerCRMError, match="未安装"):
        approvals.approve(gov, none, people["admin"], n)
    assert approvals.get(gov, n)["status"] == "pending"


def test_approve_refused_when_the_rules_differ_from_the_request(gov, plugin_site, people, tmp_path):
    """Same code, other rules (read from a file): the behaviour is not what was requested."""
    threshold = tmp_path / "threshold.txt"
    threshold.write_text("0")
    plugin_site.install("brokercrm-filed", f"""
        import pathlib
        from brokercrm.hookspecs import hookimpl

        @hookimpl
        def classification_adjustments(branch):
            value = int(pathlib.Path({str(threshold)!r}).read_text())
            return [{{"when": {{"field": "total_assets", "op": ">=", "value": value}}, "shift": 1, "reason": "x"}}]
    """)
    with plugin_site.host() as p:
        n = approvals.request(gov, p, people["ty"], "brokercrm-filed", "TY01")["id"]
        threshold.write_text("1000")
        with pytest.raises(BrokerCRMError, match="规则与申请时不同"):
            approvals.approve(gov, p, people["admin"], n)
        threshold.write_text("0")
        assert approvals.approve(gov, p, people["admin"], n)["status"] == "approved"


def test_states_for_each_branch(gov, plugin_site, people):
    pkg = plugin_site.install("brokercrm-steady", STEADY, version="1.0")
    with plugin_site.host() as p:
        assert state(gov, p, "brokercrm-steady", "TY01")[0] == "none"
        n = approvals.request(gov, p, people["ty"], "brokercrm-steady", "TY01")["id"]
        approvals.approve(gov, p, people["admin"], n)
        st, why = state(gov, p, "brokercrm-steady", "TY01")
        assert st == "approved" and f"批准 #{n}" in why
        st, why = state(gov, p, "brokercrm-steady", "BJ01")
        assert st == "none" and "BJ01" in why
        st, why = state(gov, p, "brokercrm-steady", "TY01", digest="b" * 64)
        assert st == "changed since approval" and "code changed" in why
        st, why = state(gov, p, "brokercrm-steady", "TY01", version="1.1")
        assert st == "changed since approval" and "1.0 → 1.1" in why
        old = p.get("brokercrm-steady")
    # Re-approving new code supersedes the old approval: going back to the old code needs approval again.
    (pkg / "__init__.py").write_text((pkg / "__init__.py").read_text() + "# v2\n")
    with plugin_site.host() as p2:
        m = approvals.request(gov, p2, people["ty"], "brokercrm-steady", "TY01")["id"]
        approvals.approve(gov, p2, people["hq2"], m)
        st, why = state(gov, p2, "brokercrm-steady", "TY01")
        assert st == "approved" and f"批准 #{m}" in why
    st, why = gate.state(gov, trust_root.for_db(gov), old, "TY01")
    assert st == "changed since approval" and f"批准 #{m}" in why


def test_plugins_list_shows_every_state(gov, plugin_site, people, run, monkeypatch):
    plugin_site.install("brokercrm-steady", STEADY, version="1.0")
    with plugin_site.host() as p:
        n = approvals.request(gov, p, people["ty"], "brokercrm-steady", "TY01")["id"]
        approvals.request(gov, p, people["bj"], "brokercrm-steady", "BJ01")
        approvals.approve(gov, p, people["admin"], n)
        digest = p.get("brokercrm-steady").digest
    gov.conn.commit()
    monkeypatch.setenv(plugins.ENV_LOAD, "brokercrm-steady")
    rows = json.loads(run("plugins", "list", "--json", operator=None).output)
    (row,) = rows
    assert row["name"] == "brokercrm-steady" and row["version"] == "1.0" and row["digest"] == digest
    assert row["entry_point"] == "brokercrm_steady" and row["error"] is None
    assert {b: s["state"] for b, s in row["branches"].items()} == {"TY01": "approved", "BJ01": "pending", "SH01": "none"}
    text = run("plugins", "list", operator=None).output
    assert "brokercrm-steady 1.0" in text and "pending" in text


def test_approval_rows_are_immutable_in_the_database(gov, loaded, people):
    n = approvals.request(gov, loaded, people["ty"], TY, "TY01")["id"]
    with pytest.raises(sqlite3.IntegrityError):
        gov.execute("UPDATE approvals SET digest = 'x' WHERE id = ?", [n])
    with pytest.raises(sqlite3.IntegrityError):
        gov.execute("UPDATE approvals SET status = 'revoked' WHERE id = ?", [n])
    with pytest.raises(sqlite3.IntegrityError):  # approving takes a signed decision row, not an UPDATE
        gov.execute("UPDATE approvals SET status = 'approved', decided_by = 'admin' WHERE id = ?", [n])
    with pytest.raises(sqlite3.IntegrityError):
        gov.execute("DELETE FROM approvals WHERE id = ?", [n])
    assert approvals.get(gov, n)["status"] == "pending"


def test_listing_and_showing_need_a_known_operator(gov, run):
    run("approvals", "request", TY, "--branch", "TY01", "--as", "ty")
    assert run("approvals", "list", operator=None, ok=False).exit_code == 1
    assert run("approvals", "show", "1", "--as", "ghost", ok=False).exit_code == 1
    listed = json.loads(run("approvals", "list", "--as", "ty", "--json").output)
    assert [a["status"] for a in listed] == ["pending"]
    text = run("approvals", "show", "1", "--as", "ty").output
    assert "B → A: 3" in text and "王**" in text and "王小明" not in text
    # Another branch's operator sees only their own branch's requests.
    assert json.loads(run("approvals", "list", "--as", "bj", "--json").output) == []
    refused = run("approvals", "show", "1", "--as", "bj", ok=False)
    assert refused.exit_code == 1 and "TY01" in refused.output
    assert [a["status"] for a in json.loads(run("approvals", "list", "--json").output)] == ["pending"]  # admin


def test_everything_lands_in_the_audit_log_without_personal_data(gov, loaded, people):
    n = approvals.request(gov, loaded, people["ty"], TY, "TY01")["id"]
    approvals.approve(gov, loaded, people["admin"], n)
    approvals.revoke(gov, people["hq2"], n, reason="复核")
    m = approvals.request(gov, loaded, people["ty"], TY, "TY01")["id"]
    approvals.reject(gov, people["hq2"], m, reason="暂缓")
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

def test_policy_publish_is_head_office_only(gov, run, actors, tmp_path):
    from brokercrm.policy.sets import default_policy_dir

    body = (default_policy_dir() / "classification.toml").read_text(encoding="utf-8")
    new = tmp_path / "classification.toml"
    new.write_text(body.replace("turnover_threshold = 3.0", "turnover_threshold = 2.5"), encoding="utf-8")
    for who, message in ((None, "须指明操作员"), ("ty", "无权发布总部策略"), ("ghost", "须提供其私钥"),
                         ("ghost --key", "未登记")):
        args = ["policy", "publish", str(new)]
        if who == "ghost --key":
            args += ["--as", "ghost", "--key", actors.key_file("admin")]
        elif who:
            args += ["--as", who]
        refused = run(*args, operator=None, ok=False)
        assert refused.exit_code == 1 and message in refused.output, (who, refused.output)
    out = json.loads(run("policy", "publish", str(new), "--as", "hq2", "--json").output)
    assert out["version"] == 2 and out["published_by"] == "hq2"
    audit = gov.execute("SELECT operator, digest FROM audit_log WHERE action = 'policy.publish' ORDER BY id DESC").fetchone()
    assert audit == ("hq2", out["digest"])
    # classify uses the published set, not the file on disk, and says which version.
    new.write_text(body.replace("turnover_threshold = 3.0", "turnover_threshold = 0.1"), encoding="utf-8")
    result = json.loads(run("classify", "--json").output)
    assert result["policy_version"] == 2 and result["policy_digest"] == out["digest"]
    assert "v2" in run("classify", "--dry-run").output
