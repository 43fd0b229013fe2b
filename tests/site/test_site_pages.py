"""The site's own pages over a real `brokercrm serve`: 客户360, the dashboard, Chinese
chrome and cells, exports, reports without SQL, security headers.

The book is the demo's (products, holdings, two runs, complaints, tasks, alerts),
published with a pinned clock, plus one interaction whose note is a spreadsheet
formula, to check every export neutralises it.
"""

import csv
import io
import re

import httpx
import pytest

from site_support import ID_RE, MOBILE_RE, NOW, Server, publish_demo, sign_in, site_env

FORMULA = "=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BROKERCRM_NOW", NOW)
        facts = publish_demo(tmp, clients=300, formula=FORMULA)
    server = Server(tmp / "site", site_env())
    clients = {}
    for user in ("ty", "bj", "hq"):
        client, response = sign_in(server.url, user)
        assert response.status_code == 302
        clients[user] = client
    yield {"server": server, "clients": clients, "facts": facts, "tmp": tmp}
    for c in clients.values():
        c.close()
    server.close()


def text_of(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ---- 客户360 ----------------------------------------------------------------------------

def test_client_page_shows_everything_about_the_client(demo):
    f = demo["facts"]
    page = demo["clients"]["hq"].get(f"/-/client/{f['complained']}")
    assert page.status_code == 200
    text = text_of(page.text)
    for heading in ("身份信息", "当前分类", "分类历史", "风险测评", "持仓与适当性", "接触记录", "服务任务", "投诉",
                    "服务包", "关怀时点"):
        assert heading in text, heading
    # Every classification dimension with the rule that made it.
    for label in ("类别", "风险等级", "最低类别", "交易习惯", "层级", "价值评估"):
        assert label in text
    assert "策略 v1" in text
    # The complaint with its steps, past its 48-hour deadline.
    assert "调查中" in text and "超期" in text and "已受理 → 调查中" in text
    # Identity masked, like every published page.
    assert not ID_RE.search(page.text) and not MOBILE_RE.search(page.text)
    assert "*" in text


def test_client_page_history_and_suitability(demo):
    f = demo["facts"]
    hq = demo["clients"]["hq"]
    moved = text_of(hq.get(f"/-/client/{f['moved']}").text)
    assert "首次分类" in moved and "运行 #" in moved and "→" in moved
    mismatch = text_of(hq.get(f"/-/client/{f['mismatch']}").text)
    assert "不匹配" in mismatch and "未确认" in mismatch
    confirmed = text_of(hq.get(f"/-/client/{f['confirmed']}").text)
    assert "已确认" in confirmed


def test_branch_user_reaches_only_its_own_clients(demo):
    f = demo["facts"]
    ty = demo["clients"]["ty"]
    assert ty.get(f"/-/client/{f['ty']}").status_code == 200
    other = ty.get(f"/-/client/{f['bj']}")
    nobody = ty.get("/-/client/999999999999")
    assert other.status_code == 403 and nobody.status_code == 403
    # The same answer for another branch's client and for no client: no oracle.
    assert other.text.replace(f["bj"], "X") == nobody.text.replace("999999999999", "X")
    assert "营业部用户只能查看本营业部的客户" in other.text
    # Head office reaches both; a client nobody has is a 404 for it.
    hq = demo["clients"]["hq"]
    assert hq.get(f"/-/client/{f['bj']}").status_code == 200
    assert hq.get("/-/client/999999999999").status_code == 404
    # Signed out: the sign-in page's refusal, not the client.
    assert httpx.get(demo["server"].url + f"/-/client/{f['ty']}").status_code == 403


def test_client_ids_link_to_the_client_page(demo):
    f = demo["facts"]
    for url in ("/TY01/classifications", "/TY01/clients", "/TY01/suitability_unconfirmed", "/TY01/tasks"):
        page = demo["clients"]["ty"].get(url)
        assert page.status_code == 200, url
        assert 'href="/-/client/' in page.text, url
    find = demo["clients"]["ty"].get("/-/client", params={"q": f["ty"]})
    assert find.status_code == 302 and find.headers["location"] == f"/-/client/{f['ty']}"


# ---- Chinese throughout ---------------------------------------------------------------------

def test_table_pages_are_chinese(demo):
    page = demo["clients"]["ty"].get("/TY01/clients")
    text = text_of(page.text)
    for word in ("客户号", "总资产", "证件号码", "共 ", "导出", "下一页", "降序"):
        assert word in text, word
    assert 'value="应用 (apply)"' in page.text
    assert "个人 individual" in text and "万元" in text and re.search(r"\d{4}年\d{1,2}月\d{1,2}日", text)
    # Datasette's English chrome is gone.
    for english in ("Log out", "Next page", "This data as", "Advanced export", "rows where", "- column -",
                    "Apply", "Powered by"):
        assert english not in page.text, english
    assert '<dl class="column-descriptions">' not in page.text
    # Amounts right-aligned.
    assert 'class="bc-num"' in page.text


def test_enumerated_values_in_chinese(demo):
    tasks = text_of(demo["clients"]["hq"].get("/hq/tasks").text)
    assert "未办" in tasks or "已办" in tasks
    assert "回访 callback" in tasks
    habits = text_of(demo["clients"]["hq"].get("/hq/risk_habit").text)
    assert any(w in habits for w in ("价值 value", "波段 swing", "短线 short"))


def test_error_pages_are_chinese(demo):
    hq = demo["clients"]["hq"]
    missing = hq.get("/hq/no_such_table")
    assert missing.status_code == 404 and "页面不存在" in missing.text and "Traceback" not in missing.text
    forbidden = demo["clients"]["ty"].get("/BJ01/clients")
    assert forbidden.status_code == 403 and "禁止访问" in forbidden.text
    bad = hq.get("/hq/clients?_facet=name")
    assert bad.status_code in (400, 403) and "Traceback" not in bad.text
    assert "Error" not in text_of(bad.text).split("客户管理只读报表")[0]


def test_reports_hide_their_sql(demo):
    page = demo["clients"]["hq"].get("/hq/overdue_tasks")
    assert page.status_code == 200
    assert "SELECT" not in page.text.upper().replace("SELECTED", "").replace("<SELECT", "")
    assert "Run SQL" not in page.text and "Edit SQL" not in page.text
    title = re.search(r"<title>(.*?)</title>", page.text, re.S).group(1)
    assert title.strip() == "逾期未办任务"


# ---- dashboard --------------------------------------------------------------------------

def test_dashboard_numbers_link_to_their_lists(demo):
    for user, home in (("hq", "/"), ("ty", "/"), ("hq", "/TY01")):
        page = demo["clients"][user].get(home)
        assert page.status_code == 200
        cards = re.findall(r'<a class="bc-stat[^"]*" id="card-([a-z_]+)" href="([^"]+)">', page.text)
        keys = {k for k, _ in cards}
        assert {"clients", "moves", "overdue_tasks", "complaints_due", "suitability", "assessments_expiring",
                "pending_approvals"} <= keys, keys
        for key, url in cards:
            target = demo["clients"][user].get(url.replace("&amp;", "&"), follow_redirects=True)
            assert target.status_code == 200, (user, key, url)


def test_dashboard_chart_follows_the_domain_order(demo):
    page = demo["clients"]["hq"].get("/")
    svg = re.search(r"<svg[^>]*bc-svg.*?</svg>", page.text, re.S).group(0)
    labels = re.findall(r'font-size="12">([A-G][+-]?)</text>', svg)
    order = ["A+", "B+", "A", "B", "C", "D", "C-", "D-", "E", "F", "G"]
    assert labels == [c for c in order if c in labels] and len(labels) >= 5


def test_branch_dashboard_counts_only_its_branch(demo):
    f = demo["facts"]
    page = demo["clients"]["ty"].get("/")
    value = re.search(r'id="card-clients"[^>]*>.*?bc-stat-value">([\d,]+)<', page.text, re.S).group(1)
    assert int(value.replace(",", "")) == f["ty_clients"]


def test_dashboard_assessment_expiry_numbers_are_the_snapshots_counts(demo):
    # Counted on the indexes (issue 16: a GROUP BY took 72 + 192 ms at 10M): the card, its
    # "expired" note and head office's per-branch column must still be the snapshot's counts.
    import sqlite3

    snapshot = sqlite3.connect(demo["tmp"] / "site" / "hq.db")
    by_status = dict(snapshot.execute("SELECT status, count(*) FROM assessment_expiry GROUP BY status"))
    by_branch = dict(snapshot.execute(
        "SELECT branch_id, count(*) FROM assessment_expiry WHERE status = 'expiring' GROUP BY branch_id"))
    snapshot.close()
    assert by_status.get("expiring") and by_status.get("expired")  # the demo book has both
    page = demo["clients"]["hq"].get("/hq").text
    card = re.search(r'id="card-assessments_expiring".*?</a>', page, re.S).group(0)
    assert re.search(r'bc-stat-value">([\d,]+)<', card).group(1).replace(",", "") == str(by_status["expiring"])
    assert f"已过期 {by_status['expired']:,}" in card
    for code, n in by_branch.items():
        assert f'<a href="/{code}/assessment_expiry?status=expiring">{n:,}</a>' in page, code


# ---- exports ------------------------------------------------------------------------------

def test_csv_export_has_bom_chinese_headers_and_every_row(demo):
    f = demo["facts"]
    response = demo["clients"]["ty"].get("/-/export/TY01/clients.csv")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["客户号", "类型", "姓名"]
    assert len(rows) - 1 == f["ty_clients"] > 30  # all of them, not the first page
    assert not any(ID_RE.search(",".join(r)) for r in rows[1:])
    assert {r[1] for r in rows[1:]} <= {"个人 individual", "机构 institution"}


def test_export_follows_the_page_filter_and_sort(demo):
    ty = demo["clients"]["ty"]
    rows = list(csv.reader(io.StringIO(ty.get("/-/export/TY01/classifications.csv?class=F&_sort_desc=client_id")
                                        .content.decode("utf-8-sig"))))
    assert len(rows) > 2 and {r[rows[0].index("类别")] for r in rows[1:]} == {"F"}
    ids = [r[0] for r in rows[1:]]
    assert ids == sorted(ids, reverse=True)


def test_xlsx_export_and_formula_cells_are_neutralised(demo):
    from openpyxl import load_workbook

    ty = demo["clients"]["ty"]
    response = ty.get("/-/export/TY01/interactions.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    assert "客户号" in header and "记录" in header
    notes = [row[header.index("记录")] for row in sheet.iter_rows(min_row=2)]
    planted = [c for c in notes if c.value and "cmd|" in str(c.value)]
    assert planted and all(c.value == "'" + FORMULA and c.data_type == "s" for c in planted)
    text = ty.get("/-/export/TY01/interactions.csv").content.decode("utf-8-sig")
    assert "'" + FORMULA in text and f",{FORMULA}" not in text


def test_datasette_csv_links_go_to_the_export(demo):
    ty = demo["clients"]["ty"]
    response = ty.get("/TY01/classifications.csv?class=F")
    assert response.status_code == 302
    assert response.headers["location"] == "/-/export/TY01/classifications.csv?class=F"
    body = ty.get("/TY01/class_distribution.csv", follow_redirects=True).content
    assert body.startswith(b"\xef\xbb\xbf")


def test_sign_out_is_chinese(demo):
    from site_support import sign_in as fresh

    client, _ = fresh(demo["server"].url, "bj")
    page = client.get("/-/logout")
    assert "退出登录" in page.text and "Log out" not in page.text
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    done = client.post("/-/logout", data={"csrftoken": token}, follow_redirects=True)
    assert done.status_code == 200 and "您已退出登录" in done.text
    assert client.get("/BJ01/clients").status_code == 403
    client.close()


def test_report_export(demo):
    rows = list(csv.reader(io.StringIO(demo["clients"]["hq"].get("/-/export/hq/class_distribution.csv")
                                       .content.decode("utf-8-sig"))))
    assert rows[0] == ["营业部", "营业部名称", "类别", "客户数"] and len(rows) > 3


def test_export_is_scoped_like_the_pages(demo):
    ty = demo["clients"]["ty"]
    assert ty.get("/-/export/BJ01/clients.csv").status_code == 403
    assert ty.get("/-/export/hq/clients.xlsx").status_code == 403
    assert httpx.get(demo["server"].url + "/-/export/TY01/clients.csv").status_code == 403
    assert ty.get("/-/export/TY01/no_such_table.csv").status_code == 404
    assert ty.get("/-/export/TY01/clients.csv?no_such_column=1").status_code == 400


def test_neutralise_every_formula_prefix():
    from brokercrm.datasette_config.export import neutralise

    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("张三") == "张三" and neutralise(-5) == -5 and neutralise(None) is None


# ---- headers ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/-/login", "/", "/TY01/clients", "/-/client/none", "/BJ01"])
def test_security_headers_on_every_page(demo, url):
    response = demo["clients"]["ty"].get(url)
    assert response.headers["x-frame-options"] == "DENY"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp.split(
        "script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_pages_use_no_inline_script(demo):
    # The CSP forbids inline scripts: a page that still had one would break in the browser.
    for url in ("/", "/TY01/clients", "/TY01/class_distribution", f"/-/client/{demo['facts']['ty']}"):
        html = demo["clients"]["ty"].get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
