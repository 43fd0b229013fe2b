"""The benchmarks' operator: a root head-office operator whose key sits beside the database.

Every act in brokercrm is an authenticated operator's (docs/security.md); a
benchmark acts as ``bench``, made once per database, and steps that run in
their own process authenticate again from the key file.
"""

from pathlib import Path

from brokercrm.trust import identity, keys, operators
from brokercrm.trust import root as trust_root


def actor_for(db, db_path, operator_id="bench"):
    """The root operator of the benchmark database at ``db_path`` (made on first use)."""
    key_file = Path(f"{db_path}.{operator_id}.key")
    if not key_file.exists():
        key = keys.generate()
        keys.save_private(key, key_file)
        return operators.bootstrap(db, operator_id, trust_root.root_path(db_path), key)
    return identity.authenticate(db, operator_id, keys.load_private(key_file), trust_root.for_db(db))


def copy_trust(src, dst, operator_id="bench"):
    """A copied database keeps its trust root and key beside it."""
    import shutil

    for suffix in (".trust-root", f".{operator_id}.key"):
        target = Path(f"{dst}{suffix}")
        if target.exists():
            target.chmod(0o600)
            target.unlink()
        shutil.copyfile(f"{src}{suffix}", target)
