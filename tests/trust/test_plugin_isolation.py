"""A misbehaving approved plugin takes out only its own branch, and never silently (issue 10, item 8).

Attacker: a branch's plugin author (or a bug) whose approved code raises,
exits, loops, floods or eats memory. Defence: hooks run in a bounded worker
process; the branch is left out, the run is partial, classify exits 1.
"""

import pytest

from brokercrm.classify.engine import classify
from brokercrm.plugins import Limits
from tests.trust.attacks import book, classes, misbehave  # noqa: F401  (book: a fixture)

GOOD = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    return [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "set_class": "A", "reason": "good"}]
"""


@pytest.mark.parametrize("body, why", [
    ("    sys.exit(3)", "SystemExit"),
    ("    raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("    os._exit(0)", "exited"),
    ("    raise ValueError('boom')", "ValueError"),
    ("    while True: pass", "timed out"),
    ("    return [{'when': {'field': 'total_assets', 'op': '>=', 'value': 0}, 'shift': 1, 'reason': 'x'}] * 5000",
     "too many rules"),
    ("    x = 'y' * (3 << 30)\n    return []", "MemoryError"),
])
def test_a_misbehaving_plugin_takes_out_only_its_branch(book, plugin_site, approve_plugin, admin, tmp_path,
                                                        body, why):
    trigger = tmp_path / "misbehave-now"
    plugin_site.install("brokercrm-good", GOOD)
    plugin_site.install("brokercrm-bad", misbehave(body, trigger))
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-good", "BJ01")
        approve_plugin(host, "brokercrm-bad", "TY01")
    trigger.touch()
    seconds = 3 if why == "timed out" else 60  # only the endless call needs a short limit
    with plugin_site.host(limits=Limits(seconds=seconds, memory_mb=512, rules=1000)) as host:
        result = classify(book, actor=admin, plugins=host)
    assert classes(book) == {"B1": "A"}          # TY01 left out, BJ01 classified with its plugin
    assert result.as_dict()["status"] == "partial"
    [failure] = result.failures
    assert failure["branch"] == "TY01" and failure["plugin"] == "brokercrm-bad"
    assert why in failure["error"]


def test_the_cli_names_plugin_branch_and_reason_and_exits_1(book, plugin_site, approve_plugin, run, tmp_path):
    trigger = tmp_path / "misbehave-now"
    plugin_site.install("brokercrm-bad", misbehave("    sys.exit(3)", trigger))
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-bad", "TY01")
    trigger.touch()
    result = run("classify", ok=False)
    assert result.exit_code == 1
    assert "brokercrm-bad" in result.output and "TY01" in result.output and "SystemExit" in result.output


def test_an_approved_plugin_that_is_missing_excludes_its_branch_loudly(book, plugin_site, approve_plugin, run):
    pkg = plugin_site.install("brokercrm-gone", GOOD)
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-gone", "TY01")
    for f in sorted(plugin_site.path.rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    assert not pkg.exists()
    result = run("classify", ok=False)
    assert result.exit_code == 1
    assert "brokercrm-gone" in result.output and "未安装" in result.output
