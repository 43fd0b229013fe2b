"""Authorisation in the library, across branches and roles (issue 10, item 2).

Attacker: a TY01 clerk or IT person with their own valid key, reaching for
BJ01's clients, for head-office acts, or for an important field without a
second person; a service account doing more than scheduled work. Defence: one
deny-by-default table (``brokercrm.trust.authz.ACTS``) consulted by every
library function; important fields go through seed 004's reviewed change.
"""

import itertools
import json

import pytest

from brokercrm.book import clients as clients_lib
from brokercrm.book import data_changes
from brokercrm.trust import authz, identity
from tests.conftest import add_client, make_id, person, write_csv
from tests.trust.attacks import audit_rows, raw

# The policy the issue asks for, written out independently of authz.ACTS.
HQ_ONLY = {"operator.add", "operator.revoke", "branch.add", "policy.publish", "approval.decide", "site.users",
           "audit.read", "client.move", "product.import", "operator.qualify", "suitability.lowest_flag",
           "product.rate", "product.rate.review", "threshold.review", "archive.retention"}
STAFF = {"approval.request", "client.reveal", "client.import", "client.change.request", "client.change.review",
         "assessment.import", "holding.import", "behaviour.import", "suitability.check", "suitability.confirm",
         "investor_type.request", "investor_type.decide", "interaction.log", "task.done", "complaint.handle",
         "care.record", "retention.handle", "order.flag", "suitability.capacity", "manager.assign", "client.note",
         "suitability.profile", "suitability.withdraw",  # issue 11: KYC profile, cooling-off withdrawal
         "kyc.verify", "kyc.sample", "kyc.flag.clear", "client.change.csdc",  # issue 11 items 7–8
         "suitability.evidence", "client.archive"}  # issue 11 item 6
READ = {"operator.list", "approval.read", "client.read", "suitability.read", "interaction.read", "task.read",
        "complaint.read", "retention.read", "package.read", "suitability.scan", "investor_type.recheck",
        "manager.report", "report.new_accounts",
        "kyc.plausibility", "kyc.id_expiry"}  # flag and open tasks like a scan: scheduled, or a branch its own
SCHEDULED = {"classify.run", "behaviour.evaluate", "care.generate", "publish.run"}
# Issue 14 items 3 and 5 (client status, programmes).
HQ_ONLY |= {"points.adjust"}
STAFF |= {"client.status", "callback.record", "prospect.manage", "prospect.reveal", "education.manage",
          "event.manage", "points.redeem"}
READ |= {"callback.read", "prospect.read", "vip.read", "education.read", "event.read", "points.read"}
SCHEDULED |= {"client.status.refresh", "callback.sample", "vip.refresh", "points.accrue"}


def expected(act, role, branch, own="TY01"):
    """Whether ``role`` (of branch ``own`` when a branch operator) may do ``act`` on ``branch``."""
    if role == "headoffice":
        return True
    if role == "branch":
        return act in STAFF | READ and branch == own
    if role == "service":
        return act in READ | SCHEDULED      # never reveals, changes, imports or decides
    return False


def actor(role, branch=None, fingerprint="SHA256:" + "0" * 64):
    return identity.Actor(f"x-{role}", role, branch, fingerprint, "root", None)


def test_every_act_is_classified_by_the_policy_the_issue_asks_for():
    # defence: deny-by-default — an act nobody classified here is a new power nobody reviewed
    assert set(authz.ACTS) == HQ_ONLY | STAFF | READ | SCHEDULED
    assert not (HQ_ONLY & STAFF or STAFF & READ or READ & SCHEDULED or HQ_ONLY & SCHEDULED)


@pytest.mark.parametrize("act", sorted(authz.ACTS))
def test_the_authorisation_matrix(act):
    # defence: authz.require — role × act × scope, deny by default
    for role, branch in itertools.product(("headoffice", "branch", "service", "auditor", "", None),
                                          (None, "TY01", "BJ01")):
        who = actor(role, "TY01" if role == "branch" else None)
        assert authz.allowed(who, act, branch=branch) == expected(act, role, branch), (role, branch)
    # Nobody without a verified key, whatever role they claim.
    for role in authz.ROLES:
        assert not authz.allowed(actor(role, "TY01", fingerprint=None), act, branch="TY01")
        assert not authz.allowed(actor(role, "TY01", fingerprint=""), act)


def test_an_unknown_act_is_refused_even_for_head_office():
    # defence: deny by default
    for act in ("client.delete", "", "CLIENT.REVEAL", "client.reveal "):
        assert not authz.allowed(actor("headoffice"), act)


def test_a_branch_operator_without_a_branch_gets_nothing():
    # defence: OWN scope compares with the actor's branch; None is no branch at all
    lost = actor("branch", None)
    for act in STAFF | READ:
        assert not authz.allowed(lost, act, branch="TY01")
        assert not authz.allowed(lost, act, branch=None)


# -- through the real commands --------------------------------------------------------------------

BJ_ID = make_id("1975-03-04", area="110101", seq="777")


@pytest.fixture
def book(db, actors):
    add_client(db, "B1", branch="BJ01", name="钱多多", id_number=BJ_ID, birth="1975-03-04", phone="13912345678",
               assets=500_000.0)
    add_client(db, "T1", branch="TY01", assets=10_000.0)
    actors("ty", branch="TY01")
    actors("svc", role="service")
    return db


def client(db, cid):
    cur = db.execute("SELECT * FROM clients WHERE client_id = ?", [cid])
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


@pytest.mark.parametrize("who", ["ty", "svc"])
def test_reveal_of_another_branchs_client_is_refused(book, db_path, run, who):
    # defence: clients.show → authz.require("client.reveal", branch=client's branch)
    result = run("clients", "show", "B1", "--reveal", "--as", who, ok=False)
    assert result.exit_code == 1 and "无权" in result.output
    assert BJ_ID not in result.output and "钱多多" not in result.output
    assert not [r for r in audit_rows(raw(db_path)) if r["action"] == "client.reveal"]


def test_a_branch_operator_reads_only_its_own_branch(book, run):
    # defence: authz.branch_filter on listings
    refused = run("clients", "list", "--branch", "BJ01", "--as", "ty", "--json", ok=False)
    assert refused.exit_code == 1 and "B1" not in refused.output
    mine = json.loads(run("clients", "list", "--as", "ty", "--json").output)
    assert {c["client_id"] for c in mine} == {"T1"}
    masked = run("clients", "show", "B1", "--as", "ty", ok=False)
    assert masked.exit_code == 1 and "无权" in masked.output and "钱多多" not in masked.output


@pytest.mark.parametrize("row, why", [
    (dict(client_id="B1", branch_id="BJ01", total_assets="9"), "营业部"),          # change BJ01's assets
    (dict(client_id="B1", branch_id="TY01", total_assets="9"), "属于营业部 BJ01"),   # move it into TY01
    (dict(client_id="B1", branch_id="TY01", phone="13700000000"), "属于营业部 BJ01"),  # …and its mobile at once
    (dict(client_id="B9", branch_id="BJ01"), "营业部"),                            # a new client for BJ01
])
def test_a_branch_import_never_touches_another_branch(book, run, tmp_path, row, why):
    # defence: imports scoped to the operator's branch (client.import is OWN for branch staff)
    before = client(book, "B1")
    src = person(**{"name": "钱多多", "id_number": BJ_ID, "birth_date": "1975-03-04", "phone": "13912345678", **row})
    path = write_csv(tmp_path / "c.csv", [src, person("T2")])
    result = run("import", "clients", path, "--as", "ty", ok=False)
    assert result.exit_code == 1 and why in result.output
    skipped = run("import", "clients", path, "--skip-invalid", "--rejects", tmp_path / "r.csv", "--as", "ty")
    assert skipped.exit_code == 0
    after = client(book, "B1")
    assert {k: after[k] for k in ("branch_id", "total_assets", "phone")} == \
        {k: before[k] for k in ("branch_id", "total_assets", "phone")}
    assert book.execute("SELECT count(*) FROM clients WHERE client_id = 'B9'").fetchone()[0] == 0
    assert book.execute("SELECT branch_id FROM clients WHERE client_id = 'T2'").fetchone()[0] == "TY01"


@pytest.mark.parametrize("field, value", [("phone", "13700000000"), ("name", "李四"),
                                          ("id_number", make_id("1980-01-02"))])
def test_an_import_that_changes_an_important_field_waits_for_review(book, run, tmp_path, field, value):
    # defence: import's _update turns important-field changes into pending data_changes (seed 004)
    run("import", "clients", write_csv(tmp_path / "a.csv", [person("T3")]), "--as", "ty")
    before = client(book, "T3")
    changed = {field: value, **({"birth_date": "1980-01-02"} if field == "id_number" else {})}
    run("import", "clients", write_csv(tmp_path / "b.csv", [person("T3", **changed)]), "--as", "ty")
    assert client(book, "T3")[field] == before[field]
    pending = book.execute("SELECT field, new_value, maker FROM data_changes WHERE state = 'pending'").fetchall()
    assert pending == [(field, value, "ty")]
    # …and the maker cannot be its own checker.
    [(change_id,)] = book.execute("SELECT id FROM data_changes").fetchall()
    own = run("changes", "approve", change_id, "--as", "ty", ok=False)
    assert own.exit_code == 1 and client(book, "T3")[field] == before[field]


def test_an_import_that_changes_the_legal_representative_waits_for_review(book, run, tmp_path):
    # defence: every field seed 004 calls important (data_changes.IMPORTANT) is reviewed on import too
    org = dict(kind="institution", id_number="91110000100000000R", birth_date="", legal_representative="王五",
               business_scope="贸易", net_assets="1000000")
    run("import", "clients", write_csv(tmp_path / "a.csv", [person("T5", **org)]), "--as", "ty")
    run("import", "clients", write_csv(tmp_path / "b.csv", [person("T5", **{**org, "legal_representative": "赵六"})]),
        "--as", "ty")
    assert client(book, "T5")["legal_representative"] == "王五"
    assert book.execute("SELECT field FROM data_changes WHERE state = 'pending'").fetchall() == [
        ("legal_representative",)]


@pytest.mark.parametrize("args", [
    ("branches", "add", "XA01", "西安营业部"),
    ("operators", "add", "ty2", "--role", "branch", "--branch", "TY01", "--key-out", "{tmp}/ty2.key", "--no-passphrase"),
    ("operators", "revoke", "svc", "--reason", "x"),
    ("classify",),
    ("classify", "--branch", "TY01"),
    ("changes", "request", "B1", "phone", "13700000000"),
    ("changes", "request", "B1", "occupation", "无业"),
    ("interactions", "log", "B1", "--kind", "call", "--channel", "phone", "--note", "hi"),
    ("complaints", "list", "--branch", "BJ01"),
])
def test_a_branch_operator_is_refused_head_office_and_other_branch_acts(book, run, tmp_path, args):
    # defence: authz.require in branches.add, operators.add/revoke, classify, data_changes, interactions, complaints
    before = [r["id"] for r in audit_rows(raw(book_path(book)))]
    result = run(*[a.format(tmp=tmp_path) for a in args], "--as", "ty", ok=False)
    assert result.exit_code == 1 and "无权" in result.output, result.output
    assert [r["id"] for r in audit_rows(raw(book_path(book)))] == before
    assert client(book, "B1")["phone"] == "13912345678" and client(book, "B1")["occupation"] is None
    assert not (tmp_path / "ty2.key").exists()


def book_path(db):
    return db.execute("PRAGMA database_list").fetchone()[2]


def test_a_branch_operator_cannot_review_another_branchs_change(book, run, actors):
    # defence: data_changes._decide requires client.change.review in the client's branch
    actors("bj", branch="BJ01")
    run("changes", "request", "B1", "phone", "13700000000", "--identity-check", "证件原件", "--form-ref", "F1", "--as", "bj")
    [(change_id,)] = book.execute("SELECT id FROM data_changes").fetchall()
    result = run("changes", "approve", change_id, "--as", "ty", ok=False)
    assert result.exit_code == 1 and client(book, "B1")["phone"] == "13912345678"


@pytest.mark.parametrize("args", [
    ("clients", "show", "T1", "--reveal"),
    ("changes", "request", "T1", "occupation", "无业"),
    ("import", "clients", "{csv}"),
    ("interactions", "log", "T1", "--kind", "call", "--channel", "phone", "--note", "hi"),
])
def test_a_service_account_runs_scheduled_work_only(book, run, tmp_path, args):
    # defence: the service role has read and scheduled acts only: no reveal, change or import
    csv = write_csv(tmp_path / "c.csv", [person("T7")])
    result = run(*[a.format(csv=csv) for a in args], "--as", "svc", ok=False)
    assert result.exit_code == 1 and "无权" in result.output
    assert book.execute("SELECT count(*) FROM clients WHERE client_id = 'T7'").fetchone()[0] == 0
    run("classify", "--as", "svc")                               # what it is for


def test_head_office_cannot_mint_a_second_head_office_identity(book, run, actors, tmp_path):
    # defence: operators.add — only the root operator certifies head-office operators (no sock puppets)
    actors("hq2")
    result = run("operators", "add", "hq3", "--role", "headoffice", "--key-out", tmp_path / "hq3.key",
                 "--no-passphrase", "--as", "hq2", ok=False)
    assert result.exit_code == 1 and "根操作员" in result.output
    assert book.execute("SELECT count(*) FROM operators WHERE id = 'hq3'").fetchone()[0] == 0


def test_the_library_checks_without_the_cli(book, actors):
    # defence: authorisation is in the library functions themselves
    ty = actors("ty", branch="TY01")
    with pytest.raises(authz.Forbidden):
        clients_lib.show(book, ty, "B1", reveal=True)
    with pytest.raises(authz.Forbidden):
        list(clients_lib.list_clients(book, ty, branch="BJ01"))
    with pytest.raises(authz.Forbidden):
        data_changes.request(book, ty, "B1", "phone", "13700000000")
    assert client(book, "B1")["phone"] == "13912345678"
