"""Operators prove who they are (issue 10, item 1): naming someone is not being them.

Attacker: a clerk or branch IT person who types ``--as`` / ``BROKERCRM_OPERATOR``
for someone else, uses another person's key or a key of their own, or adds and
edits operator rows with sqlite3. Defence: every act that changes data, decides
or reveals personal data needs the private key of a certificate that chains to
the trust root (a file outside the database); the act's audit row carries the
real actor's signature.
"""

import base64
import types

import pytest
from click.testing import CliRunner

from brokercrm.book import clients as clients_lib
from brokercrm.cli import cli
from brokercrm.kernel.db import connect
from brokercrm.trust import audit, authz, certs, identity, keys, operators
from brokercrm.trust import root as trust_root
from tests.conftest import add_client, make_id
from tests.trust.attacks import audit_rows, brokercrm, cli_env, drop_triggers, raw

BJ_ID = make_id("1975-03-04", area="110101", seq="777")
BJ_NAME = "钱多多"


@pytest.fixture
def book(db):
    add_client(db, "B1", branch="BJ01", name=BJ_NAME, id_number=BJ_ID, birth="1975-03-04", phone="13912345678")
    add_client(db, "T1", branch="TY01")
    return db


def invoke(db_path, *args, env=None):
    """The CLI exactly as typed: no key is added for anyone (unlike the ``run`` fixture)."""
    return CliRunner().invoke(cli, [*map(str, args), "--db", str(db_path)], env=env, catch_exceptions=False)


def reveals(db_path):
    return [r for r in audit_rows(raw(db_path)) if r["action"] == "client.reveal"]


def leaked(output):
    return BJ_ID in output or BJ_NAME in output or "13912345678" in output


@pytest.fixture
def mallory_key(tmp_path):
    """A key the attacker made for themself: never certified by anyone."""
    key = keys.generate()
    keys.save_private(key, tmp_path / "mallory.key")
    return key


# -- naming someone without their key ------------------------------------------------------------

@pytest.mark.parametrize("who, key, env, why", [
    ("nobody", None, None, "须提供其私钥"),                              # the issue's `--as nobody`
    ("admin", None, None, "须提供其私钥"),                               # the root's id, typed
    (None, None, {"BROKERCRM_OPERATOR": "admin"}, "须提供其私钥"),        # the variable instead of --as
    (None, None, None, "须指明操作员"),                                   # nobody at all
    ("nobody", "ty", None, "未登记"),                                    # someone's key, an unknown id
    ("admin", "ty", None, "不属于"),                                     # a branch clerk's key for admin
    (None, None, {"BROKERCRM_OPERATOR": "admin", "BROKERCRM_KEY": "ty"}, "不属于"),
    ("admin", "mallory", None, "不属于"),                                # a key the attacker made
    ("ADMIN", "admin", None, "未登记"),                                  # ids are exact
    ("admin\x1b[2K", "admin", None, "无效"),                             # control characters in the id
    ("admin ", "admin", None, "无效"),
    ("аdmin", "admin", None, "无效"),                                    # Cyrillic а
    ("admin", "trust-root", None, "不是有效的私钥"),                      # the public trust root as a key
])
def test_naming_an_operator_without_their_key_reveals_nothing(book, db_path, actors, mallory_key, tmp_path,
                                                             who, key, env, why):
    # defence: Credentials.actor / identity.authenticate (key must match a certificate chaining to the root)
    actors("ty", branch="TY01")
    files = {"ty": actors.key_file("ty"), "admin": actors.key_file("admin"), "mallory": tmp_path / "mallory.key",
             "trust-root": trust_root.root_path(db_path)}
    args = ["clients", "show", "B1", "--reveal"]
    if who is not None:
        args += ["--as", who]
    if key is not None:
        args += ["--key", files[key]]
    env = {k: str(files[v]) if k == "BROKERCRM_KEY" else v for k, v in (env or {}).items()}
    result = invoke(db_path, *args, env=env)
    assert result.exit_code == 1
    assert why in result.output
    assert not leaked(result.output)
    assert reveals(db_path) == []


@pytest.mark.parametrize("command", [
    ("branches", "add", "XA01", "西安营业部"),
    ("operators", "add", "hq9", "--role", "headoffice", "--key-out", "{tmp}/hq9.key", "--no-passphrase"),
    ("classify",),
])
def test_acts_that_change_data_need_the_key_too(book, db_path, tmp_path, command):
    # defence: every acting command authenticates (branches add "with no operator at all" worked before)
    args = [a.format(tmp=tmp_path) for a in command]
    for extra in ([], ["--as", "admin"]):
        result = invoke(db_path, *args, *extra)
        assert result.exit_code == 1 and ("须指明操作员" in result.output or "须提供其私钥" in result.output)
    db = connect(db_path)
    assert db.execute("SELECT count(*) FROM branches WHERE code = 'XA01'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM operators WHERE id = 'hq9'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert not (tmp_path / "hq9.key").exists()


def test_the_audit_row_names_the_real_actor_and_carries_their_signature(book, db_path, actors, run):
    # defence: audit.record signs with the authenticated actor's key; the row names who acted
    ty = actors("ty", branch="TY01")
    run("clients", "show", "T1", "--reveal", "--as", "ty")
    [row] = reveals(db_path)
    assert row["operator"] == "ty" and row["target"] == "T1"
    assert row["key_fingerprint"] == ty.fingerprint
    root = trust_root.read_root(trust_root.root_path(db_path))
    assert audit.verify_row(connect(db_path), row, root) is None
    pub = certs.verify_operator(connect(db_path), "ty", root).public_key
    assert keys.verify(pub, row["signature"], row["row_hash"].encode())


# -- passphrases ------------------------------------------------------------------------------------

def test_a_passphrase_protected_key_is_useless_without_its_passphrase(book, db_path, run, tmp_path):
    # defence: keys.load_private refuses an encrypted key without (or with the wrong) passphrase
    run("operators", "add", "bjclerk", "--role", "branch", "--branch", "BJ01", "--key-out", tmp_path / "bj.key",
        env={"BROKERCRM_KEY_PASSPHRASE": "柜台口令 2026"})
    assert keys.is_encrypted(tmp_path / "bj.key")
    args = ("clients", "show", "B1", "--reveal", "--as", "bjclerk", "--key", tmp_path / "bj.key")
    none = invoke(db_path, *args)
    assert none.exit_code == 1 and "口令" in none.output and not leaked(none.output)
    wrong = invoke(db_path, *args, env={"BROKERCRM_KEY_PASSPHRASE": "guess"})
    assert wrong.exit_code == 1 and "口令错误" in wrong.output and not leaked(wrong.output)
    assert reveals(db_path) == []
    right = invoke(db_path, *args, env={"BROKERCRM_KEY_PASSPHRASE": "柜台口令 2026"})
    assert right.exit_code == 0 and BJ_ID in right.output       # the owner, with the passphrase


# -- operator rows written with sqlite3 ----------------------------------------------------------

def _forge_row(conn, operator_id, pub, *, role="headoffice", branch=None, issued_by=None, certificate=None):
    conn.execute(
        "INSERT INTO operators (id, role, branch, created_at, created_by, public_key, issued_by, issued_at,"
        " key_custody, certificate) VALUES (?, ?, ?, '2026-06-30T09:00:00+08:00', 'admin', ?, ?,"
        " '2026-06-30T09:00:00+08:00', 'self', ?)",
        [operator_id, role, branch, pub, issued_by, certificate])


def _payload(operator_id, pub, issued_by, role="headoffice", branch=None):
    return certs.payload({"id": operator_id, "role": role, "branch": branch, "public_key": pub,
                          "issued_by": issued_by, "issued_at": "2026-06-30T09:00:00+08:00", "key_custody": "self"})


@pytest.mark.parametrize("forgery", [
    "no certificate",               # the plain INSERT of the issue
    "self-certified",               # a second "root" of the attacker's own
    "signed by attacker as admin",  # claims admin issued it, signed with the attacker's key
    "copied certificate",           # admin's real certificate of another operator pasted in
    "no issuer",
])
def test_an_operator_row_added_with_sqlite_is_not_trusted(book, db_path, actors, mallory_key, tmp_path, forgery):
    # defence: certs.verify_operator (certificate chain to the trust root, payload binds id/role/key)
    ty = actors("ty", branch="TY01")
    pub = keys.public_b64(mallory_key)
    conn = raw(db_path)
    if forgery == "no certificate":
        _forge_row(conn, "mallory", pub, issued_by="admin")
    elif forgery == "self-certified":
        _forge_row(conn, "mallory", pub, issued_by="mallory",
                   certificate=keys.sign(mallory_key, _payload("mallory", pub, "mallory")))
    elif forgery == "signed by attacker as admin":
        _forge_row(conn, "mallory", pub, issued_by="admin",
                   certificate=keys.sign(mallory_key, _payload("mallory", pub, "admin")))
    elif forgery == "copied certificate":
        cert = conn.execute("SELECT certificate FROM operators WHERE id = 'ty'").fetchone()[0]
        _forge_row(conn, "mallory", pub, issued_by="admin", certificate=cert)
    else:
        _forge_row(conn, "mallory", pub, issued_by=None,
                   certificate=keys.sign(mallory_key, _payload("mallory", pub, None)))
    key_file = tmp_path / "mallory.key"
    for args in (("clients", "show", "B1", "--reveal"), ("branches", "add", "XA01", "西安"),
                 ("operators", "add", "hq9", "--role", "headoffice", "--key-out", tmp_path / "hq9.key",
                  "--no-passphrase")):
        result = invoke(db_path, *args, "--as", "mallory", "--key", key_file)
        assert result.exit_code == 1 and "拒绝" in result.output, result.output
        assert not leaked(result.output)
    assert reveals(db_path) == []
    assert conn.execute("SELECT count(*) FROM branches WHERE code = 'XA01'").fetchone()[0] == 0
    root = trust_root.for_db(connect(db_path))
    with pytest.raises(identity.AuthenticationError):
        identity.authenticate(connect(db_path), "mallory", mallory_key, root)
    assert ty.id == "ty"


@pytest.mark.parametrize("edit", [
    "UPDATE operators SET role = 'headoffice', branch = NULL WHERE id = 'ty'",     # promote oneself
    "UPDATE operators SET branch = 'BJ01' WHERE id = 'ty'",                         # move to another branch
    "UPDATE operators SET key_custody = 'self' WHERE id = 'ty'",                     # hide who made the key
])
def test_an_operator_row_edited_with_sqlite_is_not_trusted(book, db_path, actors, run, edit):
    # defence: the certificate covers role, branch and custody; an edited row fails verify_operator
    actors("ty", branch="TY01")
    conn = raw(db_path)
    drop_triggers(conn, "operators")
    conn.execute(edit)
    result = run("clients", "show", "B1", "--reveal", "--as", "ty", ok=False)
    assert result.exit_code == 1 and "证书签名无效" in result.output and not leaked(result.output)
    own = run("clients", "show", "T1", "--as", "ty", ok=False)       # not even its own branch any more
    assert own.exit_code == 1
    assert reveals(db_path) == []


def test_swapping_the_public_key_of_an_operator_row_is_not_trusted(book, db_path, actors, mallory_key, tmp_path):
    # defence: the root's key must *be* the trust root; another operator's certificate binds its key
    actors("ty", branch="TY01")
    pub = keys.public_b64(mallory_key)
    conn = raw(db_path)
    drop_triggers(conn, "operators")
    conn.execute("UPDATE operators SET public_key = ? WHERE id = 'admin'", [pub])
    as_admin = invoke(db_path, "clients", "show", "B1", "--reveal", "--as", "admin", "--key", tmp_path / "mallory.key")
    assert as_admin.exit_code == 1 and "信任根" in as_admin.output and not leaked(as_admin.output)
    real = conn.execute("SELECT public_key FROM operators WHERE id = 'ty'").fetchone()[0]
    conn.execute("UPDATE operators SET public_key = ? WHERE id = 'admin'", [keys.public_b64(keys.generate())])
    conn.execute("UPDATE operators SET public_key = ? WHERE id = 'ty'", [pub])
    as_ty = invoke(db_path, "clients", "show", "T1", "--reveal", "--as", "ty", "--key", tmp_path / "mallory.key")
    assert as_ty.exit_code == 1 and "拒绝" in as_ty.output
    assert real != pub and reveals(db_path) == []


# -- revocation ---------------------------------------------------------------------------------

def test_a_revoked_operator_and_everyone_it_certified_are_refused(book, db_path, actors, run, tmp_path):
    # defence: certs.verify_operator checks the signed revocation, also of every issuer up the chain
    actors("hq2")
    run("operators", "add", "bjclerk", "--role", "branch", "--branch", "BJ01", "--key-out", tmp_path / "bj.key",
        "--no-passphrase", "--as", "hq2")
    ok = invoke(db_path, "clients", "show", "B1", "--reveal", "--as", "bjclerk", "--key", tmp_path / "bj.key")
    assert ok.exit_code == 0
    run("operators", "revoke", "hq2", "--reason", "key lost")
    for who, key in (("hq2", actors.key_file("hq2")), ("bjclerk", tmp_path / "bj.key")):
        result = invoke(db_path, "clients", "show", "B1", "--reveal", "--as", who, "--key", key)
        assert result.exit_code == 1 and "撤销" in result.output and not leaked(result.output)
    assert len(reveals(db_path)) == 1


# -- the library decides, not the CLI --------------------------------------------------------------

@pytest.mark.parametrize("actor", [
    "admin",                                                                 # a bare id
    types.SimpleNamespace(id="admin", role="headoffice", branch=None),       # looks like an Actor, no key
    types.SimpleNamespace(id="admin", role="headoffice", branch=None, fingerprint=None, sign=lambda d: ""),
])
def test_the_library_refuses_anything_but_an_authenticated_actor(book, actor):
    # defence: authz.scope treats anything without a verified fingerprint as nobody
    with pytest.raises(authz.Forbidden):
        clients_lib.show(book, actor, "B1", reveal=True)
    assert book.execute("SELECT count(*) FROM audit_log WHERE action = 'client.reveal'").fetchone()[0] == 0


def test_an_actor_made_by_hand_leaves_a_row_that_fails_verification(book, db_path, admin):
    # defence: audit.verify checks every row's signature against the signer's certified key
    forged = identity.Actor("admin", "headoffice", None, admin.fingerprint, admin.root, keys.generate())
    clients_lib.show(book, forged, "B1", reveal=True)
    report = audit.verify(book, admin.root)
    assert not report["ok"] and "签名无效" in report["failure"]["reason"]
    [row] = reveals(db_path)
    assert report["failure"]["id"] == row["id"]


# -- another trust root --------------------------------------------------------------------------

def test_pointing_at_a_trust_root_of_ones_own_is_detected(book, db_path, mallory_key, tmp_path):
    # defence: the trust root lives outside the database; acts signed under another root fail `audit verify`
    pub = keys.public_b64(mallory_key)
    fake_root = trust_root.write_root(tmp_path / "mallory.trust-root", pub)
    conn = raw(db_path)
    _forge_row(conn, "mallory", pub, issued_by="mallory",
               certificate=keys.sign(mallory_key, _payload("mallory", pub, "mallory")))
    env = cli_env(db_path, BROKERCRM_TRUST_ROOT=fake_root)
    code, out, err = brokercrm("clients", "show", "B1", "--reveal", "--as", "mallory", "--key", tmp_path / "mallory.key",
                               env=env)
    # Under their own root the attacker acts (residual: whoever sets the configuration)…
    # …but head office's check with the real root names the row.
    code, out, err = brokercrm("audit", "verify", "--json", env=cli_env(db_path))
    assert code == 1
    report = __import__("json").loads(out)
    [row] = reveals(db_path)
    assert report["failure"]["id"] == row["id"] and "不是受信任的操作员" in report["failure"]["reason"]
    assert base64.b64decode(pub) and report["root_fingerprint"] != keys.fingerprint(pub)
