"""The plugins of one command: found without importing them, run in their own processes.

``discover`` reads installed distributions' entry points (group
``brokercrm``) and snapshots their code (``snapshot.take``): nothing of a
plugin executes in the engine's process, approved or not, not even for
``--help``. ``BROKERCRM_LOAD_PLUGINS`` (a comma list of *distribution*
names; empty loads none) narrows what is considered.

A ``Host`` holds what was discovered plus the worker processes started for
this command, one per plugin, and closes them at the end. It is made once
per command (``brokercrm.plugins.host``) and passed down.
"""

import importlib.metadata as metadata
import os
import re
from dataclasses import dataclass, field

from ..kernel.errors import BrokerCRMError
from . import snapshot as snapshots
from .isolation import Limits, PluginError, PluginProcess

GROUP = "brokercrm"
ENV_LOAD = "BROKERCRM_LOAD_PLUGINS"


def normalize(name):
    """PEP 503 name: 'BrokerCRM_Taiyuan' and 'brokercrm-taiyuan' are one plugin."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Installed:
    """One installed plugin distribution, as found on disk."""

    name: str
    version: str
    entry: str = ""
    digest: str | None = None
    error: str | None = None
    snapshot: object = field(default=None, repr=False)

    def as_dict(self):
        return {"name": self.name, "version": self.version, "digest": self.digest,
                "entry_point": self.entry, "error": self.error}


def allowed_names(env=None):
    """Distribution names allowed by BROKERCRM_LOAD_PLUGINS, or None when all may load."""
    env = os.environ if env is None else env
    value = env.get(ENV_LOAD)
    if value is None:
        return None
    return {normalize(n.strip()) for n in value.split(",") if n.strip()}


def discover(env=None, path=None):
    """{name: Installed} of every plugin distribution; the first on the path wins, as imports do."""
    allowed = allowed_names(env)
    found = {}
    for dist in metadata.distributions(**({"path": path} if path is not None else {})):
        eps = [ep for ep in dist.entry_points if ep.group == GROUP]
        if not eps:
            continue
        name = normalize(dist.metadata["Name"] or "")
        if not name or name in found or (allowed is not None and name not in allowed):
            continue
        info = Installed(name, dist.version or "?", entry=eps[0].value)
        if len(eps) > 1:
            info.error = f"每个插件只能有一个 brokercrm 入口点 (one entry point per plugin, got {len(eps)})"
        else:
            try:
                info.snapshot = snapshots.take(dist, GROUP)
                info.digest = info.snapshot.digest()
            except (OSError, snapshots.SnapshotError) as e:
                info.error = f"无法读取代码 (cannot read code): {e}"
        found[name] = info
    return found


class Host:
    def __init__(self, *, env=None, path=None, limits=None):
        self.installed = discover(env, path)
        self.limits = limits or Limits()
        self._procs = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return iter(sorted(self.installed.values(), key=lambda i: i.name))

    def get(self, name):
        return self.installed.get(normalize(name))

    def require(self, name):
        info = self.get(name)
        if info is None:
            known = ", ".join(sorted(self.installed)) or "无 (none)"
            raise BrokerCRMError(f"插件 {name} 未安装 (not installed; installed: {known})")
        if info.error:
            raise BrokerCRMError(f"插件 {info.name} 无法使用 (unusable): {info.error}")
        return info

    def _process(self, name):
        info = self.require(name)
        proc = self._procs.get(info.name)
        if proc is None or (proc.proc is None and proc.hooks is None):  # never started, or failed
            proc = self._procs[info.name] = PluginProcess(info.name, info.snapshot, info.entry, self.limits)
        return proc

    def call(self, name, hook, **kwargs):
        """Plugin ``name``'s result for ``hook``, run in its worker; PluginError on any misbehaviour."""
        return self._process(name).call(hook, **kwargs)

    def hooks(self, name):
        """The hooks plugin ``name`` implements (loads it in its worker)."""
        return self._process(name).load()

    def prestart(self, names):
        """Start the workers of ``names`` at once, so their start-up overlaps."""
        for name in sorted(names):
            info = self.get(name)
            if info is not None and not info.error:
                self._process(name).start()

    def close(self):
        for proc in self._procs.values():
            proc.close()
        self._procs.clear()


__all__ = ["Host", "Installed", "PluginError", "discover", "normalize", "GROUP", "ENV_LOAD"]
