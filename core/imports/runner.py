"""The one all-or-nothing import loop every file importer shares.

Rows are read as a stream and checked in batches; every problem is reported as
``file:row:column: reason``; one bad row and nothing is written, unless the
caller skips invalid rows into a rejects file. The whole import is one
transaction. (Clients have their own, two-process pipeline for speed:
``imports.clients``.)
"""

from pathlib import Path

from ..trust import audit
from .report import BATCH_SIZE, ImportResult, Problems, Progress, Rejects, SeenKeys, batched
from .readers import read_rows


def repeated_row(first):
    return ("key", f"与第 {first} 行重复 (repeats row {first})")


def run_import(db, path, kind, label, aliases, check, write, key, *, skip_invalid=False, rejects=None,
               operator=None, progress=False, finish=None, repeat=repeated_row, extra=None):
    """Run one import; returns its ImportResult.

    ``check(batch) -> [(record, [(column, reason)])]`` validates one batch of
    ``(row_number, row)``; ``key(record)`` names a record for the duplicate
    check (None: no key) and ``repeat(first_row)`` gives the (column, reason)
    of a repeat; ``write(records, result)`` stores the good records;
    ``finish(result)`` runs last, inside the transaction; ``extra`` goes into
    the result.
    """
    path = Path(path)
    source = path.name
    result = ImportResult(kind, str(path), extra=extra or {})
    problems = Problems(str(path))
    spool = Rejects(rejects if skip_invalid else None)
    rows = read_rows(path, aliases)
    bar = Progress(path, progress, f"导入{label} {source}")
    seen = SeenKeys(db)
    try:
        with db.atomic():
            for batch in batched(rows, BATCH_SIZE):
                result.rows += len(batch)
                checked = check(batch)
                repeats = seen.repeats([(key(rec), n) for (n, _), (rec, errs) in zip(batch, checked)
                                        if not errs and key(rec)])
                for i, (n, _) in enumerate(batch):
                    if n in repeats:
                        checked[i][1].append(repeat(repeats[n]))
                good = []
                for (n, row), (record, errors) in zip(batch, checked):
                    if errors:
                        problems.add_row(n, errors)
                        spool.add(row, errors)
                    else:
                        good.append(record)
                if skip_invalid or not problems.total:
                    write(good, result)
                bar.advance(batch)
            if problems.total and not skip_invalid:
                problems.fail(label)
            result.rejected = spool.count
            if finish:
                finish(result)
            audit.record(db, f"import.{kind}", operator=operator, target=source, detail=result.as_dict())
        result.rejects_file = spool.write()
    finally:
        bar.close()
        spool.close()
        seen.drop()
    return result
