"""A plugin's code as bytes: read once, digested, and executed from those same bytes.

Discovery never imports a plugin. It reads the distribution's metadata
(entry points, version) and the files of its code into a ``Snapshot``:
{relative path: bytes}. The code digest is computed over exactly these
bytes, and ``PinnedImporter`` executes modules from them, compiling source
text itself, so neither a planted ``.pyc`` beside unchanged source nor a
shadowing copy earlier on ``sys.path`` can run instead. A plugin may
import the standard library, ``brokercrm`` and ``pluggy``, and its own
files; anything else is refused, so a distribution that re-exports another
approves nothing it does not itself contain.
"""

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Installer bookkeeping, not code: pip rewrites these per install.
_SKIP_NAMES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "WHEEL"}
MAX_FILE_BYTES = 8 << 20
MAX_TOTAL_BYTES = 64 << 20
ALLOWED_TOPS = {"brokercrm", "pluggy"}


class SnapshotError(Exception):
    pass


@dataclass
class Snapshot:
    """The files of one distribution's code, keyed by their path relative to its import root."""

    files: dict = field(default_factory=dict)   # "pkg/mod.py" -> bytes
    labels: dict = field(default_factory=dict)  # "pkg/mod.py" -> label used in the digest

    def digest(self):
        """SHA-256 over (label, SHA-256 of bytes), sorted: the same as before any byte moved."""
        entries = sorted((self.labels.get(p, p), hashlib.sha256(b).hexdigest()) for p, b in self.files.items())
        return hashlib.sha256("".join(f"{label}\0{sha}\n" for label, sha in entries).encode()).hexdigest()

    def tops(self):
        """Top-level module and package names the snapshot provides."""
        out = set()
        for p in self.files:
            first = p.split("/")[0]
            if p.endswith(".py") and "/" not in p:
                out.add(first[:-3])
            elif "/" in p and not first.endswith(".dist-info") and not first.endswith(".egg-info"):
                out.add(first)
        return out

    def source_for(self, fullname):
        """(path, bytes, is_package) of module ``fullname``, or None."""
        base = fullname.replace(".", "/")
        if f"{base}/__init__.py" in self.files:
            return f"{base}/__init__.py", self.files[f"{base}/__init__.py"], True
        if f"{base}.py" in self.files:
            return f"{base}.py", self.files[f"{base}.py"], False
        return None

    def as_wire(self):
        return {p: b.decode("latin-1") for p, b in self.files.items() if p.endswith(".py")}

    @classmethod
    def from_wire(cls, wire):
        return cls({p: s.encode("latin-1") for p, s in wire.items()})


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


class PinnedImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves a snapshot's modules from its bytes, ahead of every other finder."""

    def __init__(self, snapshot):
        self.snapshot = snapshot
        self.tops = snapshot.tops()

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in self.tops:
            return None
        found = self.snapshot.source_for(fullname)
        if found is None:
            return None
        rel, _, is_pkg = found
        spec = importlib.util.spec_from_loader(fullname, self, origin=f"<approved>/{rel}", is_package=is_pkg)
        if is_pkg:
            spec.submodule_search_locations = []  # submodules come from the snapshot too
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        rel, source, _ = self.snapshot.source_for(module.__name__)
        module.__file__ = f"<approved>/{rel}"
        # Compiled from the digested bytes: no bytecode cache is read or written.
        code = compile(source, module.__file__, "exec", dont_inherit=True)
        builtins = dict(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__))
        builtins["__import__"] = self._guarded_import(builtins["__import__"])
        module.__dict__["__builtins__"] = builtins
        exec(code, module.__dict__)

    def _guarded_import(self, real_import):
        allowed = self.tops | ALLOWED_TOPS | set(sys.stdlib_module_names)

        def guarded(name, globals=None, locals=None, fromlist=(), level=0):
            if level == 0 and name.split(".")[0] not in allowed:
                raise ImportError(
                    f"插件只能导入自身代码、标准库和 brokercrm; {name!r} 不在已批准的代码中"
                    f" (plugins import only their own approved code, the standard library and brokercrm)")
            return real_import(name, globals, locals, fromlist, level)

        return guarded

    def install(self):
        for top in self.tops:
            for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
                del sys.modules[name]  # a copy imported from elsewhere must not be reused
        sys.meta_path.insert(0, self)

    def load(self, entry):
        """The object an entry point value ``module:attr`` names, executed from the snapshot."""
        module_name, _, attr = entry.partition(":")
        if module_name.split(".")[0] not in self.tops:
            raise ImportError(f"入口点 {entry} 不在该插件自己的代码中 (entry point outside the plugin's own code)")
        self.install()
        obj = importlib.import_module(module_name.strip())
        for part in attr.strip().split(".") if attr.strip() else ():
            obj = getattr(obj, part)
        return obj
