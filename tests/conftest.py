"""Shared test fixtures: child processes that run against the same heapdump
package as the tests, and an independent reader of the records."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import heapdump

# The directory that holds the heapdump package under test (the source
# tree, or a sanitizer build's copy): every child process imports it too.
PACKAGE_ROOT = str(pathlib.Path(heapdump.__file__).resolve().parent.parent)
TESTS = pathlib.Path(__file__).resolve().parent
PROGRAMS = TESTS / "programs"

sys.path.insert(0, str(TESTS))


def project_python(version, root=None):
    """The command (a list) that runs the project's virtualenv of a Python
    version through tools/py.sh (in the Debian sid chroot when that is
    where it runs), or None when `make` has not made it or when the
    heapdump under test (root: its source tree) has no extension built
    for that version (a sanitizer build has one for its own Python
    only)."""
    top = TESTS.parent
    venv = top / ".venv" / ("py" + version) / "bin" / "python"
    tag = "cpython-%s" % version.replace(".", "")
    package = pathlib.Path(root or PACKAGE_ROOT) / "heapdump"
    if not (venv.is_symlink() or venv.exists()):
        return None
    if not list(package.glob("_heapdump.%s-*.so" % tag)):
        return None
    return [str(top / "tools" / "py.sh"), version]


def child_env(**extra):
    """The environment of a child process: heapdump importable, dev mode."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [PACKAGE_ROOT, str(TESTS)] +
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("PYTHONFAULTHANDLER", "1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_python(code=None, *, script=None, args=(), cwd=None, timeout=120,
               env=None, check=True, input=None):
    """Run code (dedented) or a script in a child interpreter; returns the
    CompletedProcess with text stdout and stderr."""
    cmd = [sys.executable]
    if code is not None:
        cmd += ["-c", textwrap.dedent(code)]
    else:
        cmd += [str(script)]
    cmd += [str(a) for a in args]
    r = subprocess.run(cmd, cwd=cwd, env=env or child_env(), timeout=timeout,
                       capture_output=True, text=True, input=input)
    if check and r.returncode != 0:
        raise AssertionError(
            "child failed with %s\n--- stdout\n%s\n--- stderr\n%s"
            % (r.returncode, r.stdout, r.stderr))
    return r


@pytest.fixture
def python():
    return run_python


@pytest.fixture(scope="session")
def hdtest_dir(tmp_path_factory):
    """A directory holding the tests' C helper (tests/helpers/hdtest.c),
    built for the running Python; put it on a child's PYTHONPATH."""
    import sysconfig

    out = tmp_path_factory.mktemp("hdtest")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    target = out / ("hdtest" + suffix)
    cmd = ["gcc", "-shared", "-fPIC", "-O1", "-g",
           "-I" + sysconfig.get_paths()["include"],
           str(TESTS / "helpers" / "hdtest.c"), "-o", str(target)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out
