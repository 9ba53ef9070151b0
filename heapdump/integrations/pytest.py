"""pytest plugin: a dump of each failing test.

    pytest --heapdump              # into $HEAPDUMP_DIR, else ./heapdumps
    pytest --heapdump=DIR

Each test that fails or errors (in its setup, call or teardown) gets one
dump, written while pytest holds the exception: the test's frames with
their locals, its fixtures, the rest of the process.  The failure report
names the file (a "heapdump" section), and the end of the run lists them,
so that a failure in CI can be opened later with
``python -m heapdump.open FILE``.  Skips and expected failures (xfail) are
not failures.  At most ``--heapdump-max`` dumps are written in one run
(default 50); the directory keeps at most 1 GiB of dumps, the oldest
removed first.  ``--heapdump-hide-env NAME`` hides the value of an
environment variable (a CI token shorter than the 8 characters from which
the environment's values are hidden anyway) wherever a dump meets it.

The option takes its value attached (``--heapdump=DIR``): a bare
``--heapdump`` followed by a test path would take the path for DIR.

Registered as the ``heapdump.pytest_plugin`` pytest11 entry point, which
names ``heapdump.pytest_plugin``: this module under the name it had before
it moved here (the same module object), so that ``-p
heapdump.pytest_plugin``, which loads it from a source tree, is no second
registration where heapdump is installed; ``-p no:heapdump.pytest_plugin``
turns it off.
"""

from __future__ import annotations

import os

import pytest

#: The directory of a bare --heapdump, when $HEAPDUMP_DIR is not set.
DEFAULT_DIRECTORY = "heapdumps"
#: Dumps written in one run, at most (--heapdump-max).
DEFAULT_MAX = 50

_DEFAULT = object()
_KEY = "_heapdump_plugin"


def pytest_addoption(parser):
    group = parser.getgroup("heapdump", "heap dumps of failing tests")
    group.addoption(
        "--heapdump", action="store", nargs="?", const=_DEFAULT,
        default=None, metavar="DIR", dest="heapdump",
        help="write a heap dump of each failing test into DIR (default: "
             "$HEAPDUMP_DIR, else ./%s); open one with python -m "
             "heapdump.open FILE.  Give DIR as --heapdump=DIR."
             % DEFAULT_DIRECTORY)
    group.addoption(
        "--heapdump-max", action="store", type=int, default=DEFAULT_MAX,
        metavar="N", dest="heapdump_max",
        help="write at most N dumps in one run (default %d)"
             % DEFAULT_MAX)
    group.addoption(
        "--heapdump-hide-env", action="append", default=[], metavar="NAME",
        dest="heapdump_hide_env",
        help="hide the value of the environment variable NAME wherever "
             "the dumps meet it, whatever its length (repeatable; the "
             "environment's values of 8 characters or more are hidden "
             "anyway)")


class _Plugin:
    """The state of one run: where the dumps go, what was written."""

    def __init__(self, directory, max_dumps, hide=()):
        from heapdump._files import DumpDirectory

        # no rate limit: one dump per failing test, even when many fail
        # at the same place (parametrized); retention by size only, so
        # that this run's dumps stay
        self.files = DumpDirectory(directory, max_dumps=None,
                                   min_interval=None, hide=tuple(hide))
        self.max = max_dumps
        self.written = []           # (nodeid, path)
        self.left_out = 0

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        excinfo = call.excinfo
        if not report.failed or excinfo is None:
            return
        exc = excinfo.value
        if not isinstance(exc, BaseException) or \
                isinstance(exc, KeyboardInterrupt):
            return
        if len(self.written) >= self.max:
            self.left_out += 1
            report.sections.append((
                "heapdump", "no dump: --heapdump-max=%d dumps were "
                "written in this run" % self.max))
            return
        path = self.files.dump(exc, "pytest: %s failed in %s"
                               % (item.nodeid, call.when))
        if path is None:
            report.sections.append(("heapdump", "no dump: it could not be "
                                                "written (see stderr)"))
            return
        self.written.append((item.nodeid, path))
        report.sections.append((
            "heapdump", "dump of this failure: %s\nopen it with: "
            "python -m heapdump.open %s" % (path, path)))

    def pytest_terminal_summary(self, terminalreporter):
        if not (self.written or self.left_out):
            return
        tr = terminalreporter
        tr.section("heapdump")
        for nodeid, path in self.written:
            tr.write_line("%s: %s" % (nodeid, path))
        if self.left_out:
            tr.write_line("%d more failures not dumped (--heapdump-max=%d)"
                          % (self.left_out, self.max))


def pytest_configure(config):
    value = config.getoption("heapdump", None)
    if value is None:
        return
    if value is _DEFAULT:
        value = os.environ.get("HEAPDUMP_DIR") or os.path.join(
            str(config.invocation_params.dir), DEFAULT_DIRECTORY)
    max_dumps = config.getoption("heapdump_max")
    if max_dumps is None or max_dumps < 0:
        raise pytest.UsageError("--heapdump-max must be >= 0")
    hide = [os.environ[name] for name in
            config.getoption("heapdump_hide_env") or ()
            if os.environ.get(name)]
    plugin = _Plugin(value, max_dumps, hide)
    config.pluginmanager.register(plugin, _KEY)


def pytest_unconfigure(config):
    plugin = config.pluginmanager.get_plugin(_KEY)
    if plugin is not None:
        config.pluginmanager.unregister(plugin, _KEY)
