"""Plugin hooks in their own process, bounded in time, output and memory.

The engine never imports a branch plugin. Each plugin runs in a worker
process (``worker.py``) started with ``python -I`` and an empty environment
(so neither ``PYTHONPATH`` nor environment variables can change what it
loads or decides), fed the exact bytes that were digested. A call that
raises, exits, runs past its time limit, answers more than its size limit or
dies becomes a ``PluginError`` for that plugin alone; the worker is killed
and the engine goes on with the other branches.
"""

import ctypes
import json
import os
import resource
import selectors
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass

from ..kernel.errors import BrokerCRMError


@dataclass(frozen=True)
class Limits:
    """Per-call bounds; head-office policy may set them ([plugins] in classification.toml)."""

    seconds: float = 20.0
    output_bytes: int = 4 << 20
    memory_mb: int = 1024
    rules: int = 1000

    @classmethod
    def from_policy(cls, doc):
        section = (doc or {}).get("plugins") or {}
        d = cls()
        return cls(float(section.get("timeout_seconds", d.seconds)),
                   int(section.get("max_output_bytes", d.output_bytes)),
                   int(section.get("memory_mb", d.memory_mb)),
                   int(section.get("max_rules", d.rules)))


class PluginError(BrokerCRMError):
    """A plugin misbehaved (raised, exited, timed out, answered too much or malformed), or
    cannot be run for a branch (missing, changed, unverifiable approval)."""

    def __init__(self, plugin, branch, message):
        where = f" (营业部 {branch})" if branch else ""
        super().__init__(f"插件 {plugin}{where}: {message}")
        self.plugin, self.branch, self.detail = plugin, branch, message


def _shield_engine():
    """Make the engine's /proc files (environ, mem) unreadable to its own user's other processes.

    The passphrase of an operator's key may sit in the environment
    (BROKERCRM_KEY_PASSPHRASE); a plugin worker of the same user must not
    read it there. Linux only; elsewhere a no-op.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4, 0: not dumpable
    except (OSError, AttributeError):
        pass


def _drop_capabilities():
    """A worker started by root keeps root's uid but none of its capabilities.

    Without CAP_SYS_PTRACE it cannot read a non-dumpable engine's /proc
    files (where a key's passphrase may sit); without CAP_DAC_OVERRIDE it
    reads only what root owns. Linux only; elsewhere a no-op.
    """
    if os.geteuid() != 0:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in range(64):  # the bounding set, so nothing exec'd later gets them back
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable × 2: all empty
        libc.capset(header, data)
    except (OSError, AttributeError):
        pass


def _confine(mb):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (mb << 20, mb << 20))
        os.setsid()  # its own process group: killing it takes any child it made
        _drop_capabilities()
    return apply


class PluginProcess:
    """One running plugin; ``call`` its hooks, ``close`` when done (a context manager)."""

    def __init__(self, name, snapshot, entry, limits=Limits()):
        self.name, self.snapshot, self.entry, self.limits = name, snapshot, entry, limits
        self.proc = None
        self.hooks = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        if self.proc is not None:
            return self
        _shield_engine()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "brokercrm.kernel.plugin_runtime"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={"LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}, close_fds=True, cwd="/",
            preexec_fn=_confine(self.limits.memory_mb),
        )
        return self

    def load(self):
        """Start the worker and load the plugin in it; the hooks it implements."""
        if self.hooks is None:
            self.start()
            reply = self._exchange({"load": {"name": self.name, "entry": self.entry,
                                             "files": self.snapshot.as_wire()}}, "加载 (load)", "hooks")
            if not isinstance(reply["hooks"], list) or not all(isinstance(h, str) for h in reply["hooks"]):
                self._fail("加载 (load)", "插件进程的回复格式错误 (malformed reply)")
            self.hooks = set(reply["hooks"])
        return self.hooks

    def call(self, hook, **kwargs):
        """The plugin's result for ``hook`` (None when it does not implement it)."""
        if hook not in self.load():
            return None
        return self._exchange({"call": hook, "kwargs": kwargs}, hook, "result")["result"]

    def close(self):
        """End the worker now: it holds nothing worth flushing, and waiting would cost every run."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self._kill()
            self.proc.stdin.close()
            self.proc.stdout.close()
        self.proc = None

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def _fail(self, what, message):
        if self.proc is not None and self.proc.poll() is None:
            self._kill()
        self.proc = None
        self.hooks = None
        raise PluginError(self.name, None, f"{what}: {message}")

    def _exchange(self, request, what, expect):
        if self.proc is None or self.proc.poll() is not None:
            self._fail(what, "插件进程已退出 (plugin process is gone)")
        data = json.dumps(request, ensure_ascii=False, default=str).encode("utf-8")
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._fail(what, "插件进程已退出 (plugin process exited)")
        deadline = time.monotonic() + self.limits.seconds
        header = self._read(4, deadline, what)
        (size,) = struct.unpack(">I", header)
        if size > self.limits.output_bytes:
            self._fail(what, f"输出超过上限 {self.limits.output_bytes} 字节 (output over the limit: {size} bytes)")
        # The plugin can write into this channel too: anything but a well-formed reply is its failure.
        try:
            reply = json.loads(self._read(size, deadline, what).decode("utf-8"))
        except ValueError as e:  # UnicodeDecodeError and JSONDecodeError alike
            self._fail(what, f"插件进程的回复无法解析 (malformed reply): {type(e).__name__}")
        if not isinstance(reply, dict):
            self._fail(what, "插件进程的回复格式错误 (malformed reply)")
        if not reply.get("ok"):
            raise PluginError(self.name, None, f"{what} 出错 (raised) {str(reply.get('error'))[:2000]}")
        if expect not in reply:
            self._fail(what, "插件进程的回复格式错误 (malformed reply)")
        return reply

    def _read(self, n, deadline, what):
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while len(buf) < n:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self._fail(what, f"超过时限 {self.limits.seconds:g} 秒, 已终止 (timed out; killed)")
                chunk = os.read(fd, min(n - len(buf), 1 << 20))
                if not chunk:
                    code = self.proc.poll()
                    self._fail(what, f"插件进程意外退出 (plugin process exited, code {code})")
                buf += chunk
        return bytes(buf)
