"""A program with a big heap whose failure makes a big dump: for a file
size limit (EFBIG), a full disk (ENOSPC) and a SIGKILL in the middle.

    python trig_bigheap.py main|thread ITEMS [FSIZE]

FSIZE: RLIMIT_FSIZE in bytes, with SIGXFSZ ignored (write gets EFBIG).
"ready" is printed on stdout just before the failure.
"""

import resource
import signal
import sys
import threading

import trig_common

scenario, items = sys.argv[1], int(sys.argv[2])
if len(sys.argv) > 3:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

trig_common.enable()


def catalogue(n):
    return [{"id": i, "name": "item-%d" % i, "tags": [i, "t%d" % i]}
            for i in range(n)]


def process(products):
    checked = len(products)
    raise ValueError("cannot process %d products" % checked)


products = catalogue(items)
print("ready", flush=True)
if scenario == "thread":
    t = threading.Thread(target=process, args=(products,), name="worker")
    t.start()
    t.join()
    print("still running", flush=True)
else:
    process(products)
