"""Importing filled risk questionnaires (seeds/001 appendix 1: 客户风险承受能力调查表).

Each row is one client's answers on one day: ``client_id, answered_at, q1 … q12``
(q9 is multiple choice: ``AC``). Answers are scored under the questionnaire
policy in force; the row stores the answers, score, level, lowest-category
flag, policy version, the day it was answered and ``expires_at`` — the first
day it is no longer valid (answered + the policy's validity in months).

Same contract as the client import: all or nothing, ``file:row:column:
reason``, ``skip_invalid`` with a rejects CSV, one transaction, batches.
Re-importing the same answers for the same client and day changes nothing;
different answers for that day add a new row that supersedes the old one
(the latest row wins; the old one stays as history).

Issue 11 item 3: a row records its ``channel`` (柜台/网上/手机/电话/视频; blank:
not recorded) and whether the client acknowledged (signed) the result —
``acknowledged`` 是/否 or the day signed, or an ``ack_ref`` to the signed form. An unacknowledged result is stored but
does not count for matching (``suitability.engine``): the client is treated as
having no valid assessment until a row with the acknowledgement is imported.
Only an operator allowed ``assessment.import`` for the client's branch imports.
"""

import datetime as dt
import json
from functools import lru_cache

from ..policy import sets as policy
from ..kernel import validate
from ..kernel.errors import NO_SUCH_CLIENT
from ..kernel.rows import chunks
from .runner import run_import
from ..policy.questionnaire import Questionnaire
from ..kernel.timeutil import add_months, now_iso, today

BASE_ALIASES = {
    "客户号": "client_id", "客户编号": "client_id", "测评日期": "answered_at", "答题日期": "answered_at",
    "测评时间": "answered_at",
    # Issue 11 item 3: how the assessment was taken and the client's acknowledgement of the result
    # (seed 001 appendix: the client signs the result, 客户确认).
    "测评渠道": "channel", "渠道": "channel", "测评方式": "channel", "客户确认": "acknowledged", "确认": "acknowledged",
    "是否确认": "acknowledged", "客户签字确认": "acknowledged", "确认结果": "acknowledged",
    "acknowledgement": "acknowledged", "acknowledged_at": "acknowledged", "confirmed": "acknowledged",
    "client_acknowledged": "acknowledged", "确认日期": "acknowledged",
    "确认书编号": "ack_ref", "确认编号": "ack_ref", "acknowledgement_ref": "ack_ref",
}
CHANNELS = {  # spelling → stored value
    "柜台": "柜台", "counter": "柜台", "网上": "网上", "网上交易": "网上", "online": "网上", "手机": "手机",
    "app": "手机", "移动端": "手机", "电话": "电话", "phone": "电话", "视频": "视频", "video": "视频",
}
YES = {"是", "已确认", "确认", "y", "yes", "true", "1", "已签字"}
NO = {"否", "未确认", "n", "no", "false", "0", ""}


def aliases(question_ids):
    """Header aliases: the Chinese names above, plus 第1题 / 题1 / Q1 for each question."""
    result = dict(BASE_ALIASES)
    for i, qid in enumerate(question_ids, start=1):
        for spelling in (f"第{i}题", f"题{i}", f"问题{i}", f"Q{i}"):
            result[spelling] = qid
    return result


@lru_cache(maxsize=1 << 14)
def _day(text):
    """ISO date of a date or date-time cell, else None."""
    day = validate.parse_date(text)
    if day is None:
        moment = validate.parse_datetime(text)
        day = moment.date() if moment else None
    return day.isoformat() if day else None


@lru_cache(maxsize=1 << 14)
def _expiry(day_iso, months):
    return add_months(dt.date.fromisoformat(day_iso), months).isoformat()


class _Checker:
    def __init__(self, questionnaire, today_iso):
        self.q = questionnaire
        self.today_iso = today_iso
        self.months = questionnaire.validity_months
        # Answers repeat a lot (five letters, twelve questions): cache the normalisation.
        self._answer = lru_cache(maxsize=4096)(questionnaire.check_answer)

    def check(self, row):
        """(record, problems) for one row; record holds answers and the score."""
        problems = []
        client_id = row.get("client_id", "")
        if not client_id:
            problems.append(("client_id", "必填 (required)"))
        raw_day = row.get("answered_at", "")
        day = None
        if not raw_day:
            problems.append(("answered_at", "必填 (required)"))
        else:
            day = _day(raw_day)
            if day is None:
                problems.append(("answered_at", f"{raw_day!r} 不是有效日期 (not a real date)"))
            elif day > self.today_iso:
                problems.append(("answered_at", f"{day} 晚于今天 (in the future)"))
        answers = {}
        for qid in self.q.ids:
            letters, error = self._answer(qid, row.get(qid, ""))
            if error:
                problems.append((qid, error))
            else:
                answers[qid] = letters
        # A blank channel is stored as not recorded (files from before issue 11, branch plugins' own
        # files); a named one must be known.
        channel = row.get("channel", "").strip()
        if channel and channel.lower() not in CHANNELS:
            problems.append(("channel", f"{channel!r} 不是已知渠道 (unknown channel): "
                                        f"{'/'.join(dict.fromkeys(CHANNELS.values()))}"))
        ack = row.get("acknowledged", "").strip()
        ack_ref = row.get("ack_ref", "").strip() or None
        if ack.lower() in YES or (ack == "" and ack_ref) or (ack and _day(ack)):
            ack_state = "acknowledged"   # yes, a signed form's number, or the day it was signed
            ack_ref = ack_ref or (_day(ack) if ack and ack.lower() not in YES else None)
        elif ack.lower() in NO:
            ack_state = "unacknowledged"
        else:
            ack_state = None
            problems.append(("acknowledged", f"{ack!r} 须为 是/否 (yes/no: did the client sign the result?)"))
        record = {"client_id": client_id, "answered_at": day, "answers": answers,
                  "channel": CHANNELS.get(channel.lower()), "ack_state": ack_state, "ack_ref": ack_ref}
        if not problems:
            scored = self.q.score(answers)
            record.update(score=scored.score, level=scored.level, lowest_category=int(scored.lowest_category),
                          expires_at=_expiry(day, self.months))
        return record, problems


def _known_clients(db, ids):
    found = set()
    for chunk in chunks(ids, 900):
        found.update(r[0] for r in db.execute(
            f"SELECT client_id FROM clients WHERE client_id IN ({', '.join('?' * len(chunk))})", chunk))
    return found


def _stored(db, ids):
    """{(client_id, answered_at): (answers JSON, channel, ack_state, ack_ref) of the latest row} for these clients."""
    found = {}
    for chunk in chunks(ids, 900):
        for cid, day, *rest in db.execute(
            "SELECT client_id, answered_at, answers, channel, ack_state, ack_ref FROM assessments"
            f" WHERE client_id IN ({', '.join('?' * len(chunk))}) ORDER BY id",
            chunk,
        ):
            found[(cid, day)] = rest
    return found


def import_assessments(db, path, *, actor, skip_invalid=False, rejects=None, progress=False, sheet=None,
                       header_row=None):
    """Import risk assessments from a CSV/XLSX/JSON/NDJSON file; returns an ImportResult.

    All or nothing unless ``skip_invalid`` (bad rows then go to ``rejects``).
    """
    policies = policy.current(db)
    questionnaire = Questionnaire(policies["questionnaire"])
    checker = _Checker(questionnaire, today().isoformat())
    stamp = now_iso()

    def check(batch):
        checked = [checker.check(row) for _, row in batch]
        known = _known_clients(db, list({rec["client_id"] for rec, _ in checked if rec["client_id"]}))
        for rec, errors in checked:
            if rec["client_id"] and rec["client_id"] not in known:
                errors.insert(0, ("client_id", NO_SUCH_CLIENT.format(rec["client_id"])))
        return checked

    def key(rec):
        return f"{rec['client_id']}\t{rec['answered_at']}" if rec["client_id"] and rec["answered_at"] else None

    def repeat(first):
        return ("client_id", f"同一客户同一测评日期与第 {first} 行重复 (same client and day as row {first})")

    return run_import(
        db, path, "assessments", "测评 (assessments)", aliases(questionnaire.ids), check,
        lambda good, result: _write(db, good, policies.version, stamp, result), key,
        actor=actor, skip_invalid=skip_invalid, rejects=rejects, progress=progress,
        repeat=repeat, extra={"policy_version": policies.version}, sheet=sheet, header_row=header_row,
    )


def _write(db, records, version, stamp, result):
    if not records:
        return
    stored = _stored(db, list({r["client_id"] for r in records}))
    inserts = []
    for r in records:
        answers = json.dumps(r["answers"], separators=(",", ":"))
        previous = stored.get((r["client_id"], r["answered_at"]))
        mine = [r["answers"], r["channel"], r["ack_state"], r["ack_ref"]]
        if not result.tally(None if previous is None else [json.loads(previous[0]), *previous[1:]], mine):
            continue
        inserts.append((r["client_id"], answers, r["score"], r["level"], r["lowest_category"], version,
                        r["answered_at"], r["expires_at"], stamp, r["channel"], r["ack_state"], r["ack_ref"]))
    db.conn.executemany(
        "INSERT INTO assessments (client_id, answers, score, level, lowest_category, policy_version,"
        " answered_at, expires_at, imported_at, channel, ack_state, ack_ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        inserts,
    )
