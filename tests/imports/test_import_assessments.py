"""brokercrm import assessments: scoring under the policy in force, every check with a failing input."""

import csv
import json

import pytest

from brokercrm.imports import runner as import_runner
from brokercrm.kernel.errors import ValidationFailed
from brokercrm.imports import import_assessments

from conftest import HIGHEST, QUESTIONS, add_client, answers, write_csv

@pytest.fixture
def clients(db):
    for cid in ("C001", "C002", "C003"):
        add_client(db, cid)
    return db


def stored(db):
    cursor = db.execute("SELECT * FROM assessments ORDER BY id")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor]


def problems_of(db, actor, tmp_path, rows):
    with pytest.raises(ValidationFailed) as e:
        import_assessments(db, write_csv(tmp_path / "a.csv", rows), actor=actor)
    assert stored(db) == []
    return e.value.problems


def test_scores_levels_and_expiry(clients, actors, tmp_path):
    rows = [
        answers("C001", "2025-01-15"),
        answers("C002", "2024-02-29", **HIGHEST),
        answers("C003", "2025/3/1", q1="B", q2="B", q3="B", q9="ac"),  # 12 + 3 + 2 (q9 scores its highest: C)
    ]
    result = import_assessments(clients, write_csv(tmp_path / "a.csv", rows), actor=actors("op1"))
    assert (result.rows, result.inserted, result.rejected) == (3, 3, 0)
    a, b, c = stored(clients)
    assert (a["score"], a["level"], a["lowest_category"]) == (12, "C1", 1)
    assert a["expires_at"] == "2027-01-15" and a["answered_at"] == "2025-01-15"
    assert (b["score"], b["level"], b["lowest_category"]) == (48, "C5", 0)
    assert b["expires_at"] == "2026-02-28"  # 24 months after a leap day
    assert (c["score"], c["level"], c["lowest_category"]) == (17, "C1", 1)   # above the cut-off, but q5 = A: bear no loss
    assert c["answered_at"] == "2025-03-01"
    assert json.loads(c["answers"])["q9"] == "AC"
    assert a["policy_version"] == 1 and a["imported_at"].startswith("2026-06-30")


@pytest.mark.parametrize("total,level,lowest", [(15, "C1", 1), (16, "C1", 0), (19, "C1", 0), (20, "C2", 0),
                                                (27, "C3", 0), (34, "C4", 0), (41, "C5", 0)])
def test_level_edges(clients, admin, tmp_path, total, level, lowest):
    # Raise q1, q3, q9, q12 (5 options each) and then the others until the total is reached.
    sizes = dict(zip(QUESTIONS, [5, 4, 5, 4, 3, 4, 3, 3, 5, 4, 3, 5]))
    row, left = answers(), total - 12
    for q in QUESTIONS:
        step = min(left, sizes[q] - 1)
        row[q] = chr(ord("A") + step)
        left -= step
    import_assessments(clients, write_csv(tmp_path / "a.csv", [row]), actor=admin)
    got = stored(clients)[0]
    # Issue 11: q5 = A ("bear no loss", questionnaire.toml) is lowest category whatever the total.
    assert (got["score"], got["level"], got["lowest_category"]) == (total, level, int(lowest or row["q5"] == "A"))


def test_chinese_headers(clients, admin, tmp_path):
    header = ["客户号", "测评日期"] + [f"第{i}题" for i in range(1, 13)] + ["测评渠道", "客户确认"]
    path = tmp_path / "a.csv"
    with open(path, "w", newline="", encoding="gbk") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerow(["C001", "2025-01-15"] + ["A"] * 12 + ["柜台", "是"])
    assert import_assessments(clients, path, actor=admin).inserted == 1


def test_client_must_exist(clients, admin, tmp_path):
    problems = problems_of(clients, admin, tmp_path, [answers("C001"), answers("NOPE")])
    assert len(problems) == 1 and ":3:client_id:" in problems[0] and "NOPE" in problems[0]


@pytest.mark.parametrize("value,why", [("2025-02-30", "不是有效日期"), ("soon", "不是有效日期"),
                                       ("2026-07-01", "晚于今天"), ("", "必填")])
def test_answered_at(clients, admin, tmp_path, value, why):
    problems = problems_of(clients, admin, tmp_path, [answers(answered_at=value)])
    assert ":2:answered_at:" in problems[0] and why in problems[0]


@pytest.mark.parametrize("question,value,why", [
    ("q1", "F", "不存在"), ("q5", "D", "不存在"), ("q2", "AB", "单选"), ("q3", "", "未作答"),
    ("q9", "AA", "重复"), ("q9", "AZ", "不存在"),
])
def test_each_answer_valid_for_its_question(clients, admin, tmp_path, question, value, why):
    problems = problems_of(clients, admin, tmp_path, [answers(**{question: value})])
    assert f":2:{question}:" in problems[0] and why in problems[0]


def test_missing_question_column(clients, admin, tmp_path):
    row = answers()
    del row["q12"]
    assert ":2:q12:" in problems_of(clients, admin, tmp_path, [row])[0]


def test_same_client_and_day_twice_in_one_file(clients, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(import_runner, "BATCH_SIZE", 1)  # the repeat spans batches
    rows = [answers("C001"), answers("C002"), answers("C001")]
    problems = problems_of(clients, admin, tmp_path, rows)
    assert len(problems) == 1 and ":4:client_id:" in problems[0] and "第 2 行" in problems[0]


def test_reimport_is_idempotent_and_corrections_supersede(clients, admin, tmp_path):
    import_assessments(clients, write_csv(tmp_path / "a.csv", [answers("C001"), answers("C002")]), actor=admin)
    again = import_assessments(clients, write_csv(tmp_path / "b.csv", [answers("C001"), answers("C002", q1="E")]),
                               actor=admin)
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 1)
    rows = stored(clients)
    assert len(rows) == 3 and rows[-1]["client_id"] == "C002" and rows[-1]["score"] == 16


def test_skip_invalid_and_rejects(clients, admin, tmp_path):
    rejects = tmp_path / "rej.csv"
    rows = [answers("C001"), answers("NOPE"), answers("C002", q5="Z")]
    result = import_assessments(clients, write_csv(tmp_path / "a.csv", rows), actor=admin, skip_invalid=True,
                                rejects=rejects)
    assert (result.inserted, result.rejected) == (1, 2)
    got = list(csv.DictReader(rejects.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["client_id"] for r in got] == ["NOPE", "C002"]
    assert got[1]["reason"].startswith("q5: ")


def test_cli(run, db, tmp_path):
    add_client(db, "C001")
    path = write_csv(tmp_path / "a.csv", [answers("C001", **HIGHEST)])
    data = json.loads(run("import", "assessments", str(path), "--json").output)
    assert data["inserted"] == 1 and data["policy_version"] == 1
    bad = write_csv(tmp_path / "bad.csv", [answers("C001", q1="Q")])
    result = run("import", "assessments", str(bad), ok=False)
    assert result.exit_code != 0 and f"{bad}:2:q1:" in result.output


def test_branch_operator_imports_only_its_own_branchs_clients(clients, actors, tmp_path):
    add_client(clients, "B001", branch="BJ01")
    ty = actors("ty", branch="TY01")
    problems = problems_of(clients, ty, tmp_path, [answers("C001"), answers("B001")])
    assert len(problems) == 1 and ":3:client_id:" in problems[0] and "BJ01" in problems[0]
    assert import_assessments(clients, write_csv(tmp_path / "own.csv", [answers("C001")]), actor=ty).inserted == 1
