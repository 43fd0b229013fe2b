"""The published set on disk: every publish is a new directory, switched in by one rename.

::

    site/
      current -> gen-20260630T100000-9f3a01c2  a symlink; replacing it is the one atomic switch
      gen-20260630T100000-9f3a01c2/          one publish, complete before the switch:
          hq.db TY01.db … inspect-data.json manifest.json
      gen-20260629T100000-5be0d417/          the set before (kept one publish longer for
                                             requests still reading it), then removed
      hq.db -> current/hq.db                 stable names for tools, resolved through current
      manifest.json -> current/manifest.json
      .tmp-gen-…/                            a set being built; never read

A reader resolves ``current`` once (``current_dir``) and opens everything from
that directory, so it sees one whole set. A publish killed at any moment leaves
``current`` on the old set or the new one; what it was building is a ``.tmp-``
directory (or an unreferenced generation) that the next publish removes. Only
one publish writes into a site directory at a time (``lock``), so whatever
temporary files the lock holder finds are a dead publish's.
"""

import fcntl
import json
import os
import re
import secrets
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

from ..kernel.errors import BrokerCRMError

CURRENT = "current"
MANIFEST = "manifest.json"
INSPECT = "inspect-data.json"
LOCK = ".publish.lock"
TMP_PREFIX = ".tmp-"
GEN_RE = re.compile(r"^gen-[0-9T]+-[0-9a-f]+$")
# Files of the layout before generations (written in place); replaced by links on the first publish.
_LEGACY_TMP = re.compile(r"^\..+\.tmp-[0-9]+$")


def fault_point(name):
    """Fault injection for the kill -9 tests: die here, as a crash would, when asked to.

    ``BROKERCRM_FAULT_POINT=publish:<name>`` makes the process SIGKILL itself at
    that point; unset (always, outside the tests) it costs one dictionary look-up.
    """
    if os.environ.get("BROKERCRM_FAULT_POINT") == f"publish:{name}":
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def lock(out):
    """Hold the site directory's publish lock (waits for a running publish to finish).

    An advisory ``flock`` on a file in the directory: the kernel drops it when
    the holder dies, so a killed publish never leaves the directory locked.
    """
    fd = os.open(Path(out) / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def current_dir(out):
    """The directory of the set now published in ``out`` (``out`` itself for the older flat layout)."""
    out = Path(out)
    link = out / CURRENT
    if link.is_symlink():
        return out / os.readlink(link)
    return out


def current_name(out):
    """The generation ``current`` names, or None: cheap enough to ask on every request."""
    try:
        return os.readlink(Path(out) / CURRENT)
    except OSError:
        return None


def read_manifest(out):
    path = current_dir(out) / MANIFEST
    if not path.exists():
        raise BrokerCRMError(f"{out} 中没有已发布的快照, 请先运行 brokercrm publish (no snapshots: run publish first)")
    return json.loads(path.read_text(encoding="utf-8"))


def remove_stale(out):
    """Remove what dead publishes left: temporary sets and files, and generations no one points at.

    The generation ``current`` names and the one before it stay: a server may
    still be answering a request from the previous set.
    """
    out = Path(out)
    keep = {current_name(out)}
    keep.add(_previous_name(out))
    removed = []
    for entry in out.iterdir():
        name = entry.name
        stale = name.startswith(TMP_PREFIX) or _LEGACY_TMP.match(name) or (GEN_RE.match(name) and name not in keep)
        if not stale:
            continue
        if entry.is_symlink():
            entry.unlink()          # a link a dead publish was about to rename over current
        elif entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(name)
    return removed


def _previous_name(out):
    try:
        return (Path(out) / ".previous").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def new_build_dir(out, stamp):
    """A fresh temporary directory for a set being built, and the generation name it will take."""
    # The publishing time orders the sets for a person; the random part keeps two
    # publishes in the same second (or under a fixed BROKERCRM_NOW) apart.
    name = f"gen-{stamp.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
    tmp = Path(out) / f"{TMP_PREFIX}{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp, name


def _replace_link(path, target):
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, path)


def switch(out, build_dir, name, files):
    """Make the built set the published one: rename it into place, then swap ``current`` in one rename.

    ``files``: the names in the set (snapshots, manifest, inspect data) that get
    a stable link ``out/<file> -> current/<file>``.
    """
    out = Path(out)
    old = current_name(out)
    final = out / name
    os.rename(build_dir, final)
    fault_point("renamed")
    _replace_link(out / CURRENT, name)           # the switch: before it the old set, after it the new
    fault_point("switched")
    if old and old != name:
        (out / ".previous").write_text(old, encoding="utf-8")
    for file in files:
        link = out / file
        if not (link.is_symlink() and os.readlink(link) == f"{CURRENT}/{file}"):
            _replace_link(link, f"{CURRENT}/{file}")
    fault_point("linked")
    # Links of snapshots that are no longer published (a branch closed) would dangle.
    for entry in out.iterdir():
        if entry.is_symlink() and entry.name != CURRENT and entry.name not in files \
                and os.readlink(entry).startswith(f"{CURRENT}/"):
            entry.unlink()
    remove_stale(out)
