"""Approved plugins in classification: the gate, reasons in history, revocation, crash isolation, import checks.

The example plugins (plugins/, installed in the environment) and plugins
written here as real distributions (``plugin_site``) are discovered without
being imported and run in their own worker processes.
"""

import csv
import json
import re
import shutil

import pytest

from brokercrm import plugins
from brokercrm.classify.engine import classify
from brokercrm.governance import approvals
from brokercrm.kernel.validate import uscc_check_char
from conftest import add_client

TY, BJ = "brokercrm-taiyuan", "brokercrm-beijing"


def assess(db, client_id):
    db.execute(
        "INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version,"
        " answered_at, expires_at, imported_at) VALUES (?, '{}', 30, 'C3', 0, 1, '2026-01-01', '2028-01-01', '2026-01-01')",
        [client_id],
    )


def current(db, client_id):
    return db.execute("SELECT class, adjustment FROM classifications WHERE client_id = ?", [client_id]).fetchone()


@pytest.fixture
def people(actors, admin):
    """admin and hq2 (head office), ty (branch TY01), bj (branch BJ01): certified, holding their keys."""
    return {"admin": admin, "hq2": actors("hq2"), "ty": actors("ty", branch="TY01"),
            "bj": actors("bj", branch="BJ01")}


@pytest.fixture
def book(db, people):
    # 太原: a steady long-term holder (moves up), a newcomer and a trader (stay).
    add_client(db, "T-LONG", branch="TY01", assets=1_500_000, turnover=0.4, holding=400, opened_at="2019-05-01")
    add_client(db, "T-NEW", branch="TY01", assets=1_500_000, turnover=0.4, holding=400, opened_at="2025-05-01")
    add_client(db, "T-TRADER", branch="TY01", assets=1_500_000, turnover=5.0, holding=5, opened_at="2019-05-01")
    # The same long holder in 上海: the 太原 plugin is not approved there.
    add_client(db, "S-LONG", branch="SH01", assets=1_500_000, turnover=0.4, holding=400, opened_at="2019-05-01")
    # 北京: an institution at turnover 2 (high for an institution), an individual at 2 (low).
    add_client(db, "B-INST", branch="BJ01", kind="institution", assets=2_000_000, turnover=2.0, holding=20)
    add_client(db, "B-PERSON", branch="BJ01", assets=2_000_000, turnover=2.0, holding=20)
    for cid in ("T-LONG", "T-NEW", "T-TRADER", "S-LONG", "B-PERSON"):
        assess(db, cid)
    return db


@pytest.fixture
def loaded(monkeypatch):
    """The installed plugins (the examples among them), as a command discovers them."""
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    with plugins.load() as host:
        yield host


def approve(db, host, name, branch, requester, decider):
    """``requester`` asks, ``decider`` (another head-office person) approves: the request id."""
    n = approvals.request(db, host, requester, name, branch)["id"]
    approvals.approve(db, host, decider, n)
    return n


def test_installed_but_unapproved_plugins_change_nothing(book, loaded, admin):
    result = classify(book, actor=admin, plugins=loaded)
    assert current(book, "T-LONG") == ("B", None) and current(book, "B-INST") == ("B", None)
    assert result.plugins["applied"] == []
    skipped = {s["plugin"]: s for s in result.plugins["skipped"]}
    assert skipped[TY]["state"] == "none" and skipped[BJ]["state"] == "none"


def test_approved_plugins_apply_to_their_branch_only_with_reasons_in_history(book, loaded, people, run):
    classify(book, actor=people["admin"], plugins=loaded)  # the grid alone first: the plugins then move clients
    n = approve(book, loaded, TY, "TY01", people["ty"], people["admin"])
    approve(book, loaded, BJ, "BJ01", people["bj"], people["admin"])
    book.conn.commit()
    out = run("classify", "--json")
    result = json.loads(out.output)
    applied = {(a["plugin"], a["branch"]) for a in result["plugins"]["applied"]}
    assert applied == {(TY, "TY01"), (BJ, "BJ01")}
    assert current(book, "T-LONG")[0] == "A"
    assert current(book, "T-NEW")[0] == "B" and current(book, "T-TRADER")[0] == "A"  # grid: high turnover
    assert current(book, "S-LONG")[0] == "B"                                          # not approved in SH01
    assert current(book, "B-INST")[0] == "A" and current(book, "B-PERSON")[0] == "B"
    adjustment = current(book, "T-LONG")[1]
    assert "太原营业部" in adjustment and TY in adjustment and f"批准 #{n}" in adjustment and "B → A" in adjustment
    assert current(book, "T-TRADER")[1] is None
    (old, new, reason), = book.execute("SELECT old_class, new_class, reason FROM classification_history"
                                       " WHERE client_id = 'T-LONG'").fetchall()
    assert (old, new) == ("B", "A") and "太原营业部" in reason and "B → A" in reason
    shown = json.loads(run("clients", "show", "T-LONG", "--json").output)
    assert "太原营业部" in json.dumps(shown["history"], ensure_ascii=False)
    text = run("classify", "--dry-run").output
    assert "已应用 (applied)  brokercrm-taiyuan 0.1.0 @ TY01" in text


def test_revoking_stops_the_plugin_at_the_next_run(book, loaded, people):
    admin = people["admin"]
    n = approve(book, loaded, TY, "TY01", people["ty"], admin)
    classify(book, actor=admin, plugins=loaded)
    assert current(book, "T-LONG")[0] == "A"
    approvals.revoke(book, people["hq2"], n, reason="复核")
    result = classify(book, actor=admin, plugins=loaded)
    assert current(book, "T-LONG") == ("B", None)
    assert result.moves == {"A → B": 1}
    (skip,) = [s for s in result.plugins["skipped"] if s["plugin"] == TY]
    assert skip["branch"] == "TY01" and skip["state"] == "revoked" and "复核" in skip["why"]
    old, new, reason = book.execute("SELECT old_class, new_class, reason FROM classification_history"
                                    " WHERE client_id = 'T-LONG' ORDER BY id DESC LIMIT 1").fetchone()
    assert (old, new, reason) == ("A", "B", None)


def test_an_approved_plugin_not_loaded_leaves_its_branch_out_loudly(book, people, monkeypatch):
    """BROKERCRM_LOAD_PLUGINS leaving out an approved plugin never reverts its branch silently."""
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    with plugins.load() as host:
        approve(book, host, TY, "TY01", people["ty"], people["admin"])
    monkeypatch.setenv(plugins.ENV_LOAD, BJ)
    result = classify(book, actor=people["admin"])  # discovers for real, honouring BROKERCRM_LOAD_PLUGINS
    assert all(a["plugin"] != TY for a in result.plugins["applied"])
    (failure,) = result.failures
    assert (failure["plugin"], failure["branch"]) == (TY, "TY01") and "未安装" in failure["error"]
    assert result.as_dict()["status"] == "partial"
    assert current(book, "T-LONG") is None                      # TY01 left out of the run …
    assert current(book, "S-LONG") == ("B", None)               # … the other branches classified
    assert book.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone() == ("partial",)


# -- plugins written here: real distributions whose behaviour a file steers ----------------------

UP = [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "shift": 1, "reason": "测试: 全部上调一级"}]


def shifting(rules, mode=None):
    """A plugin returning ``rules``; once the file ``mode`` exists it does what that file says
    (same code, same digest: an approved plugin whose data source changes or breaks)."""
    return f"""
import json, pathlib
from brokercrm.hookspecs import hookimpl

RULES = json.loads({json.dumps(json.dumps(rules, ensure_ascii=False))})
MODE = {str(mode) if mode else ""!r}


@hookimpl
def classification_adjustments(branch, policy):
    if MODE and pathlib.Path(MODE).exists():
        mode = json.loads(pathlib.Path(MODE).read_text(encoding="utf-8"))
        if "raise" in mode:
            raise RuntimeError(mode["raise"])
        return mode["rules"]
    return RULES
"""


def install(site, name, source, version="1.0"):
    """Install ``name`` ``version`` into ``site``, replacing any installed version of it."""
    module = name.replace("-", "_")
    for old in site.path.glob(f"{module}-*.dist-info"):
        shutil.rmtree(old)
    return site.install(name, source, version=version)


def test_changed_code_or_version_changes_nothing_and_says_why(book, plugin_site, people):
    """Changed since approval: the branch is left out (its classes kept), the run is partial, and says why."""
    admin = people["admin"]
    pkg = install(plugin_site, "brokercrm-up", shifting(UP))
    with plugin_site.host() as good:
        approve(book, good, "brokercrm-up", "SH01", people["hq2"], admin)
        classify(book, actor=admin, plugins=good)
    assert current(book, "S-LONG")[0] == "A"
    book.execute("UPDATE clients SET total_assets = 6000000 WHERE client_id = 'S-LONG'")  # new data in SH01
    source = (pkg / "__init__.py").read_text(encoding="utf-8")
    for change, words in (("code", "code changed"), ("version", "1.0 → 1.1")):
        if change == "code":
            (pkg / "__init__.py").write_text(source + "\n# edited after approval\n", encoding="utf-8")
        else:
            install(plugin_site, "brokercrm-up", shifting(UP), version="1.1")
        with plugin_site.host() as changed:
            assert changed.get("brokercrm-up").version == ("1.1" if change == "version" else "1.0")
            result = classify(book, actor=admin, plugins=changed)
        assert current(book, "S-LONG")[0] == "A"  # kept: neither the changed code nor the bare grid ran
        assert result.plugins["applied"] == [] and result.plugins["excluded_branches"] == ["SH01"]
        (failure,) = result.failures
        assert failure["plugin"] == "brokercrm-up" and failure["branch"] == "SH01" and words in failure["error"]
        with plugin_site.host() as changed:
            st, why = approvals.plugin_states(book, changed, admin.root)[0]["branches"]["SH01"].values()
        assert st == "changed since approval" and words in why
        install(plugin_site, "brokercrm-up", shifting(UP))  # the approved code, back
        with plugin_site.host() as good:
            result = classify(book, actor=admin, plugins=good)
        assert result.failures == [] and current(book, "S-LONG")[0] == "A+"  # B+ by the grid, one up
        book.execute("UPDATE clients SET total_assets = 1500000 WHERE client_id = 'S-LONG'")
        with plugin_site.host() as good:
            classify(book, actor=admin, plugins=good)
        assert current(book, "S-LONG")[0] == "A"
        book.execute("UPDATE clients SET total_assets = 6000000 WHERE client_id = 'S-LONG'")


BROKEN = {
    "raises": {"raise": "数据源不可用 boom"},
    "not a list": {"rules": {"shift": 1}},
    "unknown class": {"rules": [{"when": {"field": "kind", "op": "=", "value": "individual"}, "set_class": "Z",
                                 "reason": "x"}]},
    "unknown field": {"rules": [{"when": {"field": "shoe_size", "op": ">", "value": 1}, "shift": 1, "reason": "x"}]},
    "no reason": {"rules": [{"when": {"field": "kind", "op": "=", "value": "individual"}, "shift": 1}]},
    "bad shift": {"rules": [{"when": {"field": "kind", "op": "=", "value": "individual"}, "shift": "up",
                             "reason": "x"}]},
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_failing_plugin_rolls_back_only_its_branch(book, run, plugin_site, people, tmp_path, kind):
    admin = people["admin"]
    mode = tmp_path / "broken-mode.json"
    install(plugin_site, "brokercrm-up", shifting(UP))
    install(plugin_site, "brokercrm-broken", shifting(UP, mode), version="2.0")
    with plugin_site.host() as p:
        classify(book, actor=admin, plugins=p)  # baseline: nothing approved yet
        approve(book, p, "brokercrm-up", "TY01", people["ty"], admin)
        # A broken plugin is refused at request time already (its preview fails), so the
        # approved code starts misbehaving later: a data source goes away, an input changes.
        approve(book, p, "brokercrm-broken", "SH01", people["hq2"], admin)
    mode.write_text(json.dumps(BROKEN[kind], ensure_ascii=False), encoding="utf-8")
    # New data in every branch: SH01's must not be classified this run, the others' must.
    book.execute("UPDATE clients SET total_assets = 6000000 WHERE client_id IN ('S-LONG', 'B-PERSON', 'T-TRADER')")
    book.conn.commit()
    before = book.execute("SELECT * FROM classifications WHERE branch_id = 'SH01'").fetchall()
    out = run("classify", ok=False)
    assert out.exit_code == 1
    assert "brokercrm-broken" in out.output and "SH01" in out.output
    assert book.execute("SELECT * FROM classifications WHERE branch_id = 'SH01'").fetchall() == before
    assert current(book, "B-PERSON")[0] == "B+" and current(book, "T-TRADER")[0] == "A+"
    assert current(book, "T-LONG")[0] == "A"  # TY01's approved plugin still applied
    status, error = book.execute("SELECT status, error FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert status == "partial" and "brokercrm-broken" in error and "SH01" in error
    if kind == "raises":
        assert "数据源不可用 boom" in out.output
    else:
        # Rules other than those head office approved are refused before they are even read.
        assert "rules changed since approval" in out.output


@pytest.mark.parametrize("kind, message", [
    ("not a list", "must return a list"),
    ("unknown class", "未知类别 (unknown class) 'Z'"),
    ("unknown field", "shoe_size"),
    ("no reason", "every adjustment needs a reason"),
    ("bad shift", "non-zero whole number"),
])
def test_a_request_for_malformed_rules_is_refused(book, plugin_site, people, kind, message):
    install(plugin_site, "brokercrm-broken", shifting(BROKEN[kind]["rules"]), version="2.0")
    with plugin_site.host() as p:
        with pytest.raises(plugins.PluginError, match=re.escape(message)):
            approvals.request(book, p, people["ty"], "brokercrm-broken", "TY01")
    assert book.execute("SELECT count(*) FROM approvals").fetchone()[0] == 0


def test_first_matching_rule_of_a_branch_wins_and_shifts_clamp(book, plugin_site, people):
    rules = [
        {"when": {"field": "class", "op": "=", "value": "B"}, "set_class": "G", "reason": "规则一"},
        {"when": {"field": "kind", "op": "=", "value": "individual"}, "shift": 20 - 10, "reason": "规则二"},
    ]
    install(plugin_site, "brokercrm-two", shifting(rules))
    with plugin_site.host() as p:
        approve(book, p, "brokercrm-two", "TY01", people["ty"], people["admin"])
        classify(book, actor=people["admin"], plugins=p)
    assert current(book, "T-LONG")[0] == "G"         # rule one
    assert current(book, "T-TRADER")[0] == "A+"      # A + 10, clamped at the top
    assert "规则二" in current(book, "T-TRADER")[1]


# -- the client-validation hook in the importer -------------------------------------

def _company_csv(path, legal=""):
    first17 = "91350100M00010094"
    row = {"client_id": "I001", "kind": "institution", "name": "某某投资有限公司",
           "id_number": first17 + uscc_check_char(first17), "phone": "0351-1234567", "branch_id": "BJ01",
           "opened_at": "2019-01-02", "total_assets": "8000000", "legal_representative": legal,
           "business_scope": "投资管理", "net_assets": "5000000"}
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        w.writeheader()
        w.writerow(row)
    return path


def test_an_approved_branch_kyc_rule_joins_the_import_report(book, loaded, people, run, tmp_path):
    path = _company_csv(tmp_path / "inst.csv")
    run("import", "clients", str(path))  # not approved yet: the rule does not apply
    approve(book, loaded, BJ, "BJ01", people["bj"], people["admin"])
    book.conn.commit()
    path2 = _company_csv(tmp_path / "inst2.csv")
    out = run("import", "clients", str(path2), ok=False)
    assert out.exit_code == 1
    assert "inst2.csv:2:legal_representative: brokercrm-beijing: 北京营业部: 机构客户须登记法定代表人" in out.output
    run("import", "clients", str(_company_csv(tmp_path / "inst3.csv", legal="王五")))


@pytest.mark.parametrize("decision", ["pending", "rejected"])
def test_pending_or_rejected_requests_change_nothing_and_the_summary_says_so(book, loaded, people, run, decision):
    n = approvals.request(book, loaded, people["ty"], TY, "TY01")["id"]
    if decision == "rejected":
        approvals.reject(book, people["admin"], n, reason="口径待定")
    book.conn.commit()
    result = json.loads(run("classify", "--json").output)
    assert current(book, "T-LONG")[0] == "B"
    (skip,) = [s for s in result["plugins"]["skipped"] if s["plugin"] == TY]
    assert skip["branch"] == "TY01" and skip["state"] == decision
    if decision == "rejected":
        assert "口径待定" in skip["why"]
    listed = json.loads(run("plugins", "list", "--json", operator=None).output)
    (ty,) = [p for p in listed if p["name"] == TY]
    assert ty["branches"]["TY01"]["state"] == decision and ty["branches"]["BJ01"]["state"] == "none"
    text = run("classify", "--dry-run").output
    assert f"未应用 (skipped)  {TY} @ TY01: {decision}" in text


def test_a_new_approval_makes_the_next_run_full_then_runs_stay_incremental(book, loaded, people):
    admin = people["admin"]
    assert classify(book, actor=admin, plugins=loaded).mode == "full"
    assert classify(book, actor=admin, plugins=loaded).mode == "incremental"
    n = approve(book, loaded, TY, "TY01", people["ty"], admin)
    first = classify(book, actor=admin, plugins=loaded)
    assert first.mode == "full" and current(book, "T-LONG")[0] == "A"
    again = classify(book, actor=admin, plugins=loaded)
    assert again.mode == "incremental" and again.changed == 0
    approvals.revoke(book, people["hq2"], n, reason="复核")
    after = classify(book, actor=admin, plugins=loaded)
    assert after.mode == "full" and current(book, "T-LONG")[0] == "B"
