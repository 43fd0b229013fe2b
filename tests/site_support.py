"""Shared by the publish, site and browser tests: a small book with real-looking
personal data, published, and a real `brokercrm serve` on 127.0.0.1."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from brokercrm.site import auth
from brokercrm.classify.engine import classify
from brokercrm.kernel.db import connect
from brokercrm.policy.sets import publish_defaults
from brokercrm.site.publish import publish
from brokercrm.trust import identity, keys, operators
from brokercrm.trust import root as trust_root

NOW = "2026-06-30T10:00:00+08:00"
BRANCHES = {"TY01": "太原营业部", "BJ01": "北京营业部", "SH01": "上海营业部"}
SURNAMES = "王李张刘陈杨黄赵"
PASSWORD = "correct horse 电池"
USERS = {  # user -> (role, branch)
    "ty": ("branch", "TY01"),
    "bj": ("branch", "BJ01"),
    "hq": ("headoffice", None),
}
# Personal data inside the published HTML/JSON would look like this.
ID_RE = re.compile(r"(?<![0-9A-Za-z.])[0-9]{17}[0-9Xx](?![0-9A-Za-z.])")
MOBILE_RE = re.compile(r"(?<![0-9A-Za-z.])1[3-9][0-9]{9}(?![0-9A-Za-z.])")


def id_number(i):
    from brokercrm.kernel.validate import id_check_char

    first17 = f"110101{1960 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    return first17 + id_check_char(first17)


ADMIN = "admin"


def admin_key_file(path):
    """Where ``build_book`` keeps its root operator's private key: beside the database."""
    path = Path(path)
    return path.with_name(f"{path.stem}.{ADMIN}.key")


def book_admin(path):
    """The book's root head-office operator, authenticated with the key ``build_book`` wrote."""
    db = connect(path)
    try:
        return identity.authenticate(db, ADMIN, keys.load_private(admin_key_file(path)), trust_root.for_db(db))
    finally:
        db.close()


def book_operator(path, operator_id, role, branch=None):
    """Another operator of the book, certified by its root operator; returns the authenticated Actor."""
    admin = book_admin(path)
    db = connect(path)
    try:
        _, key = operators.add(db, admin, operator_id, role, branch=branch)
        return identity.authenticate(db, operator_id, key, trust_root.for_db(db))
    finally:
        db.close()


def build_book(path, clients=24):
    """A database like a branch's: clients with full personal data, classified, with interactions.

    Initialised as ``brokercrm init`` would: a root head-office operator
    (``book_admin``) whose key file sits beside the database.
    """
    db = connect(path)
    key = keys.generate()
    keys.save_private(key, admin_key_file(path))
    admin = operators.bootstrap(db, ADMIN, trust_root.root_path(path), key)
    publish_defaults(db, admin)
    for code, name in BRANCHES.items():
        db.execute("INSERT INTO branches (code, name, created_at) VALUES (?, ?, ?)", [code, name, NOW])
    codes = list(BRANCHES)
    raw = {"ids": [], "phones": [], "names": []}
    for i in range(clients):
        branch = codes[i % 3]
        cid = f"{branch}{i:06d}"
        row = {
            "client_id": cid, "kind": "individual", "name": SURNAMES[i % 8] + "小明",
            "id_number": id_number(i), "phone": f"139{i:08d}", "birth_date": f"{1960 + i % 40}-01-01",
            "branch_id": branch, "total_assets": 10_000 * (i + 1) ** 2, "turnover_rate": i % 7,
            "avg_holding_days": 30 + i, "annual_income": 100_000 + i, "education": "本科",
            "created_at": NOW, "updated_at": NOW,
        }
        db["clients"].insert(row)
        raw["ids"].append(row["id_number"])
        raw["phones"].append(row["phone"])
        raw["names"].append(row["name"])
    db.conn.commit()
    classify(db, actor=admin)
    from brokercrm.service import interactions

    for i in range(0, clients, 4):
        cid = f"{codes[i % 3]}{i:06d}"
        interactions.log(db, admin, cid, kind="call", channel="phone",
                         note=f"客户来电, 留了新号码 1380013{i:04d}, 证件 {id_number(i + 100)}")
    interactions.log(db, admin, f"TY01{0:06d}", kind="complaint", channel="counter", note="对服务不满意")
    db.conn.commit()
    db.close()
    return raw


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_env():
    env = dict(os.environ)
    env["BROKERCRM_SITE_SECRET"] = "test-secret-" + "0" * 40
    env["BROKERCRM_SITE_USERS"] = "\n".join(
        auth.user_entry(user, role, branch, PASSWORD) for user, (role, branch) in USERS.items())
    return env


class Server:
    """`brokercrm serve` as a child process on 127.0.0.1; stopped by ``close``."""

    def __init__(self, site_dir, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from brokercrm.cli import cli; cli()", "serve", "--dir", str(site_dir),
             "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited: " + self.proc.stdout.read().decode("utf-8", "replace"))
            try:
                if httpx.get(self.url + "/-/login", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.close()
        raise RuntimeError("serve did not start within 60 s")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sign_in(base_url, user, password=PASSWORD):
    """An httpx client signed in through the real login form (CSRF token included)."""
    client = httpx.Client(base_url=base_url, timeout=30)
    page = client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    response = client.post("/-/login", data={"csrftoken": token, "username": user, "password": password})
    return client, response


def publish_book(tmp_dir, clients=24):
    """Build a book and publish it, with the clock pinned to NOW (the environment is restored after)."""
    tmp_dir = Path(tmp_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BROKERCRM_NOW", NOW)
        raw = build_book(tmp_dir / "crm.db", clients)
        result = publish(tmp_dir / "crm.db", tmp_dir / "site", actor=book_admin(tmp_dir / "crm.db"))
    return raw, result


def publish_demo(tmp_dir, clients=300, formula=None):
    """The demo's book (products, holdings, two runs, complaints, tasks, alerts), published.

    ``formula``: a note logged for the first TY01 client (exports must neutralise it).
    Returns facts about the book the site tests look for.
    """
    import datetime as dt

    from brokercrm.demo import run as demo_lib
    from brokercrm.service import interactions

    tmp_dir = Path(tmp_dir)
    demo_lib.build(tmp_dir / "crm.db", clients=clients, today=dt.date.fromisoformat(NOW[:10]))
    actor = demo_lib.demo_actor(tmp_dir / "crm.db")
    db = connect(tmp_dir / "crm.db")
    one = lambda sql: (db.execute(sql).fetchone() or [None])[0]  # noqa: E731
    first_ty = one("SELECT client_id FROM clients WHERE branch_id = 'TY01' ORDER BY client_id")
    if formula:
        interactions.log(db, actor, first_ty, kind="call", channel="phone", note=formula)
    facts = {
        "ty": first_ty,
        "bj": one("SELECT client_id FROM clients WHERE branch_id = 'BJ01' ORDER BY client_id"),
        "moved": one("SELECT h.client_id FROM classification_history h JOIN clients c USING (client_id)"
                     " WHERE h.old_class IS NOT NULL AND h.old_class != h.new_class AND c.branch_id = 'TY01'"
                     " ORDER BY h.id LIMIT 1"),
        "complained": one("SELECT client_id FROM complaints WHERE state = 'investigating' LIMIT 1"),
        "ty_complained": one("SELECT client_id FROM complaints WHERE branch_id = 'TY01' ORDER BY id LIMIT 1"),
        "mismatch": one("SELECT client_id FROM suitability_exceptions WHERE verdict = 'mismatch'"
                        " AND confirmation_id IS NULL LIMIT 1"),
        "confirmed": one("SELECT client_id FROM suitability_exceptions WHERE confirmation_id IS NOT NULL LIMIT 1"),
        "ty_clients": one("SELECT count(*) FROM clients WHERE branch_id = 'TY01'"),
    }
    db.close()
    publish(tmp_dir / "crm.db", tmp_dir / "site", actor=actor)
    return facts
