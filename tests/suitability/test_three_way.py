"""Three-way matching (issue 11 item 4; 办法 Art. 6(4), 22(4)): risk, horizon and kind, each
with its verdict and reason; unknown dimensions are never a match; check and scan agree."""

import json
import re

import pytest

from brokercrm.kernel.errors import BrokerCRMError, PolicyError, ValidationFailed
from brokercrm.suitability import engine as suitability
from brokercrm.suitability import products, profile, profile_show
from brokercrm.suitability import scan as suitability_scan
from conftest import add_assessment, add_client, grant_professional

# q10: A long / B,C medium / D short; q9: A deposit+bond, B bond, C fund, D stock, E derivative.
SHORT_BONDS = '{"q9": "B", "q10": "D"}'


def product(db, code, level="R2", ptype="bond", horizon=None, kind=None):
    db.execute(
        "INSERT INTO products (code, name, type, risk_level, risk_rank, level_source, imported_at, updated_at,"
        " horizon, kind) VALUES (?, ?, ?, ?, ?, 'test', '2026-06-30', '2026-06-30', ?, ?)",
        [code, f"产品{code}", ptype, level, int(level[1]), horizon, kind])


@pytest.fixture
def book(db):
    product(db, "BS", ptype="short_term_bond")                 # short, bond (type defaults)
    product(db, "BM", ptype="bond", level="R3")                # medium, bond
    product(db, "BL", ptype="bond", level="R3", horizon="long")  # its own horizon wins over the type's
    product(db, "FS", ptype="equity", level="R3", horizon="short")  # short, fund
    product(db, "NK", ptype=None, level="R2")                  # no type, no columns: horizon and kind unknown
    product(db, "SK", ptype=None, level="R2", horizon="short", kind="stock")
    return db


def check(db, actor, client, code):
    return suitability.check(db, actor, client, code)


def dims(result):
    return {d: v["verdict"] for d, v in result["dimensions"].items()}


def test_horizon_match_mismatch_and_the_products_own_horizon(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers=SHORT_BONDS)
    short = check(book, admin, "c1", "BS")
    assert short["verdict"] == "match" and dims(short) == {"risk": "match", "horizon": "match", "kind": "match"}
    medium = check(book, admin, "c1", "BM")
    assert medium["verdict"] == "mismatch" and dims(medium)["horizon"] == "mismatch"
    assert any("产品期限 中期 (1–5年) 长于客户投资期限 短期 (1年以内)" in r for r in medium["reasons"])
    assert medium["dimensions"]["horizon"]["reason"] == "客户 短期 (1年以内), 产品 中期 (1–5年)"
    assert "特别风险警示书" in medium["requires"]
    assert dims(check(book, admin, "c1", "BL"))["horizon"] == "mismatch"


def test_a_long_horizon_client_takes_any_product_horizon(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers='{"q9": "B", "q10": "A"}')
    assert {c: check(book, admin, "c1", c)["verdict"] for c in ("BS", "BM", "BL")} == dict.fromkeys(
        ("BS", "BM", "BL"), "match")


def test_kind_match_and_mismatch(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers='{"q9": "B", "q10": "A"}')
    r = check(book, admin, "c1", "FS")   # an equity fund to a client who wants bonds only
    assert r["verdict"] == "mismatch" and dims(r) == {"risk": "match", "horizon": "match", "kind": "mismatch"}
    assert any("产品品种 基金 不在客户意向品种 (债券) 之内" in x for x in r["reasons"])
    add_assessment(book, "c1", "C5", answers='{"q9": "BC", "q10": "A"}', answered="2026-02-01")
    assert check(book, admin, "c1", "FS")["verdict"] == "match"


def test_a_dimension_the_client_never_stated_is_unknown_and_not_a_match(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers='{"q9": "B"}')   # no q10: horizon never stated
    r = check(book, admin, "c1", "BS")
    assert dims(r) == {"risk": "match", "horizon": "unknown", "kind": "match"}
    assert r["verdict"] == "mismatch"
    assert any("投资期限未知" in x and "不视为匹配" in x for x in r["reasons"])
    add_client(book, "c2")
    add_assessment(book, "c2", "C5", answers='{"q10": "A"}')   # no q9: kinds never stated
    r = check(book, admin, "c2", "BS")
    assert dims(r)["kind"] == "unknown" and r["verdict"] == "mismatch"
    assert any("投资品种未知" in x for x in r["reasons"])


def test_a_product_without_horizon_or_kind_is_unknown(book, admin):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    r = check(book, admin, "c1", "NK")
    assert dims(r) == {"risk": "match", "horizon": "unknown", "kind": "unknown"} and r["verdict"] == "mismatch"
    # Its own columns make it judgeable.
    assert check(book, admin, "c1", "SK")["verdict"] == "match"


def test_professional_investors_are_exempt_from_horizon_and_kind(book, admin, actors):
    add_client(book, "pro", assets=6_000_000, investment_years=3)
    grant_professional(book, actors("op1"), admin, "pro")   # status from reviewed evidence only
    r = check(book, admin, "pro", "NK")
    assert r["verdict"] == "match" and dims(r) == {"risk": "match", "horizon": "exempt", "kind": "exempt"}


def test_objective_caps_the_risk_level(book, admin, actors):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5")
    assert check(book, admin, "c1", "BM")["verdict"] == "match"
    profile.set_profile(book, actors("op1"), "c1", objective="保值", evidence="KYC-1")
    r = check(book, admin, "c1", "BM")   # R3 above 保值's R2
    assert r["verdict"] == "mismatch" and dims(r)["risk"] == "mismatch"
    assert any("投资目标 保值 只适合 R1–R2 产品" in x for x in r["reasons"])
    assert check(book, admin, "c1", "BS")["verdict"] == "match"   # R2


def test_operator_profile_wins_until_a_newer_assessment(book, admin, actors, monkeypatch):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers=SHORT_BONDS)
    assert check(book, admin, "c1", "BM")["verdict"] == "mismatch"
    pid = profile.set_profile(book, actors("op1"), "c1", horizon="长期", kinds="债券, 基金", evidence="KYC-2")
    assert {c: check(book, admin, "c1", c)["verdict"] for c in ("BM", "FS")} == {"BM": "match", "FS": "match"}
    shown = profile_show.show_profile(book, admin, "c1")
    assert (shown["horizon"], shown["kinds"], shown["operator_record"]["id"]) == ("long", ["bond", "fund"], pid)
    # A newer questionnaire is the client speaking again: it wins.
    add_assessment(book, "c1", "C5", answers=SHORT_BONDS, answered="2026-07-01", imported="2026-07-01T09:00:00+08:00")
    monkeypatch.setenv("BROKERCRM_NOW", "2026-07-02T10:00:00+08:00")
    assert check(book, admin, "c1", "BM")["verdict"] == "mismatch"


def test_setting_a_profile_is_audited_without_values_and_refuses_bad_input(book, admin, actors):
    add_client(book, "c1")
    op = actors("op1")
    with pytest.raises(BrokerCRMError, match="evidence"):
        profile.set_profile(book, op, "c1", horizon="短期", evidence=" ")
    with pytest.raises(BrokerCRMError, match="未知值 '十年'"):
        profile.set_profile(book, op, "c1", horizon="十年", evidence="K")
    with pytest.raises(BrokerCRMError, match="未知品种 '黄金'"):
        profile.set_profile(book, op, "c1", kinds="债券,黄金", evidence="K")
    assert book.execute("SELECT count(*) FROM investor_profiles").fetchone()[0] == 0
    profile.set_profile(book, op, "c1", objective="积极增值", evidence="K")
    detail = book.execute("SELECT detail FROM audit_log WHERE action = 'suitability.profile'").fetchone()[0]
    assert "objective" in detail and "growth" not in detail and "积极" not in detail
    with pytest.raises(Exception, match="append-only"):
        book.execute("UPDATE investor_profiles SET horizon = 'long'")


def test_branch_operator_sets_profiles_of_their_own_branch_only(book, actors):
    add_client(book, "c1", branch="TY01")
    add_client(book, "c2", branch="BJ01")
    ty = actors("ty", branch="TY01", role="branch")
    profile.set_profile(book, ty, "c1", horizon="短期", evidence="K")
    with pytest.raises(BrokerCRMError):
        profile.set_profile(book, ty, "c2", horizon="短期", evidence="K")


def test_scan_stores_the_same_dimension_verdicts_as_check(book, admin):
    cases = {"a": SHORT_BONDS, "b": '{"q9": "C", "q10": "A"}', "c": '{"q10": "B"}', "d": '{"q9": "ABCDE", "q10": "A"}'}
    codes = ("BS", "BM", "BL", "FS", "NK", "SK")
    for cid, answers in cases.items():
        add_client(book, cid)
        add_assessment(book, cid, "C3", answers=answers)
        for code in codes:
            book.execute("INSERT INTO holdings (client_id, product_code, amount, imported_at)"
                         " VALUES (?, ?, 1, '2026-01-01')", [cid, code])
    suitability_scan.scan(book, admin)
    stored = {(c, p): (v, {"risk": r, "horizon": h, "kind": k}) for c, p, v, r, h, k in book.execute(
        "SELECT client_id, product_code, verdict, risk_verdict, horizon_verdict, kind_verdict"
        " FROM suitability_exceptions")}
    seen = set()
    for cid in cases:
        for code in codes:
            r = suitability.check(book, admin, cid, code, record=False)
            seen.add(r["verdict"])
            if r["verdict"] == "match":
                assert (cid, code) not in stored
            else:
                assert stored[(cid, code)] == (r["verdict"], dims(r)), (cid, code)
    assert seen == {"match", "mismatch"}
    listed = suitability_scan.exceptions(book)
    assert all(set(e["dimensions"]) == {"risk", "horizon", "kind"} for e in listed)


def _variant(tmp_path, old, new):
    from brokercrm.policy.sets import default_policy_dir

    body = (default_policy_dir() / "suitability.toml").read_text(encoding="utf-8")
    assert old in body
    path = tmp_path / "suitability.toml"
    path.write_text(body.replace(old, new), encoding="utf-8")
    return path


def test_policy_may_make_unknown_forbidden(book, admin, tmp_path):
    from brokercrm.policy import sets as policy

    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers='{"q9": "B"}')
    assert check(book, admin, "c1", "BS")["verdict"] == "mismatch"
    policy.publish(book, _variant(tmp_path, 'unknown = "mismatch"', 'unknown = "forbidden"'), admin)
    r = check(book, admin, "c1", "BS")
    assert r["verdict"] == "forbidden" and any("按禁止处理" in x for x in r["reasons"])


@pytest.mark.parametrize("old,new,key", [
    ('unknown = "mismatch"', 'unknown = "maybe"', "three_way.unknown"),
    ('money_market = { horizon = "short", kind = "deposit" }', 'money_market = { horizon = "soon", kind = "deposit" }',
     "three_way.product_defaults.money_market"),
    ('max_risk = "R2"', 'max_risk = "R9"', "three_way.objectives[0].max_risk"),
    ('code = "short"', 'code = "Short term"', "three_way.horizons[0].code"),
])
def test_policy_validator_names_the_three_way_key(tmp_path, old, new, key):
    from brokercrm.policy.sets import load_file

    with pytest.raises(PolicyError, match=re.escape(key)):
        load_file(_variant(tmp_path, old, new))


def test_questionnaire_profile_mapping_is_validated(tmp_path):
    from brokercrm.policy.sets import default_policy_dir, load_file

    body = (default_policy_dir() / "questionnaire.toml").read_text(encoding="utf-8")
    for old, new, msg in [('question = "q10"\nanswers = { A = "steady"', 'question = "q99"\nanswers = { A = "steady"',
                           "profile.objective.question"),
                          ('question = "q10"\nanswers = { A = "long"', 'question = "q9"\nanswers = { A = "long"',
                           "多选题"),
                          ('D = "short" }', 'Z = "short" }', "profile.horizon.answers")]:
        assert old in body
        path = tmp_path / "questionnaire.toml"
        path.write_text(body.replace(old, new), encoding="utf-8")
        with pytest.raises(PolicyError, match=re.escape(msg)):
            load_file(path)


def test_product_import_takes_horizon_and_kind_with_chinese_headers(db, admin, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("产品代码,产品名称,产品类型,期限,品种\nP1,一,债券型,长期,债券\nP2,二,股票型,,\n", encoding="utf-8")
    products.import_products(db, f, actor=admin)
    assert db.execute("SELECT code, horizon, kind FROM products ORDER BY code").fetchall() == [
        ("P1", "long", "bond"), ("P2", None, None)]


def test_product_import_refuses_unknown_horizon_or_kind_and_writes_nothing(db, admin, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("code,name,type,horizon,kind\nP1,一,bond,十年,债券\nP2,二,bond,短期,黄金\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        products.import_products(db, f, actor=admin)
    problems = e.value.problems
    assert any("p.csv:2:horizon:" in p and "十年" in p for p in problems)
    assert any("p.csv:3:kind:" in p and "黄金" in p for p in problems)
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] == 0


def test_cli_check_reports_each_dimension_in_text_and_json(book, run, actors):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers=SHORT_BONDS)
    text = run("suitability", "check", "c1", "BM").output
    assert "投资期限 (horizon): 不匹配 (mismatch) — 客户 短期 (1年以内), 产品 中期 (1–5年)" in text
    assert "投资品种 (kind): 匹配 (match)" in text and "风险等级 (risk): 匹配 (match)" in text
    out = json.loads(run("suitability", "check", "c1", "BM", "--json").output)
    assert out["dimensions"]["horizon"]["verdict"] == "mismatch"
    stored = json.loads(book.execute("SELECT dimensions FROM suitability_checks ORDER BY id DESC").fetchone()[0])
    assert stored["horizon"]["verdict"] == "mismatch"


def test_cli_profile_sets_shows_and_refuses(book, run, actors):
    actors("op1")
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers=SHORT_BONDS)
    shown = run("suitability", "profile", "c1").output
    assert "投资期限 (horizon): 短期 (1年以内)" in shown and "债券" in shown
    bad = run("suitability", "profile", "c1", "--horizon", "十年", "--evidence", "K", "--as", "op1", ok=False)
    assert bad.exit_code != 0 and "十年" in bad.output and "Traceback" not in bad.output
    no_ref = run("suitability", "profile", "c1", "--horizon", "长期", "--as", "op1", ok=False)
    assert no_ref.exit_code != 0 and "evidence" in no_ref.output
    assert book.execute("SELECT count(*) FROM investor_profiles").fetchone()[0] == 0
    out = json.loads(run("suitability", "profile", "c1", "--horizon", "长期", "--evidence", "KYC-9", "--json",
                         "--as", "op1").output)
    assert out["horizon"] == "long" and out["recorded_id"] == 1
    assert json.loads(run("suitability", "check", "c1", "BM", "--json").output)["verdict"] == "match"


def test_cli_scan_lists_each_dimension(book, run):
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers=SHORT_BONDS)
    book.execute("INSERT INTO holdings (client_id, product_code, amount, imported_at) VALUES ('c1', 'FS', 5, 'x')")
    text = run("suitability", "scan").output
    assert "风险等级 (risk) match · 投资期限 (horizon) match · 投资品种 (kind) mismatch" in text
    out = json.loads(run("suitability", "scan", "--json").output)
    assert out["exceptions"][0]["dimensions"] == {"risk": "match", "horizon": "match", "kind": "mismatch"}


def test_a_questionnaire_published_without_the_profile_mapping_borrows_the_shipped_one(book, admin, tmp_path):
    from brokercrm.policy import sets as policy
    from brokercrm.policy.sets import default_policy_dir

    body = (default_policy_dir() / "questionnaire.toml").read_text(encoding="utf-8")
    path = tmp_path / "questionnaire.toml"
    path.write_text(body[:body.index("[profile.objective]")], encoding="utf-8")
    policy.publish(book, path, admin)
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers=SHORT_BONDS)
    assert dims(check(book, admin, "c1", "BS")) == {"risk": "match", "horizon": "match", "kind": "match"}
    assert dims(check(book, admin, "c1", "BM"))["horizon"] == "mismatch"


def test_a_label_with_a_quote_is_text_not_sql(book, admin, tmp_path):
    from brokercrm.policy import sets as policy

    policy.publish(book, _variant(tmp_path, 'label = "中期 (1–5年)"', 'label = "中期 (1–5年, \'core\')"'), admin)
    add_client(book, "c1")
    add_assessment(book, "c1", "C5", answers=SHORT_BONDS)
    r = check(book, admin, "c1", "BM")
    assert r["dimensions"]["horizon"]["reason"] == "客户 短期 (1年以内), 产品 中期 (1–5年, 'core')"
