"""The read-only Datasette site.

- ``specs``: what is published, which columns are personal and how they are masked.
- ``publish``: writing the masked, per-branch snapshot files.
- ``auth``: site users and password hashes.
- ``serve``: building and running the Datasette instance (with ``brokercrm.datasette_config``).
"""
