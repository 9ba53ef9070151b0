"""The pytest plugin (heapdump.pytest_plugin), through pytest's own
pytester: ``pytest --heapdump=DIR`` writes one dump per failing or
erroring test and names it in the failure report.  Each run is a child
pytest (runpytest_subprocess): its dumps are of that process."""

import os
import re
import sys

import pytest

import heapdump
from conftest import child_env

pytest_plugins = ["pytester"]


TESTS = '''
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("fixture setup failed")


@pytest.fixture
def leaky():
    yield 1
    raise OSError("teardown failed")


def test_fails():
    basket = ["apple", "pear"]
    assert len(basket) == 3


def test_setup_error(broken):
    pass


def test_teardown_error(leaky):
    pass


def test_passes():
    pass


def test_skipped():
    pytest.skip("not today")


@pytest.mark.xfail(reason="known")
def test_xfails():
    raise ValueError("known")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_same_place(n):
    assert n < 0
'''


@pytest.fixture
def pt(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", child_env()["PYTHONPATH"])
    monkeypatch.delenv("HEAPDUMP_DIR", raising=False)
    # the plugin comes from -p alone, also where heapdump is installed
    # (its pytest11 entry point would register it a second time)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_shop=TESTS)
    return pytester


def reports(result):
    """nodeid -> the path named in its heapdump section."""
    out = result.stdout.str()
    return dict(re.findall(r"^(test_shop\.py::\S+): (\S+\.dump)$", out,
                           re.M))


def test_one_dump_per_failing_or_erroring_test(pt):
    dumps = pt.path / "dumps"
    result = pt.runpytest_subprocess("-p", "heapdump.pytest_plugin",
                                     "--heapdump=%s" % dumps)
    result.assert_outcomes(passed=2, failed=4, errors=2, skipped=1,
                           xfailed=1)
    named = reports(result)
    assert sorted(named) == sorted([
        "test_shop.py::test_fails", "test_shop.py::test_setup_error",
        "test_shop.py::test_teardown_error",
        "test_shop.py::test_same_place[1]",
        "test_shop.py::test_same_place[2]",
        "test_shop.py::test_same_place[3]"])
    files = sorted(dumps.glob("heapdump-*.dump"))
    assert sorted(map(str, files)) == sorted(named.values())
    # each failure report names its file
    out = result.stdout.str()
    assert out.count("- heapdump -") == 6, out
    assert "dump of this failure: %s" % named["test_shop.py::test_fails"] \
        in out
    dump = heapdump.load(named["test_shop.py::test_fails"])
    assert dump.headers["Heapdump-Reason"] == \
        "pytest: test_shop.py::test_fails failed in call"
    frames = {e.frame.code.name: e.frame for e in dump.traceback.entries()}
    assert frames["test_fails"].locals["basket"] == ["apple", "pear"]
    dump = heapdump.load(named["test_shop.py::test_setup_error"])
    assert dump.headers["Heapdump-Exception"] == \
        "RuntimeError: fixture setup failed"
    assert "in setup" in dump.headers["Heapdump-Reason"]
    dump = heapdump.load(named["test_shop.py::test_teardown_error"])
    assert "in teardown" in dump.headers["Heapdump-Reason"]


def test_pdb_opens_at_the_test(pt):
    dumps = pt.path / "dumps"
    pt.runpytest_subprocess("-p", "heapdump.pytest_plugin",
                            "--heapdump=%s" % dumps, "-k", "test_fails")
    [path] = dumps.glob("heapdump-*.dump")
    r = pt.run(sys.executable, "-m", "heapdump.open", str(path),
               stdin=b"p basket\n")
    out = r.stdout.str()
    assert re.search(r"test_shop\.py\(\d+\)test_fails\(\)", out), out
    assert "['apple', 'pear']" in out


def test_a_bare_option_uses_heapdump_dir(pt, monkeypatch):
    monkeypatch.setenv("HEAPDUMP_DIR", str(pt.path / "envdir"))
    pt.runpytest_subprocess("-p", "heapdump.pytest_plugin", "--heapdump",
                            "-k", "test_fails")
    assert len(list((pt.path / "envdir").glob("heapdump-*.dump"))) == 1
    monkeypatch.delenv("HEAPDUMP_DIR")
    pt.runpytest_subprocess("-p", "heapdump.pytest_plugin", "--heapdump",
                            "-k", "test_fails")
    assert len(list((pt.path / "heapdumps").glob("heapdump-*.dump"))) == 1


def test_without_the_option_nothing_is_written(pt):
    result = pt.runpytest_subprocess("-p", "heapdump.pytest_plugin")
    result.assert_outcomes(passed=2, failed=4, errors=2, skipped=1,
                           xfailed=1)
    assert "heapdump" not in result.stdout.str()
    assert list(pt.path.rglob("heapdump-*.dump")) == []


def test_at_most_heapdump_max_dumps(pt):
    dumps = pt.path / "dumps"
    result = pt.runpytest_subprocess("-p", "heapdump.pytest_plugin",
                                     "--heapdump=%s" % dumps,
                                     "--heapdump-max=2")
    assert len(list(dumps.glob("heapdump-*.dump"))) == 2
    out = result.stdout.str()
    assert "no dump: --heapdump-max=2 dumps were written" in out
    assert "4 more failures not dumped (--heapdump-max=2)" in out


def test_hide_env_hides_a_short_ci_token(pt, monkeypatch):
    # 6 characters: shorter than the environment's rule, hidden by name
    token = "t%05d" % (os.getpid() % 100000)
    monkeypatch.setenv("CI_JOB_KEY", token)
    pt.makepyfile(test_token='''
import os


def test_uses_it():
    header = os.environ["CI_JOB_KEY"]
    copy = "".join(list(header))
    assert copy == "other"
''')
    dumps = pt.path / "dumps"
    pt.runpytest_subprocess("-p", "heapdump.pytest_plugin",
                            "--heapdump=%s" % dumps,
                            "--heapdump-hide-env=CI_JOB_KEY", "test_token.py")
    [path] = dumps.glob("heapdump-*.dump")
    frames = {e.frame.code.name: e.frame
              for e in heapdump.load(path).traceback.entries()}
    assert frames["test_uses_it"].locals["copy"].reason == "value"
    # without the option, a 6-character value is no secret
    other = pt.path / "other"
    pt.runpytest_subprocess("-p", "heapdump.pytest_plugin",
                            "--heapdump=%s" % other, "test_token.py")
    [path] = other.glob("heapdump-*.dump")
    frames = {e.frame.code.name: e.frame
              for e in heapdump.load(path).traceback.entries()}
    assert frames["test_uses_it"].locals["copy"] == token
