"""unittest under ``python -m heapdump run``: unittest catches a failing
test's exception, so run also dumps where unittest reports it; the
program's output and exit status stay those it has without heapdump."""

import re
import subprocess
import sys
import textwrap

import pytest

import heapdump
from conftest import child_env

TESTS = textwrap.dedent('''\
    import unittest


    class Shop(unittest.TestCase):
        def test_fails(self):
            basket = ["apple", "pear"]
            self.assertEqual(len(basket), 3)

        def test_raises(self):
            prices = {"apple": 2}
            return prices["pear"]

        def test_passes(self):
            pass

        @unittest.skip("not today")
        def test_skipped(self):
            raise AssertionError("never")

        @unittest.expectedFailure
        def test_expected(self):
            raise AssertionError("expected")

        def test_subtests(self):
            for n in range(3):
                with self.subTest(n=n):
                    self.assertLess(n, 2)


    class Broken(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            raise RuntimeError("no database")

        def test_never_runs(self):
            pass


    if __name__ == "__main__":
        unittest.main()
''')


def run(args, cwd):
    return subprocess.run([sys.executable] + args, cwd=str(cwd),
                          env=child_env(), capture_output=True, text=True,
                          timeout=120)


def normal(text):
    return re.sub(r"in \d+\.\d+s", "in Xs", text)


@pytest.mark.parametrize("how", ["module", "script"])
def test_failing_tests_are_dumped_and_the_run_is_unchanged(tmp_path, how):
    (tmp_path / "test_shop.py").write_text(TESTS)
    program = ["-m", "unittest", "test_shop"] if how == "module" else \
        ["test_shop.py"]
    plain = run(program, tmp_path)
    dumps = tmp_path / "dumps"
    traced = run(["-m", "heapdump", "run", "-d", str(dumps)] + program,
                 tmp_path)
    assert plain.returncode == traced.returncode == 1
    assert normal(traced.stderr) == normal(plain.stderr)
    assert "FAILED (failures=2, errors=2, skipped=1, expected failures=1)" \
        in plain.stderr
    found = {}
    for path in dumps.glob("heapdump-*.dump"):
        dump = heapdump.load(path)
        found[dump.headers["Heapdump-Reason"]] = dump
    module = "test_shop" if how == "module" else "__main__"
    assert sorted(found) == sorted([
        "unittest: setUpClass (%s.Broken) raised" % module,
        "unittest: %s.Shop.test_fails failed" % module,
        "unittest: %s.Shop.test_raises raised" % module,
        "unittest: %s.Shop.test_subtests failed (subtest)" % module,
    ])
    dump = found["unittest: %s.Shop.test_fails failed" % module]
    frames = {e.frame.code.name: e.frame for e in dump.traceback.entries()}
    assert frames["test_fails"].locals["basket"] == ["apple", "pear"]
    dump = found["unittest: %s.Shop.test_raises raised" % module]
    assert dump.traceback.entries()[-1].frame.locals["prices"] == \
        {"apple": 2}


def test_pdb_reaches_the_test_frame(tmp_path):
    (tmp_path / "test_shop.py").write_text(TESTS)
    dumps = tmp_path / "dumps"
    run(["-m", "heapdump", "run", "-d", str(dumps), "-m", "unittest",
         "test_shop.Shop.test_fails"], tmp_path)
    [path] = dumps.glob("heapdump-*.dump")
    r = subprocess.run([sys.executable, "-m", "heapdump.open", str(path)],
                       input="up\nup\np basket\n", env=child_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert re.search(r"test_shop\.py\(\d+\)test_fails\(\)", r.stdout), \
        r.stdout
    assert "['apple', 'pear']" in r.stdout
