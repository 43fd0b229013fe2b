"""The read-only Datasette site.

- ``specs``: what is published, which columns are personal and how they are masked.
- ``publish``: writing a set of masked snapshot files (head office, one per branch), built by
  ``head_office`` (two files side by side, one moved into the other) and ``branches`` (each read
  from the head-office file), table by table (``tables``: columns, masking, scope, indexes), in
  files opened with bounded memory (``files``), and switched in whole (``switch``: generations
  and the ``current`` link, the publish lock, stale-file clean-up, fault points for the tests).
- ``auth``: site users and password hashes.
- ``serve``: building and running the Datasette instance (with ``brokercrm.datasette_config``);
  ``live`` moves a running site to each new set as publish switches it in.
"""
