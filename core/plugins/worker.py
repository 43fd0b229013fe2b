"""The plugin worker: one process per plugin, running its hooks from pinned bytes.

Started by ``isolation.PluginProcess`` as ``python -I -m brokercrm.plugins.worker``
with an empty environment. It reads length-prefixed JSON requests on fd 0
and answers on a private copy of fd 1 (the plugin's own prints go to fd 2,
which the parent discards: plugin output may hold personal data). The first
request carries the plugin's snapshot and entry point; each later one names
a hook and its arguments. Whatever the plugin does — raise, ``sys.exit``,
``KeyboardInterrupt`` — becomes an error reply; an endless loop or a flood
of output is the parent's to stop (time and size limits).
"""

import datetime as dt
import json
import os
import struct
import sys


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
    import pluggy

    from ..kernel import hookspecs
    from .snapshot import PinnedImporter, Snapshot

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
