"""The risk questionnaire: validating the policy and scoring answers.

Source: seeds/001 appendix 1 (客户风险承受能力调查表). The seed gives no
scores; scores and level cut-offs are head-office policy.
"""

from dataclasses import dataclass

from ..kernel.checks import array, number, table, text, unique_text
from ..kernel.errors import PolicyError


def validate(doc):
    questions = array(doc, "questions", "")
    seen = set()
    for i, q in enumerate(questions):
        where = f"questions[{i}]"
        unique_text(q, "id", where, seen, ("题号", "question id"))
        text(q, "text", where)
        options = array(q, "options", where)
        if len(options) > 26:
            raise PolicyError(f"{where}.options: 选项过多 (at most 26 options)")
        if "scores" in q:
            scores = array(q, "scores", where)
            if len(scores) != len(options) or not all(isinstance(s, int) for s in scores):
                raise PolicyError(f"{where}.scores: 须为与选项等长的整数列表 (one integer per option)")
    levels = array(doc, "levels", "")
    previous = None
    for i, lv in enumerate(levels):
        text(lv, "level", f"levels[{i}]")
        low = number(lv, "min", f"levels[{i}]", minimum=None)
        if previous is not None and low <= previous:
            raise PolicyError(f"levels[{i}].min: 须严格递增 (levels must ascend), {low} ≤ {previous}")
        previous = low
    months = number(table(doc, "validity", ""), "months", "validity", minimum=1)
    if int(months) != months:
        raise PolicyError("validity.months: 须为整数 (must be a whole number of months)")
    lowest = table(doc, "lowest_category", "")
    number(lowest, "max_score", "lowest_category", minimum=None)
    by_id = {q["id"]: q for q in questions}
    for i, item in enumerate(lowest.get("no_loss", [])):
        where = f"lowest_category.no_loss[{i}]"
        qid = text(item, "question", where)
        if qid not in by_id:
            raise PolicyError(f"{where}.question: 题号 {qid!r} 不存在 (no such question)")
        options = array(item, "options", where)
        allowed = {chr(ord("A") + k) for k in range(len(by_id[qid]["options"]))}
        if not options or any(o not in allowed for o in options):
            raise PolicyError(f"{where}.options: 须为本题选项字母 {'/'.join(sorted(allowed))} (option letters)")
    # Issue 11: answers → the client's objective / horizon / wanted kinds (codes are the
    # suitability policy's; that policy checks them when it compiles the mapping).
    for key, item in (doc.get("profile") or {}).items():
        where = f"profile.{key}"
        if key not in ("objective", "horizon", "kinds") or not isinstance(item, dict):
            raise PolicyError(f"{where}: 须为 objective/horizon/kinds 之一的表 (unknown profile entry)")
        qid = text(item, "question", where)
        if qid not in by_id:
            raise PolicyError(f"{where}.question: 题号 {qid!r} 不存在 (no such question)")
        if key != "kinds" and by_id[qid].get("multiple"):
            raise PolicyError(f"{where}.question: {qid} 为多选题, 投资目标/期限须取自单选题 (must be single choice)")
        allowed = {chr(ord("A") + k) for k in range(len(by_id[qid]["options"]))}
        answers = table(item, "answers", where)
        if any(letter not in allowed for letter in answers):
            raise PolicyError(f"{where}.answers: 须为本题选项字母 {'/'.join(sorted(allowed))} (option letters)")


@dataclass
class Scored:
    score: int
    level: str
    lowest_category: bool
    lowest_reasons: tuple = ()   # why lowest category: the score cut-off, a "bear no loss" answer


class Questionnaire:
    """Scores answers under one validated questionnaire policy."""

    def __init__(self, doc):
        self.doc = doc
        self.questions = doc["questions"]
        self.ids = [q["id"] for q in self.questions]
        self.levels = doc["levels"]
        self.validity_months = int(doc["validity"]["months"])
        self.lowest_max = doc["lowest_category"]["max_score"]
        self.no_loss = [(n["question"], set(n["options"])) for n in doc["lowest_category"].get("no_loss", [])]

    def check_answer(self, qid, raw):
        """Normalise one answer to upper-case letters; return (letters, error)."""
        q = self.questions[self.ids.index(qid)]
        letters = "".join(str(raw or "").split()).upper().replace(",", "").replace("，", "")
        if not letters:
            return None, "未作答 (no answer)"
        allowed = {chr(ord("A") + i) for i in range(len(q["options"]))}
        bad = [ch for ch in letters if ch not in allowed]
        if bad:
            return None, f"选项 {''.join(bad)} 不存在, 本题可选 {'/'.join(sorted(allowed))} (no such option)"
        if len(letters) > 1 and not q.get("multiple"):
            return None, "本题为单选 (single choice only)"
        if len(set(letters)) != len(letters):
            return None, "选项重复 (option repeated)"
        return "".join(sorted(letters)), None

    def score(self, answers):
        """``answers`` maps question id to normalised letters; returns Scored."""
        total = 0
        for q in self.questions:
            scores = q.get("scores") or list(range(1, len(q["options"]) + 1))
            total += max(scores[ord(ch) - ord("A")] for ch in answers[q["id"]])
        level = self.levels[0]["level"]
        for lv in self.levels:
            if total >= lv["min"]:
                level = lv["level"]
        reasons = []
        if total <= self.lowest_max:
            reasons.append(f"问卷总分 {total} ≤ 最低类别线 {self.lowest_max} (score at or below the lowest-category cut-off)")
        for qid, options in self.no_loss:
            chosen = set(answers.get(qid, "")) & options
            if chosen:
                reasons.append(f"问卷 {qid} 答 {''.join(sorted(chosen))}: 不愿或不能承受任何损失"
                               " (unwilling or unable to bear any loss)")
        return Scored(total, level, bool(reasons), tuple(reasons))
