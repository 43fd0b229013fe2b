"""The built wheel ships every subpackage, the shipped policies and the site config.

setup.cfg lists no packages: setuptools finds them under the package_dir
mappings. This builds the wheel offline from the working tree and imports
every subpackage from it in a fresh interpreter whose path holds the
unpacked wheel and the installed dependencies, never this source tree.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = r"""
import importlib, pkgutil, sys
from importlib import resources
from pathlib import Path

wheel = Path(sys.argv[1]).resolve()
import brokercrm
assert Path(brokercrm.__file__).resolve().is_relative_to(wheel), brokercrm.__file__
names = []
for found in pkgutil.walk_packages(brokercrm.__path__, "brokercrm."):
    module = importlib.import_module(found.name)
    assert Path(module.__file__).resolve().is_relative_to(wheel), module.__file__
    names.append(found.name)
policies = sorted(p.name for p in resources.files("brokercrm.default_policies").iterdir() if p.name.endswith(".toml"))
templates = sorted(p.name for p in (resources.files("brokercrm.datasette_config") / "templates").iterdir())
print(" ".join(names))
print(" ".join(policies))
print(" ".join(templates))
"""


def source_packages():
    """Every package under core/ (a folder with __init__.py), as its import name."""
    core = ROOT / "core"
    return sorted("brokercrm" + ("." + ".".join(p.parent.relative_to(core).parts) if p.parent != core else "")
                  for p in core.rglob("__init__.py") if "__pycache__" not in p.parts)


# What the build reads. Copied to a fresh folder: an in-tree build leaves build/lib behind, and
# a later build would ship whatever that still holds, hiding a package the config no longer finds.
BUILD_INPUTS = ("core", "policies", "datasette_config", "setup.cfg", "pyproject.toml", "README.md")


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    src = out / "src"
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    # --no-build-isolation --no-index: built offline with the setuptools the [test] extra installs.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(out / "dist"), str(src)], check=True, capture_output=True)
    (wheel,) = (out / "dist").glob("brokercrm-*.whl")
    unpacked = out / "unpacked"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(unpacked)
    return unpacked


def test_the_wheel_imports_every_subpackage_from_itself(wheel_dir):
    # -S: no site processing, so the editable install's path hook is not loaded;
    # the dependencies come from site-packages, put on the path explicitly.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(wheel_dir), sysconfig.get_paths()["purelib"]])}
    out = subprocess.run([sys.executable, "-S", "-c", CHECK, str(wheel_dir)], env=env, cwd=wheel_dir,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    modules, policies, templates = (line.split() for line in out.stdout.splitlines())
    missing = [p for p in source_packages() if p != "brokercrm" and p not in modules]
    assert not missing, f"subpackages missing from the wheel: {missing}"
    shipped = sorted(p.name for p in (ROOT / "policies").glob("*.toml"))
    assert policies == shipped
    assert templates == sorted(p.name for p in (ROOT / "datasette_config" / "templates").iterdir())
