"""The audit log is tamper-evident (issue 10, item 7).

Attacker: someone with the database file and sqlite3 who wants a trace gone or
changed — a reveal of a client, a revocation, who did what — by INSERT OR
REPLACE, UPDATE, DELETE, reordering, cutting the tail, or reusing ids, with
the triggers dropped first. Defence: a hash chain with every row signed by its
actor; triggers refuse the obvious edits; ``brokercrm audit verify`` checks the
whole chain, every signature and every recorded chain head, exits 1 and names
the first row that fails.
"""

import json
import re
import sqlite3

import pytest
from click.testing import CliRunner

from brokercrm.cli import cli
from brokercrm.trust import audit, keys
from tests.conftest import NOW, add_client
from tests.trust.attacks import audit_rows, brokercrm, cli_env, drop_triggers, raw


@pytest.fixture
def log(db, db_path, actors, run):
    """A log with some history: operators added, reveals, a classification run, a revocation."""
    add_client(db, "T1", branch="TY01")
    add_client(db, "B1", branch="BJ01")
    actors("ty", branch="TY01")
    actors("bj", branch="BJ01")
    run("clients", "show", "T1", "--reveal", "--as", "ty")
    run("clients", "show", "B1", "--reveal", "--as", "bj")
    summary = run("classify").output
    run("clients", "show", "T1", "--reveal", "--as", "ty")
    run("operators", "revoke", "bj", "--reason", "left the firm")
    head = re.search(r"审计链头 \(audit chain head\): (\d+:[0-9a-f]{64})", summary).group(1)
    return {"conn": raw(db_path), "run_head": head}


def verify(db_path, *extra):
    result = CliRunner().invoke(cli, ["audit", "verify", "--json", *extra, "--db", str(db_path)],
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.output)


def row_id(conn, action, target=None):
    sql = "SELECT id FROM audit_log WHERE action = ?" + (" AND target = ?" if target else "") + " ORDER BY id LIMIT 1"
    return conn.execute(sql, [action] + ([target] if target else [])).fetchone()[0]


def test_an_intact_log_verifies_with_exit_0_in_a_real_process(log, db_path):
    # defence: audit verify — the whole chain, every signature, the recorded heads
    code, out, err = brokercrm("audit", "verify", "--json", env=cli_env(db_path))
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["failure"] is None
    assert report["rows"] == len(audit_rows(log["conn"])) and report["heads_checked"] >= 1


# -- the triggers: the second line -------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET detail = '{}' WHERE id = 3",
    "UPDATE audit_log SET operator = 'admin' WHERE action = 'client.reveal'",
    "DELETE FROM audit_log WHERE action = 'operator.revoke'",
    "DELETE FROM audit_log",
    "INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log WHERE id = 2",
    "REPLACE INTO audit_log (id, at, operator, action, prev_hash, row_hash, signature)"
    " VALUES (2, 'x', 'admin', 'noop', 'x', 'x', 'x')",
    "INSERT INTO audit_log (id, at, action, prev_hash, row_hash, signature)"
    " SELECT max(id), 'x', 'noop', 'x', 'x', 'x' FROM audit_log",                       # an id reused
    "INSERT INTO audit_log (id, at, action, prev_hash, row_hash, signature)"
    " SELECT max(id) + 5, 'x', 'noop', 'x', 'x', 'x' FROM audit_log",                   # a gap
    "INSERT INTO audit_log (at, action, prev_hash, row_hash, signature) VALUES ('x', 'noop', 'x', 'x', 'x')",
    "INSERT INTO audit_log (id, at, action, prev_hash, row_hash)"
    " SELECT max(id) + 1, 'x', 'noop', (SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1), 'x'"
    " FROM audit_log",                                                                   # unsigned
])
def test_the_triggers_refuse_edits_deletions_replacements_and_broken_links(log, db_path, sql):
    # defence: audit_log_no_update / audit_log_no_delete / audit_log_chain triggers
    conn = log["conn"]
    before = audit_rows(conn)
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute(sql)
    assert audit_rows(conn) == before


# -- with the triggers dropped: verify names the first row that fails ------------------------------

def tamper(conn, kind):
    """Do one kind of tampering with the triggers dropped; the id of the first row that should fail."""
    drop_triggers(conn, "audit_log")
    reveal = row_id(conn, "client.reveal", "B1")
    if kind == "edit detail":
        conn.execute("UPDATE audit_log SET detail = '{\"note\": \"nothing to see\"}' WHERE id = ?", [reveal])
        return reveal
    if kind == "edit who":          # pin bj's reveal on ty
        conn.execute("UPDATE audit_log SET operator = 'ty' WHERE id = ?", [reveal])
        return reveal
    if kind == "edit target":       # "it was another client"
        conn.execute("UPDATE audit_log SET target = 'T1' WHERE id = ?", [reveal])
        return reveal
    if kind == "delete a reveal":
        conn.execute("DELETE FROM audit_log WHERE id = ?", [reveal])
        return reveal
    if kind == "delete and renumber":
        conn.execute("DELETE FROM audit_log WHERE id = ?", [reveal])
        conn.execute("UPDATE audit_log SET id = id - 1 WHERE id > ?", [reveal])
        return reveal
    if kind == "reorder":
        a = conn.execute("SELECT * FROM audit_log WHERE id = ?", [reveal - 1]).fetchone()
        b = conn.execute("SELECT * FROM audit_log WHERE id = ?", [reveal]).fetchone()
        conn.execute("DELETE FROM audit_log WHERE id IN (?, ?)", [reveal - 1, reveal])
        n = len(a)
        conn.execute(f"INSERT INTO audit_log VALUES ({', '.join('?' * n)})", [reveal - 1, *b[1:]])
        conn.execute(f"INSERT INTO audit_log VALUES ({', '.join('?' * n)})", [reveal, *a[1:]])
        return reveal - 1
    if kind == "insert or replace, re-hashed":   # a new row in place of bj's reveal, its hash recomputed
        cur = conn.execute("SELECT * FROM audit_log WHERE id = ?", [reveal])
        row = dict(zip([d[0] for d in cur.description], cur.fetchone()))
        row["target"] = "T1"
        row["row_hash"] = audit.row_hash(row)
        conn.execute(f"INSERT OR REPLACE INTO audit_log ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                     list(row.values()))
        return reveal
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["edit detail", "edit who", "edit target", "delete a reveal", "delete and renumber",
                                  "reorder", "insert or replace, re-hashed"])
def test_verify_names_the_first_row_that_fails(log, db_path, kind):
    # defence: audit.verify — row hash, chain link (prev_hash), consecutive ids, signature of the actor
    expected = tamper(log["conn"], kind)
    code, report = verify(db_path)
    assert code == 1 and report["ok"] is False
    assert report["failure"]["id"] == expected, report["failure"]


def test_re_signing_an_edited_row_with_ones_own_key_breaks_the_next_link(log, db_path, actors):
    # defence: the next row's prev_hash (signed by someone else) pins the edited row's hash
    conn = log["conn"]
    drop_triggers(conn, "audit_log")
    mine = row_id(conn, "client.reveal", "T1")                      # ty's own first reveal
    cur = conn.execute("SELECT * FROM audit_log WHERE id = ?", [mine])
    row = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    row["target"] = "T9"
    row["row_hash"] = audit.row_hash(row)
    row["signature"] = keys.sign(keys.load_private(actors.key_file("ty")), row["row_hash"].encode())
    conn.execute("UPDATE audit_log SET target = ?, row_hash = ?, signature = ? WHERE id = ?",
                 [row["target"], row["row_hash"], row["signature"], mine])
    code, report = verify(db_path)
    assert code == 1 and report["failure"]["id"] == mine + 1 and "链" in report["failure"]["reason"]


def test_a_row_appended_by_someone_not_certified_is_named(log, db_path):
    # defence: every row's signer must be a certified operator whose key matches the row's fingerprint
    conn = log["conn"]
    evil = keys.generate()
    last = conn.execute("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    row = {"id": last[0] + 1, "at": NOW, "operator": "ty", "action": "client.reveal", "target": "B1", "detail": None,
           "digest": None, "key_fingerprint": keys.fingerprint(keys.public_b64(evil)), "prev_hash": last[1]}
    row["row_hash"] = audit.row_hash(row)
    row["signature"] = keys.sign(evil, row["row_hash"].encode())
    conn.execute(f"INSERT INTO audit_log ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    code, report = verify(db_path)
    assert code == 1 and report["failure"]["id"] == row["id"] and "证书不符" in report["failure"]["reason"]


# -- cutting the tail: the one edit a chain cannot see from inside ---------------------------------

def cut_to(conn, last_id):
    drop_triggers(conn, "audit_log")
    conn.execute("DELETE FROM audit_log WHERE id > ?", [last_id])


def test_truncation_before_a_recorded_run_head_is_detected(log, db_path):
    # defence: every classification run records the chain head it started from; verify checks them
    run_start = int(log["conn"].execute("SELECT audit_head FROM runs").fetchone()[0].split(":")[0])
    cut_to(log["conn"], run_start - 2)
    code, report = verify(db_path)
    assert code == 1 and "截断" in report["failure"]["reason"] and report["failure"]["id"] == run_start - 1


@pytest.mark.parametrize("how", ["cut", "cut and reuse the ids"])
def test_truncation_is_detected_against_a_head_kept_elsewhere(log, db_path, actors, run, how):
    # defence: `audit verify --head ID:HASH` against the head a run summary printed (kept off the machine)
    conn = log["conn"]
    head_id = int(log["run_head"].split(":")[0])
    cut_to(conn, head_id - 1)                          # the classify row and everything after it: gone
    conn.execute("DELETE FROM runs")                    # and the heads recorded in the database with it
    if how == "cut and reuse the ids":                  # new, validly signed rows where the old ones were
        run("clients", "show", "T1", "--as", "ty")
        run("clients", "show", "T1", "--reveal", "--as", "ty")
        assert conn.execute("SELECT max(id) FROM audit_log").fetchone()[0] >= head_id
    # Nothing left inside the file need show it (residual, docs/security.md); the kept head does.
    code, report = verify(db_path, "--head", log["run_head"])
    assert code == 1 and report["failure"]["id"] <= head_id


def test_a_deleted_revocation_is_detected(log, db_path, run):
    # defence: the revocation is a chained audit row; deleting it shows in the chain or against a head
    conn = log["conn"]
    run("clients", "show", "T1", "--reveal", "--as", "ty")          # a row after the revocation
    revoke = row_id(conn, "operator.revoke")
    drop_triggers(conn, "audit_log")
    conn.execute("DELETE FROM audit_log WHERE id = ?", [revoke])
    code, report = verify(db_path)
    assert code == 1 and report["failure"]["id"] == revoke


def test_verify_exits_1_in_a_real_process_and_says_which_row(log, db_path):
    # defence: `brokercrm audit verify` exit status and message for scripts and people
    expected = tamper(log["conn"], "edit detail")
    code, out, err = brokercrm("audit", "verify", env=cli_env(db_path))
    assert code == 1 and f"第 {expected} 行" in err
    code, out, err = brokercrm("audit", "verify", "--json", env=cli_env(db_path))
    assert code == 1 and json.loads(out)["failure"]["id"] == expected
