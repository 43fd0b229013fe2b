"""What every importer shares: the result, the problem report, rejects, batching.

An import is all or nothing: every row is checked, every problem is reported
as ``file:row:column: reason`` (the first 50, then a count), and a file with
any bad row writes nothing — unless the caller asked to skip invalid rows, in
which case the bad rows go to a rejects CSV with their reasons.

Memory stays flat whatever the file size: rows are read as a stream and
handled in batches; duplicate detection lives in a TEMP table, not a Python
set; rejects are spooled to a temporary file until the run ends.
"""

import csv
import itertools
import json
import secrets
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from ..kernel.cells import neutralise_row
from ..kernel.errors import BrokerCRMError, ValidationFailed
from ..kernel.rows import chunks

BATCH_SIZE = 2000
SHOWN_PROBLEMS = 50


@dataclass
class ImportResult:
    """Counts of one import; ``rows`` is every data row read from the file."""

    kind: str
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    extra: dict = field(default_factory=dict)

    def tally(self, before, after):
        """Count one record as unchanged, new (``before`` None) or updated; True when it must be written."""
        if before == after:
            self.unchanged += 1
            return False
        if before is None:
            self.inserted += 1
        else:
            self.updated += 1
        return True

    def as_dict(self):
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


class Problems:
    """Keeps the first SHOWN_PROBLEMS problem lines and counts the rest."""

    def __init__(self, source):
        self.source = source
        self.lines = []
        self.total = 0
        self.rows = 0  # rows with at least one problem

    def add_row(self, number, problems):
        """``problems`` is a list of (column, reason) for row ``number``."""
        self.rows += 1
        for column, reason in problems:
            self.total += 1
            if len(self.lines) < SHOWN_PROBLEMS:
                self.lines.append(f"{self.source}:{number}:{column}: {reason}")

    def fail(self, kind):
        raise ValidationFailed(
            f"{self.source}: {self.rows} 行有误, 未导入任何{kind} "
            f"({self.rows} bad rows, {self.total} problems; nothing was imported)",
            self.lines,
            self.total,
        )


class Rejects:
    """Bad rows with their reasons, spooled, then written as a CSV Excel can open.

    Rows may carry different columns (JSON input), so the header is only known
    at the end; the spool keeps memory flat meanwhile.
    """

    def __init__(self, path):
        self.path = Path(path) if path else None
        self.count = 0
        self._columns = {}
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8") if self.path else None

    @property
    def enabled(self):
        """Whether rows are kept for a rejects file."""
        return self._spool is not None

    def add(self, row, problems):
        self.count += 1
        if self._spool is None:
            return
        for key in row:
            self._columns.setdefault(key, None)
        reason = "; ".join(f"{column}: {reason}" for column, reason in problems)
        self._spool.write(json.dumps([row, reason], ensure_ascii=False) + "\n")

    def write(self):
        """Write the rejects CSV (UTF-8 with BOM: Excel then reads the Chinese; formula-like cells neutralised)."""
        if self._spool is None:
            return None
        columns = [c for c in self._columns if c != "reason"]
        self._spool.seek(0)
        try:
            with open(self.path, "w", newline="", encoding="utf-8-sig") as out:
                writer = csv.writer(out)
                writer.writerow(neutralise_row(columns + ["reason"]))
                for line in self._spool:
                    row, reason = json.loads(line)
                    writer.writerow(neutralise_row([row.get(c, "") for c in columns] + [reason]))
        except OSError as e:
            raise BrokerCRMError(f"{self.path}: 无法写入拒收文件 (cannot write rejects): {e}") from None
        finally:
            self._spool.close()
        return str(self.path)

    def close(self):
        if self._spool is not None and not self._spool.closed:
            self._spool.close()


class SeenKeys:
    """Which keys this file has already used, in a TEMP table (flat memory at 1M rows).

    ``first_rows(batch)`` records the keys of a batch and returns, for each
    key seen before (in this batch or an earlier one), the row that used it
    first. The fast path is one INSERT OR IGNORE per batch; only a batch that
    holds a repeat pays for the look-up.
    """

    def __init__(self, db):
        self.db = db
        self.table = f"import_seen_{secrets.token_hex(4)}"
        db.execute(f"CREATE TEMP TABLE [{self.table}] (key TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")

    def repeats(self, pairs):
        """``pairs`` is [(key, row_number)]; returns {row_number: first_row_number} for repeats."""
        if not pairs:
            return {}
        cursor = self.db.conn.executemany(
            f"INSERT OR IGNORE INTO temp.[{self.table}] (key, row) VALUES (?, ?)", pairs
        )
        if cursor.rowcount == len(pairs):
            return {}
        first = {}
        keys = list({k for k, _ in pairs})
        for chunk in chunks(keys, 500):
            first.update(
                self.db.execute(
                    f"SELECT key, row FROM temp.[{self.table}] WHERE key IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
            )
        return {row: first[key] for key, row in pairs if first[key] != row}

    def drop(self):
        self.db.execute(f"DROP TABLE IF EXISTS temp.[{self.table}]")


def batched(iterable, size=BATCH_SIZE):
    iterator = iter(iterable)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class Progress:
    """A progress bar on stderr, estimated from the file size (readers do not expose offsets)."""

    def __init__(self, path, enabled, label):
        self.bar = None
        if enabled:
            self.size = max(Path(path).stat().st_size, 1)
            self.done = 0
            self.per_row = None
            self.bar = click.progressbar(length=self.size, label=label, file=sys.stderr)
            self.bar.__enter__()

    def advance(self, done):
        """``done``: bytes covered, or the batch of (n, row) just handled (then estimated)."""
        if self.bar is None or not done:
            return
        if not isinstance(done, int):
            if self.per_row is None:
                sample = done[:200]
                chars = sum(len(",".join(map(str, row.values())).encode("utf-8")) + 1 for _, row in sample)
                self.per_row = chars / len(sample)
            done = int(self.per_row * len(done))
        step = min(done, self.size - self.done)
        self.done += step
        self.bar.update(step)

    def close(self):
        if self.bar is not None:
            self.bar.update(self.size - self.done)
            self.bar.__exit__(None, None, None)
            self.bar = None
