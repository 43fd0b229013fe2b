"""brokercrm import clients: every check with a failing input, all or nothing, re-import, events."""

import csv
import json

import pytest

from brokercrm.kernel.registry import registry
from brokercrm.imports import clients_fast as import_clients_fast
from brokercrm.imports import pipeline as import_pipeline
from brokercrm.kernel.errors import BrokerCRMError, ValidationFailed
from brokercrm.imports import import_clients
from brokercrm.kernel.validate import uscc_check_char

from conftest import make_id, person, write_csv

COLUMNS = ["client_id", "kind", "name", "id_number", "phone", "birth_date", "branch_id", "opened_at",
           "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "occupation", "education",
           "investment_years"]
CHINESE = ["客户号", "客户类型", "姓名", "身份证号", "手机号", "出生日期", "营业部", "开户日期", "总资产",
           "资产周转率", "平均持仓天数", "年收入", "职业", "学历", "投资年限"]


def uscc(first17="91350100M00010094"):
    return first17 + uscc_check_char(first17)


def company(client_id="I001", **over):
    row = {"client_id": client_id, "kind": "institution", "name": "某某投资有限公司", "id_number": uscc(),
           "phone": "0351-1234567", "branch_id": "BJ01", "opened_at": "2019-01-02", "total_assets": "8000000",
           "legal_representative": "王五", "business_scope": "投资管理", "net_assets": "5000000"}
    row.update(over)
    return row


def client_row(db, client_id):
    cursor = db.execute("SELECT * FROM clients WHERE client_id = ?", [client_id])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row)) if row else None


def count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def problems_of(db, actor, tmp_path, rows, **kw):
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, write_csv(tmp_path / "in.csv", rows), actor=actor, **kw)
    assert count(db, "clients") == 0
    return e.value.problems


# --- the happy path and the file formats -------------------------------------------------------

def test_imports_individuals_and_institutions(db, actors, tmp_path):
    rows = [person(), person("C002", "1992-12-31", birth_date="", **{"风险偏好": "稳健"}), company()]
    result = import_clients(db, write_csv(tmp_path / "c.csv", rows), actor=actors("op1"))
    assert (result.rows, result.inserted, result.updated, result.rejected) == (3, 3, 0, 0)
    c1 = client_row(db, "C001")
    assert c1["total_assets"] == 120000.0 and c1["branch_id"] == "TY01" and c1["opened_at"] == "2020-05-06"
    c2 = client_row(db, "C002")
    assert c2["birth_date"] == "1992-12-31"  # taken from the ID number when the cell is blank
    assert json.loads(c2["extra"]) == {"风险偏好": "稳健"}
    i1 = client_row(db, "I001")
    assert i1["kind"] == "institution" and i1["legal_representative"] == "王五" and i1["net_assets"] == 5e6


def test_chinese_headers_and_kinds_in_gbk_csv(db, admin, tmp_path):
    row = person(kind="个人")
    path = tmp_path / "gbk.csv"
    with open(path, "w", newline="", encoding="gbk") as f:
        w = csv.writer(f)
        w.writerow(CHINESE + ["法定代表人"])
        w.writerow([row[c] for c in COLUMNS] + [""])
        inst = company(kind="机构")
        w.writerow([inst.get(c, "") for c in COLUMNS] + [inst["legal_representative"]])
    assert import_clients(db, path, actor=admin).inserted == 2
    assert client_row(db, "C001")["name"] == "张三"
    assert client_row(db, "I001")["kind"] == "institution"


def test_xlsx_json_and_ndjson(db, admin, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(CHINESE)
    r = person("X001")
    ws.append([r[c] for c in COLUMNS])
    wb.save(tmp_path / "c.xlsx")
    (tmp_path / "c.json").write_text(json.dumps([person("J001")], ensure_ascii=False), encoding="utf-8")
    (tmp_path / "c.ndjson").write_text(
        "\n".join(json.dumps(person(f"N00{i}"), ensure_ascii=False) for i in range(3)) + "\n", encoding="utf-8")
    assert import_clients(db, tmp_path / "c.xlsx", actor=admin).inserted == 1
    assert import_clients(db, tmp_path / "c.json", actor=admin).inserted == 1
    assert import_clients(db, tmp_path / "c.ndjson", actor=admin).inserted == 3
    assert client_row(db, "X001")["total_assets"] == 120000.0


# --- every check, with a failing input ---------------------------------------------------------

@pytest.mark.parametrize("column", ["client_id", "kind", "name", "id_number", "branch_id", "phone"])
def test_required_fields(db, admin, tmp_path, column):
    problems = problems_of(db, admin, tmp_path, [person(**{column: ""})])
    assert f"in.csv:2:{column}: " in problems[0] and "必填" in problems[0]


def test_unknown_kind(db, admin, tmp_path):
    assert "kind" in problems_of(db, admin, tmp_path, [person(kind="robot")])[0]


def test_resident_id_checksum(db, admin, tmp_path):
    good = make_id("1980-01-01")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    problems = problems_of(db, admin, tmp_path, [person(id_number=bad)])
    assert problems[0].startswith(f"{tmp_path / 'in.csv'}:2:id_number: ") and "校验位" in problems[0]


def test_resident_id_shape_and_embedded_date(db, admin, tmp_path):
    problems = problems_of(db, admin, tmp_path,
                           [person(id_number="12345"), person("C002", id_number="140105198002301234")])
    assert ":2:id_number:" in problems[0] and ":3:id_number:" in problems[1]
    # Never echo the ID digits or the birth date they hold.
    assert "19800230" not in problems[1]


def test_id_birth_date_must_match(db, admin, tmp_path):
    problems = problems_of(db, admin, tmp_path, [person(id_number=make_id("1980-01-02"), birth_date="1980-01-01")])
    assert ":2:birth_date:" in problems[0] and "不一致" in problems[0]
    assert "1980" not in problems[0] and make_id("1980-01-02") not in problems[0]


def test_institution_credit_code_checksum(db, admin, tmp_path):
    code = uscc()
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    problems = problems_of(db, admin, tmp_path,
                           [company(id_number=wrong), company("I002", id_number="91350100M0001009IO")])
    assert ":2:id_number:" in problems[0] and "统一社会信用代码" in problems[0]
    assert ":3:id_number:" in problems[1]


def test_institution_with_resident_id_is_rejected(db, admin, tmp_path):
    assert ":2:id_number:" in problems_of(db, admin, tmp_path, [company(id_number=make_id("1980-01-01"))])[0]


@pytest.mark.parametrize("phone", ["12800000000", "1380000000", "138000000001", "abc"])
def test_mobile(db, admin, tmp_path, phone):
    assert ":2:phone:" in problems_of(db, admin, tmp_path, [person(phone=phone)])[0]


def test_mobile_with_country_code_is_normalised(db, admin, tmp_path):
    import_clients(db, write_csv(tmp_path / "c.csv", [person(phone="+86 138-0000-0000")]), actor=admin)
    assert client_row(db, "C001")["phone"] == "13800000000"


@pytest.mark.parametrize("column,value", [
    ("birth_date", "1980-02-30"), ("birth_date", "yesterday"), ("opened_at", "2021-02-29"),
    ("opened_at", "2030-01-01"),
])
def test_real_dates(db, admin, tmp_path, column, value):
    row = person(**{column: value})
    if column == "birth_date":
        row["id_number"] = make_id("1980-01-01")
    problems = problems_of(db, admin, tmp_path, [row])
    assert any(f":2:{column}:" in p for p in problems)


def test_birth_date_in_future(db, admin, tmp_path):
    problems = problems_of(db, admin, tmp_path, [person(birth="2027-01-01")])  # NOW is 2026-06-30
    assert any(":2:birth_date:" in p and "晚于今天" in p for p in problems)


@pytest.mark.parametrize("column", ["total_assets", "turnover_rate", "avg_holding_days", "annual_income",
                                    "investment_years"])
@pytest.mark.parametrize("value", ["-1", "abc", "nan", "inf"])
def test_numbers_non_negative(db, admin, tmp_path, column, value):
    assert f":2:{column}:" in problems_of(db, admin, tmp_path, [person(**{column: value})])[0]


def test_net_assets_non_negative(db, admin, tmp_path):
    assert ":2:net_assets:" in problems_of(db, admin, tmp_path, [company(net_assets="-3")])[0]


def test_thousands_separators_accepted(db, admin, tmp_path):
    import_clients(db, write_csv(tmp_path / "c.csv", [person(total_assets="1,200,000")]), actor=admin)
    assert client_row(db, "C001")["total_assets"] == 1_200_000.0


def test_branch_must_exist(db, admin, tmp_path):
    problems = problems_of(db, admin, tmp_path, [person(branch_id="XX99")])
    assert ":2:branch_id:" in problems[0] and "XX99" in problems[0]


def test_branch_code_case_is_normalised(db, admin, tmp_path):
    import_clients(db, write_csv(tmp_path / "c.csv", [person(branch_id="ty01")]), actor=admin)
    assert client_row(db, "C001")["branch_id"] == "TY01"


def test_client_id_twice_in_one_file(db, admin, tmp_path, monkeypatch):
    # Small batches: the repeat is found across batch boundaries too (the TEMP table, not a set).
    monkeypatch.setattr(import_clients_fast, "BATCH_SIZE", 2)
    rows = [person("C001"), person("C002"), person("C003"), person("C001"), person("C003")]
    problems = problems_of(db, admin, tmp_path, rows)
    assert [p.split(":", 1)[1] for p in problems] == [
        "5:client_id: 与第 2 行重复 (repeats row 2)", "6:client_id: 与第 4 行重复 (repeats row 4)"]


# --- all or nothing, the report, skipping --------------------------------------------------------

def test_one_bad_row_imports_nothing(db, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(import_clients_fast, "BATCH_SIZE", 3)
    rows = [person(f"C{i:03}") for i in range(10)] + [person("C999", phone="1")]
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, write_csv(tmp_path / "c.csv", rows), actor=admin)
    assert e.value.total == 1 and ":12:phone:" in e.value.problems[0]
    assert count(db, "clients") == 0 and count(db, "events") == 0
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'import.clients'").fetchone()[0] == 0


def test_report_shows_first_50_then_a_count(run, tmp_path):
    rows = [person(f"C{i:03}", phone="1", total_assets="-1") for i in range(30)]
    result = run("import", "clients", str(write_csv(tmp_path / "c.csv", rows)), ok=False)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if "c.csv:" in line and ": " in line]
    problem_lines = [line for line in lines if line.startswith(str(tmp_path))]
    assert len(problem_lines) == 50
    assert "另有 10 处问题 (and 10 more)" in result.output
    assert "未导入任何客户" in result.output
    assert "Traceback" not in result.output


def test_skip_invalid_writes_rejects(db, admin, tmp_path):
    rows = [person("C001"), person("C002", phone="123", **{"备注": "老客户"}), person("C003")]
    rejects = tmp_path / "rejects.csv"
    result = import_clients(db, write_csv(tmp_path / "c.csv", rows), skip_invalid=True, rejects=rejects, actor=admin)
    assert (result.inserted, result.rejected, result.rejects_file) == (2, 1, str(rejects))
    assert client_row(db, "C002") is None and client_row(db, "C003") is not None
    raw = rejects.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads the Chinese
    got = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(got) == 1 and got[0]["client_id"] == "C002" and got[0]["备注"] == "老客户"
    assert got[0]["phone"] == "123" and got[0]["reason"].startswith("phone: ")


def test_cli_skip_invalid_needs_rejects(run, tmp_path):
    result = run("import", "clients", str(write_csv(tmp_path / "c.csv", [person()])), "--skip-invalid", ok=False)
    assert result.exit_code != 0 and "--rejects" in result.output


def test_cli_json(run, tmp_path):
    result = run("import", "clients", str(write_csv(tmp_path / "c.csv", [person(), company()])), "--json")
    data = json.loads(result.output)
    assert data["rows"] == 2 and data["inserted"] == 2 and data["rejected"] == 0


def test_row_validators_join_the_report(db, admin, tmp_path):
    def no_students(rows):
        return [(i, "occupation", "本营业部不接受学生 (branch rule)") for i, r in enumerate(rows)
                if r["occupation"] == "学生"]

    seen = []

    def spy(rows):
        seen.extend(rows)
        return []

    rows = [person("C001"), person("C002", occupation="学生"), person("C003", phone="1")]
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, write_csv(tmp_path / "c.csv", rows), row_validators=[no_students, spy], actor=admin)
    assert any(":3:occupation: 本营业部不接受学生" in p for p in e.value.problems)
    assert any(":4:phone:" in p for p in e.value.problems)
    # Validators see only rows that passed the core checks, with normalised values.
    assert [r["client_id"] for r in seen] == ["C001", "C002"] and seen[0]["total_assets"] == 120000.0


# --- re-import, change records, events, audit -----------------------------------------------------

def test_reimport_updates_and_records_changes(db, actors, tmp_path):
    import_clients(db, write_csv(tmp_path / "day1.csv", [person("C001"), person("C002")]), actor=actors("op1"))
    rows = [person("C001", total_assets="900000", phone="13900000000", occupation=""), person("C002"),
            person("C003")]
    result = import_clients(db, write_csv(tmp_path / "day2.csv", rows), actor=actors("op2"))
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
    c1 = client_row(db, "C001")
    assert c1["total_assets"] == 900000.0
    assert c1["occupation"] == "工程师"  # a blank cell keeps the value held
    changes = db.execute(
        "SELECT client_id, field, old_value, new_value, source, operator FROM client_changes ORDER BY field").fetchall()
    assert changes == [("C001", "total_assets", "120000", "900000", "day2.csv", "op2")]
    # Trust work (issue 10): the phone is an important field (seed 004): the import does not apply
    # its change but files a reviewed change that a second person decides.
    assert c1["phone"] == "13800000000" and result.extra["pending_changes"] == 1
    assert db.execute("SELECT client_id, field, old_value, new_value, state, maker FROM data_changes").fetchall() == [
        ("C001", "phone", "13800000000", "13900000000", "pending", "op2")]


def test_branch_operator_imports_only_its_own_branch(db, admin, actors, tmp_path):
    import_clients(db, write_csv(tmp_path / "hq.csv", [person("B001", branch_id="BJ01")]), actor=admin)
    ty = actors("ty", branch="TY01")
    # A new client of another branch, and a stored client of another branch moved into TY01.
    rows = [person("T001"), person("B002", branch_id="BJ01"), person("B001", branch_id="TY01", total_assets="1")]
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, write_csv(tmp_path / "ty.csv", rows), actor=ty)
    assert len(e.value.problems) == 2
    assert any(":3:branch_id:" in p and "BJ01" in p for p in e.value.problems)
    assert any(":4:client_id:" in p and "总部" in p for p in e.value.problems)
    assert client_row(db, "T001") is None and client_row(db, "B002") is None
    b1 = client_row(db, "B001")
    assert (b1["branch_id"], b1["total_assets"]) == ("BJ01", 120000.0)
    assert import_clients(db, write_csv(tmp_path / "ty2.csv", [person("T001")]), actor=ty).inserted == 1


def test_new_clients_emit_account_opened_once(db, admin, actors, tmp_path):
    rows = [person("C001", opened_at="2026-06-20"), person("C002", opened_at=""),
            person("C003", opened_at="2026-05-30")]  # 31 days before now: history, not news
    import_clients(db, write_csv(tmp_path / "c.csv", rows), actor=actors("op"))
    got = db.execute("SELECT kind, client_id, at, operator FROM events ORDER BY client_id").fetchall()
    assert len(got) == 2
    assert got[0] == ("account_opened", "C001", "2026-06-20T00:00:00+08:00", "op")
    assert got[1][:2] == ("account_opened", "C002") and got[1][2].startswith("2026-06-30T10:00")
    import_clients(db, write_csv(tmp_path / "c2.csv", [person("C001", total_assets="5", opened_at="2026-06-20")]),
                   actor=admin)
    assert count(db, "events") == 2


CALLS = []


def listener(db, event):
    CALLS.append((event["kind"], event["client_id"]))


def test_listeners_called_per_new_client(db, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(registry(), "event_listeners", [listener])
    CALLS.clear()
    recent = {"opened_at": "2026-06-29"}
    import_clients(db, write_csv(tmp_path / "c.csv", [person("C001", **recent), person("C002", **recent)]),
                   actor=admin)
    assert CALLS == [("account_opened", "C001"), ("account_opened", "C002")]
    assert count(db, "events") == 2


def test_failing_listener_rolls_back_everything(db, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(registry(), "event_listeners", [boom])
    with pytest.raises(RuntimeError):
        import_clients(db, write_csv(tmp_path / "c.csv", [person("C001", opened_at="2026-06-29")]), actor=admin)
    assert count(db, "clients") == 0 and count(db, "events") == 0


def boom(db, event):
    raise RuntimeError("listener failed")


def test_audit_has_counts_and_no_personal_data(db, actors, tmp_path):
    import_clients(db, write_csv(tmp_path / "c.csv", [person()]), actor=actors("op1"))
    action, operator, target, detail = db.execute(
        "SELECT action, operator, target, detail FROM audit_log WHERE action = 'import.clients'").fetchone()
    assert (operator, target) == ("op1", "c.csv") and json.loads(detail)["inserted"] == 1
    assert "张三" not in detail and make_id("1980-01-01") not in detail and "13800000000" not in detail


def test_progress_bar_runs(db, admin, tmp_path, capsys):
    result = import_clients(db, write_csv(tmp_path / "c.csv", [person("C001"), person("C002")]), actor=admin,
                            progress=True)
    assert result.inserted == 2


def test_missing_file_is_a_domain_error(db, admin, tmp_path):
    with pytest.raises(BrokerCRMError):
        import_clients(db, tmp_path / "nope.csv", actor=admin)


# --- the fast path never accepts more than the full checks ---------------------------------------

def _id_with_x(birth="1985-07-15"):
    for seq in range(1000):
        candidate = make_id(birth, seq=f"{seq:03}")
        if candidate.endswith("X"):
            return candidate
    raise AssertionError("no X check digit found")


def test_fast_path_agrees_with_check_row():
    """Over many mutated rows: whatever the fast check accepts, check_row accepts with the same values."""
    import datetime as dt
    import random

    from brokercrm.imports.client_rows import FIELDS, KNOWN, check_row

    good_id = make_id("1980-01-01")
    wrong_check = good_id[:17] + ("0" if good_id[17] != "0" else "1")
    choices = {
        "client_id": ["C1", "C2", ""],
        "kind": ["individual", "个人", "机构", "institution", "Individual", "person", "x", ""],
        "name": ["张三", ""],
        "id_number": [good_id, _id_with_x(), _id_with_x().lower(), wrong_check, good_id[:17], "A" + good_id[1:],
                      "140105198002301234", make_id("2030-01-01"), make_id("1899-12-31"), uscc(), ""],
        "phone": ["13800000000", "+86 138 0000 0000", "12800000000", "1380000000a", "010-12345678", ""],
        "birth_date": ["", "1980-01-01", "1980/01/01", "19800101", "1980-1-1", "1985-07-15", "1980-02-30",
                       "2030-01-01", "1899-12-31"],
        "branch_id": ["TY01", "ty01", "XX01", ""],
        "opened_at": ["", "2020-05-06", "2020/5/6", "2021-02-29", "2030-01-01", "1899-12-31", "20200506"],
        "occupation": ["", "工程师"],
        "legal_representative": ["", "王五"],
    }
    numbers = ["", "0", "12.5", "1,000", "-1", "-0", "nan", "inf", "1e3", "1_000", ".", "5.", ".5", "abc", "007"]
    rng = random.Random(7)
    checker = import_clients_fast.FastChecker({"TY01", "BJ01"}, dt.date(2026, 6, 30), KNOWN)
    fast_count = slow_only = 0
    for _ in range(4000):
        row = {k: rng.choice(v[:2] if rng.random() < 0.9 else v) for k, v in choices.items()}
        for column in ("total_assets", "turnover_rate", "avg_holding_days", "annual_income", "investment_years",
                       "net_assets"):
            row[column] = rng.choice(numbers[:3] if rng.random() < 0.9 else numbers)
        if rng.random() < 0.3:
            row["备注"] = rng.choice(["", "老客户"])
        if rng.random() < 0.2:
            del row["legal_representative"]
        fast = checker.fast_row(row)
        record, errors = check_row(row, {"TY01", "BJ01"}, "2026-06-30")
        if fast is not None:
            fast_count += 1
            assert errors == [], (row, errors)
            assert fast == import_clients_fast.record_tuple(record, FIELDS), row
        elif not errors:
            slow_only += 1
    assert fast_count > 100 and slow_only > 20, (fast_count, slow_only)  # both paths were exercised


# --- the worker process ---------------------------------------------------------------------------

def test_worker_process_gives_the_same_results(db, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(import_pipeline, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(import_clients_fast, "BATCH_SIZE", 3)
    rows = [person(f"C{i:03}") for i in range(8)] + [company(), person("C001"), person("C100", phone="12")]
    rejects = tmp_path / "rej.csv"
    result = import_clients(db, write_csv(tmp_path / "c.csv", rows), skip_invalid=True, rejects=rejects, actor=admin)
    assert (result.rows, result.inserted, result.rejected) == (11, 9, 2)
    got = list(csv.DictReader(rejects.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["client_id"] for r in got] == ["C001", "C100"]
    assert "repeats row 3" in got[0]["reason"] and got[1]["reason"].startswith("phone: ")
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, write_csv(tmp_path / "d.csv", [person("D1"), person("D2", total_assets="-1")]), actor=admin)
    assert e.value.problems == [f"{tmp_path / 'd.csv'}:3:total_assets: '-1' 不能为负数 (must be ≥ 0)"]
    assert client_row(db, "D1") is None


def test_worker_errors_reach_the_caller(db, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(import_pipeline, "PARALLEL_MIN_BYTES", 0)
    path = tmp_path / "c.ndjson"
    path.write_text(json.dumps(person(), ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(BrokerCRMError, match="JSON"):
        import_clients(db, path, actor=admin)
    assert count(db, "clients") == 0


def test_batch_listener_gets_each_batch_once(db, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(registry(), "event_listeners", [batch_listener])
    monkeypatch.setattr(import_clients_fast, "BATCH_SIZE", 2)
    BATCHES.clear()
    import_clients(db, write_csv(tmp_path / "c.csv", [person(f"C{i}", opened_at="2026-06-29") for i in range(5)]),
                   actor=admin)
    assert [[e["client_id"] for e in b] for b in BATCHES] == [["C0", "C1"], ["C2", "C3"], ["C4"]]
    assert BATCHES[0][0]["kind"] == "account_opened" and BATCHES[0][0]["detail"]["branch_id"] == "TY01"


BATCHES = []


def batch_listener(db, event):
    raise AssertionError("the batch form should be used")


batch_listener.batch = lambda db, batch: BATCHES.append(batch)


def test_rows_refused_by_validators_go_to_rejects_as_read(db, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(import_clients_fast, "BATCH_SIZE", 2)

    def no_students(rows):
        return [(i, "occupation", "本营业部不接受学生 (branch rule)") for i, r in enumerate(rows)
                if r["occupation"] == "学生"]

    rows = [person("C001"), person("C002", occupation="学生", total_assets="1,000"), person("C003", phone="1")]
    rejects = tmp_path / "rej.csv"
    result = import_clients(db, write_csv(tmp_path / "c.csv", rows), skip_invalid=True, rejects=rejects,
                            row_validators=[no_students], actor=admin)
    assert (result.inserted, result.rejected) == (1, 2)
    got = list(csv.DictReader(rejects.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["client_id"] for r in got] == ["C002", "C003"]
    assert got[0]["total_assets"] == "1,000" and got[0]["reason"].startswith("occupation: 本营业部不接受学生")
