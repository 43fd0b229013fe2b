"""The code that runs is the code that was hashed, and the approval binds behaviour (issue 10, items 4–5).

Attacker: a branch IT person with write access to the plugin's files or to
the engine's environment, who wants changed behaviour under a standing
approval: a tampered ``.pyc`` beside unchanged source, a modified copy earlier
on ``PYTHONPATH``, a second module of an editable install, another
distribution's module, rules driven by environment variables. Defence: the
worker compiles exactly the digested bytes (``snapshot.PinnedImporter``), runs
with ``-I`` and an empty environment, refuses imports outside the plugin's own
files, the standard library and brokercrm; declarative rules are fingerprinted
and compared on every run.
"""

import importlib._bootstrap_external as bootstrap
import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from brokercrm.classify.engine import classify
from brokercrm.governance import approvals
from brokercrm.kernel.errors import BrokerCRMError
from brokercrm.plugins import PluginError
from tests.conftest import add_client, person, write_csv
from tests.trust.attacks import brokercrm, cli_env, rules

NAME, MODULE = "brokercrm-pinned", "brokercrm_pinned"
APPROVED = rules("A", "approved")
EVIL = rules("D", "evil")


@pytest.fixture
def book(db):
    add_client(db, "T1", branch="TY01", assets=50_000)
    add_client(db, "B1", branch="BJ01", assets=50_000)
    return db


def adjustments(db):
    return dict(db.execute("SELECT client_id, adjustment FROM classifications WHERE adjustment IS NOT NULL"))


def cls(db, cid):
    row = db.execute("SELECT class FROM classifications WHERE client_id = ?", [cid]).fetchone()
    return row and row[0]


def naive_import(path_entries, module=MODULE):
    """What plain Python would run for ``module`` with this PYTHONPATH: the attack's premise."""
    out = subprocess.run(
        [sys.executable, "-c", f"import {module} as m; print(m.classification_adjustments(branch='TY01', policy={{}}))"],
        env={"PYTHONPATH": ":".join(map(str, path_entries))}, capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


def classify_cli(db_path, actors, pythonpath, **env):
    code, out, err = brokercrm("classify", "--json", "--as", "admin", "--key", actors.key_file("admin"),
                               env=cli_env(db_path, PYTHONPATH=":".join(map(str, pythonpath)), **env))
    return code, (json.loads(out) if out.strip().startswith("{") else None), err


@pytest.fixture
def approved(plugin_site, approve_plugin, book):
    pkg = plugin_site.install(NAME, APPROVED)
    with plugin_site.host() as host:
        approve_plugin(host, NAME, "TY01")
    return pkg


# -- bytecode -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["timestamp", "unchecked-hash"])
def test_a_tampered_pyc_beside_unchanged_source_never_runs(approved, plugin_site, db_path, actors, book, kind):
    # defence: PinnedImporter compiles the digested source bytes; no bytecode cache is read
    init = approved / "__init__.py"
    code = compile(textwrap.dedent(EVIL), str(init), "exec")
    if kind == "timestamp":   # header matches the real source's mtime and size: CPython would use it
        st = init.stat()
        data = bootstrap._code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size)
    else:                     # PEP 552 unchecked: CPython never even looks at the source
        data = bootstrap._code_to_hash_pyc(code, importlib.util.source_hash(init.read_bytes()), checked=False)
    pyc = importlib.util.cache_from_source(str(init))
    os.makedirs(os.path.dirname(pyc), exist_ok=True)
    with open(pyc, "wb") as f:
        f.write(data)
    assert "'D'" in naive_import([plugin_site.path])          # plain Python runs the planted bytecode
    code, result, err = classify_cli(db_path, actors, [plugin_site.path])
    assert code == 0 and result["status"] == "ok", err
    assert cls(book, "T1") == "A" and "evil" not in adjustments(book)["T1"]


def test_sourceless_bytecode_instead_of_the_source_is_a_loud_failure(approved, plugin_site, db_path, actors, book):
    # defence: the digest covers the source files RECORD lists; a .pyc in their place is "changed since approval"
    init = approved / "__init__.py"
    code = compile(textwrap.dedent(EVIL), str(init), "exec")
    (approved / "__init__.pyc").write_bytes(bootstrap._code_to_timestamp_pyc(code, 0, 0))
    init.unlink()
    assert "'D'" in naive_import([plugin_site.path])
    code, result, err = classify_cli(db_path, actors, [plugin_site.path])
    assert code == 1 and result["status"] == "partial" and NAME in err and "TY01" in err
    assert cls(book, "T1") is None and cls(book, "B1") is not None     # TY01 left out, BJ01 classified


# -- PYTHONPATH -------------------------------------------------------------------------------------

def test_a_modified_copy_earlier_on_pythonpath_never_runs(approved, plugin_site, db_path, actors, book, tmp_path):
    # defence: the worker runs with -I (no PYTHONPATH) from the bytes RECORD lists and the digest covers
    shadow = tmp_path / "shadow"
    (shadow / MODULE).mkdir(parents=True)
    (shadow / MODULE / "__init__.py").write_text(textwrap.dedent(EVIL))
    assert "'D'" in naive_import([shadow, plugin_site.path])  # plain Python would run the copy
    code, result, err = classify_cli(db_path, actors, [shadow, plugin_site.path])
    assert code == 0 and result["status"] == "ok", err
    assert cls(book, "T1") == "A"
    assert [(a["plugin"], a["branch"]) for a in result["plugins"]["applied"]] == [(NAME, "TY01")]


def test_a_copy_with_its_own_metadata_earlier_on_pythonpath_is_changed_code(approved, plugin_site, db_path, actors,
                                                                           book, tmp_path):
    # defence: discovery takes the first distribution on the path and digests *its* files: not the approved ones
    from tests.conftest import PluginSite

    shadow = tmp_path / "shadow"
    shadow.mkdir()
    PluginSite(shadow).install(NAME, EVIL)                    # same name, same version, other bytes
    code, result, err = classify_cli(db_path, actors, [shadow, plugin_site.path])
    assert code == 1 and result["status"] == "partial"
    assert "代码已改" in err and NAME in err and "TY01" in err
    assert cls(book, "T1") is None


@pytest.mark.xfail(strict=True, reason="RESIDUAL (docs/security.md): a sitecustomize.py (or a shadow `brokercrm` package) on "
                                       "the engine's PYTHONPATH runs in the engine process before the gate: the "
                                       "console script does not start Python isolated (-I), so whoever sets the "
                                       "nightly job's environment can rebind the approval check")
def test_code_on_the_engines_pythonpath_cannot_rebind_the_gate(approved, plugin_site, db_path, actors, book, tmp_path):
    # defence wanted: the engine ignores PYTHONPATH like its workers do (python -I / a sanitised sys.path)
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sitecustomize.py").write_text(textwrap.dedent("""
        import brokercrm.plugins.gate as gate

        def everywhere(real):
            def spread(db, root, *args, **kwargs):
                found = real(db, root)
                out = {(n, b): d for (n, _), d in found.items() for b in ("TY01", "BJ01", "SH01")}
                branch = kwargs.get("branch", args[0] if args else None)
                return {k: v for k, v in out.items() if branch is None or k[1] == branch}
            return spread

        gate.decisions = everywhere(gate.decisions)
        gate.in_force = everywhere(gate.in_force)
    """))
    code, result, err = classify_cli(db_path, actors, [shadow, plugin_site.path])
    assert cls(book, "B1") != "A"                             # approved for TY01 only


# -- editable installs ---------------------------------------------------------------------------

def editable(site, src, package_files, *, name="brokercrm-edit", module="brokercrm_edit", extra_top=None):
    """An editable-style install: RECORD lists a .pth only; the code lives in ``src``."""
    for rel, text in package_files.items():
        target = src / module / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    for rel, text in (extra_top or {}).items():
        (src / rel).write_text(textwrap.dedent(text))
    info = site / f"{module}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[brokercrm]\n{name} = {module}\n")
    pth = f"__editable__.{module}-0.1.0.pth"
    (site / pth).write_text(str(src) + "\n")
    (info / "RECORD").write_text(f"{pth},,\n{info.name}/METADATA,,\n{info.name}/entry_points.txt,,\n"
                                 f"{info.name}/RECORD,,\n")
    importlib.invalidate_caches()


HELPER_LATE = """
import os
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    if os.path.exists(TRIGGER):
        import brokercrm_edit_helper            # the second module of the editable install
        return brokercrm_edit_helper.RULES
    return [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "set_class": "A", "reason": "approved"}]
"""


def test_a_second_module_of_an_editable_install_is_not_approved_code(book, plugin_site, approve_plugin, admin,
                                                                      tmp_path, monkeypatch):
    # defence: PinnedImporter's import guard — only the plugin's own (digested) files, stdlib, brokercrm, pluggy
    src = tmp_path / "src"
    monkeypatch.syspath_prepend(str(src))
    trigger = tmp_path / "go"
    editable(plugin_site.path, src, {"__init__.py": HELPER_LATE.replace("TRIGGER", repr(str(trigger)))},
             extra_top={"brokercrm_edit_helper.py": "RULES = " + repr(
                 [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "set_class": "D", "reason": "evil"}])})
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-edit", "TY01")
    trigger.touch()
    with plugin_site.host() as host:
        result = classify(book, actor=admin, plugins=host)
    assert result.as_dict()["status"] == "partial"
    [failure] = result.failures
    assert failure["branch"] == "TY01" and "不在已批准的代码中" in failure["error"]
    assert cls(book, "T1") is None and "D" not in dict(book.execute("SELECT client_id, class FROM classifications")).values()


def test_importing_a_second_module_at_load_cannot_even_be_requested(book, plugin_site, actors, tmp_path, monkeypatch):
    # defence: the same guard refuses the load, so no approval of such code can exist
    src = tmp_path / "src"
    monkeypatch.syspath_prepend(str(src))
    editable(plugin_site.path, src, {"__init__.py": "from brokercrm_edit_helper import *\n"},
             extra_top={"brokercrm_edit_helper.py": EVIL})
    with plugin_site.host() as host, pytest.raises((PluginError, BrokerCRMError), match="不在已批准的代码中"):
        approvals.request(book, host, actors("ty_it", branch="TY01"), "brokercrm-edit", "TY01")


@pytest.mark.parametrize("change", ["edit a submodule", "add an optional submodule", "plant a pyc"])
def test_a_file_of_an_editable_package_changed_after_approval(book, plugin_site, approve_plugin, admin, tmp_path,
                                                               monkeypatch, change):
    # defence: for an editable install the digest covers every file of the package folder (not __pycache__)
    src = tmp_path / "src"
    monkeypatch.syspath_prepend(str(src))
    init = """
        from brokercrm.hookspecs import hookimpl
        from .policy import RULES
        try:
            from .extra import RULES
        except ImportError:
            pass

        @hookimpl
        def classification_adjustments(branch, policy):
            return RULES
    """
    a = repr([{"when": {"field": "total_assets", "op": ">=", "value": 0}, "set_class": "A", "reason": "approved"}])
    d = a.replace("'A'", "'D'").replace("approved", "evil")
    editable(plugin_site.path, src, {"__init__.py": init, "policy.py": f"RULES = {a}\n"})
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-edit", "TY01")
    pkg = src / "brokercrm_edit"
    if change == "edit a submodule":
        (pkg / "policy.py").write_text(f"RULES = {d}\n")
    elif change == "add an optional submodule":
        (pkg / "extra.py").write_text(f"RULES = {d}\n")
    else:
        pol = pkg / "policy.py"
        pyc = importlib.util.cache_from_source(str(pol))
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        st = pol.stat()
        with open(pyc, "wb") as f:
            f.write(bootstrap._code_to_timestamp_pyc(compile(f"RULES = {d}\n", str(pol), "exec"),
                                                     int(st.st_mtime), st.st_size))
    with plugin_site.host() as host:
        result = classify(book, actor=admin, plugins=host)
    assert "D" not in dict(book.execute("SELECT client_id, class FROM classifications")).values()
    if change == "plant a pyc":
        assert result.as_dict()["status"] == "ok" and cls(book, "T1") == "A"
    else:
        assert result.as_dict()["status"] == "partial" and cls(book, "T1") is None
        assert "代码已改" in result.failures[0]["error"]


# -- another distribution's modules ---------------------------------------------------------------

def test_an_approved_plugin_cannot_pull_in_another_distributions_module(book, plugin_site, actors, approve_plugin,
                                                                       admin, tmp_path):
    # defence: the import guard; a re-exporting/helper distribution approves nothing it does not contain
    plugin_site.install("ty-rules-lib", "RULES = " + repr(
        [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "set_class": "D", "reason": "lib"}]) + "\n")
    for form in ("from ty_rules_lib import RULES", "import ty_rules_lib", "__import__('ty_rules_lib')",
                 "from brokercrm_pinned import classification_adjustments"):
        plugin_site.install("brokercrm-reexport", form + "\n" + APPROVED)
        with plugin_site.host() as host, pytest.raises((PluginError, BrokerCRMError), match="不在已批准的代码中"):
            approvals.request(book, host, actors("ty_it", branch="TY01"), "brokercrm-reexport", "TY01")
    # An approved module re-exported under another distribution's name is not approved.
    plugin_site.install(NAME, APPROVED)
    with plugin_site.host() as host:
        approve_plugin(host, NAME, "TY01")
    info = plugin_site.path / "brokercrm_alias-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokercrm-alias\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[brokercrm]\nbrokercrm-alias = {MODULE}\n")
    (info / "RECORD").write_text(f"{info.name}/METADATA,,\n{info.name}/entry_points.txt,,\n{info.name}/RECORD,,\n")
    with plugin_site.host() as host:
        result = classify(book, actor=admin, plugins=host)
        states = {p["name"]: p["branches"] for p in approvals.plugin_states(book, host, admin.root)}
    assert [(a["plugin"], a["branch"]) for a in result.plugins["applied"]] == [(NAME, "TY01")]
    assert all(s["state"] == "none" for s in states["brokercrm-alias"].values())


@pytest.mark.xfail(strict=True, reason="RESIDUAL (docs/security.md): the import guard wraps only the `import` statement "
                                       "(builtins.__import__); importlib.import_module (or exec of a file) loads "
                                       "code that is not in the digest, and the non-declarative hooks "
                                       "(enrich_clients, validate_clients, interaction_follow_ups) have no "
                                       "behaviour fingerprint, so their output changes under a standing approval")
def test_importlib_cannot_load_unhashed_code_into_an_approved_plugin(book, plugin_site, approve_plugin, run,
                                                                    tmp_path):
    # defence wanted: every module a plugin loads outside stdlib/brokercrm is digested (issue 10, item 4)
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "ty_enrich_lib.py").write_text("def tag(row):\n    return 'approved'\n")
    # (In production the helper distribution sits in the same site-packages the worker already sees.)
    plugin_site.install("brokercrm-enrich", f"""
        import importlib, sys
        from brokercrm.hookspecs import hookimpl

        @hookimpl
        def enrich_clients(rows, branch):
            sys.path.insert(0, {str(lib)!r})
            lib = importlib.import_module("ty_enrich_lib")
            return [(i, {{"ty_tag": lib.tag(r)}}) for i, r in enumerate(rows)]
    """)
    with plugin_site.host() as host:
        approve_plugin(host, "brokercrm-enrich", "TY01")
    (lib / "ty_enrich_lib.py").write_text("def tag(row):\n    return 'changed after approval'\n")
    run("import", "clients", write_csv(tmp_path / "c.csv", [person("T9")]), ok=False)
    extra = book.execute("SELECT extra FROM clients WHERE client_id = 'T9'").fetchone()
    assert extra is None or "changed after approval" not in (extra[0] or "")


# -- behaviour from the environment ----------------------------------------------------------------

ENV_RULES = """
import os
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    if os.environ.get("TY_BOOST"):
        return [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "set_class": "D", "reason": "boost"}]
    return []
"""

PARENT_ENV_RULES = """
import os
from brokercrm.hookspecs import hookimpl

@hookimpl
def classification_adjustments(branch, policy):
    try:
        with open(f"/proc/{os.getppid()}/environ", "rb") as f:
            boost = b"TY_BOOST=" in f.read()
    except OSError:
        boost = False
    if boost:
        return [{"when": {"field": "total_assets", "op": ">=", "value": 0}, "set_class": "D", "reason": "boost"}]
    return []
"""


def test_rules_driven_by_an_environment_variable_do_not_change(book, plugin_site, approve_plugin, db_path, actors,
                                                               monkeypatch):
    # defence: the worker's environment is empty (preview "0 moves" is what the real run does)
    plugin_site.install("brokercrm-env", ENV_RULES)
    with plugin_site.host() as host:
        row = approve_plugin(host, "brokercrm-env", "TY01")
    assert row["impact"]["moved"] == 0
    monkeypatch.setenv("TY_BOOST", "1")
    code, result, err = classify_cli(db_path, actors, [plugin_site.path], TY_BOOST="1")
    assert code == 0 and result["status"] == "ok" and adjustments(book) == {}
    assert "D" not in dict(book.execute("SELECT client_id, class FROM classifications")).values()


def test_rules_driven_by_the_engines_environment_read_through_proc_do_not_change(book, plugin_site, approve_plugin,
                                                                                 db_path, actors):
    # defence: the engine is not dumpable (isolation._shield_engine), so its worker cannot read
    # /proc/<engine>/environ: the rules stay the approved ones and nothing moves
    plugin_site.install("brokercrm-env", PARENT_ENV_RULES)
    with plugin_site.host() as host:
        row = approve_plugin(host, "brokercrm-env", "TY01")
    assert row["impact"]["moved"] == 0
    code, result, err = classify_cli(db_path, actors, [plugin_site.path], TY_BOOST="1")
    assert code == 0 and result["status"] == "ok" and adjustments(book) == {}
    assert "D" not in dict(book.execute("SELECT client_id, class FROM classifications")).values()


@pytest.mark.parametrize("source, trigger_env", [
    ("import os\n" + EVIL.replace("def classification_adjustments(branch, policy):\n",
                                  "def classification_adjustments(branch, policy):\n"
                                  "    if not os.path.exists(TRIGGER):\n        return []\n"), False),  # a file
])
def test_rules_that_differ_from_the_approved_fingerprint_are_not_applied(book, plugin_site, approve_plugin, db_path,
                                                                         actors, tmp_path, source, trigger_env):
    # defence: gate/adjustments compare the rules returned with the fingerprint head office approved
    trigger = tmp_path / "go"
    plugin_site.install("brokercrm-env", source.replace("TRIGGER", repr(str(trigger))))
    with plugin_site.host() as host:
        row = approve_plugin(host, "brokercrm-env", "TY01")
    assert row["impact"]["moved"] == 0
    trigger.touch()
    code, result, err = classify_cli(db_path, actors, [plugin_site.path], **({"TY_BOOST": "1"} if trigger_env else {}))
    assert code == 1 and result["status"] == "partial"
    assert "规则与总部批准时不同" in err and "brokercrm-env" in err and "TY01" in err
    assert "D" not in dict(book.execute("SELECT client_id, class FROM classifications")).values()
    assert cls(book, "T1") is None
