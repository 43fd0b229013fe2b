"""The kernel: what every feature stands on. It imports nothing else from brokercrm.

- ``errors``: the exception types every layer raises.
- ``timeutil``: the clock (``BROKERCRM_NOW``), China Standard Time, dates.
- ``db``: opening the SQLite file (WAL, foreign keys, busy timeout), read-only URIs.
- ``locking``: transactions that take the write lock when they begin; the busy timeout and its error.
- ``cells``: cells written for people never start a formula (CSV injection).
- ``side_query``: a second read-only connection for look-ups during a write.
- ``wal``: a big write's WAL checkpoint moved off the caller's path (``deferred_checkpoint``).
- ``sql_filters``: small WHERE-clause builders.
- ``masking``: how personal data is masked wherever it leaves the library: the field maskers,
  their SQL twins, the free-text scrubber, JSON cleaning.
- ``events``: domain events (recorded, then handed to listeners).
- ``checks``: the type checks policy validators share.
- ``validate``: cell-level checks of imported data (IDs, phones, dates, numbers).
- ``migrations``: the core schema and ``append_only``.
- ``hookspecs``: every hook a branch plugin may implement.
- ``rules``: the declarative rule language compiled to SQL.
"""
