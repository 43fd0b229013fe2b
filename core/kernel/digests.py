"""SHA-256 of a file's bytes, read in blocks (recordings, handouts, archive files can be large)."""

import hashlib


def file_sha256(path):
    """The hex SHA-256 of the file at ``path``."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
