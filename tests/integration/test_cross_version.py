"""A dump written by one supported Python opens with any other: each
supported version dumps the same rich state in a child process, and the
running Python loads every file and checks the values.

`make test` runs this file on each of the seven versions, so every pair
(writer, reader) of 3.9 ... 3.15 is exercised once.  The writers run
through tools/py.sh: directly where their interpreter runs, in the Debian
sid chroot otherwise (3.14 and 3.15 on this bookworm machine); inside the
chroot, which has the host's Python installations mounted, all of them
run directly."""

import math
import subprocess
import sys

import pytest

import heapdump
from conftest import PROGRAMS, TESTS, child_env, project_python

sys.path.insert(0, str(PROGRAMS))
import rich_state  # noqa: E402

REPO = TESTS.parent
VERSIONS = ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]


def interpreter(version):
    """The command that runs the project's virtualenv for that version,
    if `make` made it and built the extension for it."""
    return project_python(version, REPO)


def test_every_supported_python_is_built():
    # `make test` builds all of them; a missing one would make the test
    # below check less than it says
    missing = [v for v in VERSIONS if interpreter(v) is None]
    assert not missing, "not built for %s (run make build)" % missing


@pytest.mark.parametrize("version", VERSIONS)
def test_dump_from_each_version_loads_here(version, tmp_path):
    exe = interpreter(version)
    if exe is None:
        pytest.fail("Python %s is not built (run make build)" % version)
    path = tmp_path / ("rich-%s.dump" % version)
    env = child_env()
    env["PYTHONPATH"] = "%s:%s" % (REPO, TESTS)  # the in-place build
    subprocess.run(exe + [str(PROGRAMS / "rich_state.py"), str(path)],
                   check=True, env=env, timeout=120)
    dump = heapdump.load(path)
    assert dump.headers["Heapdump-Python"].startswith("CPython " + version)
    frame = next(f for t in dump.threads for f in t.frames
                 if f.code.name == "main")
    loc = frame.locals
    expected = rich_state.expected_values()
    for name, value in expected.items():
        if name in ("cyclic",):
            continue
        got = loc[name]
        assert type(got) is type(value), (name, type(got))
        assert got == value, name
    assert math.copysign(1.0, loc["negzero"]) == -1.0
    assert math.isnan(loc["nan"])
    assert loc["shared_a"] is loc["shared_b"]
    assert loc["cyclic"][2] is loc["cyclic"]
    assert loc["account"].owner == "ann" and loc["account"].balance == 12.5
    assert type(loc["account"]).__name__ == "Account"
    assert type(loc["account"]).__module__ == "__main__"
    assert list(loc["ordered"].items()) == [("z", 1), ("a", 2)]
    assert dict(loc["counts"]) == {"h": 1, "e": 1, "l": 2, "o": 1}
    assert dict(loc["tagged"]) == {"k": "v"}
    assert loc["tagged"].label == "my-tag"
    assert tuple(loc["point"]) == (3, 4) and loc["point"].x == 3
    exc = dump.exception
    assert isinstance(exc, ValueError) and exc.args == ("outer failure",)
    assert isinstance(exc.__cause__, KeyError)
    assert exc.__cause__.args == ("missing",)
    assert dump.trailer is not None and not dump.truncated
