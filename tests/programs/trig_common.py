"""Shared by the trig_*.py programs of tests/integration/test_triggers*.py.

Each program runs twice in a test, with and without heapdump, and the two
runs must behave alike; enable() is the only difference between them, so
the tracebacks print the same file and line numbers.

    TRIG_HEAPDUMP=1    turn heapdump on (dump_on_unhandled_exceptions)
    TRIG_DIR           the directory for the dumps
    TRIG_OPTIONS       JSON keyword arguments for it
    TRIG_TWICE=1       call it twice (must be harmless)
"""

import json
import os


def enabled():
    return os.environ.get("TRIG_HEAPDUMP") == "1"


def enable(**extra):
    if not enabled():
        return False
    from heapdump import _triggers

    options = json.loads(os.environ.get("TRIG_OPTIONS") or "{}")
    options.update(extra)
    for _ in range(2 if os.environ.get("TRIG_TWICE") == "1" else 1):
        _triggers.dump_on_unhandled_exceptions(os.environ["TRIG_DIR"],
                                               **options)
    return True


def hdtest():
    """The tests' C helper (tests/helpers/hdtest.c), built by the
    hdtest_dir fixture and put on PYTHONPATH."""
    import hdtest

    return hdtest
