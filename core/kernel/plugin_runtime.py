"""What runs a branch plugin: its code as bytes, executed from exactly those bytes, in a worker.

Kept in the kernel, with nothing but the standard library and the hook specs
below it, so the worker process (``python -I -m brokercrm.kernel.plugin_runtime``)
starts without loading the engine: the plugin runs beside nothing it could
change.

- ``Snapshot``: a distribution's files as bytes, their digest, and the
  module sources the worker executes;
- ``PinnedImporter``: executes a snapshot's modules from its bytes, compiling
  source text itself — no ``.pyc`` is read, no other copy on ``sys.path`` is
  used — and lets a plugin import only the standard library, ``brokercrm``,
  ``pluggy``, ``click`` and its own files;
- ``main``: the worker's loop. It reads length-prefixed JSON requests on fd 0
  and answers on a private copy of fd 1 (the plugin's prints go to fd 2, which
  the parent discards: plugin output may hold personal data). The first
  request carries the snapshot and entry point; each later one names a hook
  and its arguments. Whatever the plugin does — raise, ``sys.exit``,
  ``KeyboardInterrupt`` — becomes an error reply; an endless loop or a flood
  of output is the parent's to stop (``brokercrm.plugins.isolation``).
"""

import datetime as dt
import hashlib
import importlib.abc
import importlib.util
import json
import os
import struct
import sys
from dataclasses import dataclass, field

import pluggy

from . import hookspecs

ALLOWED_TOPS = {"brokercrm", "pluggy", "click"}  # the platform plugins are written against


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
        obj = self._import(module_name.strip())
        for part in attr.strip().split(".") if attr.strip() else ():
            obj = getattr(obj, part)
        return obj

    def _import(self, fullname):
        """Module ``fullname`` and the packages above it, executed by this importer from the snapshot.

        Done here rather than by name through ``importlib``: the entry module can only come from
        the approved bytes, and brokercrm has one place that imports by name (its registry).
        """
        if fullname in sys.modules:
            return sys.modules[fullname]
        parent, _, child = fullname.rpartition(".")
        package = self._import(parent) if parent else None
        spec = self.find_spec(fullname)
        if spec is None:
            raise ModuleNotFoundError(f"插件代码中没有模块 {fullname} (no such module in the plugin's code)",
                                      name=fullname)
        module = importlib.util.module_from_spec(spec)
        sys.modules[fullname] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(fullname, None)
            raise
        module = sys.modules[fullname]
        if package is not None:
            setattr(package, child, module)
        return module


def _read_message(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    return json.loads(stream.read(size).decode("utf-8"))


def _write_message(stream, obj):
    data = json.dumps(obj, ensure_ascii=False, default=str).encode("utf-8")
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _decode_args(hook, kwargs):
    if "today" in kwargs and isinstance(kwargs["today"], str):
        kwargs["today"] = dt.date.fromisoformat(kwargs["today"])
    return kwargs


def main():
    inp = os.fdopen(0, "rb", buffering=0)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the plugin's prints go where the parent is not listening
    sys.stdout = sys.stderr
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugin = None
    while True:
        request = _read_message(inp)
        if request is None:
            return
        try:
            if "load" in request:
                importer = PinnedImporter(Snapshot.from_wire(request["load"]["files"]))
                plugin = importer.load(request["load"]["entry"])
                pm.register(plugin, name=request["load"]["name"])
                pm.check_pending()
                hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
                _write_message(out, {"ok": True, "hooks": hooks})
                continue
            hook = request["call"]
            impls = [i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin is plugin]
            kwargs = _decode_args(hook, request.get("kwargs", {}))
            result = None
            for impl in impls:
                result = impl.function(*[kwargs.get(name) for name in impl.argnames])
            _write_message(out, {"ok": True, "result": result, "implemented": bool(impls)})
        except BaseException as e:  # SystemExit and KeyboardInterrupt from plugin code too
            _write_message(out, {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]})


if __name__ == "__main__":
    main()
