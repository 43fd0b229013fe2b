"""The read-only site over a real `brokercrm serve` on 127.0.0.1: who sees what.

A matrix of actor (anonymous, branch TY01, branch BJ01, head office) × URL:
403 wherever access must be denied, 200 where it must be allowed, and no
response body carrying an 18-digit ID number or an 11-digit mobile number.
"""

import json
import os

import httpx
import pytest

from brokercrm.site import auth
from brokercrm.site import serve as site

from site_support import BRANCHES, ID_RE, MOBILE_RE, Server, book_admin, publish_book, sign_in, site_env

ACTORS = {"anonymous": None, "ty": "TY01", "bj": "BJ01", "hq": "*"}
DATABASES = ["hq", "TY01", "BJ01", "SH01"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    raw, result = publish_book(tmp)
    server = Server(tmp / "site", site_env())
    clients = {"anonymous": httpx.Client(base_url=server.url, timeout=30)}
    for user in ("ty", "bj", "hq"):
        client, response = sign_in(server.url, user)
        assert response.status_code == 302, response.text
        clients[user] = client
    yield {"server": server, "raw": raw, "result": result, "clients": clients, "tmp": tmp}
    for client in clients.values():
        client.close()
    server.close()


def may_see(actor, database):
    scope = ACTORS[actor]
    return scope == "*" or scope == database


def urls_for(database, result):
    tables = sorted(t for t in result.databases[database]["tables"])
    code = database if database != "hq" else "TY01"
    row = f"{code}{list(BRANCHES).index(code):06d}"  # the branch's first client
    urls = [f"/{database}", f"/{database}.json"]
    urls += [f"/{database}/{t}" for t in tables]
    urls += [f"/{database}/clients/{row}", f"/{database}/clients/{row}.json",
             f"/{database}/clients.json", f"/{database}/clients.csv", f"/{database}/classifications.json?_shape=array"]
    return urls


def test_signed_out_visitor_sees_only_the_sign_in_page(live):
    anon = live["clients"]["anonymous"]
    assert anon.get("/").status_code == 302
    assert anon.get("/").headers["location"] == "/-/login"
    login = anon.get("/-/login")
    assert login.status_code == 200 and "登录" in login.text
    for path in ("/.json", "/-/actor.json", "/-/allow-debug", "/-/permissions", "/-/messages", "/-/threads",
                 "/-/patterns", "/-/versions.json", "/-/plugins.json", "/-/settings.json"):
        assert anon.get(path).status_code == 403, path


@pytest.mark.parametrize("actor", list(ACTORS))
@pytest.mark.parametrize("database", DATABASES)
def test_matrix_pages_tables_rows_json_csv(live, actor, database):
    client = live["clients"][actor]
    for url in urls_for(database, live["result"]):
        # Datasette's CSV redirects to the site's export (every row, BOM, Chinese headers).
        response = client.get(url, follow_redirects=url.endswith(".csv"))
        expected = 200 if may_see(actor, database) else 403
        assert response.status_code == expected, (actor, url, response.status_code)


@pytest.mark.parametrize("actor", list(ACTORS))
@pytest.mark.parametrize("database", DATABASES)
def test_matrix_downloads_sql_and_where_are_refused_for_everyone(live, actor, database):
    client = live["clients"][actor]
    for url in (f"/{database}.db", f"/{database}?sql=select+1", f"/{database}.json?sql=select+1",
                f"/{database}/clients?_where=1%3D1", f"/{database}/clients.json?_where=1%3D1",
                f"/{database}/sqlite_stat1", f"/{database}/clients?_facet=name"):
        response = client.get(url)
        if url.endswith("_facet=name") and may_see(actor, database):
            # Facets users choose are off: the page answers, with no facet on the name.
            assert response.status_code in (200, 400) and 'data-column="name"' not in response.text.split("facet")[0]
            continue
        assert response.status_code == 403, (actor, url, response.status_code)


@pytest.mark.parametrize("actor", list(ACTORS))
def test_matrix_instance_json(live, actor):
    client = live["clients"][actor]
    for url in ("/-/metadata.json", "/-/databases.json"):
        expected = 200 if actor == "hq" else 403
        assert client.get(url).status_code == expected, (actor, url)


@pytest.mark.parametrize("actor", ["ty", "bj", "hq"])
def test_every_stored_view_answers_in_scope(live, actor):
    client = live["clients"][actor]
    for database in DATABASES:
        queries = site.build_metadata(live["tmp"] / "site")["databases"][database]["queries"]
        assert queries
        for name in queries:
            response = client.get(f"/{database}/{name}.json")
            assert response.status_code == (200 if may_see(actor, database) else 403), (actor, database, name)
            if response.status_code == 200:
                assert response.json()["ok"] is not False


def test_branch_user_sees_only_its_database_on_the_landing_page(live):
    home = live["clients"]["ty"].get("/")
    assert home.status_code == 200
    assert "/TY01" in home.text and "/BJ01" not in home.text and 'href="/hq' not in home.text
    assert "各营业部客户类别分布" in home.text and "含图表" in home.text
    assert "客户类别分布 (A+ … G)" in home.text  # the dashboard chart
    hq_home = live["clients"]["hq"].get("/").text
    for database in DATABASES:
        assert f'href="/{database}' in hq_home
    listing = live["clients"]["ty"].get("/.json").json()
    assert set(listing) == {"TY01"}


def test_branch_data_is_its_own(live):
    rows = live["clients"]["bj"].get("/BJ01/clients.json?_shape=array&_size=max").json()
    assert rows and {r["branch_id"] for r in rows} == {"BJ01"}
    assert all("*" in r["id_number"] and "*" in r["phone"] for r in rows)


def test_audit_log_is_for_head_office_only(live):
    assert live["clients"]["hq"].get("/hq/audit_log_recent.json").status_code == 200
    assert live["clients"]["ty"].get("/hq/audit_log").status_code == 403
    # Not in the branch snapshot at all.
    assert live["clients"]["ty"].get("/TY01/audit_log").status_code == 404
    assert live["clients"]["ty"].get("/TY01/audit_log_recent").status_code == 404


def test_no_body_carries_an_id_number_or_a_mobile(live):
    raw = live["raw"]
    seen = 0
    for actor in ("ty", "bj", "hq"):
        client = live["clients"][actor]
        urls = ["/", "/.json", "/-/metadata.json", "/-/databases.json"]
        for database in DATABASES:
            urls += urls_for(database, live["result"])
            urls += [f"/{database}/{q}.json" for q in
                     site.build_metadata(live["tmp"] / "site")["databases"][database]["queries"]]
            urls += [f"/{database}/{t}.json?_shape=array&_size=max" for t in live["result"].databases[database]["tables"]]
        for url in urls:
            response = client.get(url)
            if response.status_code != 200:
                continue
            seen += 1
            body = response.text
            assert not ID_RE.search(body), (actor, url, ID_RE.search(body).group(0))
            assert not MOBILE_RE.search(body), (actor, url, MOBILE_RE.search(body).group(0))
            for value in raw["ids"] + raw["phones"] + raw["names"]:
                assert value not in body, (actor, url, value)
    assert seen > 100


def test_wrong_password_and_unknown_user_are_refused(live):
    for user, password in (("ty", "wrong"), ("nobody", "whatever")):
        client, response = sign_in(live["server"].url, user, password)
        assert response.status_code == 401
        assert "ds_actor" not in client.cookies
        assert client.get("/TY01/clients").status_code == 403
        client.close()


def test_forged_or_stale_cookie_is_not_an_actor(live):
    url = live["server"].url
    forged = httpx.Client(base_url=url, cookies={"ds_actor": "eyJhIjp7ImlkIjoiaHEifX0.forged"})
    assert forged.get("/hq/clients").status_code == 403
    forged.close()
    # Signed with the right secret, but a user the site does not know (e.g. removed from the env).
    from datasette.app import Datasette

    signer = Datasette(secret=site_env()["BROKERCRM_SITE_SECRET"])
    ghost = {"id": "ghost", "role": "headoffice", "branch": None, "site": "brokercrm"}
    client = httpx.Client(base_url=url, cookies={"ds_actor": signer.sign({"a": ghost}, "actor")})
    assert client.get("/hq/clients").status_code == 403
    client.close()


def test_serve_refuses_without_secret_or_users(live, tmp_path, monkeypatch):
    from brokercrm.kernel.errors import BrokerCRMError

    monkeypatch.delenv("BROKERCRM_SITE_SECRET", raising=False)
    with pytest.raises(BrokerCRMError, match="BROKERCRM_SITE_SECRET"):
        site.make_datasette(live["tmp"] / "site")
    monkeypatch.setenv("BROKERCRM_SITE_USERS", "")
    with pytest.raises(BrokerCRMError, match="BROKERCRM_SITE_USERS"):
        site.check_users()
    monkeypatch.setenv("BROKERCRM_SITE_USERS", "x:admin::hash")
    with pytest.raises(BrokerCRMError, match="headoffice"):
        site.check_users()
    with pytest.raises(BrokerCRMError, match="publish"):
        site.make_datasette(tmp_path)


def test_settings_are_read_only(live):
    settings = live["clients"]["hq"].get("/-/settings.json").json()
    assert settings["allow_download"] is False
    assert settings["default_allow_sql"] is False
    assert settings["suggest_facets"] is False
    assert settings["allow_facet"] is False
    metadata = live["clients"]["hq"].get("/-/metadata.json").json()
    assert metadata["allow_sql"] is False
    for name, db in metadata["databases"].items():
        assert db["allow"]["role"] == "headoffice"
        if name != "hq":
            assert db["allow"]["branch"] == name
    # The password hashes stay in the environment: metadata shows only where they come from.
    assert json.dumps(metadata["plugins"]["brokercrm-site"]["users"]) == '{"env": "BROKERCRM_SITE_USERS"}'


def test_site_password_entry_round_trips():
    from click.testing import CliRunner

    from brokercrm.cli import cli

    def run(*args, ok=True):
        result = CliRunner().invoke(cli, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result

    entry = run("site-password", "ty01", "--role", "branch", "--branch", "TY01", "--password", "s3cret").output.strip()
    user = auth.parse_users(entry)["ty01"]
    assert user["branch"] == "TY01" and auth.verify_password("s3cret", user["hash"])
    assert not auth.verify_password("nope", user["hash"])
    bad = run("site-password", "x", "--role", "branch", "--password", "p", ok=False)
    assert bad.exit_code == 1 and "营业部" in bad.output


def test_big_tables_offer_only_indexed_filters_and_sorts(live, monkeypatch):
    """Past SMALL_TABLE_ROWS a table keeps to what an index answers (here: a tiny threshold)."""
    import asyncio

    monkeypatch.setattr(site, "SMALL_TABLE_ROWS", 5)
    env = site_env()
    monkeypatch.setenv("BROKERCRM_SITE_USERS", env["BROKERCRM_SITE_USERS"])
    ds = site.make_datasette(live["tmp"] / "site", secret=env["BROKERCRM_SITE_SECRET"])
    meta = ds.metadata(database="hq", table="clients", fallback=False)
    assert "facets" not in meta and "name" not in meta["sortable_columns"]
    actor = {"id": "hq", "role": "headoffice", "branch": None, "site": "brokercrm"}
    cookies = {"ds_actor": ds.sign({"a": actor}, "actor")}

    async def status(url):
        return (await ds.client.get(url, cookies=cookies)).status_code

    async def check():
        assert await status("/hq/clients?branch_id=TY01") == 200
        assert await status("/hq/classifications?class=A") == 200
        assert await status("/hq/clients?education=%E6%9C%AC%E7%A7%91") == 400  # not indexed
        # Indexed because staff asked for them (issue 12): offered, and answered.
        assert await status("/hq/clients?occupation=x") == 200
        assert await status("/hq/clients?total_assets__gte=5&_sort=total_assets") == 200
        assert await status("/hq/classifications?risk_level=C3") == 200
        assert await status("/hq/classifications?_sort=habit") == 200
        assert await status("/hq/classifications?tier=x") == 400  # not indexed
        assert await status("/hq/clients?annual_income__gt=5") == 400
        assert await status("/hq/clients.json?name__contains=%E7%8E%8B") == 400
        assert await status("/hq/clients?_sort=name") == 400
        assert await status("/hq/clients?_sort_desc=total_assets") == 200
        assert await status("/hq/clients?_sort_desc=annual_income") == 400
        assert await status("/hq/clients?_sort_desc=client_id") == 200
        # Small tables keep facets and filters.
        assert await status("/hq/branches?name__contains=x") == 200
        # Only =, >, ≥, <, ≤ on a big table; a range filter is sent on sorted by its column
        # (the index then answers in order), and a sort by another column is refused.
        assert await status("/hq/clients?client_id__contains=1") == 400
        assert await status("/hq/clients?branch_id__not=TY01") == 400
        redirect = await ds.client.get("/hq/clients?branch_id__gte=S", cookies=cookies)
        assert redirect.status_code == 302 and redirect.headers["location"].endswith("_sort=branch_id")
        assert await status("/hq/clients?branch_id__gte=S&_sort=branch_id") == 200
        assert await status("/hq/clients?branch_id__gte=S&_sort=client_id") == 400
        refused = await ds.client.get("/hq/clients?education=x", cookies=cookies)
        assert "可筛选的列" in refused.text and "branch_id" in refused.text
        # The form offers exactly what the gate accepts; the export refuses the rest the same way.
        page = (await ds.client.get("/hq/clients", cookies=cookies)).text
        assert '<option value="branch_id">' in page and '<option value="education">' not in page
        assert '<option value="total_assets">' in page and '<option value="occupation">' in page
        page = (await ds.client.get("/hq/classifications", cookies=cookies)).text
        assert '<option value="risk_level">' in page and '<option value="habit">' in page
        assert '<option value="tier">' not in page
        assert '<option value="contains">' not in page and '<option value="gt">' in page
        assert (await ds.client.get("/-/export/hq/clients.csv?education=x", cookies=cookies)).status_code == 400
        ok = await ds.client.get("/-/export/hq/clients.csv?branch_id=TY01", cookies=cookies)
        assert ok.status_code == 200 and ok.text.count("\n") == 1 + sum(
            1 for i in range(24) if i % 3 == 0)

    asyncio.run(check())


def test_every_filter_and_sort_a_big_table_offers_leads_an_index_of_its_own_file(live, monkeypatch):
    """The gate's lists are the promise "an index answers": each column must lead one, per file.

    A composite key's second column leads nothing: offered as a sort, it sorted
    500,000 suitability exceptions per page at 10M clients (110 ms).
    """
    import sqlite3

    monkeypatch.setattr(site, "SMALL_TABLE_ROWS", 5)
    site_dir = live["tmp"] / "site"
    access = site.build_metadata(site_dir)["plugins"][auth.PLUGIN_NAME]["databases"]
    checked, composite = 0, 0
    for name, entry in access.items():
        conn = sqlite3.connect(f"file:{site_dir / (name + '.db')}?mode=ro", uri=True)
        try:
            leading = {}
            for table, index in conn.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"):
                leading.setdefault(table, set()).add(conn.execute(f"PRAGMA index_info([{index}])").fetchone()[2])
            for table, rules in entry["big"].items():
                key = [r[1] for r in sorted(conn.execute(f"PRAGMA table_info([{table}])"), key=lambda r: r[5]) if r[5]]
                composite += len(key) > 1
                for column in rules["filter"] + rules["sort"]:
                    assert column in leading.get(table, set()) | set(key[:1]), (name, table, column)
                    checked += 1
        finally:
            conn.close()
    assert checked > 20 and composite, (checked, composite)


def test_a_big_tables_filtered_rows_are_not_counted_so_every_page_stays_an_index_look_up(live, monkeypatch):
    """Counting a filter's matches walks every one of them (216 ms for one habit at 10M clients,
    issue 16): a big table's filtered page says its rows are not counted; an unfiltered one keeps
    the publish's count, and a small table still counts its filtered rows."""
    import asyncio

    monkeypatch.setattr(site, "SMALL_TABLE_ROWS", 5)
    env = site_env()
    monkeypatch.setenv("BROKERCRM_SITE_USERS", env["BROKERCRM_SITE_USERS"])
    ds = site.make_datasette(live["tmp"] / "site", secret=env["BROKERCRM_SITE_SECRET"])
    actor = {"id": "hq", "role": "headoffice", "branch": None, "site": "brokercrm"}
    cookies = {"ds_actor": ds.sign({"a": actor}, "actor")}

    async def get(url):
        response = await ds.client.get(url, cookies=cookies)
        assert response.status_code == 200, url
        return response

    async def check():
        filtered = (await get("/hq/clients?branch_id=TY01")).text
        assert "符合条件的行未计数" in filtered and "共 " not in filtered.split("bc-count-line", 1)[1][:200]
        assert (await get("/hq/clients.json?branch_id=TY01")).json()["filtered_table_rows_count"] is None
        assert (await get("/hq/clients.json?branch_id=TY01&_sort=client_id")).json()["rows"]  # rows still served
        whole = (await get("/hq/clients")).text
        assert "共 24 行" in whole and "符合条件的行未计数" not in whole
        small = (await get("/hq/branches.json?code=TY01")).json()
        assert small["filtered_table_rows_count"] == 1

    asyncio.run(check())


def test_demo_site_publishes_and_serves_with_demo_sign_ins(live, tmp_path, monkeypatch):
    monkeypatch.delenv("BROKERCRM_SITE_USERS", raising=False)
    monkeypatch.delenv("BROKERCRM_SITE_SECRET", raising=False)
    served, printed = [], []
    monkeypatch.setattr(site, "serve", lambda out, host, port: served.append((out, host, port)))
    book = live["tmp"] / "crm.db"
    assert site.demo_site(book, 8765, actor=book_admin(book), out_dir=tmp_path / "demo_site",
                          echo=printed.append) == 0
    assert served == [(tmp_path / "demo_site", "127.0.0.1", 8765)]
    assert (tmp_path / "demo_site" / "hq.db").exists()
    users = auth.parse_users(os.environ["BROKERCRM_SITE_USERS"])
    assert users["hq"]["role"] == "headoffice" and users["ty01"]["branch"] == "TY01"
    assert auth.verify_password("demo-ty01", users["ty01"]["hash"])
    assert any("demo-hq" in line for line in printed)
    assert os.environ["BROKERCRM_SITE_SECRET"]
