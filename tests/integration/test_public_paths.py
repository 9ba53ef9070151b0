"""Every public import path and command of heapdump keeps working: the
ones README.rst, docs/ and pyproject.toml name, and ``heapdump.__all__``,
as they were before the command line moved to heapdump.cli and the
integrations to heapdump.integrations.

Each import path is imported and gives the names it always gave; each
command answers --help with its options and does its job once, on dumps
that child processes write for real.
"""

import importlib
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

import heapdump
from conftest import TESTS, child_env
from webtests import require

ROOT = TESTS.parent

# --------------------------------------------------------------- imports

#: heapdump.__all__ as it was (a name may be added, none taken away).
ALL = ["Code", "DEFAULT_HEAP_LIMITS", "DEFAULT_LIMITS", "DEFAULT_REDACT",
       "Redact", "Dump", "Frame", "HeapdumpError", "HeapdumpWarning",
       "Thread", "Traceback", "clear_context", "compare", "disable", "dump",
       "dump_on_memory", "dump_on_signal", "dump_on_unhandled_exceptions",
       "get_context", "load", "referents", "why", "set_context"]

#: import path -> the names it gives (README.rst, docs/, the docstrings).
PATHS = {
    "heapdump": ALL + ["__version__", "FORMAT_VERSION", "SCOPES",
                       "limits_for", "default_filename"],
    "heapdump.open": ["main", "parser", "report", "debug", "summary_lines",
                      "PROG"],
    "heapdump.__main__": ["main", "COMMANDS"],
    "heapdump.wsgi": ["HeapdumpMiddleware"],
    "heapdump.asgi": ["HeapdumpMiddleware"],
    "heapdump.logging": ["HeapdumpHandler"],
    "heapdump.pytest_plugin": ["pytest_addoption", "pytest_configure",
                               "pytest_unconfigure", "DEFAULT_DIRECTORY",
                               "DEFAULT_MAX"],
    "heapdump.contrib": [],
    # named by README.rst and docs/analysis.rst
    "heapdump._secrets": ["ENV_NOT_SECRET"],
    "heapdump._heap": ["HeapGraph", "DEFAULT_LIMITS"],
    # the new homes
    "heapdump.cli": [],
    "heapdump.cli.open": ["main"],
    "heapdump.cli.run": ["main"],
    "heapdump.cli.ls": ["main"],
    "heapdump.integrations": [],
    "heapdump.integrations.wsgi": ["HeapdumpMiddleware"],
    "heapdump.integrations.asgi": ["HeapdumpMiddleware"],
    "heapdump.integrations.logging": ["HeapdumpHandler"],
    "heapdump.integrations.pytest": ["pytest_addoption"],
    "heapdump.integrations.unittest": ["install"],
}

#: the old names that are the new modules themselves
ALIASES = {
    "heapdump.open": "heapdump.cli.open",
    "heapdump.wsgi": "heapdump.integrations.wsgi",
    "heapdump.asgi": "heapdump.integrations.asgi",
    "heapdump.logging": "heapdump.integrations.logging",
    "heapdump.pytest_plugin": "heapdump.integrations.pytest",
}


def documented():
    """(import paths with the names the docs import from them, the
    modules the docs run with python -m) of README.rst and docs/*.rst."""
    names, commands = {}, set()
    for doc in [ROOT / "README.rst"] + sorted((ROOT / "docs").glob("*.rst")):
        text = doc.read_text(encoding="utf-8")
        for module, name in re.findall(
                r"from (heapdump[\w.]*) import (\w+)", text):
            names.setdefault(module, set()).add(name)
        # dotted paths in settings: "heapdump.x.y.Class"
        for module, name in re.findall(r'"(heapdump\.[\w.]+)\.([A-Z]\w+)"',
                                       text):
            names.setdefault(module, set()).add(name)
        commands.update(re.findall(r"python -m (heapdump[\w.]*)", text))
    return names, commands


#: imported in a child only (they import Django, which would then be in
#: every dump this process writes): test_the_django_path_in_settings_imports
DJANGO = {"heapdump.contrib.django": ["HeapdumpMiddleware"],
          "heapdump.integrations.django": ["HeapdumpMiddleware"]}


def test_every_documented_path_and_command_is_checked_here():
    names, commands = documented()
    assert "heapdump.contrib.django" in names       # the settings string
    assert "heapdump.integrations.wsgi" in names
    checked = dict(PATHS, **DJANGO)
    for module, used in sorted(names.items()):
        assert module in checked, module
        assert sorted(used - set(checked[module])) == [], module
    assert commands == {"heapdump", "heapdump.open"}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_import_path_gives_its_names(path):
    module = importlib.import_module(path)
    missing = [n for n in PATHS[path] if not hasattr(module, n)]
    assert missing == []


def test_all_is_what_it_was_and_resolves():
    assert sorted(set(ALL) - set(heapdump.__all__)) == []
    for name in heapdump.__all__:
        assert getattr(heapdump, name) is not None, name
    assert heapdump.HeapdumpError is \
        importlib.import_module("heapdump._model").HeapdumpError


@pytest.mark.parametrize("old", sorted(ALIASES))
def test_an_old_path_is_the_new_module(old):
    module = importlib.import_module(old)
    assert module is importlib.import_module(ALIASES[old])
    assert sys.modules[old] is module
    # from-imports through the old name give the same objects
    package, _, leaf = old.rpartition(".")
    assert getattr(importlib.import_module(package), leaf) is module


def test_the_django_path_in_settings_imports(tmp_path):
    require("django")
    code = (
        "import django.conf\n"
        "django.conf.settings.configure()\n"
        "django.setup()\n"
        "from django.utils.module_loading import import_string\n"
        "import heapdump.contrib.django as old, "
        "heapdump.integrations.django as new\n"
        "cls = import_string('heapdump.contrib.django.HeapdumpMiddleware')\n"
        "assert old is new and cls is new.HeapdumpMiddleware, (old, new)\n"
        "assert cls is import_string("
        "'heapdump.integrations.django.HeapdumpMiddleware')\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], env=child_env(),
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_the_pytest_entry_point_names_the_plugin():
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.entry-points.pytest11]", 1)[1]
    entry = re.match(r'\s*"([^"]+)"\s*=\s*"([^"]+)"', section)
    assert entry.groups() == ("heapdump.pytest_plugin",
                              "heapdump.pytest_plugin")
    plugin = importlib.import_module(entry.group(2))
    assert plugin is importlib.import_module("heapdump.integrations.pytest")


# -------------------------------------------------------------- commands


def run(*args, input=None, cwd=None, env=None, timeout=120):
    return subprocess.run([sys.executable] + [str(a) for a in args],
                          env=env or child_env(), capture_output=True,
                          text=True, input=input, cwd=cwd, timeout=timeout)


PROGRAM = '''\
def charge(order):
    total = sum(order["items"])
    raise ValueError("card declined for %d" % total)

charge({"items": [3, 4]})
'''


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    """{"frames": path, "heap": path}: dumps of a failing program, written
    by ``python -m heapdump run`` in child processes."""
    top = tmp_path_factory.mktemp("paths")
    script = top / "shop.py"
    script.write_text(PROGRAM)
    out = {}
    for scope in ("frames", "heap"):
        directory = top / scope
        r = run("-m", "heapdump", "run", "-d", directory, "--scope", scope,
                script)
        assert r.returncode == 1, r.stderr
        assert "ValueError: card declined for 7" in r.stderr
        (out[scope],) = directory.glob("*.dump")
    return out


#: command -> the options its --help lists (every one it has)
HELP = {
    ("heapdump",): ["run", "ls", "open", "--version"],
    ("heapdump", "run"): [
        "-d", "--directory", "--max-dumps", "--max-total-bytes",
        "--min-interval", "--max-objects", "--max-bytes", "--max-string",
        "--max-items", "--max-source", "--scope", "--redact", "--no-redact",
        "--environ", "--hide-env", "--no-fatal-signals", "--signal", "-m"],
    ("heapdump", "ls"): ["DIR"],
    ("heapdump", "open"): [
        "--summary", "--thread", "--secrets", "--histogram", "--top",
        "--dominators", "--paths-to", "--referrers", "--object",
        "--suspects", "--diff", "--html", "--json", "--bytes", "--by",
        "--sort", "--limit", "--min-size", "--depth", "--max",
        "--include-weak", "--no-keys", "--threshold"],
}
HELP[("heapdump.open",)] = HELP[("heapdump", "open")]


@pytest.mark.parametrize("command", sorted(HELP), ids=" ".join)
def test_help_lists_every_option(command):
    r = run("-m", *command, "--help")
    assert (r.returncode, r.stderr) == (0, "")
    words = set(re.findall(r"(?<![\w-])-{0,2}[\w][\w-]*", r.stdout))
    assert sorted(o for o in HELP[command] if o not in words) == []


def test_version_and_bad_command_lines():
    r = run("-m", "heapdump", "--version")
    assert (r.returncode, r.stdout) == (0, "heapdump %s\n"
                                        % heapdump.__version__)
    r = run("-m", "heapdump")
    assert r.returncode == 2 and r.stderr.startswith("usage:")
    r = run("-m", "heapdump", "nosuch")
    assert r.returncode == 2 and "unknown command 'nosuch'" in r.stderr
    r = run("-m", "heapdump", "run")
    assert r.returncode == 2 and "the program to run is missing" in r.stderr
    r = run("-m", "heapdump", "run", "--max-dumps", "many", "x.py")
    assert r.returncode == 2 and "not a number: 'many'" in r.stderr


def test_ls_lists_the_dump(dumps):
    r = run("-m", "heapdump", "ls", dumps["frames"].parent)
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    assert dumps["frames"].name in line
    assert "ValueError: card declined for 7" in line
    r = run("-m", "heapdump", "ls", dumps["frames"].parent / "missing")
    assert r.returncode == 1 and "cannot access" in r.stderr


@pytest.mark.parametrize("command", [("heapdump.open",),
                                     ("heapdump", "open")], ids=" ".join)
def test_open_summary_and_pdb(dumps, command):
    path = dumps["frames"]
    r = run("-m", *command, "--summary", path)
    assert r.returncode == 0, r.stderr
    assert "ValueError: card declined for 7" in r.stdout
    assert "charge" in r.stdout
    r = run("-m", *command, path, input="p total\nq\n")
    assert r.returncode == 0, r.stderr
    assert "(Pdb) 7\n" in r.stdout
    r = run("-m", *command, "--secrets", path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("-m", *command, path.parent / "missing.dump")
    assert r.returncode == 1 and "cannot read" in r.stderr
    r = run("-m", *command, "--secrets", path.parent / "missing.dump")
    assert r.returncode == 2


def test_open_heap_report(dumps):
    r = run("-m", "heapdump.open", dumps["heap"], "--histogram", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["report"] == "histogram"
    types = {row["type"] for row in report["rows"]}
    assert "dict" in types and "str" in types
    r = run("-m", "heapdump", "open", dumps["heap"], "--histogram",
            "--json")
    assert json.loads(r.stdout)["report"] == "histogram"


def test_python_api_reads_the_dump(dumps):
    dump = heapdump.load(dumps["frames"])
    assert type(dump.exception).__name__ == "ValueError"
    assert dump.headers["Heapdump-Exception"].startswith("ValueError")


# ------------------------------------------------------- integrations


def only_dump(directory):
    (path,) = pathlib.Path(directory).glob("*.dump")
    return heapdump.load(path)


def test_wsgi_middleware_through_its_old_path(tmp_path):
    import wsgiref.util

    from heapdump.wsgi import HeapdumpMiddleware

    def app(environ, start_response):
        raise KeyError("no such order")

    environ = {}
    wsgiref.util.setup_testing_defaults(environ)
    with pytest.raises(KeyError):
        HeapdumpMiddleware(app, tmp_path)(environ, lambda *a: None)
    assert type(only_dump(tmp_path).exception).__name__ == "KeyError"


def test_asgi_middleware_through_its_old_path(tmp_path):
    import asyncio

    from heapdump.asgi import HeapdumpMiddleware

    async def app(scope, receive, send):
        raise LookupError("gone")

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    with pytest.raises(LookupError):
        asyncio.run(HeapdumpMiddleware(app, tmp_path)(scope, None, None))
    assert type(only_dump(tmp_path).exception).__name__ == "LookupError"


def test_logging_handler_through_its_old_path(tmp_path):
    import logging

    from heapdump.logging import HeapdumpHandler

    log = logging.getLogger("test_public_paths")
    handler = HeapdumpHandler(tmp_path)
    log.addHandler(handler)
    try:
        try:
            {}["order"]
        except KeyError:
            log.exception("order failed")
    finally:
        log.removeHandler(handler)
    assert only_dump(tmp_path).headers["Heapdump-Reason"].startswith(
        "logged by test_public_paths")


def test_pytest_plugin_through_its_old_name(tmp_path):
    (tmp_path / "test_it.py").write_text(
        "def test_fails():\n    basket = [1]\n    assert len(basket) == 2\n")
    r = run("-m", "pytest", "-p", "no:cacheprovider", "-p",
            "heapdump.pytest_plugin", "--heapdump=%s" % (tmp_path / "d"),
            "test_it.py", cwd=tmp_path,
            env=child_env(PYTEST_ADDOPTS="", PYTEST_PLUGINS=""))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "open it with: python -m heapdump.open" in r.stdout
    assert only_dump(tmp_path / "d").headers["Heapdump-Reason"] == \
        "pytest: test_it.py::test_fails failed in call"


def test_unittest_through_run(tmp_path):
    (tmp_path / "test_u.py").write_text(
        "import unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_x(self):\n"
        "        self.assertEqual(1, 2)\n")
    r = run("-m", "heapdump", "run", "-d", tmp_path / "d", "-m", "unittest",
            "test_u", cwd=tmp_path)
    assert r.returncode == 1 and "FAILED (failures=1)" in r.stderr
    assert only_dump(tmp_path / "d").headers["Heapdump-Reason"] == \
        "unittest: test_u.T.test_x failed"


def test_the_environment_directory(tmp_path):
    # $HEAPDUMP_DIR is where ls looks without an argument
    (tmp_path / "shop.py").write_text(PROGRAM)
    env = child_env(HEAPDUMP_DIR=tmp_path / "env")
    assert run("-m", "heapdump", "run", tmp_path / "shop.py",
               env=env).returncode == 1
    r = run("-m", "heapdump", "ls", env=env, cwd=os.sep)
    assert r.returncode == 0 and "ValueError" in r.stdout
