"""This process's plugins: discovered once, on first use, then passed down.

Discovery digests every file of every installed plugin, so it happens once
per process (pluggy's ``get_plugin_manager``, sqlite-utils'
``ensure_plugins_loaded``), not once per call: an import emits an event per
new client, and each event's listener needs the plugins. The CLI runs one
command per process; tests and benchmarks that register plugins in process
hand them over with ``use``. Library functions take ``plugins=`` and fall
back to ``current()``.
"""

from .manager import load

_current = None


def current():
    """The plugins of this process (discovered on the first call)."""
    global _current
    if _current is None:
        _current = load()
    return _current


def use(plugins):
    """Make ``plugins`` this process's plugins; ``None`` discovers again on the next ``current()``."""
    global _current
    _current = plugins
