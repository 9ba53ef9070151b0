"""A heap dump when memory runs high: heapdump.dump_on_memory(), the
counterpart of the JVM's HeapDumpOnOutOfMemoryError.

A daemon thread reads the process's resident memory (/proc/self/statm)
every ``interval`` seconds; when it is over the limit, it writes one
heap-scope dump (``scope="heap"``: everything, for
``python -m heapdump.open --suspects``) into the directory, then no other
for ``min_interval`` seconds.  The limit is bytes, or a fraction of the
memory limit of the process's cgroup (v2 ``memory.max``, v1
``memory.limit_in_bytes``), or of the machine's memory when the cgroup has
none.  heapdump.disable() stops the thread.

A MemoryError that reaches an exception hook of
dump_on_unhandled_exceptions() dumps in heap scope too (heapdump._triggers).
"""

from __future__ import annotations

import os
import threading
import time

from heapdump._files import DumpDirectory, check_options, describe, warn

__all__ = ["dump_on_memory", "memory_limit", "resident_bytes", "stop"]

# the largest cgroup limit that means "none" (v1 writes 2**63 less a page)
_NO_LIMIT = 1 << 62


def resident_bytes():
    """The process's resident memory in bytes, or None."""
    try:
        with open("/proc/self/statm", "rb") as f:
            fields = f.read().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _read_int(path):
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value >= _NO_LIMIT else value


def cgroup_limit(root="/sys/fs/cgroup", proc="/proc/self/cgroup"):
    """The memory limit of this process's cgroup in bytes, or None."""
    try:
        with open(proc) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        path = path.lstrip("/")
        if controllers == "":                               # v2
            candidates = [os.path.join(root, path, "memory.max"),
                          os.path.join(root, "memory.max")]
        elif "memory" in controllers.split(","):            # v1
            candidates = [
                os.path.join(root, "memory", path, "memory.limit_in_bytes"),
                os.path.join(root, "memory", "memory.limit_in_bytes")]
        else:
            continue
        for candidate in candidates:
            if os.path.exists(candidate):
                value = _read_int(candidate)
                if value is not None:
                    return value
                break
    return None


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def memory_limit(limit, **where):
    """The limit in bytes of a dump_on_memory(limit=...): an int is
    bytes; a float in (0, 1] a fraction of the cgroup's limit (or of the
    machine's memory)."""
    if isinstance(limit, bool) or not isinstance(limit, (int, float)):
        raise TypeError("limit must be bytes (int) or a fraction (float), "
                        "not %s" % type(limit).__name__)
    if isinstance(limit, int):
        if limit <= 0:
            raise ValueError("limit must be > 0 bytes")
        return limit
    if not 0 < limit <= 1:
        raise ValueError("a fractional limit must be in (0, 1], not %r"
                         % limit)
    total = cgroup_limit(**where) or _physical_memory()
    if total is None:
        raise ValueError("no memory limit to take a fraction of: pass "
                         "bytes")
    return int(total * limit)


class _Watcher:
    def __init__(self, files, limit, interval, min_interval):
        self.files = files
        self.limit = limit
        self.interval = interval
        self.min_interval = min_interval
        self.last = None            # monotonic time of the last dump
        self.dumps = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True,
                                       name="heapdump-memory-watcher")

    def check(self):
        """One look at the resident memory; a dump when it is over."""
        rss = resident_bytes()
        if rss is None or rss <= self.limit:
            return None
        now = time.monotonic()
        if self.last is not None and self.min_interval is not None and \
                now - self.last < self.min_interval:
            return None
        self.last = now
        reason = "memory: %d bytes resident, over the limit of %d" % (
            rss, self.limit)
        path = self.files.dump(None, reason, limit=False, tag="memory",
                               scope="heap")
        if path is not None:
            self.dumps += 1
        return path

    def run(self):
        while not self.stopping.wait(self.interval):
            try:
                self.check()
            except Exception as e:       # never hurt the host
                warn("memory watcher: %s" % describe(e))


_lock = threading.Lock()
_watcher = None


def dump_on_memory(limit, directory=None, *, interval=1.0, min_interval=60.0,
                   **options):
    """Write a heap-scope dump when the process's resident memory goes
    over limit: bytes, or a fraction (a float in (0, 1]) of the cgroup's
    memory limit (of the machine's memory when there is none).

    A watcher thread looks every interval seconds and dumps at most once
    per min_interval (None: once).  directory and options as for
    dump_on_unhandled_exceptions() (retention, redaction, limits).
    Calling it again replaces the watcher; heapdump.disable() stops it.
    Returns the limit in bytes.
    """
    global _watcher
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) \
            or not interval > 0:
        raise ValueError("interval must be a number of seconds > 0")
    if min_interval is not None and (
            isinstance(min_interval, bool) or
            not isinstance(min_interval, (int, float)) or min_interval < 0):
        raise ValueError("min_interval must be >= 0 seconds or None")
    nbytes = memory_limit(limit)
    options.pop("scope", None)
    check_options(options)
    files = DumpDirectory(directory, **options)
    files.prune()
    watcher = _Watcher(files, nbytes, float(interval), min_interval)
    with _lock:
        stop()
        _watcher = watcher
        watcher.thread.start()
    return nbytes


def stop():
    """Stop the watcher, if one runs (heapdump.disable() calls it)."""
    global _watcher
    watcher, _watcher = _watcher, None
    if watcher is not None:
        watcher.stopping.set()
        if watcher.thread is not threading.current_thread():
            watcher.thread.join(timeout=5)
