"""Reading and checking client rows: the part of the import that needs no database.

``produce`` is run by ``pipeline`` (in a forked worker for a large
file): it reads the file, checks every row and yields one payload per batch —
the good rows as tuples ready for ``INSERT``, the bad rows with their
problems. A CSV is read as lists of cells (``readers.csv_table``): a dict per
row is made only for a row that needs the full check. A client_id used twice
is left to the writer, whose insert finds it for free (``clients``).

``fast_row`` accepts only the plain, common case (an individual, canonical ID,
dates and numbers) with a handful of comparisons; every other row goes through
``client_rows.check_row``, which either normalises it or says exactly what
is wrong. So ``fast_row`` may be narrower than ``check_row`` but never wider,
and where both accept a row they produce the same values (a test checks this
over many mutated rows).
"""

import datetime as dt
import json
from itertools import islice
from operator import itemgetter

from .client_rows import FIELDS, KNOWN, check_row
from .readers import BadRow, read_rows, row_dict, table
from ..kernel.kyc_fields import COLUMNS as KYC_COLUMNS
from ..kernel.validate import ID_CHECK

# Raw columns read for the fast check, in this order.
STAGED = ("client_id", "kind", "name", "id_number", "phone", "birth_date", "branch_id", "opened_at",
          "total_assets", "turnover_rate", "avg_holding_days", "annual_income", "investment_years", "net_assets",
          "occupation", "education", "legal_representative", "business_scope")
# The KYC columns (issue 11) are not read by the fast check: a row with any of them filled
# goes to check_row. A row without them travels as a *short* tuple, (client_id, *FIELDS
# without KYC, extra): binding ten NULLs per row would cost the common row a sixth more
# (measured: docs/kyc.md). The writer inserts short batches with a statement that leaves the
# KYC columns out, and widens a mixed batch (``widen``). KYC sits right before extra.
KYC = tuple(KYC_COLUMNS)
assert FIELDS[-1 - len(KYC):-1] == KYC, "the KYC columns must be the last before extra"
SHORT = len(FIELDS) + 1 - len(KYC)
_NO_KYC = (None,) * len(KYC)


def widen(stored):
    """A stored tuple in full: a short one (no KYC data) gets NULLs where KYC columns go."""
    return stored[:-1] + _NO_KYC + stored[-1:] if len(stored) == SHORT else stored


FIRST_DAY = dt.date(1900, 1, 1)
# Rows per payload. Each batch costs the writer a few fixed statements (the events of the new
# clients, the task engine's look-ups): 5,000 rows halve those against 2,000, for ~3 MB a batch.
BATCH_SIZE = 5000
_INDIVIDUAL = frozenset(("individual", "个人"))
_MOBILE_PREFIXES = frozenset(f"1{d}" for d in "3456789")


class FastChecker:
    """The plain case in a few comparisons; None means "ask check_row"."""

    def __init__(self, branches, today, known):
        self.branches = frozenset(branches)
        self.known = known
        days = (dt.date.fromordinal(i) for i in range(FIRST_DAY.toordinal(), today.toordinal() + 1))
        # 'YYYYMMDD' (as in an ID number) -> 'YYYY-MM-DD', every real day from 1900 to today.
        self.compact_days = {d.strftime("%Y%m%d"): d.isoformat() for d in days}
        self.days = frozenset(self.compact_days.values())
        self._headers = {}

    def _header(self, keys):
        """(getter, extra columns) for rows with this header; cached, a CSV has one header."""
        found = self._headers.get(keys)
        if found is None:
            if len(self._headers) > 256:  # JSON rows may each bring their own keys: stay bounded
                self._headers.clear()
            if all(c in keys for c in STAGED):
                getter = itemgetter(*STAGED)
            else:
                # A missing column reads as blank. The expression names only STAGED's own
                # constants; the file decides nothing but which of them are present.
                present = frozenset(keys)
                body = ", ".join(f"row[{c!r}]" if c in present else "''" for c in STAGED)
                getter = eval(f"lambda row: ({body},)")  # noqa: S307 - built from constants above
            extras = tuple(k for k in keys if k and k not in self.known)
            kyc = tuple(k for k in KYC if k in keys)
            found = self._headers[keys] = (getter, extras, kyc)
        return found

    def fast_row(self, row):
        """The stored tuple (client_id, *FIELDS) of a plainly valid individual, else None."""
        getter, extras, kyc = self._header(tuple(row))
        if kyc and any(row[k] for k in kyc):
            return None
        extra = None
        if extras:
            found = {k: row[k] for k in extras if row[k] != ""}
            extra = json.dumps(found, ensure_ascii=False, sort_keys=True) if found else None
        return self._plain(getter(row), extra)

    def list_checker(self, names):
        """``fast(cells)`` for CSV rows as lists under header ``names``: like ``fast_row``."""
        index = {name: i for i, name in enumerate(names) if name}  # the reader refused repeated columns
        width = len(names)
        # A column the file lacks reads as blank: one "" appended past the row's end.
        pad = not all(c in index for c in STAGED)
        getter = itemgetter(*(index.get(c, width) for c in STAGED))
        extras = tuple((k, i) for k, i in index.items() if k and k not in self.known)
        kyc = tuple(index[k] for k in KYC if k in index)
        plain = self._plain

        def fast(cells):
            if len(cells) != width:  # a ragged row: the full check says what is wrong
                return None
            if kyc and any(cells[i] for i in kyc):
                return None
            extra = None
            if extras:
                found = {k: cells[i].strip() for k, i in extras if cells[i].strip()}
                extra = json.dumps(found, ensure_ascii=False, sort_keys=True) if found else None
            if pad:
                cells.append("")
                fields = getter(cells)
                cells.pop()
            else:
                fields = getter(cells)
            return plain(fields, extra)

        fast.may_extra = bool(extras)  # the header has no column beyond the known ones: extra is None
        return fast

    def _plain(self, fields, extra):
        (client_id, kind, name, id_number, phone, birth, branch, opened,
         ta, tr, hold, income, years, net, occupation, education, legal, scope) = fields
        # Cells may come unstripped (CSV lists). Every other field below must match exactly
        # or fall back to check_row, and float() ignores spaces; these are stored as text.
        client_id, name = client_id.strip(), name.strip()
        # The ID's 17 digits and the phone checked as one ASCII-digit string: one call each.
        if not (client_id and name and kind in _INDIVIDUAL and branch in self.branches
                and len(phone) == 11 and phone[:2] in _MOBILE_PREFIXES and len(id_number) == 18
                and (head := id_number[:17] + phone).isascii() and head.isdigit()):
            return None
        embedded = self.compact_days.get(id_number[6:14])
        if embedded is None or (birth and birth != embedded):
            return None
        # GB 11643: the weights are 2^(17-i) mod 11, and 13 = 2 (mod 11), so the weighted sum is
        # 2 x (the 17 digits read in base 13) mod 11: one int() in C instead of 17 products.
        if ID_CHECK[(int(head[:17], 13) << 1) % 11] != id_number[17]:
            return None
        if opened and opened not in self.days:
            return None
        # Plain digits (and points) are non-negative and, under 300 of them, finite; anything
        # else (a sign, an exponent, inf, nan, spaces) goes to the full check.
        digits = (ta + tr + hold + income + years + net).replace(".", "")
        if digits and not (digits.isascii() and digits.isdigit() and len(digits) < 300):
            return None
        try:
            return (client_id, "individual", name, id_number, phone, embedded, branch, opened or None,
                    float(ta) if ta else None, float(tr) if tr else None,
                    float(hold) if hold else None, float(income) if income else None,
                    occupation.strip() or None, education.strip() or None, float(years) if years else None,
                    legal.strip() or None, scope.strip() or None, float(net) if net else None,
                    extra)  # short: no KYC data (see widen)
        except ValueError:  # "1.2.3": the full check says why
            return None


def record_tuple(record, fields):
    """check_row's record as the stored tuple (client_id, *fields); short when it has no KYC data."""
    extra = record["extra"]
    if extra:
        extra = json.dumps(extra, ensure_ascii=False, sort_keys=True)
    if fields == FIELDS and all(record.get(k) is None for k in KYC):
        fields = fields[:-1 - len(KYC)] + fields[-1:]
    return (record["client_id"], *(record[f] for f in fields[:-1]), extra)


def produce(path, spec, branches, today, keep_rows, sheet=None, header_row=None):
    """Yield one payload per batch: {"rows", "good": [tuple], "numbers", "good_rows", "bad", "size", "short", "plain"}.

    ``numbers`` are the file row numbers of the good rows. ``keep_rows`` also
    sends the original rows of the good ones (``good_rows``, parallel to
    ``good``): branch validators may refuse a row, which then goes to the
    rejects file as it was read. ``bad`` is [(row number, row, problems)].
    A client_id used twice is the writer's to find: its insert conflicts.
    """
    checker = FastChecker(branches, today, KNOWN)
    today_iso = today.isoformat()
    found = table(path, spec, sheet=sheet, header_row=header_row)
    may_extra = True  # JSON rows may each bring their own keys
    if found is None:
        records, fast = read_rows(path, spec), checker.fast_row

        def as_dict(row):
            return row
    else:
        names, records = found.names, found.records
        fast = checker.list_checker(names)
        may_extra = getattr(fast, "may_extra", True)

        def as_dict(cells):
            return row_dict(names, cells)

    # Each row is checked as soon as it is read, while its cells are still in the CPU's cache;
    # collecting a batch of raw rows first and checking them after cost a tenth more.
    per_row = None
    while True:
        good, numbers, good_rows, bad = [], [], [], []
        add_good, add_number = good.append, numbers.append
        read = blank = 0
        short, no_extra = True, not may_extra  # what the fast rows are; a fully checked row may differ
        for n, record in islice(records, BATCH_SIZE):
            read += 1
            # The common row: one test, one call, two appends (a million times per million rows).
            if type(record) is not BadRow and (stored := fast(record)) is not None:
                add_good(stored)
                add_number(n)
                if keep_rows:
                    good_rows.append((n, as_dict(record)))
                continue
            if type(record) is BadRow:
                bad.append((n, dict(record), record.problems))
                continue
            row = as_dict(record)
            if not any(row.values()):
                blank += 1
                continue
            record_, errors = check_row(row, branches, today_iso)
            if errors:
                bad.append((n, row, errors))
                continue
            stored = record_tuple(record_, FIELDS)
            short = short and len(stored) == SHORT
            no_extra = no_extra and stored[-1] is None
            add_good(stored)
            add_number(n)
            if keep_rows:
                good_rows.append((n, row))
        if not read:
            return
        if per_row is None:
            per_row = _bytes(good, bad)
        # "short": every good row is short; "plain": no good row has extra columns (the writer
        # then skips looking for an account_manager among them).
        yield {"rows": read - blank, "good": good, "numbers": numbers, "good_rows": good_rows,
               "bad": bad, "size": int(per_row * read), "short": short, "plain": no_extra}


def _bytes(good, bad):
    """Roughly how many bytes of the file a row takes, from the first batch (for the progress bar)."""
    sample = [[v for v in stored if v is not None] for stored in good[:50]] + [list(row.values()) for _, row, _ in bad[:50]]
    sample = [cells for cells in sample if cells] or [[""]]
    return sum(len(",".join(map(str, cells)).encode("utf-8")) + 1 for cells in sample) / len(sample)
