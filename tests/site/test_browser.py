"""The site in a real browser: Debian's headless Chromium driven by Playwright.

Over the demo's book: a branch user signs in through the form, reads the
dashboard, opens a client's 客户360 page (also at phone width), takes a list
to Excel, is refused another branch's client; head office sees every branch;
five wrong passwords lock a user out even against the right one. Screenshots
go to test-artifacts/ (gitignored) for a person to look at. Skipped, with the
reason, only where Chromium or the playwright package is missing
(.ci/setup-browser.sh installs both for CI).
"""

import io
import os
import shutil
from pathlib import Path

import pytest

from brokercrm.kernel.db import connect
from brokercrm.service import packages as service_packages
from brokercrm.site import auth
from datasette_config import labels

from site_support import NOW, PASSWORD, Server, publish_demo, site_env

CHROMIUM = os.environ.get("BROKERCRM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}

if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
    pytest.skip(f"no Chromium at {CHROMIUM}: run .ci/setup-browser.sh (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BROKERCRM_NOW", NOW)
        facts = publish_demo(tmp, clients=300)
        # What `clients show` says of the client page's client: the page must show the same package.
        db = connect(tmp / "crm.db")
        package = service_packages.for_client(db, facts["ty_complained"])
        db.close()
    due = min(a["due_on"] for a in package["actions"])
    facts["ty_package"] = {"name": package["name"], "next_due_text": labels.chinese_date(due) or due}
    env = site_env()
    # A user of its own for the lockout test, so locking it out spares the others.
    env["BROKERCRM_SITE_USERS"] += "\n" + auth.user_entry("locked", "branch", "SH01", PASSWORD)
    srv = Server(tmp / "site", env)
    srv.facts = facts
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def new_page(browser, viewport=None):
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, locale="zh-CN",
                                  accept_downloads=True)
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda m: page.csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    return page


def sign_in(browser, server, user, viewport=None):
    page = new_page(browser, viewport)
    page.goto(server.url + "/")
    assert page.url.endswith("/-/login")  # anonymous visitors land on the sign-in page
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(server.url + "/")
    return page


DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shot(page, name):
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("BROKERCRM_DOCS_SCREENSHOTS") == "1":
        # The README's pictures: `BROKERCRM_DOCS_SCREENSHOTS=1 pytest tests/test_browser.py`.
        DOCS_SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS_SHOTS / f"{name}.jpg"), full_page=True, type="jpeg", quality=70)
    return path


def test_branch_dashboard(browser, server):
    page = sign_in(browser, server, "ty")
    assert page.locator("h1").inner_text().startswith("太原营业部 (TY01)")
    for key in ("clients", "moves", "overdue_tasks", "complaints_due", "suitability", "assessments_expiring"):
        assert page.locator(f"#card-{key} .bc-stat-value").is_visible(), key
    assert page.locator("figure.bc-chart svg").first.is_visible()
    assert "北京营业部" not in page.inner_text("body")
    shot(page, "dashboard-branch")
    page.click("#card-overdue_tasks")
    page.wait_for_selector("table.rows-and-columns")
    assert "逾期" in page.title() or "服务任务" in page.title()
    assert not page.csp_errors, page.csp_errors


def test_client_page(browser, server):
    client_id = server.facts["ty_complained"]
    page = sign_in(browser, server, "ty")
    page.fill("#q", client_id)
    page.click(".bc-find input[type=submit]")
    page.wait_for_url(f"{server.url}/-/client/{client_id}")
    body = page.inner_text("body")
    for heading in ("身份信息", "当前分类", "分类历史", "风险测评", "持仓与适当性", "接触记录", "服务任务", "投诉"):
        assert heading in body
    assert "*" in page.inner_text("#identity")
    # The service package, computed at publish time by brokercrm.service (client_service_packages).
    package = page.inner_text("#package")
    assert server.facts["ty_package"]["name"] in package and "未包含" not in package
    assert f"下次 {server.facts['ty_package']['next_due_text']}" in package
    shot(page, "client-page")
    phone = sign_in(browser, server, "ty", viewport=PHONE)
    phone.goto(f"{server.url}/-/client/{client_id}")
    # At phone width nothing scrolls sideways.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(phone, "client-page-phone")


def test_export_downloads_an_excel_file(browser, server):
    from openpyxl import load_workbook

    page = sign_in(browser, server, "ty")
    page.goto(server.url + "/TY01/classifications")
    with page.expect_download() as info:
        page.click("a.bc-export >> text=Excel")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx") and "客户分类" in download.suggested_filename
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["客户号", "营业部"]
    assert sheet.max_row - 1 == server.facts["ty_clients"]  # every row, not the first page


def test_branch_user_is_refused_another_branchs_client(browser, server):
    page = sign_in(browser, server, "ty")
    response = page.goto(f"{server.url}/-/client/{server.facts['bj']}")
    assert response.status == 403
    assert "营业部用户只能查看本营业部的客户" in page.inner_text("body")
    response = page.goto(server.url + "/BJ01/clients")
    assert response.status == 403
    shot(page, "refused")


def test_head_office_sees_every_branch(browser, server):
    page = sign_in(browser, server, "hq")
    body = page.inner_text("body")
    for name in ("总部", "太原营业部", "北京营业部", "上海营业部", "最近的审计记录"):
        assert name in body
    shot(page, "dashboard-head-office")
    page.goto(server.url + "/hq/clients")
    page.wait_for_selector("table.rows-and-columns")
    text = page.inner_text("table.rows-and-columns")
    assert "********" in text and "****" in text and "万元" in text
    shot(page, "table-clients")
    page.goto(server.url + "/hq/class_distribution")
    page.wait_for_selector("figure.bc-chart svg")
    shot(page, "report-class-distribution")
    phone = sign_in(browser, server, "hq", viewport=PHONE)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(phone, "dashboard-phone")
    assert not page.csp_errors and not phone.csp_errors


def test_login_lockout(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/-/login")
    for _ in range(5):
        page.fill("#username", "locked")
        page.fill("#password", "wrong password")
        page.click("input[type=submit]")
        page.wait_for_selector("p.message-error")
        assert "用户名或密码错误" in page.inner_text("p.message-error")
    page.fill("#username", "locked")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("p.message-error")
    assert "临时锁定" in page.inner_text("p.message-error")
    assert page.url.endswith("/-/login")
    shot(page, "login-locked")
