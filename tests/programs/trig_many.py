"""Failures in threads: COUNT of the same failure (one code location),
then one other, then after SLEEP seconds the same one again; or, with
"distinct", COUNT failures each at a different code location.

    python trig_many.py same COUNT SLEEP
    python trig_many.py distinct COUNT
"""

import sys
import threading
import time

import trig_common

trig_common.enable()


def same(i):
    raise ValueError("same place %d" % i)


def other():
    raise KeyError("other place")


def distinct(i):
    code = compile("\n" * i + "raise IndexError(%d)" % i, "distinct.py",
                   "exec")
    exec(code)


def run(target, *args):
    t = threading.Thread(target=target, args=args)
    t.start()
    t.join()


if sys.argv[1] == "same":
    for i in range(int(sys.argv[2])):
        run(same, i)
    run(other)
    time.sleep(float(sys.argv[3]))
    run(same, 99)
else:
    for i in range(int(sys.argv[2])):
        run(distinct, i)
        time.sleep(0.02)
print("done", flush=True)
