"""Taking a plugin's code as bytes from its installed distribution, without importing it.

Discovery never imports a plugin. It reads the distribution's metadata
(entry points, version) and the files of its code into a ``Snapshot``:
{relative path: bytes}. The code digest is computed over exactly these
bytes, and ``brokercrm.kernel.plugin_runtime`` executes modules from them.
"""

import importlib.util
from pathlib import Path

from ..kernel.plugin_runtime import PinnedImporter as PinnedImporter
from ..kernel.plugin_runtime import Snapshot

# Installer bookkeeping, not code: pip rewrites these per install.
_SKIP_NAMES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "WHEEL"}
MAX_FILE_BYTES = 8 << 20
MAX_TOTAL_BYTES = 64 << 20


class SnapshotError(Exception):
    pass



def _read(path, snap, rel, label, total):
    path = Path(path)
    if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo") or not path.is_file():
        return total
    size = path.stat().st_size
    if size > MAX_FILE_BYTES or total + size > MAX_TOTAL_BYTES:
        raise SnapshotError(f"插件文件过大 (plugin file too large): {label}")
    if rel not in snap.files:
        snap.files[rel] = path.read_bytes()
        snap.labels[rel] = label
        total += size
    return total


def take(dist, group):
    """The Snapshot of ``dist``'s code, read without importing any of it."""
    snap, total = Snapshot(), 0
    for f in dist.files or ():
        s = str(f)
        if f.name in _SKIP_NAMES and s.count("/") == 1 and s.split("/")[0].endswith(".dist-info"):
            continue
        total = _read(dist.locate_file(f), snap, s, s, total)
    # An editable install lists only a path hook in RECORD: its code lives where the
    # entry point's top-level package is found (the finders locate, never execute).
    # An installed distribution's code is what its RECORD lists, nothing else: a
    # package of another distribution beside it in site-packages is not its code.
    for ep in dist.entry_points:
        if ep.group != group:
            continue
        top = ep.module.split(".")[0]
        if top in snap.tops():
            continue
        spec = importlib.util.find_spec(top)
        if spec is None:
            raise SnapshotError(f"找不到入口模块 {top} (entry point module not found)")
        if spec.submodule_search_locations:
            for root in spec.submodule_search_locations:
                for p in sorted(Path(root).rglob("*")):
                    rel = f"{top}/{p.relative_to(root).as_posix()}"
                    total = _read(p, snap, rel, rel, total)
        elif spec.origin:
            total = _read(spec.origin, snap, f"{top}.py", Path(spec.origin).name, total)
    return snap
