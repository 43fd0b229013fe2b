"""Sign-in hardening over a real `brokercrm serve`: lockout per user and per address,
CSRF on the login form, the users file (re-read without a restart), HTTPS cookies."""

import os
import re

import httpx
import pytest

from brokercrm.site import serve as site
from brokercrm.site import auth as site_users
from brokercrm.datasette_config.signin import ADDRESS_FAILURES, USER_FAILURES, Limiter
from brokercrm.kernel.errors import BrokerCRMError

from site_support import PASSWORD, Server, publish_book, sign_in

USERS = {"ty": ("branch", "TY01"), "bj": ("branch", "BJ01"), "hq": ("headoffice", None)}


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("signin")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BROKERCRM_NOW", "2026-06-30T10:00:00+08:00")
        publish_book(tmp, clients=12)
    return tmp


def users_file(path, users=USERS):
    path.write_text("# site users\n" + "".join(
        site.user_entry(u, role, branch, PASSWORD) + "\n" for u, (role, branch) in users.items()), encoding="utf-8")
    return path


def env_with(tmp, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("BROKERCRM_SITE_USERS", "BROKERCRM_SITE_HTTPS")}
    env["BROKERCRM_SITE_SECRET"] = "signin-secret-" + "1" * 40
    env["BROKERCRM_SITE_USERS_FILE"] = str(users_file(tmp / "users.txt"))
    env.update(extra)
    return env


@pytest.fixture
def server(site_dir, tmp_path):
    srv = Server(site_dir / "site", env_with(tmp_path))
    srv.users_path = tmp_path / "users.txt"
    yield srv
    srv.close()


def test_wrong_passwords_lock_the_user_even_against_the_right_one(server):
    for _ in range(USER_FAILURES):
        client, response = sign_in(server.url, "ty", "wrong")
        assert response.status_code == 401
        client.close()
    client, response = sign_in(server.url, "ty", PASSWORD)
    assert response.status_code == 429 and "临时锁定" in response.text
    assert "ds_actor" not in client.cookies
    client.close()
    # Another user from the same address is not locked out by ty's failures.
    client, response = sign_in(server.url, "bj", PASSWORD)
    assert response.status_code == 302 and "ds_actor" in client.cookies
    client.close()


def test_many_failures_from_one_address_lock_the_address(server):
    for n in range(ADDRESS_FAILURES):
        client, response = sign_in(server.url, f"guess{n}", "wrong")
        assert response.status_code == 401
        client.close()
    client, response = sign_in(server.url, "hq", PASSWORD)
    assert response.status_code == 429
    client.close()


def test_login_refuses_a_post_without_its_csrf_cookie(server):
    # A cross-site form POST carries no cookie of this site (SameSite): refused, nobody signed in.
    page = httpx.get(server.url + "/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    response = httpx.post(server.url + "/-/login", data={"csrftoken": token, "username": "hq", "password": PASSWORD})
    assert response.status_code == 403 and "ds_actor" not in response.cookies
    response = httpx.post(server.url + "/-/login", data={"username": "hq", "password": PASSWORD})
    assert response.status_code == 403 and "ds_actor" not in response.cookies


def test_login_refuses_a_cross_site_post_even_with_a_token(server):
    client = httpx.Client(base_url=server.url)
    token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/login").text).group(1)
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        response = client.post("/-/login", data={"csrftoken": token, "username": "hq", "password": PASSWORD},
                               headers=headers)
        assert response.status_code == 403 and "ds_actor" not in response.cookies
    ok = client.post("/-/login", data={"csrftoken": token, "username": "hq", "password": PASSWORD},
                     headers={"Sec-Fetch-Site": "same-origin", "Origin": server.url})
    assert ok.status_code == 302
    client.close()


def test_users_file_is_reread_without_a_restart(server):
    client, response = sign_in(server.url, "bj")
    assert response.status_code == 302
    assert client.get("/BJ01/clients").status_code == 200
    users_file(server.users_path, {k: v for k, v in USERS.items() if k != "bj"})
    # Removing the line signs the user out at the next request.
    assert client.get("/BJ01/clients").status_code == 403
    client.close()
    _, again = sign_in(server.url, "bj")
    assert again.status_code == 401


def test_https_setting_makes_cookies_secure(site_dir, tmp_path):
    srv = Server(site_dir / "site", env_with(tmp_path, BROKERCRM_SITE_HTTPS="1"))
    try:
        # Over plain HTTP a client keeps Secure cookies to itself: send the CSRF cookie by hand,
        # as the browser would behind the HTTPS proxy.
        client = httpx.Client(base_url=srv.url)
        token = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/-/login").text).group(1)
        response = client.post("/-/login", data={"csrftoken": token, "username": "hq", "password": PASSWORD},
                               headers={"Cookie": f"ds_csrftoken={token}"})
        assert response.status_code == 302
        cookie = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("ds_actor=")][0]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert response.headers["strict-transport-security"].startswith("max-age=")
        login = httpx.get(srv.url + "/-/login")
        assert all("Secure" in v for k, v in login.headers.multi_items() if k == "set-cookie")
        client.close()
    finally:
        srv.close()
    plain = Server(site_dir / "site", env_with(tmp_path))
    try:
        _, response = sign_in(plain.url, "hq")
        cookie = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("ds_actor=")][0]
        assert "Secure" not in cookie and "strict-transport-security" not in response.headers
    finally:
        plain.close()


def test_limiter_window_and_lockout_expire():
    clock = [1000.0]
    lim = Limiter(3, window=60, lockout=300, clock=lambda: clock[0])
    lim.failure("u")
    clock[0] += 61  # outside the window: forgotten
    lim.failure("u")
    lim.failure("u")
    assert lim.locked("u") == 0
    lim.failure("u")
    assert lim.locked("u") == 300
    clock[0] += 299
    assert lim.locked("u") == 1
    clock[0] += 1
    assert lim.locked("u") == 0
    lim.failure("v")
    lim.success("v")
    lim.failure("v")
    lim.failure("v")
    assert lim.locked("v") == 0


@pytest.mark.parametrize("line,message", [
    ("hq:headoffice:", "四个字段"),
    ("hq:admin::pbkdf2_sha256$200000$ab$cd", "字段 ROLE"),
    ("ty:branch::pbkdf2_sha256$200000$ab$cd", "字段 BRANCH"),
    ("hq:headoffice:TY01:pbkdf2_sha256$200000$ab$cd", "字段 BRANCH"),
    ("ty:branch:ty01:pbkdf2_sha256$200000$ab$cd", "字段 BRANCH"),
    ("hq:headoffice::plain-password", "字段 HASH"),
    ("hq:headoffice::pbkdf2_sha256$1000$ab$cd", "迭代次数"),
    ("h q:headoffice::pbkdf2_sha256$200000$ab$cd", "字段 USER"),
])
def test_users_file_errors_name_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "users.txt"
    path.write_text("# users\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(BrokerCRMError) as e:
        site_users.load_file(path)
    assert f"{path}:3" in str(e.value) and message in str(e.value)


def test_users_file_refuses_duplicates_and_serve_refuses_a_bad_file(tmp_path, monkeypatch):
    entry = site.user_entry("hq", "headoffice", None, "x")
    path = tmp_path / "users.txt"
    path.write_text(f"{entry}\n{entry}\n", encoding="utf-8")
    with pytest.raises(BrokerCRMError, match=r"users.txt:2.*重复"):
        site_users.load_file(path)
    monkeypatch.setenv("BROKERCRM_SITE_USERS_FILE", str(path))
    with pytest.raises(BrokerCRMError, match="重复"):
        site.check_users()
    monkeypatch.setenv("BROKERCRM_SITE_USERS_FILE", str(tmp_path / "missing.txt"))
    with pytest.raises(BrokerCRMError, match="missing.txt"):
        site.check_users()


def test_site_password_writes_the_users_file(tmp_path):
    from click.testing import CliRunner

    from brokercrm.cli import cli

    path = tmp_path / "users.txt"
    run = CliRunner().invoke
    assert run(cli, ["site-password", "ty01", "--role", "branch", "--branch", "TY01", "--password", "a",
                     "--file", str(path)]).exit_code == 0
    assert run(cli, ["site-password", "hq", "--role", "headoffice", "--password", "b", "--file", str(path)]).exit_code == 0
    result = run(cli, ["site-password", "ty01", "--role", "branch", "--branch", "TY01", "--password", "c",
                       "--file", str(path)])
    assert result.exit_code == 0 and "已更新" in result.output
    users = site_users.load_file(path)
    assert set(users) == {"ty01", "hq"}
    assert site_users.verify_password("c", users["ty01"]["hash"]) and not site_users.verify_password("a", users["ty01"]["hash"])
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    bad = run(cli, ["site-password", "x", "--role", "branch", "--branch", "bad code", "--password", "p", "--file",
                    str(path)])
    assert bad.exit_code == 1 and "BRANCH" in bad.output and "Traceback" not in bad.output
