"""heapdump as a user gets it: pip installs it from a copy of the source
tree (the C extension built against the system zstd and msgpack-c), and
the installed package dumps, loads, and plugs into pytest through its
pytest11 entry point with no -p option."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

# It builds the extension once more (15 s): like the web integrations, on
# the Pythons where make test requires those (its INTEGRATIONS: the oldest,
# 3.14 and the newest)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("HEAPDUMP_REQUIRE_INTEGRATIONS") != "1",
        reason="the install test runs where HEAPDUMP_REQUIRE_INTEGRATIONS=1 "
               "(make test: 3.9, 3.14 and 3.15)"),
]

#: the source tree (not where the package under test was imported from:
#: the sanitizer builds run a copy of it)
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A directory with heapdump installed into it by pip (--target)."""
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    src.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.rst"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src")
    shutil.copytree(ROOT / "heapdump", src / "heapdump",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    site = base / "site"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONDEVMODE")}
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "--no-build-isolation", "--no-index", "--target", str(site),
         str(src)], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return site


def clean_env(site):
    """Only the installed heapdump importable: not the source tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS",
                        "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    env["PYTHONPATH"] = str(site)
    return env


def test_installed_package_dumps_and_loads(installed, tmp_path):
    code = ("import heapdump, sys\n"
            "basket = ['apple', 'pear']\n"
            "p = heapdump.dump(sys.argv[1])\n"
            "d = heapdump.load(p)\n"
            "print(heapdump.__file__)\n"
            "print(d.threads[0].frames[0].locals['basket'])\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.dump")],
                       env=clean_env(installed), cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    where, basket = r.stdout.splitlines()
    assert where.startswith(str(installed))
    assert basket == "['apple', 'pear']"


def test_pytest_finds_the_plugin_through_its_entry_point(installed,
                                                         tmp_path):
    (tmp_path / "test_it.py").write_text(
        "def test_fails():\n"
        "    basket = ['apple', 'pear']\n"
        "    assert len(basket) == 3\n")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "--heapdump=dumps", "test_it.py"],
        env=clean_env(installed), cwd=str(tmp_path),
        capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    dumps = sorted((tmp_path / "dumps").glob("*.dump"))
    assert len(dumps) == 1, r.stdout
    assert dumps[0].name in r.stdout
