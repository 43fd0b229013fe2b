"""The synthetic client book: valid identities, survey-shaped distributions, determinism, streaming."""

import collections
import csv
import datetime as dt
import types

import pytest

from brokercrm.demo import synth
from brokercrm.kernel import validate
from brokercrm.kernel.db import connect
from brokercrm.policy.sets import publish_defaults
from brokercrm.policy.questionnaire import Questionnaire

TODAY = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def sample():
    return list(synth.book(4000, seed=7, today=TODAY))


def _age(birth, today=TODAY):
    b = dt.date.fromisoformat(birth)
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def test_every_identity_is_valid(sample):
    ids = set()
    for client, _ in sample:
        assert client["client_id"] not in ids
        ids.add(client["client_id"])
        assert validate.mobile(client["phone"]) is None, client["phone"]
        assert client["branch_id"] in synth.BRANCHES
        if client["kind"] == "individual":
            assert validate.resident_id(client["id_number"]) is None, client["id_number"]
            assert validate.id_birth_date(client["id_number"]) == client["birth_date"]
            assert 2 <= len(client["name"]) <= 4
        else:
            assert client["kind"] == "institution"
            assert validate.credit_code(client["id_number"]) is None, client["id_number"]
            assert client["name"].endswith(("公司", "企业"))
        assert client["total_assets"] >= 0 and client["turnover_rate"] >= 0
        assert client["avg_holding_days"] >= 1
        assert client["opened_at"] <= TODAY.isoformat()


def test_area_codes_follow_the_branch_city(sample):
    home = 0
    individuals = [c for c, _ in sample if c["kind"] == "individual"]
    for c in individuals:
        if c["id_number"][:6] in synth.BRANCHES[c["branch_id"]][2]:
            home += 1
        else:
            assert c["id_number"][:6] in synth.OTHER_AREAS
    assert home / len(individuals) > 0.75


def test_distributions_follow_the_survey(sample):
    individuals = [c for c, _ in sample if c["kind"] == "individual"]
    n = len(individuals)
    ages = collections.Counter()
    for c in individuals:
        a = _age(c["birth_date"])
        ages["<30" if a < 30 else "30-45" if a < 45 else "45-65" if a < 65 else ">65"] += 1
    for band, share in {"<30": 0.18, "30-45": 0.49, "45-65": 0.26, ">65": 0.07}.items():
        assert abs(ages[band] / n - share) < 0.03, (band, ages[band] / n)
        assert all(_age(c["birth_date"]) >= 18 for c in individuals)
    edu = collections.Counter(c["education"] for c in individuals)
    for level, share in {"大专": 0.40, "本科": 0.28, "中专": 0.23, "初中及以下": 0.06, "硕士": 0.03}.items():
        assert abs(edu[level] / n - share) < 0.03, (level, edu[level] / n)
    institutions = len(sample) - n
    assert 0.015 < institutions / len(sample) < 0.05
    branches = collections.Counter(c["branch_id"] for c, _ in sample)
    assert set(branches) == {"TY01", "BJ01", "SH01"}
    assert min(branches.values()) / len(sample) > 0.2


def test_every_class_of_the_grid_appears(db_path, admin):
    """Classify a generated book with the real policy: all eleven classes are populated."""
    from brokercrm.classify.engine import classify

    db = connect(db_path)
    cols = synth.CLIENT_COLUMNS
    rows = []
    for c in synth.clients(5000, seed=3, today=TODAY):
        r = dict(c)
        for k in ("birth_date", "occupation", "education"):
            r[k] = r[k] or None
        rows.append([r[k] for k in cols] + ["x", "x"])
    with db.atomic():
        db.execute("DELETE FROM clients")
        db.conn.executemany(
            f"INSERT INTO clients ({', '.join(cols)}, created_at, updated_at) VALUES ({', '.join('?' * (len(cols) + 2))})",
            rows,
        )
    classify(db, actor=admin, today=TODAY)
    classes = dict(db.execute("SELECT class, count(*) FROM classifications GROUP BY class").fetchall())
    order = publish_defaults(db, admin)["classification"]["grid"]["order"]
    assert set(classes) == set(order), classes
    habits = {h for (h,) in db.execute("SELECT DISTINCT habit FROM classifications")}
    assert {"short", "swing", "value"} <= habits
    tiers = {t for (t,) in db.execute("SELECT DISTINCT tier FROM classifications")}
    assert {"bronze", "silver", "gold", "diamond"} <= tiers
    assert len(tiers & {"small", "medium", "large"}) >= 2
    db.close()


def test_attitude_drives_the_questionnaire(db_path, admin, sample):
    db = connect(db_path)
    q = Questionnaire(publish_defaults(db, admin)["questionnaire"])
    db.close()
    assessed = [(c, a) for c, a in sample if a is not None]
    assert 0.80 < len(assessed) / len(sample) < 0.90
    levels = collections.Counter()
    for _, a in assessed:
        norm = {}
        for qid in q.ids:
            letters, error = q.check_answer(qid, a[qid])
            assert error is None, (qid, a[qid], error)
            norm[qid] = letters
        levels[q.score(norm).level] += 1
    assert set(levels) == {"C1", "C2", "C3", "C4", "C5"}
    # Steady is the commonest attitude in the survey (46%), aggressive the rarest (2%).
    assert levels["C3"] > levels["C5"] and levels["C1"] > levels["C5"]
    assert any(len(a["q9"]) > 1 for _, a in assessed), "q9 is multiple choice"
    dates = [a["answered_at"][:10] for _, a in assessed]
    old = sum(d < (TODAY - dt.timedelta(days=730)).isoformat() for d in dates)
    assert 0 < old < len(dates) * 0.2, "some assessments have expired, most have not"


def test_attitude_drives_turnover():
    people = list(synth.people(6000, seed=11, today=TODAY))
    by = collections.defaultdict(list)
    for p in people:
        by[p.attitude].append(p.row["turnover_rate"])
    median = {k: sorted(v)[len(v) // 2] for k, v in by.items()}
    assert median["no_risk"] < median["conservative"] < median["steady"] < median["aggressive"]


def test_deterministic_by_seed():
    a = list(synth.book(200, seed=5, today=TODAY))
    b = list(synth.book(200, seed=5, today=TODAY))
    c = list(synth.book(200, seed=6, today=TODAY))
    assert a == b
    assert a != c


def test_streams():
    gen = synth.clients(10 ** 9, today=TODAY)
    assert isinstance(gen, types.GeneratorType)
    first = next(gen)
    assert first["client_id"]


@pytest.mark.parametrize("encoding,chinese", [("utf-8", False), ("gbk", True)])
def test_write_csv_as_a_branch_export(tmp_path, encoding, chinese):
    cpath, apath = tmp_path / "clients.csv", tmp_path / "assessments.csv"
    ticks = []
    n_clients, n_assess = synth.write_book(cpath, apath, 2500, seed=1, today=TODAY, encoding=encoding,
                                           chinese_headers=chinese, progress=ticks.append)
    assert n_clients == 2500 and sum(ticks) == 2500
    with open(cpath, newline="", encoding=encoding) as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header[0] == ("客户号" if chinese else "client_id")
    assert len(rows) == 2501
    expected = list(synth.clients(2500, seed=1, today=TODAY))
    assert rows[1][2] == expected[0]["name"]
    assert rows[1][3] == expected[0]["id_number"]
    with open(apath, newline="", encoding="utf-8") as f:
        arows = list(csv.DictReader(f))
    assert len(arows) == n_assess
    assert set(arows[0]) == set(synth.ASSESSMENT_COLUMNS)
    if encoding == "gbk":
        with pytest.raises(UnicodeDecodeError):
            cpath.read_text(encoding="utf-8")


def test_writers_accept_any_iterable(tmp_path):
    path = tmp_path / "c.csv"
    assert synth.write_clients_csv(path, synth.clients(10, today=TODAY)) == 10
    apath = tmp_path / "a.csv"
    assert synth.write_assessments_csv(apath, [None, {"client_id": "1", "answered_at": "2026-01-01",
                                                       **{f"q{i}": "A" for i in range(1, 13)}}]) == 1
