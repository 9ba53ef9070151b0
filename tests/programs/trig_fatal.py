"""A fatal signal: a crash in a C extension, an abort, a stack overflow.

    python trig_fatal.py segv|ctypes|abort|overflow [faulthandler-after]
"""

import faulthandler
import os
import sys

import trig_common

trig_common.enable()
if len(sys.argv) > 2:
    faulthandler.enable()


# what the fatal dump must hide (test_triggers_signals.py): a value given
# in hide= and held inside a longer one, and a copy of the environment
HELD = "token=%s;" % os.environ.get("TRIG_HELD", "")
ENVIRONMENT = dict(os.environ)


def crash(kind):
    invoice = {"number": 1234, "amount": 99.5}
    if kind == "segv":
        trig_common.hdtest().segfault()
    elif kind == "ctypes":
        import ctypes

        ctypes.string_at(0)
    elif kind == "abort":
        os.abort()
    elif kind == "overflow":
        trig_common.hdtest().recurse(10 ** 8)
    return invoice


crash(sys.argv[1])
