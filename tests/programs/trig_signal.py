"""Dumps on a signal (heapdump.dump_on_signal) while the main thread is
blocked in C, holds the GIL for good, or after disable().

    python trig_signal.py read|poll|gil|spin|disable DIRECTORY

read: the main thread blocks in read(2) on stdin through ctypes (the GIL
released, never back in Python until a byte comes); the byte count read
is printed, so an interrupted read (-1, EINTR) would show.
poll: the main thread waits for stdin in select(2) 50 ms at a time, back
in Python between (a sanitizer that holds signals back while a thread is
in a blocking call delivers them then).
gil: the main thread spins in C holding the GIL for 4 s; the signal dump
times out after 1 s and writes the stacks alone.
spin: the main thread runs Python code for 4 s and, its switch interval
raised to 1000 s, never lets another thread have the GIL: the stacks-only
dump reads stacks that move.
disable: a Python handler, then dump_on_signal, then disable(): the
Python handler is back.
"ready" is printed once the handler is installed (read: just before the
read).
"""

import ctypes
import select
import signal
import sys
import time

from heapdump import _triggers

scenario, directory = sys.argv[1], sys.argv[2]
# masked in the source the stacks-only dump embeds (its name looks secret)
API_TOKEN = "literal-token-of-trig-signal"


def python_handler(signum, frame):
    print("python handler", signum, flush=True)


def wait_for_input(reason):
    buf = ctypes.create_string_buffer(8)
    libc = ctypes.CDLL(None, use_errno=True)
    print("ready", flush=True)
    n = libc.read(0, buf, 1)
    return n, ctypes.get_errno()


def spin_in_c(seconds):
    hdtest = __import__("trig_common").hdtest()
    hdtest.hold_gil(seconds)
    return seconds


def step(i):
    return i + 1


def spin_in_python(seconds):
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        i = step(i)
    return i


if scenario == "read":
    _triggers.dump_on_signal(signal.SIGUSR1, directory)
    print("read returned %d errno %d" % wait_for_input("waiting"),
          flush=True)
elif scenario == "poll":
    _triggers.dump_on_signal(signal.SIGUSR1, directory)
    print("ready", flush=True)
    while not select.select([sys.stdin], [], [], 0.05)[0]:
        pass
    print("poll returned %d" % len(sys.stdin.readline()), flush=True)
elif scenario == "spin":
    _triggers.dump_on_signal(signal.SIGUSR1, directory, timeout=1.0)
    sys.setswitchinterval(1000.0)
    print("ready", flush=True)
    spin_in_python(4.0)
    sys.setswitchinterval(0.005)
    print("released", flush=True)
elif scenario == "gil":
    _triggers.dump_on_signal(signal.SIGUSR1, directory, timeout=1.0)
    print("ready", flush=True)
    spin_in_c(4.0)
    print("released", flush=True)
elif scenario == "disable":
    signal.signal(signal.SIGUSR1, python_handler)
    _triggers.dump_on_signal(signal.SIGUSR1, directory)
    _triggers.disable()
    print("ready", flush=True)
    sys.stdin.readline()
print("exit", flush=True)
