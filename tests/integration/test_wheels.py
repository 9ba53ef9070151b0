"""The binary wheels on a machine with nothing.

A Debian root made by debootstrap --variant=minbase with only the Python
of the wheel and its venv module (no compiler, no pkg-config, no zstd or
msgpack-c headers) installs the wheel from dist/ with pip --no-index
--only-binary :all:, and there: a failing program dumps, a fatal signal
dumps (and still kills), pdb driven through stdin and --summary open both,
and the pytest plugin dumps a failing test.

Runs where HEAPDUMP_WHEELS names the directory of the wheels (make test
builds them with make wheels and sets it); needs root and debootstrap.  The
roots are cached (tools/debroot.sh: $HEAPDUMP_CACHE, made once, about a
minute and 260 MB each).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WHEELS = os.environ.get("HEAPDUMP_WHEELS")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not WHEELS,
        reason="the wheel tests run where HEAPDUMP_WHEELS names the "
               "directory of the wheels (make test, after make wheels)"),
]

#: (Python version, root name, Debian suite, packages): the oldest and the
#: newest supported Python at least, each from a Debian that has it
TARGETS = [
    ("3.9", "bullseye-python", "bullseye", ("python3", "python3-venv")),
    ("3.13", "trixie-python", "trixie", ("python3", "python3-venv")),
]


def debroot(*args, **kw):
    return subprocess.run([str(ROOT / "tools" / "debroot.sh")] + list(args),
                          capture_output=True, text=True, **kw)


class Root:
    """A clean root, a work directory inside it, and its python."""

    def __init__(self, path, work, version):
        self.path, self.work, self.version = path, work, version
        self.python = "python" + version

    def run(self, *cmd, input=None, timeout=300, check=True):
        r = debroot("run", str(self.path), "--bind", str(self.work), "--",
                    "/bin/sh", "-c", 'cd "$0" && exec "$@"', str(self.work),
                    *cmd, input=input, timeout=timeout)
        if check:
            assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        return r


def wheel_for(version):
    tag = "cp" + version.replace(".", "")
    found = sorted(pathlib.Path(WHEELS).glob(
        "heapdump-*-%s-%s-manylinux*_x86_64.whl" % (tag, tag)))
    assert found, "no wheel for Python %s in %s (make wheels)" % (
        version, WHEELS)
    return found[-1]


def wheelhouse(version, into):
    """pytest and what it needs as wheels for that Python, fetched by this
    Python's pip (the clean root has no network set up).  pip evaluates
    the requirements' markers for the running Python, so pytest's
    dependencies on older ones are named too."""
    r = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q",
         "--disable-pip-version-check", "--only-binary", ":all:",
         "--python-version", version, "--implementation", "cp",
         "--platform", "manylinux2014_x86_64", "-d", str(into),
         "pytest", "tomli", "exceptiongroup", "typing_extensions"],
        capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDEVMODE"})
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module", params=TARGETS, ids=[t[0] for t in TARGETS])
def root(request, tmp_path_factory):
    version, name, suite, packages = request.param
    made = debroot("path", name, suite, *packages, timeout=1800)
    assert made.returncode == 0, made.stderr
    path = pathlib.Path(made.stdout.strip().splitlines()[-1])
    # nothing to build with
    for tool in ("gcc", "cc", "clang", "pkg-config", "ld"):
        assert not (path / "usr" / "bin" / tool).exists(), tool
    for header in ("zstd.h", "msgpack.h", "python%s/Python.h" % version):
        assert not (path / "usr" / "include" / header).exists(), header
    work = tmp_path_factory.mktemp("root-" + version)
    os.chmod(work, 0o755)
    (work / "wheels").mkdir()
    shutil.copy(wheel_for(version), work / "wheels")
    r = Root(path, work, version)
    r.run(r.python, "-m", "venv", str(work / "venv"))
    r.python = str(work / "venv" / "bin" / "python")
    wheelhouse(version, work / "wheels")
    r.run(r.python, "-m", "pip", "install", "-q", "--no-index",
          "--only-binary", ":all:", "--find-links", str(work / "wheels"),
          "heapdump", "pytest")
    return r


def test_the_extension_needs_no_library_but_libc(root):
    r = root.run(root.python, "-c",
                 "import heapdump._heapdump as m; print(m.__file__)")
    so = r.stdout.strip()
    assert so.startswith(str(root.work / "venv"))
    needed = root.run("ldd", so).stdout
    assert "not found" not in needed
    libs = {line.split()[0] for line in needed.splitlines() if line.strip()}
    assert not [lib for lib in libs if "zstd" in lib or "msgpack" in lib]
    assert libs <= {"linux-vdso.so.1", "libc.so.6", "libpthread.so.0",
                    "libm.so.6", "libdl.so.2", "/lib64/ld-linux-x86-64.so.2"}


FAILING = """\
    import sys
    import heapdump

    heapdump.dump_on_unhandled_exceptions(sys.argv[1])

    def checkout(basket):
        total = sum(basket.values())
        return total / len([n for n in basket.values() if n > 99])

    checkout({"apple": 3, "pear": 4})
"""

CRASHING = """\
    import ctypes, resource, sys
    import heapdump

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    heapdump.dump_on_unhandled_exceptions(sys.argv[1])

    def crash(invoice):
        ctypes.string_at(0)

    crash({"number": 1234, "amount": 99.5})
"""


def program(root, name, text):
    path = root.work / name
    path.write_text(textwrap.dedent(text))
    return path


def one_dump(directory):
    dumps = sorted(directory.glob("*.dump"))
    assert len(dumps) == 1, dumps
    return dumps[0]


def check_opens(root, dump, frame, local, value, up=0):
    summary = root.run(root.python, "-m", "heapdump.open", "--summary",
                       str(dump)).stdout
    assert frame in summary and local in summary, summary
    # pdb through stdin, with the program's source gone
    session = root.run(root.python, "-m", "heapdump.open", str(dump),
                       input="where\n" + "up\n" * up +
                       "p %s\nll\nq\n" % local).stdout
    assert "-> " in session and frame in session, session
    assert value in session, session


def test_a_failing_program_dumps_and_opens(root):
    src = program(root, "failing.py", FAILING)
    dumps = root.work / "dumps-failing"
    r = root.run(root.python, str(src), str(dumps), check=False)
    assert r.returncode == 1, r.stderr
    assert "ZeroDivisionError" in r.stderr
    dump = one_dump(dumps)
    src.unlink()
    check_opens(root, dump, "checkout", "basket", "{'apple': 3, 'pear': 4}")


def test_a_fatal_signal_dumps_kills_and_opens(root):
    src = program(root, "crashing.py", CRASHING)
    dumps = root.work / "dumps-fatal"
    r = root.run(root.python, str(src), str(dumps), check=False)
    assert r.returncode == -11 or r.returncode == 128 + 11, r.stderr
    assert "heapdump: wrote" in r.stderr
    dump = one_dump(dumps)
    src.unlink()
    headers = root.run(
        root.python, "-c",
        "import json, sys, heapdump; d = heapdump.load(sys.argv[1]); "
        "print(json.dumps(dict(d.headers)))", str(dump)).stdout
    assert json.loads(headers)["Heapdump-Signal"].startswith("SIGSEGV")
    # the innermost frame is ctypes' string_at
    check_opens(root, dump, "crash", "invoice", "'number': 1234", up=1)


def test_the_pytest_plugin_dumps_a_failing_test(root):
    tests = root.work / "suite"
    tests.mkdir()
    (tests / "test_it.py").write_text(
        "def test_fails():\n"
        "    basket = ['apple', 'pear']\n"
        "    assert len(basket) == 3\n")
    r = root.run(root.python, "-m", "pytest", "-p", "no:cacheprovider",
                 "--heapdump=" + str(tests / "dumps"), str(tests),
                 check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    dump = one_dump(tests / "dumps")
    assert dump.name in r.stdout
