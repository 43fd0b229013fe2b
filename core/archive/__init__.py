"""The client archive (一户一档, issue 11 item 6): every stored record of one client, signed.

- ``catalogue``: which tables hold a client's records (discovered from the schema) and what each is.
- ``collect``: one client's rows from every such table.
- ``writer``: the self-describing folder: README, CSV (UTF-8 with BOM) and JSON per table,
  ``manifest.json`` with every file's SHA-256, signed by the operator (``manifest.sig``).
- ``verify``: checks a folder's digests and signature.
- ``retention``: the retention period (办法 Art. 32) and the SQLite triggers enforcing it.
- ``schema``: the ``brokercrm.archive`` migration set.

It sits just below ``cli`` because it reads every feature's tables (by name, from the schema).
"""
