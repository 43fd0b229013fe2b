"""The site in a real browser: Debian's headless Chromium driven by Playwright.

Signs in as a branch user and as head office through the login form, opens
the landing page, a table and a chart. Screenshots go to test-artifacts/
(gitignored) for a person to look at. Skipped, with the reason, only where
Chromium or the playwright package is missing (.ci/setup-browser.sh installs
both for CI).
"""

import os
import shutil
from pathlib import Path

import pytest

from site_support import PASSWORD, Server, publish_book, site_env

CHROMIUM = os.environ.get("BROKERCRM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
    pytest.skip(f"no Chromium at {CHROMIUM}: run .ci/setup-browser.sh (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    publish_book(tmp, clients=60)
    srv = Server(tmp / "site", site_env())
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def sign_in(browser, server, user):
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    page.goto(server.url + "/")
    assert page.url.endswith("/-/login")  # anonymous visitors land on the sign-in page
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(server.url + "/")
    return page


def shot(page, name):
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_branch_user_landing_table_and_chart(browser, server):
    page = sign_in(browser, server, "ty")
    shot(page, "branch-landing")
    body = page.inner_text("body")
    assert "营业部 TY01" in body and "太原营业部" in body, body
    assert "北京营业部 (BJ01)" not in body

    page.click("text=客户分类")
    page.wait_for_selector("table.rows-and-columns")
    cells = page.locator("table.rows-and-columns td.col-branch_id").all_inner_texts()
    assert cells and all("TY01" in c for c in cells)
    shot(page, "branch-table-classifications")

    page.goto(server.url + "/")
    page.locator(".bc-card", has_text="各营业部客户类别分布").locator("a.bc-chart").click()
    # datasette-vega draws the chart from the stored view's JSON.
    page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=20_000)
    assert page.locator(".vega-embed").count() == 1
    shot(page, "branch-chart-class-distribution")

    # Another branch's table is closed, in the browser too.
    response = page.goto(server.url + "/BJ01/clients")
    assert response.status == 403


def test_head_office_sees_every_branch(browser, server):
    page = sign_in(browser, server, "hq")
    shot(page, "hq-landing")
    body = page.inner_text("body")
    for name in ("总部", "太原营业部", "北京营业部", "上海营业部", "最近的审计记录"):
        assert name in body
    page.goto(server.url + "/hq/clients")
    page.wait_for_selector("table.rows-and-columns")
    text = page.inner_text("table.rows-and-columns")
    assert "********" in text and "****" in text
    shot(page, "hq-table-clients")
    page.goto(server.url + "/hq/class_distribution#g.mark=bar&g.x_column=%E7%B1%BB%E5%88%AB"
              "&g.x_type=ordinal&g.y_column=%E5%AE%A2%E6%88%B7%E6%95%B0&g.y_type=quantitative"
              "&g.color_column=%E8%90%A5%E4%B8%9A%E9%83%A8")
    page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=20_000)
    shot(page, "hq-chart-class-distribution")
