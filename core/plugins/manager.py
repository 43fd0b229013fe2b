"""The plugin manager: discovery and code digests.

Plugins are installed Python distributions exposing entry points in the
group ``brokercrm``. ``load()`` builds a fresh manager each time it is
called (nothing happens at import): it discovers the entry points,
honours ``BROKERCRM_LOAD_PLUGINS`` (a comma list of distribution or entry
point names; an empty string loads none), registers each plugin under its
distribution name and checks every hook implementation against the specs.
A plugin that fails to import is reported, never fatal.

Whether a loaded plugin may *act* for a branch is the approval gate's
question (``brokercrm.plugins.gate``); the functions that call hooks for a
branch live in ``brokercrm.plugins.dispatch``.
"""

import hashlib
import importlib.machinery
import importlib.metadata as metadata
import importlib.util
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from ..kernel import hookspecs
from ..kernel.errors import BrokerCRMError

GROUP = "brokercrm"
ENV_LOAD = "BROKERCRM_LOAD_PLUGINS"

# Installer bookkeeping, not code: pip rewrites these per install, so a
# digest over them would change without the code changing.
_SKIP_NAMES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "WHEEL"}


class PluginError(BrokerCRMError):
    """A plugin misbehaved: raised, returned something malformed, named an unknown class."""

    def __init__(self, plugin, branch, message):
        super().__init__(f"插件 {plugin} (营业部 {branch}): {message}")
        self.plugin, self.branch, self.detail = plugin, branch, message


def normalize(name):
    """PEP 503 name: 'BrokerCRM_Taiyuan' and 'brokercrm-taiyuan' are one plugin."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class PluginInfo:
    name: str
    version: str
    digest: str | None = None
    hooks: list = field(default_factory=list)
    entry_points: list = field(default_factory=list)
    error: str | None = None
    obj: object = None

    def as_dict(self):
        return {"name": self.name, "version": self.version, "digest": self.digest,
                "hooks": self.hooks, "entry_points": self.entry_points, "error": self.error}


# -- digests -------------------------------------------------------------------

def _sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _code_files(dist):
    """(label, absolute path) of every file that makes up ``dist``'s code.

    The files its RECORD lists, minus installer bookkeeping and bytecode,
    plus — for editable installs, whose RECORD lists only a path hook — every
    file of the packages its entry points import, found where Python would
    import them from.
    """
    seen, out = set(), []

    def add(label, path):
        path = Path(path)
        if "__pycache__" in path.parts or path.suffix == ".pyc" or not path.is_file():
            return
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            out.append((label, path))

    for f in dist.files or ():
        if f.name in _SKIP_NAMES and str(f).count("/") == 1 and str(f).split("/")[0].endswith(".dist-info"):
            continue
        add(str(f), dist.locate_file(f))
    for ep in dist.entry_points:
        if ep.group != GROUP:
            continue
        top = ep.module.split(".")[0]
        # Where the distribution itself lives first (an installed copy); only an
        # editable install, whose code lives elsewhere, needs the import system.
        spec = (importlib.machinery.PathFinder.find_spec(top, [str(dist.locate_file(""))])
                or importlib.util.find_spec(top))
        if spec is None:
            continue
        if spec.submodule_search_locations:
            for root in spec.submodule_search_locations:
                for p in sorted(Path(root).rglob("*")):
                    add(f"{top}/{p.relative_to(root).as_posix()}", p)
        elif spec.origin:
            add(Path(spec.origin).name, spec.origin)
    return out


def distribution_digest(dist):
    """SHA-256 over every code file of a distribution: label, then the file's SHA-256, sorted.

    Deterministic (sorted labels) and independent of RECORD, INSTALLER and
    bytecode, so reinstalling the same code gives the same digest and
    editing any file gives a new one.
    """
    entries = sorted((label, _sha_file(path)) for label, path in _code_files(dist))
    return hashlib.sha256("".join(f"{label}\0{sha}\n" for label, sha in entries).encode()).hexdigest()


def object_digest(obj):
    """Digest of an in-process plugin (tests, benchmarks): its defining source file."""
    module = inspect.getmodule(obj) if not inspect.ismodule(obj) else obj
    source = inspect.getsourcefile(module) if module else None
    if not source:
        raise BrokerCRMError(f"cannot digest plugin {obj!r}: no source file")
    return hashlib.sha256(f"{Path(source).name}\0{_sha_file(source)}\n".encode()).hexdigest()


# -- the manager ---------------------------------------------------------------

def new_manager():
    """A plugin manager with the brokercrm hook specs and no plugins."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def allowed_names(env=None):
    """Names allowed by BROKERCRM_LOAD_PLUGINS, or None when every plugin may load."""
    env = os.environ if env is None else env
    value = env.get(ENV_LOAD)
    if value is None:
        return None
    return {normalize(n.strip()) for n in value.split(",") if n.strip()}


class Plugins:
    """Loaded plugins: a pluggy manager plus name, version, digest and load errors of each."""

    def __init__(self, pm=None):
        self.pm = pm or new_manager()
        self.infos = {}

    def __iter__(self):
        return iter(sorted(self.infos.values(), key=lambda i: i.name))

    def get(self, name):
        return self.infos.get(normalize(name))

    def require(self, name):
        info = self.get(name)
        if info is None:
            known = ", ".join(sorted(self.infos)) or "无 (none)"
            raise BrokerCRMError(f"插件 {name} 未安装或未加载 (not installed or not loaded; loaded: {known})")
        if info.error:
            raise BrokerCRMError(f"插件 {info.name} 加载失败 (failed to load): {info.error}")
        return info

    def register(self, obj, name, version="0", digest=None):
        """Register an in-process plugin object (tests, benchmarks); its digest is its source file's."""
        name = normalize(name)
        info = PluginInfo(name, version, digest or object_digest(obj), obj=obj)
        self._add(info, obj)
        return info

    def _add(self, info, obj):
        try:
            self.pm.register(obj, name=info.name)
            self.pm.check_pending()  # a misspelt hook name fails here, not silently never runs
        except Exception:
            if self.pm.get_plugin(info.name) is not None:
                self.pm.unregister(name=info.name)
            raise
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(obj) or ())
        info.obj = obj
        self.infos[info.name] = info

    def implementations(self, info, hook):
        """The hook implementations of one plugin for ``hook``."""
        caller = getattr(self.pm.hook, hook)
        return [impl for impl in caller.get_hookimpls() if impl.plugin is info.obj]

    def call_one(self, info, hook, **kwargs):
        """Call one plugin's implementation of ``hook`` (None when it has none).

        Only the arguments the implementation names are passed, as pluggy
        does: that is what keeps old plugins working as specs gain arguments.
        """
        results = []
        for impl in self.implementations(info, hook):
            args = [kwargs[name] for name in impl.argnames]
            results.append(impl.function(*args))
        return results[0] if results else None


def load(env=None, path=None):
    """Discover and load installed plugins; a new ``Plugins`` each call.

    ``path`` (a list of directories) looks for distributions there instead
    of ``sys.path``; the default is what Python itself would import.
    """
    plugins = Plugins()
    allowed = allowed_names(env)
    seen = set()
    for dist in metadata.distributions(**({"path": path} if path is not None else {})):
        eps = [ep for ep in dist.entry_points if ep.group == GROUP]
        if not eps:
            continue
        name = normalize(dist.metadata["Name"])
        if name in seen:  # the first on the path wins, as for imports
            continue
        seen.add(name)
        if allowed is not None and name not in allowed and not ({normalize(ep.name) for ep in eps} & allowed):
            continue
        info = PluginInfo(name, dist.version, entry_points=[f"{ep.name} = {ep.value}" for ep in eps])
        try:
            info.digest = distribution_digest(dist)
        except OSError as e:
            info.error = f"无法读取代码 (cannot read code): {e}"
        if len(eps) > 1:
            info.error = info.error or f"每个插件只能有一个 brokercrm 入口点 (one entry point per plugin, got {len(eps)})"
        if info.error:
            plugins.infos[name] = info
            continue
        try:
            obj = eps[0].load()
            plugins._add(info, obj)
        except Exception as e:  # a broken plugin must not break the CLI
            info.obj = None
            info.error = f"{type(e).__name__}: {e}"
            plugins.infos[name] = info
    return plugins
