"""The published service packages (客户360's 服务包): the library's answer, for every client, scoped."""

import json
import sqlite3

import pytest

from brokercrm.classify import engine as classify
from brokercrm.plugins import use as use_plugins
from brokercrm.service import interactions, package_book
from brokercrm.service import packages as service_packages
from brokercrm.site import publish as publish_lib

from conftest import add_client

# One client per package of policies/packages.toml, in two branches.
CLIENTS = {
    "C1": {"kind": "institution", "assets": 100_000_000},
    "C2": {"assets": 8_000_000, "investment_years": 10},
    "C3": {"birth": "1950-01-01", "investment_years": 10},
    "C4": {"investment_years": 0.5},
    "C5": {"holding": 5, "investment_years": 3},
    "C6": {"investment_years": 3, "birth": "1980-01-01", "branch": "BJ01"},
    "C7": {"investment_years": 3, "birth": "1995-01-01", "branch": "BJ01"},
}

PREFER_SENIOR = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def choose_service_package(client, packages):
    return "senior" if "senior" in packages else None
"""


# Tests decide which plugins exist: none unless a test installs one (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_installed_plugins")


def book(db, admin):
    for code in ("TY01", "BJ01"):
        db.execute("INSERT OR IGNORE INTO branches (code, name, created_at) VALUES (?, ?, '2026-01-01')", [code, code])
    for cid, kwargs in CLIENTS.items():
        add_client(db, cid, **kwargs)
    db.conn.commit()
    classify.classify(db, actor=admin)
    # An interaction of an action's kind moves its due date; another kind does not.
    interactions.log(db, admin, "C4", kind="message", channel="sms", note="本周市场解读", at="2026-06-28T10:00:00")
    interactions.log(db, admin, "C4", kind="call", channel="phone", note="来电", at="2026-06-29T10:00:00")
    db.conn.commit()


def snapshot_rows(path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return {r["client_id"]: dict(r) for r in conn.execute("SELECT * FROM client_service_packages")}
    finally:
        conn.close()


def expected(db, client_id):
    """What ``packages.for_client`` (the library ``clients show`` uses) says, as a published row."""
    branch = db.execute("SELECT branch_id FROM clients WHERE client_id = ?", [client_id]).fetchone()[0]
    return dict(zip(package_book.COLUMNS, package_book.as_row(client_id, branch,
                                                              service_packages.for_client(db, client_id))))


def test_every_clients_package_is_the_librarys_answer_and_branches_get_only_theirs(db, db_path, admin, tmp_path):
    book(db, admin)
    publish_lib.publish(db_path, tmp_path / "site", actor=admin)
    hq = snapshot_rows(tmp_path / "site" / "hq.db")
    assert set(hq) == set(CLIENTS)
    # Every package of the policy appears once, so each rule of the CASE is exercised.
    assert len({r["code"] for r in hq.values()}) == len(CLIENTS)
    for cid in CLIENTS:
        want = expected(db, cid)
        assert {**hq[cid], "actions": json.loads(hq[cid]["actions"])} == \
            {**want, "actions": json.loads(want["actions"])}, cid
    # The novice package: weekly message (last 2026-06-28, due a week later), monthly course (never: due today).
    assert json.loads(hq["C4"]["actions"]) == [["2026-06-28T10:00:00+08:00", "2026-07-05"], [None, "2026-06-30"]]
    assert hq["C4"]["next_due"] == "2026-06-30" and hq["C4"]["chosen_by"] is None
    # What each package is: one row per package of the policy, in every snapshot.
    defs = sqlite3.connect(tmp_path / "site" / "TY01.db").execute(
        "SELECT code, name, services, actions FROM service_packages ORDER BY position").fetchall()
    doc, _ = service_packages.load(db)
    assert [(c, n, json.loads(s), json.loads(a)) for c, n, s, a in defs] == [
        (p["code"], p["name"], p["services"], [{k: x[k] for k in ("title", "kind", "every_days")}
                                               for x in p.get("actions", [])]) for p in doc["packages"]]
    ty = snapshot_rows(tmp_path / "site" / "TY01.db")
    bj = snapshot_rows(tmp_path / "site" / "BJ01.db")
    assert set(ty) == {c for c, k in CLIENTS.items() if k.get("branch", "TY01") == "TY01"}
    assert set(bj) == {"C6", "C7"}
    assert ty["C4"] == hq["C4"]


def test_an_approved_plugins_choice_is_published(db, db_path, admin, tmp_path, plugin_site, approve_plugin):
    book(db, admin)
    plugin_site.install("ty-senior", PREFER_SENIOR, version="1.0")
    with plugin_site.host() as host:
        use_plugins(host)
        approve_plugin(host, "ty-senior", "TY01")
        publish_lib.publish(db_path, tmp_path / "site", actor=admin)
        hq = snapshot_rows(tmp_path / "site" / "hq.db")
        # TY01's clients: the plugin chose; BJ01's: head office's rules.
        assert hq["C4"]["code"] == "senior" and "ty-senior" in hq["C4"]["chosen_by"]
        assert hq["C4"] == expected(db, "C4")
        assert hq["C7"]["code"] == "young_investor" and hq["C7"]["chosen_by"] is None  # head office
        assert snapshot_rows(tmp_path / "site" / "TY01.db")["C4"]["code"] == "senior"
