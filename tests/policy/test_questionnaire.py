import pytest

from brokercrm.policy.sets import current
from brokercrm.policy.questionnaire import Questionnaire


@pytest.fixture
def q(db):
    return Questionnaire(current(db)["questionnaire"])


def answers_for_total(q, total):
    """Answers whose default scores add up to ``total`` (12..48)."""
    maxima = [len(x["options"]) for x in q.questions]
    picks = [1] * len(maxima)
    remaining = total - len(maxima)
    for i, top in enumerate(maxima):
        step = min(top - 1, remaining)
        picks[i] += step
        remaining -= step
    assert remaining == 0
    return {qid: chr(ord("A") + p - 1) for qid, p in zip(q.ids, picks)}


def test_twelve_questions_from_the_seed(q):
    assert q.ids == [f"q{i}" for i in range(1, 13)]
    assert q.questions[0]["text"].startswith("如果您现在有一笔闲散资金")
    assert q.questions[8].get("multiple") is True


def test_totals_run_12_to_48(q):
    assert q.score({qid: "A" for qid in q.ids}).score == 12
    top = {x["id"]: chr(ord("A") + len(x["options"]) - 1) for x in q.questions}
    assert q.score(top).score == 48


@pytest.mark.parametrize(
    "total, level, lowest",
    [
        (12, "C1", True), (15, "C1", True), (16, "C1", False), (19, "C1", False),
        (20, "C2", False), (26, "C2", False), (27, "C3", False), (33, "C3", False),
        (34, "C4", False), (40, "C4", False), (41, "C5", False), (48, "C5", False),
    ],
)
def test_level_edges(q, total, level, lowest):
    given = answers_for_total(q, total)
    scored = q.score(given)
    # Issue 11: q5 = A ("bear no loss", questionnaire.toml) is lowest category whatever the total.
    assert (scored.score, scored.level, scored.lowest_category) == (total, level, lowest or given["q5"] == "A")


def test_multiple_choice_scores_highest_option(q):
    base = {qid: "A" for qid in q.ids}
    assert q.score({**base, "q9": "AC"}).score == 12 + 2
    assert q.score({**base, "q9": "ACE"}).score == 12 + 4


@pytest.mark.parametrize(
    "qid, raw, error",
    [
        ("q5", "D", "选项 D 不存在"),     # q5 has three options
        ("q1", "AB", "单选"),            # single choice
        ("q9", "AA", "重复"),
        ("q1", "", "未作答"),
    ],
)
def test_bad_answers_are_named(q, qid, raw, error):
    letters, problem = q.check_answer(qid, raw)
    assert letters is None and error in problem


def test_answers_are_normalised(q):
    assert q.check_answer("q9", " c,a ") == ("AC", None)
