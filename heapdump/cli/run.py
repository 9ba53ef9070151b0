"""``python -m heapdump run``: a program with dumps on unhandled exceptions.

    python -m heapdump run [options] script.py [args ...]
    python -m heapdump run [options] -m module [args ...]

Runs a program as ``python script.py`` (or ``python -m module``) would,
with dumps on unhandled exceptions, failing unittest tests and fatal
signals, without changing its code, as ``python -m pdb`` and ``-X
faulthandler`` do: the program sees the same ``sys.argv``, ``sys.path[0]``
and ``__main__``, and its exit status and printed traceback are those it
has without heapdump (the runner's own frames are left out).
``$HEAPDUMP_DIR`` is the default directory.
"""

from __future__ import annotations

import argparse
import os
import sys

PROG = "python -m heapdump"

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size(text):
    """An integer with an optional K, M, G or T suffix (binary), or
    "none" for no limit."""
    t = text.strip().upper().rstrip("B").rstrip("I")
    if t in ("NONE", "NO"):
        return None
    unit = t[-1:] if t[-1:] in _UNITS and not t[-1:].isdigit() else ""
    number = t[:len(t) - len(unit)]
    try:
        value = int(number) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError("not a size: %r" % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError("not a size: %r" % text)
    return value


def _count(text):
    if text.strip().lower() in ("none", "no"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) \
            from None
    if value < 0:
        raise argparse.ArgumentTypeError("not a number: %r" % text)
    return value


def _seconds(text):
    if text.strip().lower() in ("none", "no"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of seconds: %r"
                                         % text) from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("not a number of seconds: %r"
                                         % text)
    return value


def _signal(text):
    import signal

    name = text.strip().upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(getattr(signal.Signals, name))
    except AttributeError:
        raise argparse.ArgumentTypeError("no such signal: %r" % text) \
            from None


# The options of `run`, each (flags, argparse keywords).  All but the
# store_true ones take a value; _split() cuts the command line at the
# program by this table (everything after it is the program's).
_RUN_OPTIONS = [
    (("-d", "--directory"), dict(
        metavar="DIR", help="where the dumps go (default: $HEAPDUMP_DIR or "
        "the current directory)")),
    (("--max-dumps",), dict(
        type=_count, metavar="N", help="dump files kept in the directory "
        "(default 10; none: no limit)")),
    (("--max-total-bytes",), dict(
        type=_size, metavar="SIZE", help="bytes of dump files kept in the "
        "directory (default 1G)")),
    (("--min-interval",), dict(
        type=_seconds, metavar="SECONDS", help="one dump of the same "
        "failure per interval (default 60)")),
    (("--max-objects",), dict(type=_count, metavar="N",
                              help="object records per dump")),
    (("--max-bytes",), dict(type=_size, metavar="SIZE",
                            help="uncompressed bytes per dump")),
    (("--max-string",), dict(type=_size, metavar="SIZE",
                             help="characters of one str kept")),
    (("--max-items",), dict(type=_count, metavar="N",
                            help="elements of one container kept")),
    (("--max-source",), dict(type=_size, metavar="SIZE",
                             help="bytes of one source file kept")),
    (("--scope",), dict(
        choices=("frames", "heap"), help="what a dump walks: the frames "
        "(default) or the whole heap (for leak analysis; fatal-signal "
        "dumps walk the frames)")),
    (("--redact",), dict(
        action="append", metavar="NAME", help="also redact values under "
        "this name (repeatable)")),
    (("--no-redact",), dict(action="store_true",
                            help="redact nothing")),
    (("--environ",), dict(action="store_true",
                          help="dump the environment variables too")),
    (("--hide-env",), dict(
        action="append", metavar="NAME", help="hide the value of the "
        "environment variable NAME wherever a dump meets it, whatever its "
        "length (repeatable)")),
    (("--no-fatal-signals",), dict(
        action="store_true", help="no dumps on SIGSEGV, SIGBUS, SIGFPE, "
        "SIGILL, SIGABRT")),
    (("--signal",), dict(
        type=_signal, action="append", metavar="SIG", help="also dump every "
        "thread on this signal and carry on, e.g. USR1 (repeatable)")),
]


def _run_parser():
    parser = argparse.ArgumentParser(
        prog=PROG + " run",
        usage="%(prog)s [options] script.py [args ...]\n"
              "       %(prog)s [options] -m module [args ...]",
        description="Run a Python program with heap dumps on unhandled "
                    "exceptions (every thread, asyncio) and fatal signals.")
    for flags, kwargs in _RUN_OPTIONS:
        if flags[-1][2:].replace("-", "_") in _PASSED:
            # absent unless given: None means "no limit"
            kwargs = dict(kwargs, default=argparse.SUPPRESS)
        parser.add_argument(*flags, **kwargs)
    parser.add_argument("-m", dest="module", metavar="module",
                        help="run a library module as a script")
    return parser


def _split(argv):
    """(heapdump's options, ("script" | "module", [target]), the program's
    arguments) of `run`'s command line: ours end at the first argument
    that is not an option (the script), at -m's module, or at "--"."""
    takes_value = {"-m"}
    for flags, kwargs in _RUN_OPTIONS:
        if kwargs.get("action") != "store_true":
            takes_value.update(flags)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return argv[:i], ("script", argv[i + 1:i + 2]), argv[i + 2:]
        if arg == "-m":
            return argv[:i], ("module", argv[i + 1:i + 2]), argv[i + 2:]
        if arg.startswith("-m") and not arg.startswith("--"):
            return argv[:i], ("module", [arg[2:]]), argv[i + 1:]
        if not arg.startswith("-") or arg == "-":
            return argv[:i], ("script", [arg]), argv[i + 1:]
        i += 2 if arg in takes_value else 1
    return argv, ("script", []), []


_PASSED = ("max_dumps", "max_total_bytes", "min_interval", "max_objects",
           "max_bytes", "max_string", "max_items", "max_source", "scope")


def _options(ns):
    """The keyword arguments of dump_on_unhandled_exceptions() given on
    the command line (an option left out keeps its default; "none" is no
    limit)."""
    options = {name: getattr(ns, name) for name in _PASSED
               if hasattr(ns, name)}
    if ns.no_redact:
        options["redact"] = False
    elif ns.redact:
        options["redact"] = list(ns.redact)
    if ns.environ:
        options["environ"] = True
    if ns.hide_env:
        options["hide"] = [os.environ[name] for name in ns.hide_env
                           if os.environ.get(name)]
    return options


# The files of the runner's own frames: heapdump/__main__.py (the
# dispatcher) and this one.
_OURS = (os.path.join(os.path.dirname(os.path.dirname(__file__)),
                      "__main__.py"), __file__)


def _our_files():
    return set(_OURS) | {os.path.abspath(f) for f in _OURS}


def _runner_files():
    """The code files of the runner's frames, left out of the traceback:
    ours and runpy's (which runs `python -m heapdump`)."""
    import runpy

    return _our_files() | {runpy._run_code.__code__.co_filename}


def _strip(tb, ours, runner_files):
    """The traceback without its leading runner entries: everything up to
    the last frame of ours, when only runner frames precede it."""
    cut, entry = tb, tb
    while entry is not None:
        filename = entry.tb_frame.f_code.co_filename
        if filename not in runner_files:
            break
        if filename in ours:
            cut = entry.tb_next
        entry = entry.tb_next
    return cut


class _StrippingHook:
    """Installed over sys.excepthook as the program's exception leaves the
    runner: the hooks see (and print) the traceback they would see without
    it."""

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, exc_type, exc, tb):
        try:
            tb = _strip(tb, _our_files(), _runner_files())
            if isinstance(exc, BaseException):
                # the default hook prints exc.__traceback__, not tb
                exc.__traceback__ = tb
        except Exception:
            pass
        return self.hook(exc_type, exc, tb)


def _script_main(path):
    """A fresh __main__ module for the script at path, as `python path`
    makes it."""
    import builtins
    import importlib.machinery
    import types

    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    main.__cached__ = None
    return main


def _exec_script(script):
    """Run script as `python script` would: sys.path[0] is the script's
    directory (or the directory or zip file itself), __main__ a new
    module, __file__ and the code's file name the absolute path."""
    import io

    path = os.path.abspath(script)
    archive = os.path.isdir(path) or _is_zip(path)
    if not getattr(sys.flags, "safe_path", False):
        sys.path[0] = script if archive else \
            os.path.dirname(os.path.realpath(script))
    if archive:
        import runpy

        sys.modules["__main__"] = _blank_main()
        runpy._run_module_as_main("__main__", False)
        return
    with io.open_code(path) as f:
        source = f.read()
    code = compile(source, path, "exec", dont_inherit=True)
    main = _script_main(path)
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _is_zip(path):
    import zipfile

    try:
        return os.path.isfile(path) and zipfile.is_zipfile(path)
    except OSError:
        return False


def main(argv):
    """`run`: the program's exit status is the process's (None when it
    ends normally); 2 for a bad command line."""
    ours, (kind, target), program_args = _split(argv)
    parser = _run_parser()
    ns = parser.parse_args(ours)
    if not target or not target[0]:
        parser.error("the program to run is missing: a script or "
                     "-m module")
    target = target[0]
    if kind == "script" and not os.path.exists(target):
        sys.stderr.write("%s run: can't open file %r: [Errno 2] No such "
                         "file or directory\n"
                         % (PROG, os.path.abspath(target)))
        return 2

    from heapdump import _triggers

    try:
        _triggers.dump_on_unhandled_exceptions(
            ns.directory, fatal_signals=not ns.no_fatal_signals,
            **_options(ns))
        for signum in ns.signal or ():
            _triggers.dump_on_signal(signum, ns.directory, **_options(ns))
    except (OSError, TypeError, ValueError, RuntimeError) as e:
        sys.stderr.write("%s run: %s\n" % (PROG, e))
        return 2
    # unittest catches a failing test's exception: dump it where unittest
    # reports it (heapdump.integrations.unittest)
    from heapdump.integrations import unittest as _unittest

    _unittest.install()

    # The program gets a __main__ of its own, as with `python script.py`;
    # this module's globals stay with its functions (and this reference).
    runner = sys.modules.get("__main__")  # noqa: F841
    try:
        if kind == "module":
            import runpy

            # as `python -m module`: sys.path[0] is the current directory
            # already (we were started with -m), argv[0] becomes the file
            sys.argv = ["-m"] + program_args
            sys.modules["__main__"] = _blank_main()
            runpy._run_module_as_main(target, True)
        else:
            sys.argv = [target] + program_args
            _exec_script(target)
    except SystemExit:
        raise
    except BaseException:
        sys.excepthook = _StrippingHook(sys.excepthook)
        raise
    return None


def _blank_main():
    import builtins
    import types

    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    return main
