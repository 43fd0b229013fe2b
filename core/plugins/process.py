"""This process's plugin host: discovered once, on first use, then passed down.

Discovery snapshots and digests every file of every installed plugin, so it
happens once per process (pluggy's ``get_plugin_manager``, sqlite-utils'
``ensure_plugins_loaded``), not once per call: an import emits an event per
new client, and each event's listener may need the plugins. A command that
works with plugins makes its own ``Host`` with ``load()`` and closes it;
library functions take ``plugins=`` (a ``Host``) and fall back to
``current()``. Tests and benchmarks hand a host of their own over with
``use``.
"""

import atexit

from .host import Host

_current = None
_discovered = None  # the host current() made itself, which this module closes


def load(env=None, path=None, limits=None):
    """The plugins installed for this command (nothing imported); close it when done."""
    return Host(env=env, path=path, limits=limits)


def current():
    """The plugin host of this process (discovered on the first call, closed at exit)."""
    global _current, _discovered
    if _current is None:
        _current = _discovered = load()
    return _current


def use(host):
    """Make ``host`` this process's plugins; ``None`` discovers again on the next ``current()``.

    A host handed over stays its owner's to close; one ``current()`` discovered is closed here.
    """
    global _current, _discovered
    if _discovered is not None:
        _discovered.close()
        _discovered = None
    _current = host


atexit.register(use, None)
