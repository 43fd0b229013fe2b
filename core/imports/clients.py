"""Importing the client book from the trading system's export.

Every row is checked (source of the KYC rules: seeds/000, "verify, not just
collect"; issue 2 §4): required fields, the resident ID checksum (GB 11643)
and its birth date against ``birth_date``, the unified social credit code
checksum (GB 32100) for institutions, a mainland mobile number, real dates,
numbers ≥ 0, the branch exists, no client_id twice in one file. Branch
plugins add their own checks through ``row_validators``.

Reading and checking happen in ``clients_fast`` (in a forked worker for a
large file, see ``pipeline``); the full row rules (``check_row``) are in
``client_rows``; this module writes. The whole import is one transaction. New clients
emit ``account_opened``
(the 24-hour callback); a re-imported client is updated and every changed
field lands in ``client_changes``. A blank optional cell on re-import keeps
the value already held (an export that lacks a column does not erase it).
"""

import bisect
import datetime as dt
from array import array
import json

from ..trust import audit, authz
from ..kernel import events
from . import pipeline as import_pipeline
from . import policy as import_policy
from .client_rows import ALIASES, COLUMNS, FIELDS, IMPORTANT_FIELDS, KNOWN, Branches
from .clients_fast import KYC, SHORT, produce, widen
from ..kernel.errors import BrokerCRMError
from ..kernel.registry import registry
from ..staff import managers as staff_managers
from .report import ImportResult, Problems, Progress, Rejects, SeenKeys
from ..kernel.rows import chunks
from .readers import WORKBOOK_SUFFIXES, check_file
from ..kernel.timeutil import now_iso, today
from ..kernel.wal import deferred_checkpoint

IMPORT_CACHE_KIB = 64 * 1024


def _stored(db, ids):
    """{client_id: (rowid, stored row as {field: value})} for these client_ids: one IN query per 900."""
    found = {}
    cols = ", ".join(f"[{c}]" for c in FIELDS)
    for chunk in chunks(ids, 900):
        cursor = db.execute(
            f"SELECT client_id, rowid, {cols} FROM clients WHERE client_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        for row in cursor:
            found[row[0]] = (row[1], dict(zip(FIELDS, row[2:])))
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


class _RowNumbers:
    """File row numbers of the rows this import inserted, by rowid, kept as runs.

    Inserted rows get consecutive rowids and, in a clean file, consecutive row
    numbers too: one run covers the whole file. Memory grows only with the gaps
    (bad, blank or repeated rows), never with the number of clients.
    """

    def __init__(self):
        self.starts, self.firsts, self.lengths = array("q"), array("q"), array("q")

    def add(self, rowid, numbers):
        """The rows numbered ``numbers`` got rowids ``rowid``, ``rowid + 1``, …"""
        if not numbers:
            return
        # Row numbers only grow, so a batch whose first and last are len - 1 apart is one run:
        # the common case (a clean file) costs O(1), not a Python step per row.
        if numbers[-1] - numbers[0] == len(numbers) - 1:
            self._run(rowid, numbers[0], len(numbers))
            return
        i = 0
        while i < len(numbers):
            j = i + 1
            while j < len(numbers) and numbers[j] == numbers[j - 1] + 1:
                j += 1
            self._run(rowid + i, numbers[i], j - i)
            i = j

    def _run(self, start, first, length):
        if self.starts and self.starts[-1] + self.lengths[-1] == start \
                and self.firsts[-1] + self.lengths[-1] == first:
            self.lengths[-1] += length
        else:
            self.starts.append(start)
            self.firsts.append(first)
            self.lengths.append(length)

    def number(self, rowid):
        k = bisect.bisect_right(self.starts, rowid) - 1
        return self.firsts[k] + (rowid - self.starts[k])


def _repeat(first):
    return [("client_id", f"与第 {first} 行重复 (repeats row {first})")]


class _ClientWriter:
    """Writes one batch of checked rows: inserts, updates, change records, events.

    A client_id used twice in the file is found here: the second insert
    conflicts with the first. The first use wins; ``write`` returns the others.
    """

    UPDATE = f"UPDATE clients SET {', '.join(f'[{f}] = ?' for f in FIELDS)}, updated_at = ? WHERE client_id = ?"
    # account_opened for the rows this batch inserted, built by SQLite from the rows themselves.
    OPENED = (
        "INSERT INTO events (kind, client_id, at, detail, operator)"
        " SELECT 'account_opened', client_id, COALESCE(opened_at || 'T00:00:00+08:00', ?),"
        " json_object('source', ?, 'branch_id', branch_id), ? FROM clients WHERE rowid > ?"
        " AND (opened_at IS NULL OR opened_at >= ?) ORDER BY rowid"
    )
    # The same events from the batch's own tuples, when every row of it was inserted: the
    # rows are at hand, and reading them back cost the writer a scan of each batch (~1 s a million).
    OPENED_ROWS = (
        "INSERT INTO events (kind, client_id, at, detail, operator)"
        " VALUES ('account_opened', ?, COALESCE(? || 'T00:00:00+08:00', ?), json_object('source', ?, 'branch_id', ?), ?)"
    )
    _ID, _BRANCH, _OPENED = COLUMNS.index("client_id"), COLUMNS.index("branch_id"), COLUMNS.index("opened_at")

    def __init__(self, db, source, actor, result):
        self.db, self.source, self.operator, self.result = db, source, actor.id, result
        # A branch operator's import may not touch another branch's clients.
        self.own_branch = actor.branch if authz.scope(actor, "client.import") == authz.OWN else None
        self.stamp = now_iso()
        # The import's time as a literal: the rows go to executemany exactly as the worker built them.
        quoted = "'" + self.stamp.replace("'", "''") + "'"
        self.insert = (f"INSERT INTO clients (client_id, {', '.join(FIELDS)}, created_at, updated_at)"
                       f" VALUES ({', '.join('?' * (len(FIELDS) + 1))}, {quoted}, {quoted})"
                       " ON CONFLICT (client_id) DO NOTHING")
        # Rows without KYC data (issue 11) come short (clients_fast.widen): the KYC columns stay NULL.
        short = [f for f in FIELDS if f not in KYC]
        self.insert_short = (f"INSERT INTO clients (client_id, {', '.join(short)}, created_at, updated_at)"
                             f" VALUES ({', '.join('?' * (len(short) + 1))}, {quoted}, {quoted})"
                             " ON CONFLICT (client_id) DO NOTHING")
        self.listeners = registry().event_listeners
        self.news_since = (today() - dt.timedelta(days=events.OPENING_NEWS_DAYS)).isoformat()
        self.start = None           # max rowid before the import: older rows are re-imported clients
        self.numbers = _RowNumbers()
        self.updated = None         # SeenKeys of re-imported clients, made at the first one

    def write(self, rows, numbers, short=False):
        """Store one batch of checked rows, each the tuple (client_id, *FIELDS), from file rows ``numbers``.

        ``short``: the reader vouches that every row is short (no KYC data, ``clients_fast.widen``).
        Returns [(row number, stored tuple, first row number)] for the rows whose
        client_id an earlier row of the file already used; those are not stored.
        """
        if not rows:
            return []
        conn = self.db.conn
        before = conn.execute("SELECT COALESCE(max(rowid), 0) FROM clients").fetchone()[0]
        if self.start is None:
            self.start = before
        # New clients go straight in; a client stored before is skipped here (DO NOTHING) and
        # sorted out below. A fresh, clean book never pays for that look-up.
        if short or all(len(r) == SHORT for r in rows):
            inserted = conn.executemany(self.insert_short, rows).rowcount
        else:
            rows = [widen(r) for r in rows]
            inserted = conn.executemany(self.insert, rows).rowcount
        self.result.inserted += inserted
        repeats = []
        if inserted == len(rows):
            self.numbers.add(before + 1, numbers)
            if inserted:
                self._opened(before, rows)
        else:
            repeats = self._conflicts(rows, numbers, before)
            if inserted:
                self._opened(before)
        return repeats

    def _conflicts(self, rows, numbers, before):
        """Sort a batch's rows that did not insert: re-imported clients (updated) and repeats."""
        found = _stored(self.db, [r[0] for r in rows])
        new_numbers, first_here, repeats, old = [], {}, [], []
        for stored, n in zip(rows, numbers):
            key = stored[0]
            rowid = found[key][0]
            if rowid > before:            # inserted by this batch, by the first row using the key
                if key in first_here:
                    repeats.append((n, stored, first_here[key]))
                else:
                    first_here[key] = n
                    new_numbers.append(n)
            elif rowid > self.start:      # inserted by an earlier batch of this file
                repeats.append((n, stored, self.numbers.number(rowid)))
            elif self.own_branch is not None and found[key][1]["branch_id"] != self.own_branch:
                repeats.append((n, stored, [("client_id", (
                    f"客户 {key} 属于营业部 {found[key][1]['branch_id']}, 营业部 {self.own_branch} 的操作员无权修改或迁入;"
                    f" 跨营业部迁移须由总部办理 (another branch's client: a move between branches is head office's)"))]))
            else:
                old.append((stored, n))
        self.numbers.add(before + 1, new_numbers)
        if old:
            if self.updated is None:
                self.updated = SeenKeys(self.db)
            again = self.updated.repeats([(stored[0], n) for stored, n in old])
            repeats += [(n, stored, again[n]) for stored, n in old if n in again]
            pairs = []
            for r, n in old:
                if n not in again:
                    new = dict(zip(COLUMNS, widen(r)))
                    new["extra"] = json.loads(new["extra"]) if new["extra"] else None
                    pairs.append((new, found[r[0]][1]))
            self._update(pairs)
        return sorted(repeats, key=lambda r: r[0])

    def close(self):
        if self.updated is not None:
            self.updated.drop()

    def _update(self, pairs):
        """Re-imported clients: store what changed and record each change.

        A change to an important field (name, ID number, phone: seed 004's
        重要资料) is not applied: it becomes a pending reviewed change that a
        second person approves (``brokercrm changes approve``).
        """
        updates, changes, pending = [], [], []
        stamp = self.stamp
        for new, old in pairs:
            merged, changed = _merge(old, new)
            important = [(f, o, n) for f, o, n in changed if f in IMPORTANT_FIELDS]
            if important:
                for f, _, _ in important:
                    merged[f] = old[f]
                if any(f == "id_number" for f, _, _ in important):
                    merged["birth_date"] = old["birth_date"]  # follows the ID number once that is approved
                pending += [(new["client_id"], f, o, n_, "pending", self.operator, stamp,
                             f"导入 {self.source} (import)") for f, o, n_ in important]
                changed = [(f, o, n_) for f, o, n_ in changed
                           if f not in IMPORTANT_FIELDS and not (f == "birth_date" and merged[f] == old[f])]
            if not changed:
                self.result.unchanged += 1
                continue
            updates.append([*(merged[f] for f in FIELDS), stamp, new["client_id"]])
            changes += [(new["client_id"], f, o, n, self.source, self.operator, stamp) for f, o, n in changed]
        if pending:
            self.db.conn.executemany(
                "INSERT INTO data_changes (client_id, field, old_value, new_value, state, maker, requested_at, reason)"
                " SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM data_changes"
                " WHERE client_id = ?1 AND field = ?2 AND state = 'pending')",
                pending)
            self.result.extra["pending_changes"] = self.result.extra.get("pending_changes", 0) + len(pending)
        if updates:
            self.db.conn.executemany(self.UPDATE, updates)
        if changes:
            self.db.conn.executemany(
                "INSERT INTO client_changes (client_id, field, old_value, new_value, source, operator, changed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                changes,
            )
        self.result.updated += len(updates)

    def _opened(self, last_rowid, rows=None):
        """Emit ``account_opened`` for every client the batch inserted, inside the import's transaction.

        Events are recorded with one INSERT … SELECT (new rows have rowids above
        the batch's starting maximum), not one Python call per client; or, when ``rows`` are
        given (exactly the clients the batch inserted, in order), from those tuples. Listeners
        (the task engine) then get each event as ``events.emit`` would hand it
        over; a listener that carries a ``batch`` attribute, ``batch(db,
        events)``, gets the whole batch in one call instead.
        """
        conn = self.db.conn
        last_event = conn.execute("SELECT COALESCE(max(id), 0) FROM events").fetchone()[0]
        if rows is None:
            conn.execute(self.OPENED, [self.stamp, self.source, self.operator, last_rowid, self.news_since])
        else:
            since, at, source, operator = self.news_since, self.stamp, self.source, self.operator
            i, b, o = self._ID, self._BRANCH, self._OPENED
            conn.executemany(self.OPENED_ROWS, [(r[i], r[o], at, source, r[b], operator) for r in rows
                                                if r[o] is None or r[o] >= since])
        if not self.listeners:
            return
        source, operator = self.source, self.operator
        batch = [
            {"id": i, "kind": "account_opened", "client_id": c, "at": at,
             "detail": {"source": source, "branch_id": branch}, "operator": operator}
            for i, c, at, branch in conn.execute(
                "SELECT id, client_id, at, json_extract(detail, '$.branch_id') FROM events WHERE id > ? ORDER BY id",
                [last_event])
        ]
        for listener in self.listeners:
            many = getattr(listener, "batch", None)
            if many is not None:
                many(self.db, batch)
            else:
                for event in batch:
                    listener(self.db, event)


def import_clients(db, path, *, actor, skip_invalid=False, rejects=None, progress=False,
                   row_validators=None, row_enrichers=None, sheet=None, header_row=None):
    """Import clients from a CSV/XLSX/JSON/NDJSON file; returns an ImportResult.

    All or nothing: any bad row raises ValidationFailed listing
    ``file:row:column: reason`` and leaves the database unchanged. With
    ``skip_invalid`` the good rows are imported and the bad ones written to
    ``rejects`` (a CSV) with their reasons.

    ``row_validators``: callables ``fn(rows) -> [(index, column, reason)]``
    called once per batch with the rows that passed the core checks (values
    normalised: numbers as float, dates ISO, extra columns as text); ``index``
    is the position in that list. Their problems join the report.

    ``row_enrichers``: callables ``fn(rows) -> [(index, {column: value})]``
    called the same way after the validators; the values are kept in the
    client's extra columns. A standard column cannot be set this way.

    ``sheet`` (name or 1-based number) and ``header_row`` pick the sheet of a
    workbook and the header row of a table (``readers.table``).
    """
    path = check_file(path)  # a missing file or an unknown type fails here, before any work
    source = path.name
    result = ImportResult("clients", str(path))
    problems = Problems(str(path))
    spool = Rejects(rejects if skip_invalid else None)
    known = {row[0] for row in db.execute("SELECT code FROM branches")}
    own = actor.branch if authz.scope(actor, "client.import") == authz.OWN else None
    branches = Branches(known) if own is None else Branches({own} & known, {
        code: f"营业部 {own} 的操作员不能导入营业部 {code} 的客户 (a branch operator imports its own branch only)"
        for code in known - {own}})
    validators = list(row_validators or [])
    enrichers = list(row_enrichers or [])
    spec = import_policy.spec(db, "clients", extra_aliases=ALIASES)
    bar = Progress(path, progress, f"导入客户 {source}")
    writer = _ClientWriter(db, source, actor, result)
    managers = staff_managers.ImportAssignments(db, actor, source)
    # The rows as read travel with the checked ones only when a rejects file or a
    # validator may need them: a dict per row is a third of the reader's cost.
    keep_rows = bool(validators) or spool.enabled
    # A workbook is read in a worker of its own (read_workbook), so its rows are checked here.
    size = 0 if path.suffix.lower() in WORKBOOK_SUFFIXES else path.stat().st_size
    payloads = import_pipeline.run(produce, (path, spec, branches, today(), keep_rows, sheet, header_row),
                                   size=size)
    # New clients' events land at random places in the events(kind, at) index; a larger page
    # cache for the import keeps those inserts in memory (64 MB, well inside the 200 MB budget).
    cache_size = db.execute("PRAGMA cache_size").fetchone()[0]
    db.execute(f"PRAGMA cache_size = {min(cache_size, -IMPORT_CACHE_KIB)}")
    try:
        # The commit appends to the log only; the copy back into the database file runs on a
        # helper thread (kernel.wal): about a second at a million new clients.
        with deferred_checkpoint(db.conn), db.atomic():
            for payload in payloads:
                result.rows += payload["rows"]
                good, numbers, bad = payload["good"], payload["numbers"], payload["bad"]
                if good and not payload.get("plain"):  # "plain": no row has extra columns, so no manager
                    good, numbers, rejected = _take_managers(managers, good, numbers, payload["good_rows"])
                    bad = bad + rejected
                if validators and good:
                    good, numbers, rejected = _run_validators(validators, good, numbers, payload["good_rows"])
                    bad = bad + rejected
                if enrichers and good:
                    good = _run_enrichers(enrichers, good)
                # Written even once the file is known bad (everything is rolled back then):
                # a repeated client_id is found by its insert, and every problem is listed.
                repeats = writer.write(good, numbers, payload.get("short", False))
                if repeats:
                    # The rows as read travel whenever a rejects file will show them (keep_rows).
                    read = dict(payload["good_rows"])
                    bad += [(n, read.get(n), _repeat(first) if isinstance(first, int) else first)
                            for n, stored, first in repeats]
                for n, row, errors in sorted(bad, key=lambda item: item[0]):
                    problems.add_row(n, errors)
                    spool.add(row, errors)
                managers.drop(n for n, _, _ in bad)
                managers.apply()
                bar.advance(payload["size"])
            if problems.total and not skip_invalid:
                problems.fail("客户 (clients)")
            result.rejected = spool.count
            audit.record(db, "import.clients", actor=actor, target=source, detail=result.as_dict())
        result.rejects_file = spool.write()
    finally:
        payloads.close()
        writer.close()
        bar.close()
        spool.close()
        db.execute(f"PRAGMA cache_size = {cache_size}")
    return result


def _as_dicts(good):
    """Checked row tuples as dicts, the extra columns spread into each row."""
    columns = COLUMNS[:-1]  # every stored column but extra, whose keys are spread into the row
    rows = []
    for stored in map(widen, good):
        if stored[-1]:
            rows.append({**json.loads(stored[-1]), **dict(zip(columns, stored))})
        else:
            rows.append(dict(zip(columns, stored)))
    return rows


def _run_enrichers(enrichers, good):
    """Branch plugins' derived fields, merged into each row's extra columns."""
    rows = _as_dicts(good)
    added = {}
    for fn in enrichers:
        for index, values in fn(rows) or ():
            forbidden = sorted(set(values) & (KNOWN | {"extra"}))
            if forbidden:
                raise BrokerCRMError(
                    f"补充字段不能改写标准字段 {', '.join(forbidden)} (an enricher may only add extra columns)")
            added.setdefault(index, {}).update(values)
    if not added:
        return good
    out = list(good)
    for index, values in added.items():
        stored = out[index]
        extra = {**(json.loads(stored[-1]) if stored[-1] else {}), **values}
        out[index] = (*stored[:-1], json.dumps(extra, ensure_ascii=False, default=str))
    return out


def _take_managers(managers, good, numbers, originals):
    """The account_manager column: out of the extra columns, checked against the branch's operators."""
    good, refused = managers.take(good, numbers, 0, COLUMNS.index("branch_id"))
    if not refused:
        return good, numbers, []
    read = dict(originals or ())
    errors = {}
    for index, column, reason in refused:
        errors.setdefault(index, []).append((column, reason))
    kept = [i for i in range(len(good)) if i not in errors]
    rejected = [(numbers[i], read.get(numbers[i]), e) for i, e in sorted(errors.items())]
    if originals:  # parallel to good: the validators after this read them by index
        originals[:] = [originals[i] for i in kept]
    return [good[i] for i in kept], [numbers[i] for i in kept], rejected


def _run_validators(validators, good, numbers, originals):
    """Branch plugins' extra KYC checks over the rows that passed the core checks.

    Returns (still good tuples, their row numbers, [(n, row, problems)] for the rows they refused).
    """
    rows = _as_dicts(good)
    refused = {}
    for fn in validators:
        for index, column, reason in fn(rows) or ():
            refused.setdefault(index, []).append((column, reason))
    if not refused:
        return good, numbers, []
    kept = [i for i in range(len(good)) if i not in refused]
    rejected = [(originals[i][0], originals[i][1], errors) for i, errors in sorted(refused.items())]
    return [good[i] for i in kept], [numbers[i] for i in kept], rejected

