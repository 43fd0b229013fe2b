"""Discovery of installed plugins: entry points, BROKERCRM_LOAD_PLUGINS, digests, load errors, hook docs.

The example plugins in plugins/ are installed into the test environment
(`pip install -e plugins/brokercrm-taiyuan -e plugins/brokercrm-beijing`), so
these tests discover them through their real entry points.
"""

import inspect
import json
import re
from pathlib import Path

import pytest

from brokercrm.kernel import hookspecs
from brokercrm import plugins

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"brokercrm-taiyuan", "brokercrm-beijing"}


def test_example_plugins_are_discovered_through_entry_points(monkeypatch):
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    loaded = plugins.load()
    names = {i.name for i in loaded}
    assert EXAMPLES <= names, (
        "example plugins not installed: .venv/bin/pip install -e plugins/brokercrm-taiyuan -e plugins/brokercrm-beijing")
    ty = loaded.get("brokercrm-taiyuan")
    assert ty.version == "0.1.0" and ty.error is None
    assert ty.hooks == ["classification_adjustments"]
    assert ty.entry_points == ["taiyuan = brokercrm_taiyuan"]
    assert re.fullmatch(r"[0-9a-f]{64}", ty.digest)
    bj = loaded.get("BrokerCRM_Beijing")  # names are normalised
    assert bj.hooks == ["classification_adjustments", "validate_clients"]
    # The hooks were registered by pluggy itself from the entry point's module.
    assert loaded.pm.get_plugin("brokercrm-taiyuan").__name__ == "brokercrm_taiyuan"


def test_each_load_builds_a_fresh_manager(monkeypatch):
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    a, b = plugins.load(), plugins.load()
    assert a.pm is not b.pm
    assert {i.name: i.digest for i in a} == {i.name: i.digest for i in b}


@pytest.mark.parametrize("value, expected", [
    ("", set()),
    ("brokercrm-taiyuan", {"brokercrm-taiyuan"}),
    ("beijing", {"brokercrm-beijing"}),               # the entry point name works too
    (" brokercrm_taiyuan , brokercrm-beijing ", EXAMPLES),
    ("no-such-plugin", set()),
])
def test_load_plugins_env_restricts_loading(monkeypatch, value, expected):
    monkeypatch.setenv(plugins.ENV_LOAD, value)
    assert {i.name for i in plugins.load()} & (EXAMPLES | {"no-such-plugin"}) == expected


def test_load_plugins_env_empty_means_none_in_the_cli(run, monkeypatch):
    monkeypatch.setenv(plugins.ENV_LOAD, "")
    out = run("plugins", "list", "--json")
    assert json.loads(out.output) == []
    assert "未安装插件" in run("plugins", "list").output


def _fake_dist(site, name, module, body=None):
    """A minimal installed distribution (dist-info + module), as an installer would leave it."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[brokercrm]\n{name} = {module}\n")
    files = [f"{info.name}/METADATA", f"{info.name}/entry_points.txt", f"{info.name}/RECORD"]
    if body is not None:
        (site / f"{module}.py").write_text(body)
        files.append(f"{module}.py")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    return info


def test_a_plugin_that_fails_to_import_is_reported_not_fatal(tmp_path, monkeypatch):
    monkeypatch.delenv(plugins.ENV_LOAD, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_dist(tmp_path, "brokercrm-broken", "brokercrm_broken_mod", "raise ImportError('missing dependency xyz')\n")
    loaded = plugins.load(path=[str(tmp_path)])
    info = loaded.get("brokercrm-broken")
    assert info.error and "missing dependency xyz" in info.error
    with pytest.raises(Exception, match="加载失败"):
        loaded.require("brokercrm-broken")


def test_a_hook_implementation_with_an_unknown_argument_is_refused(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    body = ("from brokercrm.hookspecs import hookimpl\n\n"
            "@hookimpl\ndef classification_adjustments(branch, colour):\n    return []\n")
    _fake_dist(tmp_path, "brokercrm-badargs", "brokercrm_badargs_mod", body)
    info = plugins.load(path=[str(tmp_path)]).get("brokercrm-badargs")
    assert info.error and "colour" in info.error


def test_digest_ignores_installer_bookkeeping_but_not_code(tmp_path, monkeypatch):
    import importlib.metadata as md

    monkeypatch.syspath_prepend(str(tmp_path))
    info_dir = _fake_dist(tmp_path, "brokercrm-dg", "brokercrm_dg_mod", "X = 1\n")

    def digest():
        (dist,) = [d for d in md.distributions(path=[str(tmp_path)]) if d.metadata["Name"] == "brokercrm-dg"]
        return plugins.distribution_digest(dist)

    first = digest()
    assert digest() == first
    (info_dir / "INSTALLER").write_text("pip\n")
    (info_dir / "RECORD").write_text((info_dir / "RECORD").read_text() + "x,sha256=zzz,1\n")
    assert digest() == first
    (tmp_path / "brokercrm_dg_mod.py").write_text("X = 2\n")
    assert digest() != first


def test_every_hook_is_documented():
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    specs = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if getattr(fn, "brokercrm_spec", None) is not None]
    assert specs, "no hook specs found"
    for name in specs:
        assert re.search(rf"^#+ .*`{name}\(", doc, re.M), f"hook {name} has no section in docs/plugins.md"
        assert inspect.getdoc(getattr(hookspecs, name)), f"hook {name} has no docstring"
    assert sorted(specs) == sorted(n for names in hookspecs.FAMILIES.values() for n in names)


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
    pm = plugins.new_manager()
    for name, args in FROZEN.items():
        spec = getattr(pm.hook, name).spec
        assert spec is not None, f"hook {name} was removed"
        assert set(args) <= set(spec.argnames), f"hook {name} lost arguments: {set(args) - set(spec.argnames)}"


def test_a_plugin_written_for_fewer_arguments_still_works():
    """An implementation naming only some arguments gets only those (pluggy's opt-in arguments)."""
    seen = {}

    class Old:
        @hookspecs.hookimpl
        def classification_adjustments(self, branch):
            seen["branch"] = branch
            return []

    loaded = plugins.Plugins()
    info = loaded.register(Old(), "old-plugin")
    assert loaded.call_one(info, "classification_adjustments", branch="TY01", policy={}, today=None) == []
    assert seen == {"branch": "TY01"}
