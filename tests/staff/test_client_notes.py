"""The account manager's note of a client's decision style (issue 14 item 4; seed 001 第十一条)."""

import json
import sqlite3

import pytest

from brokercrm.kernel.errors import BrokerCRMError, Forbidden
from brokercrm.staff import client_notes

from conftest import add_client


@pytest.fixture
def book(db, actors):
    add_client(db, "c1")                    # TY01
    add_client(db, "b1", branch="BJ01")
    actors("am1", branch="TY01", role="account_manager")
    actors("clerk", branch="TY01", role="counter_clerk")
    actors("bj1", branch="BJ01", role="account_manager")
    return db


def test_the_latest_style_is_in_force_and_every_note_stays(book, actors):
    client_notes.record_decision_style(book, actors("am1"), "c1", "依赖型", note="重要决定前先问家人")
    client_notes.record_decision_style(book, actors("am1"), "c1", "independent")
    now = client_notes.decision_style(book, "c1")
    assert (now["value"], now["label"], now["recorded_by"]) == ("independent", "独立决策型", "am1")
    assert [n["value"] for n in client_notes.history(book, actors("am1"), "c1")] == ["dependent", "independent"]


def test_an_unknown_style_is_refused_naming_the_choices(book, actors):
    with pytest.raises(BrokerCRMError, match="高度自主决策型"):
        client_notes.record_decision_style(book, actors("am1"), "c1", "冲动型")
    assert book.execute("SELECT count(*) FROM client_notes").fetchone()[0] == 0


def test_only_staff_allowed_the_act_of_the_clients_branch(book, actors):
    with pytest.raises(Forbidden):
        client_notes.record_decision_style(book, actors("bj1"), "c1", "dependent")   # another branch
    with pytest.raises(Forbidden):
        client_notes.record_decision_style(book, actors("clerk"), "c1", "dependent")  # position without the act
    assert book.execute("SELECT count(*) FROM client_notes").fetchone()[0] == 0


def test_the_audit_row_names_the_style_but_not_the_free_text(book, actors):
    client_notes.record_decision_style(book, actors("am1"), "c1", "risk_averse", note="家住幸福路 8 号")
    detail = book.execute("SELECT detail FROM audit_log WHERE action = 'client.note'").fetchone()[0]
    assert "risk_averse" in detail and "幸福路" not in detail


def test_notes_are_append_only(book, actors, db_path):
    client_notes.record_decision_style(book, actors("am1"), "c1", "dependent")
    conn = sqlite3.connect(db_path)
    try:
        for sql in ("UPDATE client_notes SET value = 'autonomous'", "DELETE FROM client_notes"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()


def test_cli_note_and_clients_show(book, actors, run):
    out = run("managers", "note", "c1", "--decision-style", "高度自主决策型", "--json", "--as", "am1")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["value"] == "autonomous"
    shown = run("clients", "show", "c1", "--as", "am1")
    assert "投资决策风格" in shown.output and "高度自主决策型" in shown.output
    refused = run("managers", "note", "c1", "--decision-style", "x", "--as", "am1", ok=False)
    assert refused.exit_code != 0 and "unknown decision style" in refused.output
