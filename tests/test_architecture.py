"""The import graph of brokercrm, read from the source with ``ast``: one-way and visible.

1. No cycles between modules.
2. A package imports only from itself and from packages below it in ``LAYERS``.
3. Every import is at module level, where a reader sees it, except the few
   optional third-party imports named in ``DEFERRED`` with the reason.

Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, so an edge
to a module is also an edge to each package around it (except the importer's
own packages, which Python has already started).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"brokercrm": ROOT / "core", "brokercrm.datasette_config": ROOT / "datasette_config"}

# Lowest first. docs/design.md gives the reason for each boundary.
LAYERS = ["kernel", "trust", "policy", "staff", "plugins", "imports", "classify", "book", "suitability", "service",
          "programmes", "kyc", "governance", "site", "demo", "archive", "cli"]
# brokercrm/__init__.py (the version) sits below everything; the plugin-facing re-exports
# (brokercrm.hookspecs, .rules, .approvals) above everything they re-export.
ROOT_MODULE = "brokercrm"
PUBLIC_SHIMS = {"brokercrm.hookspecs", "brokercrm.rules", "brokercrm.approvals"}
# Packages that live outside core/ but belong to a layer.
PACKAGE_LAYER = {"datasette_config": "site", "default_policies": "kernel"}

# Third-party imports deliberately made inside a function: top-level module -> reason.
DEFERRED = {
    "datasette": "the web stack (about 130 ms to import) loads only when a site is built or served",
    "uvicorn": "the web server loads only for `brokercrm serve` / `brokercrm demo`",
    "xlsxwriter": "the Excel writer loads only when a site user downloads an .xlsx export",
}


def module_files():
    """{module name: path} of every Python module of the brokercrm distribution."""
    found = {}
    for prefix, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = path
    return found


MODULES = module_files()


def is_package(name):
    return MODULES.get(name, Path()).name == "__init__.py"


def resolve(importer, node):
    """Absolute module names an Import/ImportFrom node loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = importer.split(".")
        if not is_package(importer):
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module
    out = [target]
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in MODULES:
            out.append(sub)
    return out


def imports_of(name):
    """[(imported module, line, at module level)] for one module."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in resolve(name, node):
                found.append((target, node.lineno, id(node) in top))
    return found


def ancestors(name):
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def graph():
    """{module: {imported brokercrm module}}, with the implicit package __init__ edges."""
    edges = {}
    for name in MODULES:
        own = set(ancestors(name))
        targets = set()
        for target, _, _ in imports_of(name):
            if target.split(".")[0] != "brokercrm":
                continue
            for t in [*ancestors(target), target]:
                if t in MODULES and t not in own and t != name:
                    targets.add(t)
        edges[name] = targets
    return edges


def layer(name):
    """Index in LAYERS, or -1 for the root module and len(LAYERS) for the public re-exports."""
    if name == ROOT_MODULE:
        return -1
    if name in PUBLIC_SHIMS:
        return len(LAYERS)
    package = name.split(".")[1]
    return LAYERS.index(PACKAGE_LAYER.get(package, package))


def find_cycle(edges):
    """One cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_every_module_is_in_a_layer():
    unplaced = []
    for name in MODULES:
        try:
            layer(name)
        except ValueError:
            unplaced.append(name)
    assert not unplaced, f"add these packages to LAYERS (and docs/design.md): {unplaced}"


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_packages_import_only_from_lower_layers():
    upward = []
    for name, targets in graph().items():
        for target in targets:
            same_package = name.split(".")[:2] == target.split(".")[:2]
            if not same_package and layer(target) > layer(name):
                upward.append(f"{name} -> {target}")
    assert not upward, "imports against the layer order (LAYERS):\n" + "\n".join(sorted(upward))


def test_no_function_level_imports_but_the_named_third_party_ones():
    hidden = []
    for name in MODULES:
        for target, line, top in imports_of(name):
            if not top and target.split(".")[0] not in DEFERRED:
                hidden.append(f"{MODULES[name].relative_to(ROOT)}:{line}: {target}")
    assert not hidden, "imports inside functions hide dependencies; move them to the top:\n" + "\n".join(hidden)


def test_the_named_deferred_imports_are_still_needed():
    used = {target.split(".")[0] for name in MODULES for target, _, top in imports_of(name) if not top}
    assert set(DEFERRED) <= used, f"no longer deferred anywhere, drop from DEFERRED: {set(DEFERRED) - used}"


def test_the_checker_sees_a_cycle_and_an_upward_import():
    # The checks above pass vacuously if the graph is read wrong; a made-up graph must fail them.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer("brokercrm.kernel.db") < layer("brokercrm.site.serve") < layer("brokercrm.cli")
    edges = graph()
    assert "brokercrm.kernel.errors" in edges["brokercrm.site.serve"]
    assert "brokercrm.plugins" in edges["brokercrm.classify.adjustments"]  # via the package's __init__


def test_only_the_registry_imports_brokercrm_code_by_name():
    # A dynamic import is a dependency this test cannot see; the registry is the one sanctioned place.
    by_name = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("import_module", "__import__"):
                by_name.append(name)
            elif isinstance(node, ast.Name) and node.id == "__import__":
                by_name.append(name)
    assert sorted(set(by_name)) == ["brokercrm.kernel.registry"]


def test_every_contributions_module_is_registered():
    from brokercrm.kernel.registry import FEATURES

    found = sorted(name.split(".")[1] for name in MODULES if name.endswith(".contributions"))
    assert sorted(FEATURES) == found
