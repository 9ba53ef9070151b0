"""A framework that has its own sys.excepthook and threading.excepthook,
installed before or after heapdump's; both hooks must still run.

    python trig_hooks.py heapdump-first|framework-first
"""

import sys
import threading

import trig_common

if sys.argv[1] == "heapdump-first":
    trig_common.enable()

previous_sys = sys.excepthook
previous_thread = threading.excepthook


def framework_excepthook(exc_type, exc, tb):
    print("framework sys hook:", exc_type.__name__, flush=True)
    previous_sys(exc_type, exc, tb)


def framework_threadhook(args):
    print("framework thread hook:", args.exc_type.__name__, flush=True)
    previous_thread(args)


sys.excepthook = framework_excepthook
threading.excepthook = framework_threadhook

if sys.argv[1] == "framework-first":
    trig_common.enable()


def in_thread(n):
    raise LookupError("thread failure %d" % n)


def in_main(n):
    raise ArithmeticError("main failure %d" % n)


t = threading.Thread(target=in_thread, args=(1,))
t.start()
t.join()
in_main(2)
