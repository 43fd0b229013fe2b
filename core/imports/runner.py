"""The one all-or-nothing import loop every file importer shares.

Rows are read as a stream and checked in batches; every problem is reported as
``file:row:column: reason``; one bad row and nothing is written, unless the
caller skips invalid rows into a rejects file. The whole import is one
transaction. (Clients have their own, two-process pipeline for speed:
``imports.clients``.)
"""

from ..trust import audit, authz
from . import columns as import_columns
from . import policy as import_policy
from .report import BATCH_SIZE, ImportResult, Problems, Progress, Rejects, SeenKeys, batched
from .readers import BadRow, as_spec, check_file, read_rows


def repeated_row(first):
    return ("key", f"与第 {first} 行重复 (repeats row {first})")


# The act each kind of import is, for the authorisation table.
ACTS = {"products": "product.import", "holdings": "holding.import", "behaviour": "behaviour.import",
        "assessments": "assessment.import", "interactions": "interaction.log"}


def run_import(db, path, kind, label, aliases, check, write, key, *, actor, skip_invalid=False, rejects=None,
               progress=False, finish=None, repeat=repeated_row, extra=None, sheet=None,
               header_row=None):
    """Run one import; returns its ImportResult.

    ``check(batch) -> [(record, [(column, reason)])]`` validates one batch of
    ``(row_number, row)``; ``key(record)`` names a record for the duplicate
    check (None: no key) and ``repeat(first_row)`` gives the (column, reason)
    of a repeat; ``write(records, result)`` stores the good records;
    ``finish(result)`` runs last, inside the transaction; ``extra`` goes into
    the result. ``actor`` must be allowed the kind's act (``ACTS``); an
    actor of one branch imports only rows about that branch's clients, and
    every other row is a row error. ``aliases`` are the importer's own
    spellings; for a kind the import policy knows (``columns.KINDS``) the
    policy's synonyms, the kind's required columns and its rule for unknown
    columns apply too. ``sheet`` and ``header_row`` go to the reader.
    """
    own_branch = actor.branch if authz.scope(actor, ACTS[kind]) == authz.OWN else None
    path = check_file(path)
    if kind in import_columns.KINDS:
        spec = import_policy.spec(db, kind, extra_aliases=aliases, extra_known=set(aliases.values()))
    else:
        spec = as_spec(aliases)
    source = path.name
    result = ImportResult(kind, str(path), extra=extra or {})
    problems = Problems(str(path))
    spool = Rejects(rejects if skip_invalid else None)
    rows = read_rows(path, spec, sheet=sheet, header_row=header_row)  # header problems are raised here
    bar = Progress(path, progress, f"导入{label} {source}")
    seen = SeenKeys(db)
    try:
        with db.atomic():
            for batch in batched(rows, BATCH_SIZE):
                result.rows += len(batch)
                unread = {n: row.problems for n, row in batch if type(row) is BadRow}
                if unread:  # rows the reader refused: reported as they are, never checked
                    for n, row in batch:
                        if n in unread:
                            problems.add_row(n, unread[n])
                            spool.add(dict(row), unread[n])
                    batch = [(n, row) for n, row in batch if n not in unread]
                checked = check(batch)
                if own_branch is not None:
                    _outside_branch(db, checked, own_branch)
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
            audit.record(db, f"import.{kind}", actor=actor, target=source, detail=result.as_dict())
        result.rejects_file = spool.write()
    finally:
        bar.close()
        spool.close()
        seen.drop()
    return result


def _outside_branch(db, checked, branch):
    """Mark the records about another branch's clients (a branch operator's import)."""
    ids = sorted({rec["client_id"] for rec, errs in checked if not errs and rec.get("client_id")})
    if not ids:
        return
    found = {}
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        found.update(db.execute(f"SELECT client_id, branch_id FROM clients WHERE client_id IN"
                                f" ({', '.join('?' for _ in part)})", part).fetchall())
    for rec, errs in checked:
        if not errs and rec.get("client_id") and found.get(rec["client_id"], branch) != branch:
            errs.append(("client_id", f"客户属于营业部 {found[rec['client_id']]}, 营业部 {branch} 的操作员无权导入"
                                      f" (another branch's client; refused)"))
