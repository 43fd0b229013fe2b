"""Approved plugins in classification: the gate, reasons in history, revocation, crash isolation, import checks."""

import csv
import json

import pytest

from brokercrm.governance import approvals
from brokercrm.trust import operators
from brokercrm import plugins
from brokercrm.classify.engine import classify
from brokercrm.kernel.hookspecs import hookimpl
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
def book(db):
    operators.bootstrap(db, "admin")
    operators.add(db, "hq2", "headoffice", by="admin")
    operators.add(db, "ty", "branch", branch="TY01", by="admin")
    operators.add(db, "bj", "branch", branch="BJ01", by="admin")
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
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    return plugins.load()


def approve(db, loaded, name, branch, requester):
    n = approvals.request(db, loaded, name, branch, operator=requester)["id"]
    approvals.approve(db, loaded, n, operator="admin" if requester != "admin" else "hq2")
    return n


def test_installed_but_unapproved_plugins_change_nothing(book, loaded):
    result = classify(book, plugins=loaded)
    assert current(book, "T-LONG") == ("B", None) and current(book, "B-INST") == ("B", None)
    assert result.plugins["applied"] == []
    skipped = {s["plugin"]: s for s in result.plugins["skipped"]}
    assert skipped[TY]["state"] == "none" and skipped[BJ]["state"] == "none"


def test_approved_plugins_apply_to_their_branch_only_with_reasons_in_history(book, loaded, run):
    classify(book, plugins=loaded)  # the grid alone first: the plugins then move existing clients
    n = approve(book, loaded, TY, "TY01", "ty")
    approve(book, loaded, BJ, "BJ01", "bj")
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


def test_revoking_stops_the_plugin_at_the_next_run(book, loaded):
    n = approve(book, loaded, TY, "TY01", "ty")
    classify(book, plugins=loaded)
    assert current(book, "T-LONG")[0] == "A"
    approvals.revoke(book, n, operator="hq2", reason="复核")
    result = classify(book, plugins=loaded)
    assert current(book, "T-LONG") == ("B", None)
    assert result.moves == {"A → B": 1}
    (skip,) = [s for s in result.plugins["skipped"] if s["plugin"] == TY]
    assert skip["state"] == "revoked" and "复核" in skip["why"]
    old, new, reason = book.execute("SELECT old_class, new_class, reason FROM classification_history"
                                    " WHERE client_id = 'T-LONG' ORDER BY id DESC LIMIT 1").fetchone()
    assert (old, new, reason) == ("A", "B", None)


def test_plugins_not_loaded_do_not_apply(book, monkeypatch):
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    approve(book, plugins.load(), TY, "TY01", "ty")
    monkeypatch.setenv(plugins.ENV_LOAD, BJ)
    result = classify(book)  # discovers for real, honouring BROKERCRM_LOAD_PLUGINS
    assert current(book, "T-LONG")[0] == "B"
    assert all(a["plugin"] != TY for a in result.plugins["applied"])


class Shift:
    """In-process plugins stand in for installed ones whose code changes or breaks."""

    def __init__(self, rules=None, exc=None):
        self.rules, self.exc = rules, exc

    @hookimpl
    def classification_adjustments(self, branch, policy):
        if self.exc:
            raise self.exc
        return self.rules


UP = [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "shift": 1, "reason": "测试: 全部上调一级"}]


def make(**named):
    p = plugins.Plugins()
    for name, (obj, version, digest) in named.items():
        p.register(obj, name, version=version, digest=digest)
    return p


def test_changed_code_or_version_changes_nothing_and_says_why(book):
    good = make(**{"brokercrm-up": (Shift(UP), "1.0", "a" * 64)})
    approve(book, good, "brokercrm-up", "SH01", "admin")
    classify(book, plugins=good)
    assert current(book, "S-LONG")[0] == "A"
    for version, digest, words in (("1.0", "b" * 64, "code changed"), ("1.1", "a" * 64, "1.0 → 1.1")):
        changed = make(**{"brokercrm-up": (Shift(UP), version, digest)})
        result = classify(book, plugins=changed)
        assert current(book, "S-LONG")[0] == "B"
        (skip,) = result.plugins["skipped"]
        assert skip["state"] == "changed since approval" and words in skip["why"]
        classify(book, plugins=good)
        assert current(book, "S-LONG")[0] == "A"


BROKEN = {
    "raises": (None, RuntimeError("数据源不可用 boom")),
    "not a list": ({"shift": 1}, None),
    "unknown class": ([{"when": {"field": "kind", "op": "=", "value": "individual"}, "set_class": "Z",
                        "reason": "x"}], None),
    "unknown field": ([{"when": {"field": "shoe_size", "op": ">", "value": 1}, "shift": 1, "reason": "x"}], None),
    "no reason": ([{"when": {"field": "kind", "op": "=", "value": "individual"}, "shift": 1}], None),
    "bad shift": ([{"when": {"field": "kind", "op": "=", "value": "individual"}, "shift": "up", "reason": "x"}], None),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_failing_plugin_rolls_back_only_its_branch(book, run, monkeypatch, kind):
    rules, exc = BROKEN[kind]
    p = make(**{"brokercrm-up": (Shift(UP), "1.0", "a" * 64),
                "brokercrm-broken": (Shift(), "2.0", "c" * 64)})
    monkeypatch.setattr(plugins, "load", lambda *a, **k: p)
    classify(book, plugins=p)  # baseline: nothing approved yet
    approve(book, p, "brokercrm-up", "TY01", "ty")
    # A broken plugin is refused at request time already (its preview fails), so the
    # approved code starts misbehaving later: a data source goes away, an input changes.
    broken = p.get("brokercrm-broken").obj
    broken.rules, broken.exc = UP, None
    approve(book, p, "brokercrm-broken", "SH01", "admin")
    broken.rules, broken.exc = rules, exc
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
    if kind == "unknown class":
        assert "'Z'" in out.output


def test_a_request_for_malformed_rules_is_refused(book):
    p = make(**{"brokercrm-broken": (Shift(BROKEN["unknown class"][0]), "2.0", "c" * 64)})
    with pytest.raises(plugins.PluginError, match="未知类别"):
        approvals.request(book, p, "brokercrm-broken", "TY01", operator="ty")


def test_first_matching_rule_of_a_branch_wins_and_shifts_clamp(book):
    rules = [
        {"when": {"field": "class", "op": "=", "value": "B"}, "set_class": "G", "reason": "规则一"},
        {"when": {"field": "kind", "op": "=", "value": "individual"}, "shift": 20 - 10, "reason": "规则二"},
    ]
    p = make(**{"brokercrm-two": (Shift(rules), "1.0", "d" * 64)})
    approve(book, p, "brokercrm-two", "TY01", "ty")
    classify(book, plugins=p)
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


def test_an_approved_branch_kyc_rule_joins_the_import_report(book, loaded, run, tmp_path):
    path = _company_csv(tmp_path / "inst.csv")
    run("import", "clients", str(path))  # not approved yet: the rule does not apply
    approve(book, loaded, BJ, "BJ01", "bj")
    book.conn.commit()
    path2 = _company_csv(tmp_path / "inst2.csv")
    out = run("import", "clients", str(path2), ok=False)
    assert out.exit_code == 1
    assert "inst2.csv:2:legal_representative: brokercrm-beijing: 北京营业部: 机构客户须登记法定代表人" in out.output
    run("import", "clients", str(_company_csv(tmp_path / "inst3.csv", legal="王五")))


@pytest.mark.parametrize("decision", ["pending", "rejected"])
def test_pending_or_rejected_requests_change_nothing_and_the_summary_says_so(book, loaded, run, decision):
    n = approvals.request(book, loaded, TY, "TY01", operator="ty")["id"]
    if decision == "rejected":
        approvals.reject(book, n, operator="admin", reason="口径待定")
    book.conn.commit()
    result = json.loads(run("classify", "--json").output)
    assert current(book, "T-LONG")[0] == "B"
    (skip,) = [s for s in result["plugins"]["skipped"] if s["plugin"] == TY]
    assert skip["branch"] == "TY01" and skip["state"] == decision
    listed = json.loads(run("plugins", "list", "--json").output)
    (ty,) = [p for p in listed if p["name"] == TY]
    assert ty["branches"]["TY01"]["state"] == decision and ty["branches"]["BJ01"]["state"] == "none"
    text = run("classify", "--dry-run").output
    assert f"未应用 (skipped)  {TY} @ TY01: {decision}" in text


def test_a_new_approval_makes_the_next_run_full_then_runs_stay_incremental(book, loaded):
    assert classify(book, plugins=loaded).mode == "full"
    assert classify(book, plugins=loaded).mode == "incremental"
    n = approve(book, loaded, TY, "TY01", "ty")
    first = classify(book, plugins=loaded)
    assert first.mode == "full" and current(book, "T-LONG")[0] == "A"
    again = classify(book, plugins=loaded)
    assert again.mode == "incremental" and again.changed == 0
    approvals.revoke(book, n, operator="hq2", reason="复核")
    after = classify(book, plugins=loaded)
    assert after.mode == "full" and current(book, "T-LONG")[0] == "B"
