"""Discovery of installed plugins: entry points, BROKERCRM_LOAD_PLUGINS, digests, load errors, hook docs.

Discovery (``brokercrm.plugins.host.discover``, behind ``Host``) reads
entry points and snapshots code as bytes: it imports nothing. A plugin's
code runs only in its own worker process, when a hook is asked for.

The example plugins in plugins/ are installed into the test environment
(`pip install -e plugins/brokercrm-taiyuan -e plugins/brokercrm-beijing`), so
these tests discover them through their real entry points; the others are
real distributions written by ``plugin_site``.
"""

import datetime as dt
import importlib.metadata as md
import inspect
import json
import os
import re
import sys
from pathlib import Path

import pluggy
import pytest
from click.testing import CliRunner

from brokercrm import plugins
from brokercrm.cli import cli
from brokercrm.kernel import hookspecs
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.plugins import host as host_lib
from brokercrm.plugins import snapshot
from conftest import add_client

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"brokercrm-taiyuan", "brokercrm-beijing"}

NOTHING = """
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    return []
"""


def test_example_plugins_are_discovered_through_entry_points(monkeypatch):
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    with plugins.load() as loaded:
        names = {i.name for i in loaded}
        assert EXAMPLES <= names, (
            "example plugins not installed: .venv/bin/pip install -e plugins/brokercrm-taiyuan"
            " -e plugins/brokercrm-beijing")
        ty = loaded.get("brokercrm-taiyuan")
        assert ty.version == "0.1.0" and ty.error is None
        assert ty.entry == "brokercrm_taiyuan"            # the value of `taiyuan = brokercrm_taiyuan`
        assert re.fullmatch(r"[0-9a-f]{64}", ty.digest)
        assert ty.digest == ty.snapshot.digest()
        # An editable install: the snapshot holds the package its entry point names, read from disk.
        source = ROOT / "plugins" / "brokercrm-taiyuan" / "brokercrm_taiyuan" / "__init__.py"
        assert ty.snapshot.files["brokercrm_taiyuan/__init__.py"] == source.read_bytes()
        bj = loaded.get("BrokerCRM_Beijing")  # names are normalised
        assert bj is not None and bj.name == "brokercrm-beijing"
        # The hooks are what pluggy registers from the entry point's module, in the plugin's worker.
        assert loaded.hooks("brokercrm-taiyuan") == {"classification_adjustments"}
        assert loaded.hooks("BrokerCRM_Beijing") == {"classification_adjustments", "validate_clients"}


def test_each_load_discovers_afresh_and_runs_its_own_workers(plugin_site):
    plugin_site.install("brokercrm-first", NOTHING)
    a = plugin_site.host()
    b = plugin_site.host()
    try:
        assert {i.name: i.digest for i in a} == {i.name: i.digest for i in b}
        assert a.hooks("brokercrm-first") == b.hooks("brokercrm-first") == {"classification_adjustments"}
        a.close()  # one command's workers end with it; another's go on
        assert b.call("brokercrm-first", "classification_adjustments", branch="TY01", policy={}) == []
        plugin_site.install("brokercrm-second", NOTHING)
        assert [i.name for i in b] == ["brokercrm-first"]  # found once, when the command started
        with plugin_site.host() as c:
            assert [i.name for i in c] == ["brokercrm-first", "brokercrm-second"]
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("value, expected", [
    ("", set()),
    ("brokercrm-taiyuan", {"brokercrm-taiyuan"}),
    ("beijing", set()),                                # an entry point name is not a distribution name
    ("brokercrm_beijing", {"brokercrm-beijing"}),      # the module name: the same name, normalised
    (" brokercrm_taiyuan , BrokerCRM.Beijing ", EXAMPLES),
    ("no-such-plugin", set()),
])
def test_load_plugins_env_restricts_loading_by_distribution_name(monkeypatch, value, expected):
    monkeypatch.setenv(plugins.ENV_LOAD, value)
    with plugins.load() as loaded:
        assert {i.name for i in loaded} & (EXAMPLES | {"no-such-plugin"}) == expected
    assert set(host_lib.discover(env={plugins.ENV_LOAD: value})) & EXAMPLES == expected


def test_load_plugins_env_matches_distribution_names_not_entry_point_names(plugin_site):
    plugin_site.install("brokercrm-alpha", NOTHING, module="beta_impl")  # entry point `brokercrm-alpha = beta_impl`
    path = [str(plugin_site.path)]
    assert set(host_lib.discover(env={plugins.ENV_LOAD: "brokercrm-alpha"}, path=path)) == {"brokercrm-alpha"}
    assert set(host_lib.discover(env={plugins.ENV_LOAD: "beta_impl"}, path=path)) == set()
    assert set(host_lib.discover(env={}, path=path)) == {"brokercrm-alpha"}  # unset: all


def test_load_plugins_env_empty_means_none_in_the_cli(run, monkeypatch):
    monkeypatch.setenv(plugins.ENV_LOAD, "")
    out = run("plugins", "list", "--json", operator=None)
    assert json.loads(out.output) == []
    assert "未安装插件" in run("plugins", "list", operator=None).output


def _fake_dist(site, name, module, body=None, entry_points=None):
    """A minimal installed distribution (dist-info + module), as an installer would leave it."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points or f"[brokercrm]\n{name} = {module}\n")
    files = [f"{info.name}/METADATA", f"{info.name}/entry_points.txt", f"{info.name}/RECORD"]
    if body is not None:
        (site / f"{module}.py").write_text(body)
        files.append(f"{module}.py")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    return info


def test_a_plugin_that_fails_to_import_is_reported_not_fatal(plugin_site, run):
    _fake_dist(plugin_site.path, "brokercrm-broken", "brokercrm_broken_mod",
               "raise ImportError('missing dependency xyz')\n")
    with plugin_site.host() as loaded:
        info = loaded.get("brokercrm-broken")
        # Discovery does not import: the plugin is found and digested, and fails only where it runs.
        assert info.error is None and re.fullmatch(r"[0-9a-f]{64}", info.digest)
        with pytest.raises(plugins.PluginError, match="missing dependency xyz"):
            loaded.hooks("brokercrm-broken")
    listed = {p["name"]: p for p in json.loads(run("plugins", "list", "--json", operator=None).output)}
    assert listed["brokercrm-broken"]["digest"] == info.digest


def test_a_plugin_whose_code_cannot_be_read_is_reported_not_fatal(plugin_site, run):
    _fake_dist(plugin_site.path, "brokercrm-unreadable", "brokercrm_nowhere_mod")  # its module is missing
    plugin_site.install("brokercrm-fine", NOTHING)
    with plugin_site.host() as loaded:
        info = loaded.get("brokercrm-unreadable")
        assert info.digest is None and "brokercrm_nowhere_mod" in info.error
        with pytest.raises(BrokerCRMError, match="无法使用"):
            loaded.require("brokercrm-unreadable")
        assert loaded.require("brokercrm-fine").error is None  # the others are unaffected
    listed = {p["name"]: p for p in json.loads(run("plugins", "list", "--json", operator=None).output)}
    assert "brokercrm_nowhere_mod" in listed["brokercrm-unreadable"]["error"]
    assert listed["brokercrm-fine"]["error"] is None
    text = run("plugins", "list", operator=None).output
    assert "brokercrm-unreadable" in text and "无法读取 (unusable)" in text


def test_one_entry_point_per_plugin(plugin_site):
    _fake_dist(plugin_site.path, "brokercrm-twice", "brokercrm_twice_mod", NOTHING,
               entry_points="[brokercrm]\none = brokercrm_twice_mod\ntwo = brokercrm_twice_mod\n")
    with plugin_site.host() as loaded:
        info = loaded.get("brokercrm-twice")
        assert info.error and "one entry point per plugin" in info.error
        with pytest.raises(BrokerCRMError, match="无法使用"):
            loaded.hooks("brokercrm-twice")


def test_a_hook_implementation_with_an_unknown_argument_is_refused(plugin_site):
    body = ("from brokercrm.hookspecs import hookimpl\n\n"
            "@hookimpl\ndef classification_adjustments(branch, colour):\n    return []\n")
    _fake_dist(plugin_site.path, "brokercrm-badargs", "brokercrm_badargs_mod", body)
    with plugin_site.host() as loaded:
        with pytest.raises(plugins.PluginError, match="colour"):
            loaded.hooks("brokercrm-badargs")


# -- the code digest: Snapshot.digest() over the bytes discovery read -------------------------

def _digest(site, name):
    (dist,) = [d for d in md.distributions(path=[str(site)]) if d.metadata["Name"] == name]
    return snapshot.take(dist, plugins.GROUP).digest()


def test_digest_ignores_installer_bookkeeping_and_bytecode_but_not_code(plugin_site):
    pkg = plugin_site.install("brokercrm-dg", "X = 1\n", extra_files={"brokercrm_dg/rules.json": "[]\n"})
    info_dir = next(plugin_site.path.glob("brokercrm_dg-*.dist-info"))
    site, first = plugin_site.path, _digest(plugin_site.path, "brokercrm-dg")
    assert _digest(site, "brokercrm-dg") == first                       # same code, same digest
    with plugin_site.host() as loaded:
        assert loaded.get("brokercrm-dg").digest == first             # what discovery reports
    # Installer bookkeeping is not code.
    (info_dir / "INSTALLER").write_text("pip\n")
    (info_dir / "REQUESTED").write_text("")
    record = info_dir / "RECORD"
    record.write_text(record.read_text() + "brokercrm_dg/__pycache__/__init__.cpython-311.pyc,,\n"
                      + f"{info_dir.name}/INSTALLER,,\n{info_dir.name}/REQUESTED,,\n")
    assert _digest(site, "brokercrm-dg") == first
    # Bytecode, recorded by the installer or not, is never part of the code.
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"junk")
    assert _digest(site, "brokercrm-dg") == first
    # Any file of the plugin: code, data, metadata.
    for path, text in ((pkg / "__init__.py", "X = 2\n"), (pkg / "rules.json", "[1]\n"),
                       (info_dir / "entry_points.txt", "[brokercrm]\nbrokercrm-dg = brokercrm_dg\n\n")):
        original = path.read_text()
        path.write_text(text)
        assert _digest(site, "brokercrm-dg") != first, path.name
        path.write_text(original)
        assert _digest(site, "brokercrm-dg") == first


def test_the_same_code_installed_elsewhere_has_the_same_digest(plugin_site, tmp_path):
    def site(name, version="0.1.0"):
        other = type(plugin_site)(tmp_path / name)
        other.path.mkdir()
        other.install("brokercrm-same", NOTHING, version=version)
        return _digest(other.path, "brokercrm-same")

    plugin_site.install("brokercrm-same", NOTHING)
    assert _digest(plugin_site.path, "brokercrm-same") == site("elsewhere")
    assert _digest(plugin_site.path, "brokercrm-same") != site("newer", version="0.2.0")  # a new version


# -- discovery imports nothing ----------------------------------------------------------------

def marking(marker):
    """A plugin whose import-time code leaves a marker naming the process that imported it."""
    return f"""
import os, pathlib
pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    return [{{"when": {{"field": "total_assets", "op": ">=", "value": 0}}, "set_class": "A", "reason": "marked"}}]
"""


def test_discovery_imports_nothing(plugin_site, run, db, tmp_path):
    marker = tmp_path / "imported"
    plugin_site.install("brokercrm-marker", marking(marker))
    add_client(db, "T1", branch="TY01")
    with plugin_site.host() as loaded:
        assert loaded.get("brokercrm-marker").digest
    listed = [p["name"] for p in json.loads(run("plugins", "list", "--json", operator=None).output)]
    assert "brokercrm-marker" in listed  # found …
    run("plugins", "list", operator=None)
    for args in (["--help"], ["plugins", "--help"], ["classify", "--help"], ["approvals", "--help"]):
        assert CliRunner().invoke(cli, args).exit_code == 0, args
    run("no-such-command", operator=None, ok=False)  # an unknown name asks approved plugins only
    out = json.loads(run("classify", "--json").output)
    assert any(s["plugin"] == "brokercrm-marker" and s["state"] == "none" for s in out["plugins"]["skipped"])
    assert not marker.exists()  # … and never imported
    assert "brokercrm_marker" not in sys.modules


def test_an_approved_plugin_runs_only_in_its_worker(plugin_site, approve_plugin, run, db, tmp_path):
    marker = tmp_path / "imported"
    plugin_site.install("brokercrm-marker", marking(marker))
    add_client(db, "T1", branch="TY01")
    with plugin_site.host() as loaded:
        approve_plugin(loaded, "brokercrm-marker", "TY01")  # its request's preview ran it: in a worker
    marker.unlink()
    out = json.loads(run("classify", "--json").output)
    assert [(a["plugin"], a["branch"]) for a in out["plugins"]["applied"]] == [("brokercrm-marker", "TY01")]
    assert db.execute("SELECT class FROM classifications WHERE client_id = 'T1'").fetchone() == ("A",)
    assert marker.exists() and int(marker.read_text()) != os.getpid()
    assert "brokercrm_marker" not in sys.modules


# -- the hook specs ---------------------------------------------------------------------------

def documented_hooks():
    """{hook: [argument, …]} from the ``#### `name(a, b)` `` headings of docs/plugins.md."""
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    return {m.group(1): [a.strip() for a in m.group(2).split(",") if a.strip()]
            for m in re.finditer(r"^#+ `(\w+)\(([^)]*)\)`", doc, re.M)}


def test_every_hook_is_documented_with_its_arguments():
    # As datasette's tests/test_docs.py: the docs name each hook with the spec's exact argument list.
    specs = {name: list(inspect.signature(fn).parameters)
             for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if getattr(fn, "brokercrm_spec", None) is not None}
    assert specs, "no hook specs found"
    documented = documented_hooks()
    for name, args in specs.items():
        assert name in documented, f"hook {name} has no section in docs/plugins.md"
        assert documented[name] == args, f"docs/plugins.md shows {name}({', '.join(documented[name])}), the spec takes ({', '.join(args)})"
        assert inspect.getdoc(getattr(hookspecs, name)), f"hook {name} has no docstring"
    assert set(documented) == set(specs), f"documented but no such hook: {set(documented) - set(specs)}"
    assert sorted(specs) == sorted(n for names in hookspecs.FAMILIES.values() for n in names)


def test_the_docs_check_reads_argument_lists():
    # A heading the check cannot parse would make the test above pass on nothing.
    assert documented_hooks()["classification_adjustments"] == ["branch", "policy", "today"]
    assert documented_hooks()["register_commands"] == ["cli"]


# Hook specs may gain arguments, never lose or rename them: plugins written
# against these keep working. Add to this list when a spec grows; never remove.
FROZEN = {
    "validate_clients": ["rows", "branch"],
    "enrich_clients": ["rows", "branch"],
    "interaction_follow_ups": ["event", "branch"],
    "classification_adjustments": ["branch", "policy", "today"],
    "suitability_checks": ["branch"],
    "behaviour_rules": ["branch"],
    "choose_service_package": ["client", "packages", "branch"],
    "register_commands": ["cli"],
}


def test_hook_specs_only_gain_arguments():
    pm = pluggy.PluginManager(hookspecs.PROJECT)  # as the plugin worker builds it
    pm.add_hookspecs(hookspecs)
    for name, args in FROZEN.items():
        spec = getattr(pm.hook, name).spec
        assert spec is not None, f"hook {name} was removed"
        assert set(args) <= set(spec.argnames), f"hook {name} lost arguments: {set(args) - set(spec.argnames)}"


def test_a_plugin_written_for_fewer_arguments_still_works(plugin_site):
    """An implementation naming only some arguments gets only those (pluggy's opt-in arguments)."""
    plugin_site.install("brokercrm-old", """
        from brokercrm.hookspecs import hookimpl

        @hookimpl
        def classification_adjustments(branch):
            return [{"when": {"field": "kind", "op": "=", "value": "individual"}, "shift": 1,
                     "reason": f"saw {sorted(locals())} for {branch}"}]
    """)
    with plugin_site.host() as loaded:
        (rule,) = loaded.call("brokercrm-old", "classification_adjustments", branch="TY01", policy={},
                              today=dt.date(2026, 6, 30).isoformat())
    assert rule["reason"] == "saw ['branch'] for TY01"
