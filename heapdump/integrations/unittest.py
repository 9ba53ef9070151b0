"""Dumps of failing unittest tests under ``python -m heapdump run``.

unittest catches a test's exception and reports it, so the exception
hooks of ``run`` never see it.  ``run`` therefore also wraps
``unittest.result.TestResult.addError``, ``addFailure`` and
``addSubTest`` (the base class: TextTestResult and most result classes
call them), which unittest calls with the exception and its traceback
(the test's frames alive): each writes a dump through the same directory
and policy as the hooks (heapdump._triggers: retention, the rate limit of
one failure), then does what it did.

Nothing is imported for it: the methods are wrapped when the program
imports unittest (or at once if it has).
"""

from __future__ import annotations

import functools
import sys
import threading

from heapdump._importhook import PatchOnImport

_lock = threading.Lock()
_finder = None
_WRAPPED = "_heapdump_wrapper"


def _test_name(test):
    """module.Class.method of a test, from the class and instance dicts
    (no __str__ or id() of the test case, which a test may override)."""
    cls = type(test)
    d = getattr(test, "__dict__", None)
    method = d.get("_testMethodName") if isinstance(d, dict) else None
    name = "%s.%s" % (cls.__module__, cls.__qualname__)
    if isinstance(method, str):
        name += "." + method
    elif isinstance(d, dict) and isinstance(d.get("description"), str):
        name = d["description"]         # an _ErrorHolder (setUpClass)
    return name


def _dump(test, err, what):
    from heapdump import _triggers

    try:
        exc = err[1] if isinstance(err, tuple) and len(err) == 3 else None
        if isinstance(exc, BaseException) and \
                not isinstance(exc, KeyboardInterrupt):
            _triggers._dump(exc, "unittest: %s %s" % (_test_name(test),
                                                      what))
    except Exception:
        pass                # _triggers._dump says its own failures


def _wrap(cls, name, what, position):
    previous = cls.__dict__.get(name)
    if previous is None or getattr(previous, _WRAPPED, False):
        return

    @functools.wraps(previous)
    def wrapper(self, *args, **kwargs):
        if len(args) > position:
            err = args[position]
            if err is not None:
                _dump(args[0], err, what)
        return previous(self, *args, **kwargs)

    setattr(wrapper, _WRAPPED, True)
    setattr(cls, name, wrapper)


def _patch(module):
    cls = module.TestResult
    _wrap(cls, "addError", "raised", 1)
    _wrap(cls, "addFailure", "failed", 1)
    # addSubTest(test, subtest, err): err is None for a passing subtest
    _wrap(cls, "addSubTest", "failed (subtest)", 2)


def _imported(module):
    _uninstall_finder()
    _patch(module)


def _uninstall_finder():
    global _finder
    with _lock:
        finder, _finder = _finder, None
        if finder is not None:
            finder.remove()


def install():
    """Dump failing unittest tests through heapdump._triggers' directory
    (dump_on_unhandled_exceptions() first)."""
    global _finder
    module = sys.modules.get("unittest.result")
    if module is not None:
        _patch(module)
        return
    with _lock:
        if _finder is None:
            _finder = PatchOnImport("unittest.result", _imported)
            _finder.install()
