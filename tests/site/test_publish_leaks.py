"""Planted personal data: full ID and mobile numbers in every free-text column never reach the site.

Every published table that exists in the working database gets rows whose
text columns (all but the declared-safe ones and the scoping keys) carry a
full ID or mobile number, written the ways people write them. After a real
publish, the bytes of every file in the published set and every page a real
`brokercrm serve` answers (head office and branches, tables and views) are
searched: no planted number may appear, in any form.
"""

import re
import sqlite3

import pytest

from brokercrm.kernel import masking
from brokercrm.kernel.db import connect
from brokercrm.trust import audit
from brokercrm.site import specs as publish_specs
from brokercrm.site.publish import publish
from brokercrm.site.switch import current_dir
from brokercrm.site.tables import is_text
from brokercrm.kernel.validate import id_check_char

from site_support import PASSWORD, Server, book_admin, build_book, sign_in, site_env

SCOPE_KEYS = {"client_id", "branch_id", "branch", "complaint_id", "case_id"}


def _id18(n):
    first17 = f"140105{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def planted(n):
    """(text to plant, the full numbers in it): five ways of writing, one number each."""
    mobile, id18 = f"13{7 + n % 3}{n:08d}", _id18(n)
    id15 = id18[:6] + id18[8:17]
    forms = [
        (f"ID{id18}", id18),
        (f"客户新号 +86{mobile}", mobile),
        (f"身份证 {id18[:6]} {id18[6:14]} {id18[14:]}", id18),
        (f"电话 0086 {mobile[:3]}-{mobile[3:7]}-{mobile[7:]}", mobile),
        (f"旧证{id15}号", id15),
    ]
    return forms[n % len(forms)]


def plant_everywhere(path):
    """Insert planted rows into every published table; returns [(table, column, text, number)]."""
    conn = sqlite3.connect(path)  # foreign keys off: planted rows need not be consistent
    conn.row_factory = sqlite3.Row
    client = conn.execute("SELECT client_id, branch_id FROM clients LIMIT 1").fetchone()
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    plants, n = [], 0

    def fresh_client(n):
        """A plain new client of the same branch: for tables keyed by client in the snapshot."""
        row = dict(conn.execute("SELECT * FROM clients WHERE client_id = ?", [client["client_id"]]).fetchone())
        row.update(client_id=f"{client['branch_id']}FRESH{n:04d}", id=None)
        conn.execute(f"INSERT INTO clients ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                     list(row.values()))
        return row["client_id"]

    for spec in publish_specs.TABLES:
        if spec.table not in present:
            continue
        info = conn.execute(f"PRAGMA table_info([{spec.table}])").fetchall()
        template = conn.execute(f"SELECT * FROM [{spec.table}] LIMIT 1").fetchone()
        # An empty table's closed columns (CHECK (col IN (…))) take one of their values.
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", [spec.table]).fetchone()[0]
        closed = {col: re.findall(r"'([^']*)'", values)[0]
                  for col, values in re.findall(r"(\w+) IN \(([^)]*)\)", sql)}
        base = {}
        for cid, name, decl, notnull, default, pk in info:
            if template is not None:
                base[name] = template[name]
            elif name == "client_id":
                base[name] = client["client_id"]
            elif name in ("branch_id", "branch"):
                base[name] = client["branch_id"]
            elif name in closed:
                base[name] = closed[name]
            elif (decl or "").upper() in ("INTEGER", "REAL"):
                base[name] = 1
            else:
                base[name] = "x"
        notnull = {name: bool(nn or pk) for _, name, _, nn, _, pk in info}
        targets = [name for _, name, decl, _, _, pk in info
                   if is_text(decl) and name not in spec.safe and name not in SCOPE_KEYS
                   and not (pk and spec.table != "clients")]
        for column in targets:
            n += 1
            text, number = planted(n)
            row = dict(base)
            row[column] = text
            for _, name, decl, _, _, pk in info:
                if pk and (decl or "").upper() == "INTEGER":
                    row[name] = None             # a new key
            if "client_id" in spec.key and spec.table != "clients":
                row["client_id"] = fresh_client(n)
            if spec.table == "clients":
                row["client_id"] = f"{client['branch_id']}PLANT{n:04d}"
                row["branch_id"] = client["branch_id"]
                if "id" in row:
                    row["id"] = None
            names = ", ".join(f"[{k}]" for k in row)
            insert = f"INSERT INTO [{spec.table}] ({names}) VALUES ({', '.join('?' for _ in row)})"
            try:
                conn.execute(insert, list(row.values()))
            except sqlite3.IntegrityError:
                # A trigger may want a new row bare (a pending request, no decision yet): the
                # other optional columns empty, only the planted one filled.
                bare = {k: (v if k == column or k in SCOPE_KEYS or notnull[k] else None) for k, v in row.items()}
                try:
                    conn.execute(insert, list(bare.values()))
                except sqlite3.IntegrityError:
                    continue  # a CHECK keeps this column to a closed set of values: not free text
            plants.append((spec.table, column, text, number))
    conn.commit()
    conn.close()
    # The audit log is a signed hash chain: its rows are planted the way they arrive, signed.
    db = connect(path)
    admin = book_admin(path)
    with db.atomic():
        for column in ("target", "detail"):
            n += 1
            text, number = planted(n)
            audit.record(db, "test.plant", actor=admin, target=text if column == "target" else "x",
                         detail={"note": text, "file": "/home/branch/客户.csv"} if column == "detail" else None)
            plants.append(("audit_log", column, text, number))
    db.close()
    return plants


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BROKERCRM_NOW", "2026-06-30T10:00:00+08:00")
        build_book(tmp / "crm.db", clients=12)
        plants = plant_everywhere(tmp / "crm.db")
        result = publish(tmp / "crm.db", tmp / "site", actor=book_admin(tmp / "crm.db"))
    return tmp, plants, result


def _needles(plants):
    return [(t, c, s) for t, c, text, number in plants for s in (text, number)]


def test_plants_reach_every_kind_of_column(leaky):
    _, plants, _ = leaky
    tables = {t for t, _, _, _ in plants}
    # The planting is not vacuous: free text of clients, service records, governance…
    assert {"clients", "interactions", "audit_log", "approvals", "tasks", "complaints"} <= tables
    assert ("clients", "occupation") in {(t, c) for t, c, _, _ in plants}
    assert ("clients", "phone") in {(t, c) for t, c, _, _ in plants}
    assert len(plants) >= 60


def test_no_planted_number_in_any_published_file(leaky):
    tmp, plants, _ = leaky
    site = tmp / "site"
    files = [p for p in current_dir(site).iterdir() if p.is_file()]
    assert any(p.name == "hq.db" for p in files) and len(files) >= 6
    for path in files:
        data = path.read_bytes()
        for table, column, needle in _needles(plants):
            assert needle.encode("utf-8") not in data, (path.name, table, column, needle)


def test_planted_rows_are_published_masked(leaky):
    """The rows did reach the snapshot (so the scan above means something), masked."""
    tmp, plants, _ = leaky
    hq = sqlite3.connect(current_dir(tmp / "site") / "hq.db")
    published_columns = {}
    for table, column, text, number in plants:
        cols = published_columns.setdefault(
            table, {r[1] for r in hq.execute(f"PRAGMA table_info([{table}])")})
        if column not in cols:
            continue  # not published at all (operational metadata)
        # Whichever way the column is masked, the planted text comes out as one of these.
        expected = {masking.scrub(text), masking.clean_json(text), *(m(text) for m in masking.KINDS.values())}
        values = {r[0] for r in hq.execute(f"SELECT [{column}] FROM [{table}]") if isinstance(r[0], str)}
        # (inside a JSON document the masked text is one string among others)
        assert any(e in v for v in values for e in expected if e), (table, column, text)
    hq.close()


def test_no_planted_number_in_any_served_page(leaky):
    tmp, plants, _ = leaky
    site = tmp / "site"
    needles = _needles(plants)
    server = Server(site, site_env())
    try:
        for user, databases in (("hq", None), ("ty", ["TY01"]), ("bj", ["BJ01"])):
            client, response = sign_in(server.url, user, PASSWORD)
            assert response.status_code == 302
            from brokercrm.site.serve import build_metadata

            meta = build_metadata(site)["databases"]
            for database in databases or list(meta):
                pages = [f"/{database}"]
                for table in meta[database]["tables"]:
                    pages += [f"/{database}/{table}", f"/{database}/{table}.json?_shape=array&_size=max"]
                pages += [f"/{database}/{q}.json?_shape=array" for q in meta[database]["queries"]]
                for page in pages:
                    r = client.get(page)
                    assert r.status_code == 200, (user, page, r.status_code)
                    for table, column, needle in needles:
                        assert needle not in r.text, (user, page, table, column, needle)
            client.close()
    finally:
        server.close()
