"""Validated, all-or-nothing importers of the trading system's exports.

- ``readers``: the one door to every file type → rows; it refuses what it cannot read
  exactly (docs/imports.md). Behind it: ``text_files`` (one encoding per file),
  ``read_csv``, ``read_workbook`` (python-calamine, in a worker with a memory ceiling),
  ``read_json``, ``headers`` and ``tables`` (the header row, ragged and damaged rows),
  ``read_rules`` (the limits), ``columns`` (each import's columns) and ``policy``
  (the head-office header synonyms, policies/import.toml).
- ``report``: the result, problems and rejects file every importer shares.
- ``runner``: the generic check-then-write loop (products, holdings, behaviour, interactions).
- ``pipeline``: reading and checking in a forked worker while the parent writes.
- ``client_rows``, ``clients_fast``, ``clients``: the client book (full row rules,
  the fast reading path, the writer).
- ``assessments``: risk questionnaires, scored with the policy in force.

The names below are the entry points other code and the CLI call.
"""

from .assessments import import_assessments as import_assessments
from .clients import import_clients as import_clients
from .report import ImportResult as ImportResult
