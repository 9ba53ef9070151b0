"""The sdist holds what a build from source and the tests need, and no
build product: every file git tracks (but CI's own), nothing it ignores."""

import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest

#: the source tree (not where the package under test was imported from:
#: the sanitizer builds run a copy of it)
ROOT = pathlib.Path(__file__).resolve().parents[2]

#: tracked files an sdist has no use for
NOT_SHIPPED = {".ci/run", ".gitignore"}
#: what setuptools adds of its own
GENERATED = {"PKG-INFO", "setup.cfg"}


def tracked():
    r = subprocess.run(["git", "ls-files", "-z"], cwd=str(ROOT),
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail("the sdist test needs the git checkout the sdist is "
                    "made from: %s" % r.stderr.strip())
    return {p for p in r.stdout.split("\0") if p}


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """The members of an sdist made from a copy of the tracked files."""
    base = tmp_path_factory.mktemp("sdist")
    src = base / "src"
    for name in tracked():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    # build products lying in the tree must not get in: put some there
    (src / "heapdump" / "_heapdump.cpython-39-x86_64-linux-gnu.so") \
        .write_bytes(b"\x7fELF")
    (src / "build").mkdir()
    (src / "build" / "junk.o").write_bytes(b"")
    (src / "crash.dump").write_bytes(b"")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDEVMODE"}
    r = subprocess.run(
        [sys.executable, "-c",
         "import sys, setuptools.build_meta as b; "
         "print(b.build_sdist(sys.argv[1]))", str(base / "out")],
        cwd=str(src), env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    name = r.stdout.strip().splitlines()[-1]
    top = name[:-len(".tar.gz")] + "/"
    with tarfile.open(base / "out" / name) as tar:
        members = [m.name for m in tar.getmembers() if m.isfile()]
        info = tar.extractfile(top + "PKG-INFO").read().decode()
    assert all(m.startswith(top) for m in members)
    return Sdist({m[len(top):] for m in members}, info)


class Sdist(frozenset):
    """The member names of an sdist (less the top directory), and its
    PKG-INFO."""

    def __new__(cls, names, pkg_info):
        self = super().__new__(cls, names)
        self.pkg_info = pkg_info
        return self


def test_every_tracked_file_is_in_the_sdist(sdist):
    missing = tracked() - NOT_SHIPPED - sdist
    assert not missing


def test_the_sdist_holds_the_headers_docs_and_tests(sdist):
    for name in ("src/heapdump.h", "docs/format.rst", "tests/conftest.py",
                 "LICENSE", "CHANGES.rst", "README.rst", "setup.py",
                 "tools/wheels.sh", "tools/zigcc"):
        assert name in sdist


def test_the_version_is_the_package_s(sdist):
    import heapdump

    assert "\nVersion: %s\n" % heapdump.__version__ in sdist.pkg_info
    r = subprocess.run([sys.executable, "-m", "heapdump", "--version"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "heapdump %s\n" % heapdump.__version__


def test_no_build_product_is_in_the_sdist(sdist):
    extra = {m for m in sdist - tracked() - GENERATED
             if not m.startswith("heapdump.egg-info/")}
    assert not extra
    for m in sdist:
        assert not m.endswith((".so", ".o", ".pyc", ".dump")), m
