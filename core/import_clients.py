"""Importing the client book from the trading system's export.

Every row is checked (source of the KYC rules: seeds/000, "verify, not just
collect"; issue 2 §4): required fields, the resident ID checksum (GB 11643)
and its birth date against ``birth_date``, the unified social credit code
checksum (GB 32100) for institutions, a mainland mobile number, real dates,
numbers ≥ 0, the branch exists, no client_id twice in one file. Branch
plugins add their own checks through ``row_validators``.

The whole import is one transaction. New clients emit ``account_opened``
(the 24-hour callback); a re-imported client is updated and every changed
field lands in ``client_changes``. A blank optional cell on re-import keeps
the value already held (an export that lacks a column does not erase it).
"""

import json
import math
from functools import lru_cache
from pathlib import Path

from . import audit, events, validate
from .import_report import BATCH_SIZE, ImportResult, Problems, Progress, Rejects, SeenKeys, batched, chunks
from .readers import read_rows
from .timeutil import now_iso, today

TEXT_FIELDS = ("name", "occupation", "education", "legal_representative", "business_scope")
NUMBER_FIELDS = (
    "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "investment_years", "net_assets",
)
# Stored columns besides client_id, in table order (extra is the JSON of unknown columns).
FIELDS = (
    "kind", "name", "id_number", "phone", "birth_date", "branch_id", "opened_at",
    "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "occupation", "education",
    "investment_years", "legal_representative", "business_scope", "net_assets", "extra",
)
KNOWN = frozenset(("client_id",) + FIELDS) - {"extra"}
REQUIRED = ("client_id", "kind", "name", "id_number", "branch_id")

ALIASES = {
    "客户号": "client_id", "客户编号": "client_id", "客户类型": "kind", "姓名": "name", "客户名称": "name",
    "身份证号": "id_number", "证件号码": "id_number", "统一社会信用代码": "id_number",
    "手机号": "phone", "手机号码": "phone", "联系电话": "phone", "出生日期": "birth_date",
    "营业部": "branch_id", "营业部代码": "branch_id", "开户日期": "opened_at", "总资产": "total_assets",
    "资产周转率": "turnover_rate", "平均持仓天数": "avg_holding_days", "年收入": "annual_income",
    "职业": "occupation", "学历": "education", "投资年限": "investment_years",
    "法定代表人": "legal_representative", "经营范围": "business_scope", "净资产": "net_assets",
}
KINDS = {
    "individual": "individual", "个人": "individual", "person": "individual",
    "institution": "institution", "机构": "institution", "organisation": "institution",
    "organization": "institution",
}

# A landline for institutions: area code, then 7–8 digits, optional extension.
_LANDLINE_DIGITS = frozenset("0123456789-")


@lru_cache(maxsize=1 << 16)
def _date(text):
    """ISO date for a real calendar date, else None (cached: exports repeat dates a lot)."""
    day = validate.parse_date(text)
    return day.isoformat() if day else None


def _resident_id(value):
    """Error text for a bad resident ID, never echoing its digits (they are personal data)."""
    if (len(value) == 18 and value[:17].isdigit() and value[17] in "0123456789X"
            and _date(value[6:14]) and validate.id_check_char(value[:17]) == value[17]):
        return None
    error = validate.resident_id(value)
    if error and "出生日期" in error:
        return "身份证号中的出生日期不是有效日期 (embedded birth date is not a real date)"
    return error


def _phone(value, kind):
    if len(value) == 11 and value.isdigit() and value[0] == "1" and value[1] in "3456789":
        return value, None
    if validate.mobile(value) is None:
        return validate.normalise_mobile(value), None
    digits = value.replace(" ", "")
    if kind == "institution" and digits[:1] == "0" and set(digits) <= _LANDLINE_DIGITS \
            and 10 <= len(digits.replace("-", "")) <= 12:
        return digits, None
    if kind == "institution":
        return None, "须为手机号或区号开头的固定电话 (must be a mobile or a landline with area code)"
    return None, validate.mobile(value)


def _number(value):
    try:
        number = float(value)
    except ValueError:
        return validate.non_negative(value)
    if number >= 0 and not math.isinf(number):
        return number, None
    return validate.non_negative(value)


def check_row(row, branches, today_iso):
    """Normalise one row; returns (record, problems) with problems as [(column, reason)]."""
    problems = []
    get = row.get
    for column in REQUIRED:
        if not get(column):
            problems.append((column, "必填 (required)"))
    record = {"client_id": get("client_id", "")}
    kind = get("kind", "")
    if kind:
        kind = KINDS.get(kind.lower())
        if kind is None:
            problems.append(("kind", "须为 individual/个人 或 institution/机构 (unknown client kind)"))
    record["kind"] = kind or None
    for column in TEXT_FIELDS:
        record[column] = get(column) or None

    birth = get("birth_date", "")
    if birth:
        birth = _date(birth)
        if birth is None:
            problems.append(("birth_date", "不是有效日期 (not a real date, use YYYY-MM-DD)"))
        elif birth > today_iso:
            problems.append(("birth_date", "晚于今天 (in the future)"))
    id_number = get("id_number", "").upper()
    if id_number and kind == "individual":
        error = _resident_id(id_number)
        if error:
            problems.append(("id_number", error))
        else:
            embedded = _date(id_number[6:14])
            if not get("birth_date"):
                birth = embedded
            elif birth and birth != embedded:
                problems.append(("birth_date", "与身份证号中的出生日期不一致 (does not match the ID number)"))
    elif id_number and kind == "institution":
        error = validate.credit_code(id_number)
        if error:
            problems.append(("id_number", error))
    record["id_number"] = id_number or None
    record["birth_date"] = birth or None

    phone = get("phone", "")
    if phone:
        phone, error = _phone(phone, kind)
        if error:
            problems.append(("phone", error))
    elif kind == "individual":
        problems.append(("phone", "个人客户必填 (required for individuals)"))
    record["phone"] = phone or None

    branch = get("branch_id", "").upper()
    if branch and branch not in branches:
        problems.append(("branch_id", f"营业部 {branch} 不存在 (no such branch)"))
    record["branch_id"] = branch or None

    opened = get("opened_at", "")
    if opened:
        opened = _date(opened)
        if opened is None:
            problems.append(("opened_at", f"{get('opened_at')!r} 不是有效日期 (not a real date)"))
        elif opened > today_iso:
            problems.append(("opened_at", f"{opened} 晚于今天 (in the future)"))
    record["opened_at"] = opened or None

    for column in NUMBER_FIELDS:
        value = get(column)
        if value:
            number, error = _number(value)
            if error:
                problems.append((column, error))
            record[column] = number
        else:
            record[column] = None
    extra = {k: v for k, v in row.items() if k not in KNOWN and k and v != ""}
    record["extra"] = extra or None
    return record, problems


def _existing(db, ids):
    """Stored rows for these client_ids: one IN query per batch."""
    found = {}
    cols = ", ".join(f"[{c}]" for c in FIELDS)
    for chunk in chunks(ids, 900):
        cursor = db.execute(
            f"SELECT client_id, {cols} FROM clients WHERE client_id IN ({', '.join('?' * len(chunk))})", chunk
        )
        for row in cursor:
            found[row[0]] = dict(zip(FIELDS, row[1:]))
    return found


def _text(value):
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _merge(old, new):
    """The row to store and [(field, old, new)] that changed; blank cells keep old values."""
    merged, changes = {}, []
    for f in FIELDS:
        if f == "extra":
            old_extra = json.loads(old["extra"]) if old["extra"] else {}
            value = {**old_extra, **(new["extra"] or {})} or None
            value = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None
        else:
            value = new[f] if new[f] is not None else old[f]
        merged[f] = value
        if value != old[f]:
            changes.append((f, _text(old[f]), _text(value)))
    return merged, changes


class _ClientWriter:
    """Writes one batch of checked rows: inserts, updates, change records, events."""

    INSERT = (
        f"INSERT INTO clients (client_id, {', '.join(FIELDS)}, created_at, updated_at)"
        f" VALUES ({', '.join('?' * (len(FIELDS) + 3))})"
    )
    UPDATE = f"UPDATE clients SET {', '.join(f'[{f}] = ?' for f in FIELDS)}, updated_at = ? WHERE client_id = ?"

    def __init__(self, db, source, operator, result):
        self.db, self.source, self.operator, self.result = db, source, operator, result
        self.stamp = now_iso()

    def write(self, records):
        if not records:
            return
        existing = _existing(self.db, [r["client_id"] for r in records])
        inserts, updates, changes, opened = [], [], [], []
        stamp = self.stamp
        for r in records:
            old = existing.get(r["client_id"])
            if old is None:
                extra = r["extra"]
                r["extra"] = json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None
                inserts.append([r["client_id"], *(r[f] for f in FIELDS), stamp, stamp])
                at = f"{r['opened_at']}T00:00:00+08:00" if r["opened_at"] else stamp
                opened.append((r["client_id"], at, r["branch_id"]))
                continue
            merged, changed = _merge(old, r)
            if not changed:
                self.result.unchanged += 1
                continue
            updates.append([*(merged[f] for f in FIELDS), stamp, r["client_id"]])
            changes += [(r["client_id"], f, o, n, self.source, self.operator, stamp) for f, o, n in changed]
        conn = self.db.conn
        if inserts:
            conn.executemany(self.INSERT, inserts)
        if updates:
            conn.executemany(self.UPDATE, updates)
        if changes:
            conn.executemany(
                "INSERT INTO client_changes (client_id, field, old_value, new_value, source, operator, changed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                changes,
            )
        self._opened(opened)
        self.result.inserted += len(inserts)
        self.result.updated += len(updates)

    def _opened(self, opened):
        """``account_opened`` for each new client, inside the import's transaction.

        Listeners (the task engine) need one call per event; without listeners
        the events are inserted in one executemany, so 1M new clients do not
        cost 1M Python round trips.
        """
        if not opened:
            return
        if events.LISTENERS:
            for client_id, at, branch in opened:
                events.emit(self.db, "account_opened", client_id, at=at,
                            detail={"source": self.source, "branch_id": branch}, operator=self.operator)
            return
        self.db.conn.executemany(
            "INSERT INTO events (kind, client_id, at, detail, operator) VALUES ('account_opened', ?, ?, ?, ?)",
            [(cid, at, json.dumps({"source": self.source, "branch_id": branch}, ensure_ascii=False),
              self.operator) for cid, at, branch in opened],
        )


def import_clients(db, path, *, skip_invalid=False, rejects=None, operator=None, progress=False,
                   row_validators=None):
    """Import clients from a CSV/XLSX/JSON/NDJSON file; returns an ImportResult.

    All or nothing: any bad row raises ValidationFailed listing
    ``file:row:column: reason`` and leaves the database unchanged. With
    ``skip_invalid`` the good rows are imported and the bad ones written to
    ``rejects`` (a CSV) with their reasons.

    ``row_validators``: callables ``fn(rows) -> [(index, column, reason)]``
    called once per batch with the rows that passed the core checks (values
    normalised: numbers as float, dates ISO, extra columns as text); ``index``
    is the position in that list. Their problems join the report.
    """
    path = Path(path)
    source = path.name
    result = ImportResult("clients", str(path))
    problems = Problems(str(path))
    spool = Rejects(rejects if skip_invalid else None)
    branches = {row[0] for row in db.execute("SELECT code FROM branches")}
    today_iso = today().isoformat()
    validators = list(row_validators or [])
    rows = read_rows(path, ALIASES)
    bar = Progress(path, progress, f"导入客户 {source}")
    seen = SeenKeys(db)
    writer = _ClientWriter(db, source, operator, result)
    try:
        with db.atomic():
            for batch in batched(rows, BATCH_SIZE):
                result.rows += len(batch)
                checked = [check_row(row, branches, today_iso) for _, row in batch]
                repeats = seen.repeats([(rec["client_id"], n) for (n, _), (rec, _) in zip(batch, checked)
                                        if rec["client_id"]])
                for i, (n, _) in enumerate(batch):
                    if n in repeats:
                        checked[i][1].append(("client_id", f"与第 {repeats[n]} 行重复 (repeats row {repeats[n]})"))
                if validators:
                    _run_validators(validators, checked)
                good = []
                for (n, row), (record, errors) in zip(batch, checked):
                    if errors:
                        problems.add_row(n, errors)
                        spool.add(row, errors)
                    else:
                        good.append(record)
                # Once a file is known bad (and not skipping), keep checking but stop writing.
                if skip_invalid or not problems.total:
                    writer.write(good)
                bar.advance(batch)
            if problems.total and not skip_invalid:
                problems.fail("客户 (clients)")
            result.rejected = spool.count
            audit.record(db, "import.clients", operator=operator, target=source, detail=result.as_dict())
        result.rejects_file = spool.write()
    finally:
        bar.close()
        spool.close()
        seen.drop()
    return result


def _run_validators(validators, checked):
    """Branch plugins' extra KYC checks over the rows that passed the core checks."""
    positions = [i for i, (_, errors) in enumerate(checked) if not errors]
    if not positions:
        return
    rows = []
    for i in positions:
        record = checked[i][0]
        row = {**(record["extra"] or {}), **{k: v for k, v in record.items() if k != "extra"}}
        rows.append(row)
    for fn in validators:
        for index, column, reason in fn(rows) or ():
            checked[positions[index]][1].append((column, reason))
