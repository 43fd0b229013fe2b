"""Repeated client_ids found at the insert (6529f8c): exact first rows across batches, gaps and the
forked worker, re-imports, _RowNumbers, and the CSV list fast path against NDJSON and check_row."""

import csv
import datetime as dt
import json
import random
import shutil

import pytest

from brokercrm.imports import clients_fast as import_clients_fast
from brokercrm.imports import pipeline as import_pipeline
from brokercrm.demo import synth
from brokercrm.kernel.db import connect
from brokercrm.kernel.errors import ValidationFailed
from brokercrm.imports.client_rows import FIELDS, KNOWN, check_row
from brokercrm.imports.clients import _RowNumbers
from brokercrm.imports import import_clients

from conftest import make_id, person, write_csv
from test_import_clients import COLUMNS, client_row, count

TODAY = dt.date(2026, 6, 30)
BLANK, SPACES = "<blank>", "<spaces>"
BAD_PHONE = "12"


def repeat(n, first):
    return f"{n}:client_id: 与第 {first} 行重复 (repeats row {first})"


def write_rows(path, items, columns, encoding="utf-8"):
    """CSV of dict rows, raw cell lists, empty lines (BLANK) and rows of spaces (SPACES)."""
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(columns)
        for item in items:
            if isinstance(item, dict):
                w.writerow([item.get(c, "") for c in columns])
            else:
                w.writerow([] if item == BLANK else ["   "] * len(columns) if item == SPACES else item)
    return path


def numbered(items):
    """Each client row gets its file row number as total_assets, to tell which use was stored."""
    return [dict(item, total_assets=str(n)) if isinstance(item, dict) else item
            for n, item in enumerate(items, start=2)]


def expected(items):
    """(repeat lines, [(n, first)], bad row numbers, {client_id: first row}) computed from the layout."""
    first, repeats, bad = {}, [], []
    for n, item in enumerate(items, start=2):
        if not isinstance(item, dict):
            continue
        if item["phone"] == BAD_PHONE:
            bad.append(n)
        elif item["client_id"] in first:
            repeats.append((n, first[item["client_id"]]))
        else:
            first[item["client_id"]] = n
    return [repeat(n, f) for n, f in repeats], repeats, bad, first


def check_import(db, admin, tmp_path, path, items):
    """All or nothing lists every repeat with its exact first row; skipping stores each first use."""
    lines, repeats, bad, first = expected(items)
    assert len(lines) + len(bad) <= 50  # every problem line is shown
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, path, actor=admin)
    got = [p[len(str(path)) + 1:] for p in e.value.problems]
    assert [g for g in got if ":client_id:" in g] == lines
    assert [int(g.split(":")[0]) for g in got if ":phone:" in g] == bad
    assert e.value.total == len(lines) + len(bad)
    assert count(db, "clients") == 0 and count(db, "events") == 0
    rejects = tmp_path / "rejects.csv"
    result = import_clients(db, path, skip_invalid=True, rejects=rejects, actor=admin)
    assert (result.rows, result.inserted, result.rejected) == (len(first) + len(repeats) + len(bad),
                                                               len(first), len(repeats) + len(bad))
    reasons = [r["reason"] for r in csv.DictReader(rejects.read_text(encoding="utf-8-sig").splitlines())]
    assert [r for r in reasons if r.startswith("client_id")] == [f"client_id: {line.split(': ', 1)[1]}"
                                                                   for line in lines]
    stored = dict(db.execute("SELECT client_id, total_assets FROM clients"))
    assert stored == {cid: float(n) for cid, n in first.items()}


def synth_rows(n, seed=1, note=None):
    rows = [{k: str(v) for k, v in r.items()} for r in synth.clients(n, seed=seed, today=TODAY)]
    return [dict(r, 备注=note) for r in rows] if note else rows


# --- 1. repeats: across batches, in one batch, three uses, after gaps, through the worker --------

def test_repeat_in_a_later_batch_and_in_the_same_batch(db, admin, tmp_path):
    rows = synth_rows(5000)
    rows[4498] = dict(rows[4498], client_id=rows[0]["client_id"])  # row 4500 repeats row 2 (batch 3 vs 1)
    rows[10] = dict(rows[10], client_id=rows[5]["client_id"])      # row 12 repeats row 7 (same batch)
    items = numbered(rows)
    path = write_rows(tmp_path / "c.csv", items, synth.CLIENT_COLUMNS)
    assert expected(items)[0] == [repeat(12, 7), repeat(4500, 2)]
    check_import(db, admin, tmp_path, path, items)
    assert client_row(db, rows[0]["client_id"])["name"] == rows[0]["name"]


@pytest.mark.parametrize("batch", [2, 2000])
def test_three_uses_name_the_first_row_each_time(db, admin, tmp_path, monkeypatch, batch):
    monkeypatch.setattr(import_clients_fast, "BATCH_SIZE", batch)
    items = numbered([person("C1"), person("C1")] + [person(f"D{i}") for i in range(5)] + [person("C1")])
    assert expected(items)[0] == [repeat(3, 2), repeat(9, 2)]
    check_import(db, admin, tmp_path, write_csv(tmp_path / "c.csv", items), items)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("batch", [1, 2, 5, 2000])
def test_first_rows_are_exact_after_bad_and_blank_rows(db, admin, tmp_path, monkeypatch, seed, batch):
    monkeypatch.setattr(import_clients_fast, "BATCH_SIZE", batch)
    rng = random.Random(seed)
    items = []
    for i in range(60):
        r = rng.random()
        items.append(BLANK if r < 0.1 else SPACES if r < 0.2 else person(f"B{i}", phone=BAD_PHONE) if r < 0.3
                     else person(f"C{rng.randrange(25)}"))
    items = numbered(items)
    assert len(expected(items)[0]) > 5
    check_import(db, admin, tmp_path, write_rows(tmp_path / "c.csv", items, COLUMNS), items)


def test_forked_worker_reports_exact_first_rows(db, admin, tmp_path, monkeypatch):
    sizes = []
    real_run = import_pipeline.run

    def spy(producer, args, *, size):
        sizes.append(size)
        return real_run(producer, args, size=size)

    monkeypatch.setattr(import_pipeline, "run", spy)
    rows = synth_rows(12000, seed=3, note="长备注" * 40)
    bad = [person(f"BAD{i}", phone=BAD_PHONE) for i in range(2)]
    items = (rows[:100] + [bad[0], BLANK, BLANK, SPACES] + rows[100:2500] + [bad[1], SPACES] + rows[2500:3000]
             + [dict(rows[10])] + rows[3000:7000] + [BLANK] + rows[7000:]
             + [dict(rows[150]), dict(rows[2600]), dict(rows[0]), dict(rows[8000], name="李四")])
    items = numbered(items)
    path = write_rows(tmp_path / "big.csv", items, synth.CLIENT_COLUMNS + ["备注"])
    assert len(expected(items)[0]) == 5
    check_import(db, admin, tmp_path, path, items)
    assert len(sizes) == 2 and min(sizes) >= import_pipeline.PARALLEL_MIN_BYTES  # both runs forked
    assert client_row(db, rows[8000]["client_id"])["name"] == rows[8000]["name"]
    assert json.loads(client_row(db, rows[1]["client_id"])["extra"]) == {"备注": "长备注" * 40}


# --- 2. re-import: a stored client twice in the new file ------------------------------------------

@pytest.mark.parametrize("batch", [2, 2000])
def test_stored_client_twice_is_a_repeat_of_its_first_row(db, admin, tmp_path, monkeypatch, batch):
    monkeypatch.setattr(import_clients_fast, "BATCH_SIZE", batch)
    import_clients(db, write_csv(tmp_path / "day1.csv", [person("C001"), person("C002")]), actor=admin)
    rows = [person("C003"), person("C001", total_assets="900000"), person("C002"), person("C004"),
            person("C001", total_assets="5", phone="13900000000"), person("C003")]
    path = write_csv(tmp_path / "day2.csv", rows)
    with pytest.raises(ValidationFailed) as e:
        import_clients(db, path, actor=admin)
    assert e.value.problems == [f"{path}:{repeat(6, 3)}", f"{path}:{repeat(7, 2)}"]
    assert client_row(db, "C001")["total_assets"] == 120000.0
    assert count(db, "client_changes") == 0 and count(db, "clients") == 2
    result = import_clients(db, path, skip_invalid=True, rejects=tmp_path / "rej.csv", actor=admin)
    assert (result.inserted, result.updated, result.unchanged, result.rejected) == (2, 1, 1, 2)
    c1 = client_row(db, "C001")
    assert (c1["total_assets"], c1["phone"]) == (900000.0, "13800000000")
    assert db.execute("SELECT client_id, field, old_value, new_value FROM client_changes").fetchall() == [
        ("C001", "total_assets", "120000", "900000")]


# --- 3. _RowNumbers ---------------------------------------------------------------------------------

def test_row_numbers_with_gaps():
    rng = random.Random(5)
    numbers, want, rowid, n = _RowNumbers(), {}, 100, 1
    for _ in range(300):
        batch = []
        for _ in range(rng.randrange(0, 12)):
            n += 1 if rng.random() < 0.8 else rng.randrange(2, 6)
            batch.append(n)
        numbers.add(rowid + 1, batch)
        want.update({rowid + 1 + i: m for i, m in enumerate(batch)})
        rowid += len(batch)
    assert {r: numbers.number(r) for r in want} == want
    clean = _RowNumbers()
    for start in range(0, 10000, 7):  # a clean file in many batches: one run
        clean.add(start + 1, list(range(start + 2, start + 9)))
    assert len(clean.starts) == 1 and clean.number(1) == 2 and clean.number(10003) == 10004


# --- 4. the CSV list path against NDJSON dicts and against check_row -------------------------------

def mutations():
    """Valid, spaced, ragged, blank and odd-number rows, as dicts (a missing key is a blank cell)."""
    cols = COLUMNS + ["备注"]
    rows = [person("M00"), {k: f"  {v} " for k, v in person("M01", kind="个人").items()},
            person("M02", 备注="老客户"), person("M03", 备注="   "), person("M04", branch_id=" ty01"),
            {k: v for k, v in person("M05").items() if k not in ("occupation", "opened_at")},
            dict(zip(cols[:7], [person("M06")[c] for c in cols[:7]])),  # ragged, but all required cells
            dict(zip(cols[:4], [person("M07")[c] for c in cols[:4]])),  # ragged, lacks the branch
            SPACES, BLANK, person("M08", phone=" 13800000000"), person("M09", investment_years=" 3"),
            person(" M10 ", name=" 张三 ", occupation=" 工程师 ", education="本科 ")]  # fast path strips these
    for i, value in enumerate(["-1", "1e5", "inf", "nan", "１２３", "9" * 400, " 12 ", "1,000", ".5", "1.2.3"]):
        rows.append(person(f"N{i:02}", total_assets=value))
    return cols, rows


def as_cells(row, cols):
    """A mutated row as CSV cells: ragged rows (no trailing keys) stay short."""
    if not isinstance(row, dict):
        return row
    width = max(cols.index(k) for k in row) + 1 if set(row) <= set(cols[:7]) else len(cols)
    return [row.get(c, "") for c in cols[:width]]


def snapshot(db):
    cols = [c for c in db["clients"].columns_dict if c not in ("created_at", "updated_at")]
    return db.execute(f"SELECT {', '.join(cols)} FROM clients ORDER BY client_id").fetchall()


def fresh(db_path, name):
    path = db_path.with_name(name)
    shutil.copy(db_path, path)
    return connect(path)


@pytest.mark.parametrize("drop", [(), ("birth_date", "education")])
def test_csv_lists_and_ndjson_dicts_agree(db_path, admin, tmp_path, drop):
    cols, rows = mutations()
    cols = [c for c in cols if c not in drop]
    rows = [{k: v for k, v in r.items() if k not in drop} if isinstance(r, dict) else r for r in rows]
    # Short (ragged) CSV rows are refused by the reader now (tests/test_bad_files.py); here they are
    # padded to the header's width, so both paths see the same blank cells.
    padded = [cells + [""] * (len(cols) - len(cells)) if isinstance(cells, list) and cells else cells
              for cells in (as_cells(r, cols) for r in rows)]
    csv_path = write_rows(tmp_path / "m.csv", padded, cols)
    # A leading blank line: NDJSON numbers lines from 1, CSV data from 2 (the header is row 1).
    nd_path = tmp_path / "m.ndjson"
    nd_path.write_text("\n" + "".join(
        json.dumps(r if isinstance(r, dict) else {c: "  " for c in cols}, ensure_ascii=False) + "\n"
        if r != BLANK else "\n" for r in rows), encoding="utf-8")
    reports, snaps, reasons = [], [], []
    for path, name in ((csv_path, "a.db"), (nd_path, "b.db")):
        db = fresh(db_path, name)
        with pytest.raises(ValidationFailed) as e:
            import_clients(db, path, actor=admin)
        reports.append([p[len(str(path)):] for p in e.value.problems])
        rejects = tmp_path / f"{name}.rejects.csv"
        result = import_clients(db, path, skip_invalid=True, rejects=rejects, actor=admin)
        snaps.append((result.rows, result.inserted, result.rejected, snapshot(db)))
        reasons.append([r["reason"] for r in csv.DictReader(rejects.read_text(encoding="utf-8-sig").splitlines())])
        db.close()
    assert reports[0] == reports[1] and len(reports[0]) >= 6
    assert snaps[0] == snaps[1] and snaps[0][1] >= 10
    assert reasons[0] == reasons[1]


def test_list_path_never_wider_than_check_row():
    cols, rows = mutations()
    checker = import_clients_fast.FastChecker({"TY01", "BJ01", "SH01"}, TODAY, KNOWN)
    fast = checker.list_checker(cols)
    accepted = 0
    for row in rows:
        if row == BLANK:
            continue
        cells = ["   "] * len(cols) if row == SPACES else as_cells(row, cols)
        stripped = {n: v.strip() for n, v in zip(cols, cells)}
        got = fast(list(cells))
        if got is not None:
            accepted += 1
            record, errors = check_row(stripped, {"TY01", "BJ01", "SH01"}, TODAY.isoformat())
            assert errors == [] and got == import_clients_fast.record_tuple(record, FIELDS), row
            assert checker.fast_row(stripped) == got
    assert accepted >= 5


def test_full_width_digit_in_id_number_is_not_accepted_by_the_fast_path():
    # "1" is the check digit the UTF-8 bytes of a leading full-width １ give; by digit value it is 3.
    cells = [person("W1", id_number="１" + make_id("1980-01-01")[1:17] + "1")[c] for c in COLUMNS]
    assert check_row(dict(zip(COLUMNS, cells)), {"TY01"}, TODAY.isoformat())[1]  # wrong check digit
    assert import_clients_fast.FastChecker({"TY01"}, TODAY, KNOWN).list_checker(COLUMNS)(cells) is None


# --- 5. GBK with Chinese headers goes through the list path ------------------------------------------

def test_gbk_chinese_headers_use_the_list_path(db_path, admin, tmp_path, monkeypatch):
    calls = {"rows": 0, "fast": 0}
    real = import_clients_fast.FastChecker.list_checker

    def spy(self, names):
        inner = real(self, names)

        def fast(cells):
            got = inner(cells)
            calls["rows"] += 1
            calls["fast"] += got is not None
            return got
        return fast

    monkeypatch.setattr(import_clients_fast.FastChecker, "list_checker", spy)
    rows = list(synth.clients(300, seed=9, today=TODAY))
    gbk, utf = tmp_path / "gbk.csv", tmp_path / "utf.csv"
    synth.write_clients_csv(gbk, rows, encoding="gbk", chinese_headers=True)
    synth.write_clients_csv(utf, rows)
    with pytest.raises(UnicodeDecodeError):
        gbk.read_text(encoding="utf-8")
    a, b = fresh(db_path, "gbk.db"), fresh(db_path, "utf.db")
    assert import_clients(a, gbk, actor=admin).inserted == 300
    individuals = sum(r["kind"] == "individual" for r in rows)
    assert calls["rows"] == 300 and calls["fast"] == individuals
    assert import_clients(b, utf, actor=admin).inserted == 300
    assert snapshot(a) == snapshot(b)
    a.close()
    b.close()


def test_repeat_goes_to_rejects_as_read(db, admin, tmp_path):
    rows = [person("C001"), person("C001", total_assets="1,000", kind="个人", branch_id="ty01", birth_date="")]
    rejects = tmp_path / "rej.csv"
    import_clients(db, write_csv(tmp_path / "c.csv", rows), skip_invalid=True, rejects=rejects, actor=admin)
    got = list(csv.DictReader(rejects.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["total_assets"], r["kind"], r["branch_id"], r["birth_date"]) for r in got] == [
        ("1,000", "个人", "ty01", "")]
