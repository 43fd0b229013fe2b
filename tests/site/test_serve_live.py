"""A running `brokercrm serve` serves each new publish without a restart, one whole set per request."""

import asyncio
import gc
import os
import sqlite3
import threading
import weakref
from pathlib import Path

import pytest

from brokercrm.site.publish import publish

from site_support import NOW, PASSWORD, Server, book_admin, build_book, sign_in, site_env


@pytest.fixture()
def live(tmp_path, monkeypatch):
    monkeypatch.setenv("BROKERCRM_NOW", NOW)
    db = tmp_path / "crm.db"
    build_book(db, clients=24)
    admin = book_admin(db)
    first = publish(db, tmp_path / "site", actor=admin)
    server = Server(tmp_path / "site", site_env())
    clients = {user: sign_in(server.url, user, PASSWORD)[0] for user in ("hq", "ty")}
    yield {"db": db, "site": tmp_path / "site", "server": server, "clients": clients, "first": first, "admin": admin}
    for client in clients.values():
        client.close()
    server.close()


def generation(client, database):
    rows = client.get(f"/{database}/publish_info.json?_shape=array").json()
    return {r["key"]: r["value"] for r in rows}["generation"]


def add_clients(db, n, start=100):
    conn = sqlite3.connect(db)
    for i in range(start, start + n):
        conn.execute(
            "INSERT INTO clients (client_id, kind, name, branch_id, created_at, updated_at)"
            " VALUES (?, 'individual', '新客户', 'TY01', ?, ?)", [f"TY01{i:06d}", NOW, NOW])
    conn.commit()
    conn.close()


def count(client, path):
    return client.get(path + ".json?_size=1").json()["filtered_table_rows_count"]


def test_a_new_publish_is_served_without_a_restart(live):
    hq, ty = live["clients"]["hq"], live["clients"]["ty"]
    pid = live["server"].proc.pid
    assert generation(hq, "hq") == live["first"].generation
    assert count(hq, "/hq/clients") == 24 and count(ty, "/TY01/clients") == 8
    add_clients(live["db"], 5)
    second = publish(live["db"], live["site"], actor=live["admin"])
    # The very next request sees the new set, head office and branch alike; same process.
    assert generation(hq, "hq") == second.generation == generation(ty, "TY01")
    assert count(hq, "/hq/clients") == 29 and count(ty, "/TY01/clients") == 13
    assert live["server"].proc.poll() is None and live["server"].proc.pid == pid
    # Sign-in survives the switch, and the branch is still kept to its own branch.
    assert ty.get("/BJ01/clients").status_code in (403, 404)


def test_a_request_never_sees_two_sets(live):
    """While sets are switched in, every answer lists files of one generation only."""
    hq = live["clients"]["hq"]
    errors, generations, done = [], set(), threading.Event()

    def publisher():
        try:
            for i in range(4):
                add_clients(live["db"], 1, start=200 + i)
                publish(live["db"], live["site"], actor=live["admin"])
        except Exception as e:  # reported by the main thread
            errors.append(e)
        finally:
            done.set()

    thread = threading.Thread(target=publisher)
    thread.start()
    answers = 0
    while not done.is_set() or answers < 5:
        data = hq.get("/-/databases.json").json()
        dirs = {Path(d["path"]).parent.name for d in data if d.get("path")}
        assert len(dirs) == 1, dirs          # hq and every branch from the same set
        generations |= dirs
        answers += 1
    thread.join()
    assert not errors
    assert len(generations) >= 2              # the switches happened while we asked


def test_retired_sets_release_their_files(live):
    hq = live["clients"]["hq"]
    pid = live["server"].proc.pid
    for i in range(3):
        add_clients(live["db"], 1, start=300 + i)
        publish(live["db"], live["site"], actor=live["admin"])
        hq.get("/hq/clients")
        hq.get("/TY01/clients")
    hq.get("/hq")
    held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    snapshots = [h for h in held if h.endswith(".db") or h.endswith(".db (deleted)")]
    assert snapshots and not [h for h in snapshots if "(deleted)" in h]
    current = os.path.realpath(live["site"] / "current")
    assert all(h.startswith(current) for h in snapshots), snapshots


def test_a_publish_does_not_lift_a_sign_in_lockout(live):
    for _ in range(6):  # more failures than a user name is allowed (signin.USER_FAILURES)
        client, response = sign_in(live["server"].url, "bj", "not the password")
        client.close()
    assert response.status_code == 429
    publish(live["db"], live["site"], actor=live["admin"])
    assert generation(live["clients"]["hq"], "hq") != live["first"].generation   # the new set is served
    client, response = sign_in(live["server"].url, "bj", PASSWORD)
    client.close()
    assert response.status_code == 429        # still locked, even with the right password


def test_each_set_is_kept_out_of_full_collections_and_a_retired_one_is_still_reclaimed(tmp_path, monkeypatch):
    """A full pass of the cyclic collector over a set's Datasette was the slow tail of the site's
    pages (issue 16): each instance is frozen once started. Freezing must not keep an old set
    alive: after the next switch nothing holds the retired instance."""
    from brokercrm.site import serve as site
    from brokercrm.site.live import LiveSite

    monkeypatch.setenv("BROKERCRM_NOW", NOW)
    env = site_env()
    monkeypatch.setenv("BROKERCRM_SITE_USERS", env["BROKERCRM_SITE_USERS"])
    db = tmp_path / "crm.db"
    build_book(db, clients=6)
    admin = book_admin(db)
    publish(db, tmp_path / "site", actor=admin)
    app = LiveSite(tmp_path / "site", lambda set_dir: site.make_datasette(set_dir, secret=env["BROKERCRM_SITE_SECRET"]))
    gc.unfreeze()
    try:
        first = asyncio.run(app._current())
        assert gc.get_freeze_count() > 0
        old = weakref.ref(first.datasette)
        del first
        publish(db, tmp_path / "site", actor=admin)
        second = asyncio.run(app._current())
        assert app.switches == 1 and second.datasette is not old()
        assert old() is None, "the retired set's instance is still alive"
    finally:
        gc.unfreeze()
