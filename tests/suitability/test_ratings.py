"""Controlled product ratings and assessment results (issue 11 item 3; 办法 Art. 21, 18; seed 001 appendix).

Floor by type, maker–checker by head office, audit with reasons, holders re-checked and told, imports
only by the right operator, and an assessment counting only with the client's acknowledgement.
"""

import json

import pytest

from brokercrm.imports import import_assessments
from brokercrm.kernel.errors import BrokerCRMError, Conflict, Forbidden, ValidationFailed
from brokercrm.suitability import engine as suitability
from brokercrm.suitability import products, ratings
from conftest import HIGHEST, add_assessment, add_client, answers, write_csv


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def book(db, admin, tmp_path):
    products.import_products(db, write(tmp_path / "p.csv", "code,name,type,risk_level\n"
                                       "OPT1,期权一,期权,\nEQ1,股票一,股票型,\nBD1,债券一,债券型,R3\n"), actor=admin)
    return db


@pytest.fixture
def hq2(actors):
    return actors("hq2")


def level(db, code):
    return db.execute("SELECT risk_level FROM products WHERE code = ?", [code]).fetchone()[0]


# -- the floor ----------------------------------------------------------------------------------------

def test_an_import_below_the_types_floor_is_refused_for_that_row(db, admin, tmp_path):
    f = write(tmp_path / "p.csv", "code,name,type,risk_level\nOK1,好,债券型,R4\nBAD,期权,期权,R1\n")
    with pytest.raises(ValidationFailed) as e:
        products.import_products(db, f, actor=admin)
    assert any(line.startswith(f"{f}:3:risk_level: R1 低于产品类型最低等级 R5") for line in e.value.problems)
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] == 0
    result = products.import_products(db, f, actor=admin, skip_invalid=True, rejects=tmp_path / "rej.csv")
    assert (result.inserted, result.rejected) == (1, 1) and level(db, "OK1") == "R4"


def test_a_proposal_below_the_floor_is_refused_with_the_reason(book, admin):
    with pytest.raises(Forbidden, match="below the floor R5"):
        ratings.propose(book, admin, "OPT1", "R1", reason="客户要求")
    with pytest.raises(Forbidden, match="below the floor R4"):
        ratings.propose(book, admin, "EQ1", "R3", reason="x")
    assert book.execute("SELECT count(*) FROM product_ratings WHERE state = 'pending'").fetchone()[0] == 0


def test_first_ratings_at_import_are_recorded(book):
    rows = book.execute("SELECT product_code, new_level, floor_level, state, proposed_by FROM product_ratings"
                        " ORDER BY product_code").fetchall()
    assert rows == [("BD1", "R3", "R3", "imported", "admin"), ("EQ1", "R4", "R4", "imported", "admin"),
                    ("OPT1", "R5", "R5", "imported", "admin")]


# -- an import never re-rates ---------------------------------------------------------------------------

def test_an_import_cannot_change_a_level_and_a_blank_keeps_it(book, admin, hq2, tmp_path):
    f = write(tmp_path / "p2.csv", "code,name,type,risk_level\nBD1,债券一,债券型,R4\n")
    with pytest.raises(ValidationFailed) as e:
        products.import_products(book, f, actor=admin)
    assert "ratings propose" in e.value.problems[0] and e.value.problems[0].startswith(f"{f}:2:risk_level:")
    r = ratings.propose(book, admin, "BD1", "R4", reason="信用风险上升")
    ratings.decide(book, hq2, r["id"], approve=True)
    blank = write(tmp_path / "p3.csv", "code,name,type,risk_level\nBD1,债券一(更名),债券型,\n")
    products.import_products(book, blank, actor=admin)
    assert level(book, "BD1") == "R4"
    assert book.execute("SELECT name, level_source FROM products WHERE code = 'BD1'").fetchone() == (
        "债券一(更名)", f"评级 #{r['id']}")


# -- maker–checker, audit, holders ---------------------------------------------------------------------

def test_rerating_needs_a_second_head_office_operator(book, admin, hq2, actors):
    branch = actors("ty", branch="TY01")
    with pytest.raises(Forbidden):
        ratings.propose(book, branch, "BD1", "R4", reason="x")
    with pytest.raises(BrokerCRMError, match="reason"):
        ratings.propose(book, admin, "BD1", "R4", reason=" ")
    r = ratings.propose(book, admin, "BD1", "R4", reason="久期拉长")
    assert level(book, "BD1") == "R3"
    with pytest.raises(Conflict, match="already pending"):
        ratings.propose(book, admin, "BD1", "R5", reason="x")
    with pytest.raises(Forbidden, match="maker–checker"):
        ratings.decide(book, admin, r["id"], approve=True)
    with pytest.raises(Forbidden):
        ratings.decide(book, branch, r["id"], approve=True)
    with pytest.raises(BrokerCRMError, match="reason"):
        ratings.decide(book, hq2, r["id"], approve=False)
    ratings.decide(book, hq2, r["id"], approve=False, note="依据不足")
    assert level(book, "BD1") == "R3"
    audit = book.execute("SELECT action, detail FROM audit_log WHERE action LIKE 'product.rate%' ORDER BY id").fetchall()
    assert [a for a, _ in audit] == ["product.rate", "product.rate.reject"]
    assert json.loads(audit[0][1])["reason"] == "久期拉长" and json.loads(audit[1][1])["note"] == "依据不足"


def test_a_rerating_rechecks_every_holder_and_opens_a_notice_task_each(book, admin, hq2):
    for cid, lv in (("a", "C3"), ("b", "C4"), ("c", "C3")):
        add_client(book, cid)
        add_assessment(book, cid, lv)
    for cid in ("a", "b"):
        book.execute("INSERT INTO holdings (client_id, product_code, amount, since, imported_at)"
                     " VALUES (?, 'BD1', 1000, '2026-01-01', '2026-01-01')", [cid])
    assert suitability.check(book, admin, "a", "BD1")["verdict"] == "match"
    r = ratings.propose(book, admin, "BD1", "R4", reason="信用风险上升")
    done = ratings.decide(book, hq2, r["id"], approve=True, note="同意")
    assert done["state"] == "approved" and done["holders"] == 2 and level(book, "BD1") == "R4"
    checks = dict(book.execute("SELECT client_id, verdict FROM suitability_checks WHERE checked_by = 'hq2'").fetchall())
    assert checks == {"a": "mismatch", "b": "match"}
    tasks = book.execute("SELECT client_id, kind FROM tasks ORDER BY client_id").fetchall()
    assert tasks == [("a", "notice"), ("b", "notice")]
    detail = json.loads(book.execute("SELECT detail FROM events WHERE kind = 'product_rerated' AND client_id = 'a'")
                        .fetchone()[0])
    assert (detail["from"], detail["to"], detail["verdict"]) == ("R3", "R4", "mismatch")
    assert suitability.check(book, admin, "a", "BD1")["verdict"] == "mismatch"


def test_cli_ratings_propose_approve_and_refusals(book, run, hq2, actors):
    actors("ty", branch="TY01")
    refused = run("suitability", "ratings", "propose", "OPT1", "R2", "--reason", "x", ok=False)
    assert refused.exit_code != 0 and "floor R5" in refused.output and "Traceback" not in refused.output
    r = json.loads(run("suitability", "ratings", "propose", "BD1", "R4", "--reason", "上调", "--json").output)
    own = run("suitability", "ratings", "approve", r["id"], ok=False)
    assert own.exit_code != 0 and "maker–checker" in own.output
    done = json.loads(run("suitability", "ratings", "approve", r["id"], "--json", "--as", "hq2").output)
    assert done["state"] == "approved"
    listed = json.loads(run("suitability", "ratings", "list", "--product", "BD1", "--json", "--as", "ty").output)
    assert [x["state"] for x in listed] == ["approved", "imported"]


# -- imports need the right operator -------------------------------------------------------------------

def test_imports_need_the_right_operator(book, actors, tmp_path, run):
    ty = actors("ty", branch="TY01")
    f = write(tmp_path / "p9.csv", "code,name,type,risk_level\nNEW,新,债券型,\n")
    with pytest.raises(Forbidden):
        products.import_products(book, f, actor=ty)
    add_client(book, "bj1", branch="BJ01")
    with pytest.raises(ValidationFailed) as e:
        import_assessments(book, write_csv(tmp_path / "a.csv", [answers("bj1", "2026-01-05")]), actor=ty)
    assert "bj1" in e.value.problems[0] or "BJ01" in e.value.problems[0]
    no_one = run("import", "products", str(f), operator=None, ok=False)
    assert no_one.exit_code != 0


# -- assessments: channel and the client's acknowledgement --------------------------------------------

def test_an_assessment_names_its_channel(db, admin, tmp_path):
    add_client(db, "c1")
    for channel, message in (("飞鸽", "unknown channel"),):
        with pytest.raises(ValidationFailed) as e:
            import_assessments(db, write_csv(tmp_path / "a.csv", [answers("c1", channel=channel)]), actor=admin)
        assert any(":channel:" in p and message in p for p in e.value.problems)
    with pytest.raises(ValidationFailed) as e:
        import_assessments(db, write_csv(tmp_path / "a.csv", [answers("c1", acknowledged="也许")]), actor=admin)
    assert any(":acknowledged:" in p for p in e.value.problems)
    assert db.execute("SELECT count(*) FROM assessments").fetchone()[0] == 0
    # A file without the new columns still imports: channel not recorded, result not acknowledged.
    row = {k: v for k, v in answers("c1").items() if k not in ("channel", "acknowledged")}
    import_assessments(db, write_csv(tmp_path / "old.csv", [row]), actor=admin)
    assert db.execute("SELECT channel, ack_state, ack_ref FROM assessments").fetchall() == [
        (None, "unacknowledged", None)]
    import_assessments(db, write_csv(tmp_path / "d.csv", [answers("c1", acknowledged="2025-01-16", channel="网上")]),
                       actor=admin)
    assert db.execute("SELECT channel, ack_state, ack_ref FROM assessments ORDER BY id DESC").fetchone() == (
        "网上", "acknowledged", "2025-01-16")


def test_an_unacknowledged_result_does_not_count_until_acknowledged(db, admin, tmp_path):
    add_client(db, "c1")
    from conftest import add_product
    add_product(db, "P3", "R3", "bond")
    row = answers("c1", "2026-06-01", acknowledged="否", **HIGHEST)
    import_assessments(db, write_csv(tmp_path / "a.csv", [row]), actor=admin)
    stored = db.execute("SELECT channel, ack_state FROM assessments").fetchone()
    assert stored == ("柜台", "unacknowledged")
    r = suitability.check(db, admin, "c1", "P3")
    assert r["verdict"] == "forbidden" and any("未经客户确认" in n for n in r["notes"])
    # The signed acknowledgement arrives: same answers, same day, now acknowledged with its form number.
    row.update(acknowledged="", ack_ref="ACK-2026-001")
    result = import_assessments(db, write_csv(tmp_path / "b.csv", [row], header=[*row]), actor=admin)
    assert result.updated == 1
    r = suitability.check(db, admin, "c1", "P3")
    # Risk now matches; the answers' short horizon and derivatives-only kinds are three-way matters.
    assert r["verdict"] != "forbidden" and r["dimensions"]["risk"]["verdict"] == "match"
    assert not any("未经客户确认" in n for n in r["notes"])
