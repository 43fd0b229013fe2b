"""kill -9 during publish, at every step and at random moments: the old set or the new set, whole.

Each trial runs a real `publish` in a child process and kills it with SIGKILL:
either the process kills itself at a named point (``BROKERCRM_FAULT_POINT``,
deterministic) or the test kills it after a random delay. Then the published
set must be whole: ``current`` names one generation, its manifest lists files
that all exist, open as SQLite, and say (publish_info) they belong to that
generation, and the stable links agree. The next publish leaves no temporary
files behind.
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brokercrm.site.publish import publish
from brokercrm.site.switch import current_dir, current_name

from site_support import NOW, book_admin, build_book

CHILD = ("import sys; sys.path.insert(0, sys.argv[3]); from site_support import book_admin;"
         " from brokercrm.site.publish import publish; publish(sys.argv[1], sys.argv[2], actor=book_admin(sys.argv[1]))")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kill")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BROKERCRM_NOW", NOW)
        build_book(tmp / "crm.db", clients=300)
    return tmp / "crm.db"


def start(db, site, point=None):
    env = {**os.environ, "BROKERCRM_NOW": NOW}
    env.pop("BROKERCRM_FAULT_POINT", None)
    if point:
        env["BROKERCRM_FAULT_POINT"] = f"publish:{point}"
    return subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(site), str(Path(__file__).parent.parent)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def whole_set(site):
    """Check the published set is whole; returns its generation."""
    generation = current_name(site)
    assert generation, "no current set"
    set_dir = current_dir(site)
    manifest = json.loads((set_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["generation"] == generation
    inspect = json.loads((set_dir / "inspect-data.json").read_text(encoding="utf-8"))
    assert set(inspect) == set(manifest["databases"])
    for name, entry in manifest["databases"].items():
        path = set_dir / entry["file"]
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            info = dict(conn.execute("SELECT key, value FROM publish_info"))
        finally:
            conn.close()
        assert info["generation"] == generation and info["scope"] == name, (name, info)
        # The stable name a tool opens leads to the same set.
        assert os.path.realpath(site / entry["file"]) == os.path.realpath(path)
    assert json.loads((site / "manifest.json").read_text(encoding="utf-8"))["generation"] == generation
    return generation


@pytest.mark.parametrize("point,switched", [
    ("head_office", False), ("branches", False), ("built", False), ("renamed", False),
    ("switched", True), ("linked", True),
])
def test_kill_at_each_step_leaves_one_whole_set(book, tmp_path, monkeypatch, point, switched):
    monkeypatch.setenv("BROKERCRM_NOW", NOW)
    site = tmp_path / "site"
    admin = book_admin(book)
    old = publish(book, site, actor=admin).generation
    proc = start(book, site, point)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    generation = whole_set(site)
    assert (generation != old) == switched
    # The next publish cleans up and publishes a whole set again.
    new = publish(book, site, actor=admin).generation
    assert whole_set(site) == new
    leftovers = [p.name for p in site.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert len([p for p in site.iterdir() if p.name.startswith("gen-")]) <= 2


def test_kill_at_random_moments(book, tmp_path, monkeypatch):
    monkeypatch.setenv("BROKERCRM_NOW", NOW)
    site = tmp_path / "site"
    admin = book_admin(book)
    generations = {publish(book, site, actor=admin).generation}
    # How long a publish runs as a child process, to spread the kills over it.
    started = time.monotonic()
    proc = start(book, site)
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    duration = time.monotonic() - started
    generations.add(whole_set(site))
    rng = random.Random(13)
    for _ in range(8):
        proc = start(book, site)
        time.sleep(rng.uniform(0, duration))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=120)
        generation = whole_set(site)
        # Either a set that was whole before, or the one this child finished.
        assert generation in generations or proc.returncode in (0, -signal.SIGKILL)
        generations.add(generation)
    publish(book, site, actor=admin)
    whole_set(site)
    assert not [p.name for p in site.iterdir() if p.name.startswith(".tmp-")]
