"""Crashes in C with a corrupted list reachable from the crashing frame:
the crash dump faults a second time reading that list and must abandon it,
keep everything else and finish the file.

    python fatal_corrupt.py DIRECTORY
"""

import ctypes
import gc
import resource
import sys

import hdtest

import heapdump
from heapdump import _heapdump

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
gc.disable()  # a collection would trip over the corrupted list


def corrupt(lst):
    # PyListObject: ob_refcnt, ob_type, ob_size, ob_item -- point ob_item
    # at an unmapped page
    item_field = id(lst) + 3 * ctypes.sizeof(ctypes.c_void_p)
    ctypes.c_void_p.from_address(item_field).value = 0x10


def main(directory):
    facts, headers = heapdump._facts_and_headers()
    _heapdump.fatal_install(directory, headers, facts, {})
    good = {"kept": "value-that-survives"}
    broken = [1, 2, 3]
    corrupt(broken)
    print("ready", flush=True)
    hdtest.segfault()


main(sys.argv[1])
