"""Dump files that look after themselves.

A ``DumpDirectory`` is where the automatic triggers (heapdump._triggers)
put their dumps, and the policy that keeps that directory sane:

- the directory is created 0700 when missing (the C writer makes the files
  0600, under ``<final>.<pid>.tmp`` until the rename);
- names come from ``heapdump.default_filename()`` and sort by time;
- retention: at most ``max_dumps`` dump files and ``max_total_bytes`` in the
  directory, the oldest removed first, plus the ``.tmp`` leftovers of
  processes that died while writing (SIGKILL);
- rate limiting: the same failure (exception type and the code location of
  the innermost traceback entry) is dumped at most once per
  ``min_interval`` seconds; the failures left out are counted and the count
  goes into the next dump of that failure (``Heapdump-Suppressed``);
- failures (full disk, read-only or missing directory, file too large):
  one line on stderr, nothing half-written left behind, no exception.

Only files whose names this module (or the C writer) gives are ever
removed: anything else in the directory is left alone.
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import sys
import threading
import time

from heapdump import _heapdump, _writer

#: The defaults of the triggers' policy (None: no limit).
DEFAULT_POLICY = {
    "max_dumps": 10,               # dump files kept in the directory
    "max_total_bytes": 1 << 30,    # bytes of dump files kept
    "min_interval": 60.0,          # seconds between dumps of one failure
}

#: Options of heapdump.dump() that the triggers pass through.
DUMP_OPTIONS = ("max_objects", "max_bytes", "max_string", "max_items",
                "max_source", "level", "redact", "environ", "hide",
                "scope")

# heapdump-20261122T101500Z-4242[-ValueError][-2].dump: the names
# src/writer/names.c builds (_heapdump.dump_name, for default_filename(),
# target() and new_path(), and for the C writer's -stacks and -SIGSEGV
# dumps), parsed here.  Group 1 is the time stamp, which sorts.
_DUMP_NAME = re.compile(
    r"^heapdump-(\d{8}T\d{6}Z)-(\d+)(?:-[A-Za-z0-9_]+)*\.dump$")
# The C writer's temporary name (names.c, _heapdump.tmp_name):
# "<final>.<pid>.tmp".
_TMP_NAME = re.compile(r"^(heapdump-\d{8}T\d{6}Z-[A-Za-z0-9_-]+\.dump)"
                       r"\.(\d+)\.tmp$")
# A .tmp nobody has written to for this long is a leftover even when its
# pid is alive again (reused by another process).
STALE_TMP_SECONDS = 3600.0
# Failures remembered by the rate limiter, at most.
_MAX_FAILURES = 1024

# Our modules: their frames are left out of the calling thread's stack.
_OWN_MODULES = frozenset(("heapdump", "heapdump._writer", "heapdump._files",
                          "heapdump._triggers",
                          "heapdump.integrations._shared",
                          "heapdump.integrations.wsgi",
                          "heapdump.integrations.asgi",
                          "heapdump.integrations.logging",
                          "heapdump.integrations.django",
                          "heapdump.integrations.pytest",
                          "heapdump.integrations.unittest"))


def warn(message):
    """One line on stderr, whatever state stderr is in; never raises."""
    line = "heapdump: " + " ".join(str(message).split()) + "\n"
    try:
        stream = sys.stderr
        if stream is not None:
            stream.write(line)
            stream.flush()
            return
    except Exception:
        pass
    try:
        os.write(2, line.encode("utf-8", "backslashreplace"))
    except Exception:
        pass


def check_options(options, allowed=DUMP_OPTIONS + tuple(DEFAULT_POLICY)):
    """Raise TypeError/ValueError for options the triggers do not take."""
    unknown = set(options) - set(allowed)
    if unknown:
        raise TypeError("unexpected keyword arguments: %s"
                        % ", ".join(sorted(unknown)))
    for name in ("max_dumps", "max_total_bytes", "max_objects", "max_bytes",
                 "max_string", "max_items", "max_source"):
        value = options.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("%s must be an int or None, not %s"
                            % (name, type(value).__name__))
        if value < (1 if name == "max_dumps" else 0):
            raise ValueError("%s must be >= %d or None, not %d"
                             % (name, 1 if name == "max_dumps" else 0,
                                value))
    scope = options.get("scope")
    if scope is not None and scope not in ("frames", "heap"):
        raise ValueError("scope must be 'frames' or 'heap', not %r"
                         % (scope,))
    if "hide" in options:
        from heapdump import _secrets

        _secrets.check_hide(options["hide"])
    interval = options.get("min_interval")
    if interval is not None:
        if isinstance(interval, bool) or \
                not isinstance(interval, (int, float)):
            raise TypeError("min_interval must be a number or None")
        if not interval >= 0:
            raise ValueError("min_interval must be >= 0 or None")


def resolve_directory(directory=None):
    """The absolute directory: directory, else $HEAPDUMP_DIR, else the
    current directory, fixed now (a later chdir does not move it)."""
    if directory is None:
        directory = os.environ.get("HEAPDUMP_DIR") or os.curdir
    return pathlib.Path(os.path.abspath(os.fspath(directory)))


def ensure_directory(path):
    """Create path and its missing parents, each 0700 whatever the umask.
    An existing directory is left as it is."""
    missing = []
    p = pathlib.Path(path)
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:
            continue            # made by someone else meanwhile
        os.chmod(p, 0o700)
    if not os.path.isdir(path):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                 os.fspath(path))


def failure_key(exc):
    """What makes two failures "the same": the exception's type and the
    code location of the innermost entry of its traceback."""
    if exc is None:
        return None
    t = type(exc)
    where = None
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        code = tb.tb_frame.f_code
        where = (code.co_filename, code.co_name, tb.tb_lineno)
    return ("%s.%s" % (t.__module__, t.__qualname__), where)


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True             # EPERM: someone else's process
    return True


def _iso(when):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


class DumpDirectory:
    """A directory of dumps and the policy that bounds it.

    directory: as for heapdump.dump() (None: $HEAPDUMP_DIR or the current
    directory), resolved when this object is made.  max_dumps,
    max_total_bytes, min_interval: the policy (DEFAULT_POLICY; None for no
    limit).  The rest (redact, environ, hide, max_objects, ...) go to the
    dumper.
    clock: a monotonic clock, for the tests.
    """

    def __init__(self, directory=None, *, clock=time.monotonic, **options):
        check_options(options)
        self.path = resolve_directory(directory)
        policy = dict(DEFAULT_POLICY)
        policy.update({k: options.pop(k) for k in DEFAULT_POLICY
                       if k in options})
        self.max_dumps = policy["max_dumps"]
        self.max_total_bytes = policy["max_total_bytes"]
        self.min_interval = policy["min_interval"]
        if "hide" in options:
            from heapdump import _secrets

            options["hide"] = _secrets.check_hide(options["hide"])
        self.options = options
        self._clock = clock
        # failure key -> [monotonic time of the last dump written (or
        # tried), failures left out since, wall time of that dump]
        self._failures = {}
        self._lock = threading.Lock()

    def __repr__(self):
        return "<heapdump DumpDirectory %s max_dumps=%s max_total_bytes=%s" \
               " min_interval=%s>" % (self.path, self.max_dumps,
                                      self.max_total_bytes, self.min_interval)

    # --------------------------------------------------------- dumping

    def dump_options(self, scope=None):
        """The limits and redaction a dump here is written with (of
        scope, or the directory's): the per-dump max_bytes is capped at
        max_total_bytes, so that one dump cannot blow the directory's
        budget."""
        scope = scope or self.options.get("scope") or "frames"
        options = _writer.limits_for(scope)
        options.update(self.options)        # what was given wins
        options["scope"] = scope
        if self.max_total_bytes is not None:
            cap = options.get("max_bytes")
            if cap is None or cap > self.max_total_bytes:
                options["max_bytes"] = self.max_total_bytes
        return options

    def admit(self, exc):
        """Whether a dump of exc may be written now (the rate limit).
        Returns None when it may not (the failure is counted), else the
        (headers, facts) that say how many were left out before it."""
        key = failure_key(exc)
        if key is None or self.min_interval is None:
            return [], {}
        now = self._clock()
        with self._lock:
            state = self._failures.get(key)
            if state is not None and now - state[0] < self.min_interval:
                state[1] += 1
                return None
            suppressed, since = (state[1], state[2]) if state else (0, None)
            self._failures.pop(key, None)
            self._failures[key] = [now, 0, time.time()]
            self._forget(now)
        if not suppressed:
            return [], {}
        headers = [("Heapdump-Suppressed",
                    "%d more since %s (min_interval %gs)"
                    % (suppressed, _iso(since), self.min_interval))]
        facts = {"suppressed": suppressed, "suppressed_since": _iso(since)}
        return headers, facts

    def _forget(self, now):
        """Bound the rate limiter's memory: drop failures whose interval
        is over and that have nothing to report, then the oldest."""
        if len(self._failures) <= _MAX_FAILURES:
            return
        for key, state in list(self._failures.items()):
            if now - state[0] >= self.min_interval and not state[1]:
                del self._failures[key]
        while len(self._failures) > _MAX_FAILURES:
            del self._failures[next(iter(self._failures))]

    def _not_written(self, exc, carry):
        """A dump that was admitted could not be written: the failures it
        would have reported are still to report."""
        key = failure_key(exc)
        if key is None or not carry:
            return
        with self._lock:
            state = self._failures.get(key)
            if state is not None:
                state[1] += carry

    def new_path(self, exc=None, tag=None):
        """A name not taken yet for a dump of exc (or, without exc, ending
        in tag, e.g. "SIGUSR1"): default_filename()'s (src/writer/names.c
        builds both)."""
        if exc is not None or not tag:
            return _writer.target(self.path, exc)
        return pathlib.Path(_heapdump.dump_name(self.path, tag))

    def dump(self, exc=None, reason=None, *, limit=True, tag=None,
             hidden=(), scope=None):
        """Write a dump of exc (None: of the process) here, then apply the
        retention.  Returns its path, or None when the rate limit left it
        out or it failed (the failure said in one line on stderr).  Raises
        nothing but a KeyboardInterrupt (the user's, not a failure of
        ours): this runs inside exception hooks and signal callbacks.
        limit: apply the rate limit; tag: ends the name of a dump without
        an exception; hidden: more values hidden wherever they are met
        (heapdump.dump's _hidden: an integration's secrets); scope: this
        dump's ("heap" for a MemoryError), instead of the directory's
        option."""
        admitted = None
        try:
            admitted = self.admit(exc) if limit else ([], {})
            if admitted is None:
                return None
            headers, facts = admitted
            ensure_directory(self.path)
            self._remove_stale_tmp()
            path = self.new_path(exc, tag)
            options = self.dump_options(scope)
            write_dump(path, exc=exc, reason=reason, headers=headers,
                       facts=facts, hidden=hidden, **options)
        except BaseException as e:
            if admitted:
                self._not_written(exc, admitted[1].get("suppressed", 0))
            if isinstance(e, KeyboardInterrupt):
                raise
            what = type(exc).__name__ if exc is not None else "the process"
            warn("could not write a dump of %s into %s: %s"
                 % (what, self.path, describe(e)))
            return None
        self.prune(keep=path)
        return path

    # ------------------------------------------------------- retention

    def listing(self):
        """[(sort key, name, size)] of the dump files here, oldest
        first, and [(name, pid, mtime)] of the temporary files."""
        dumps, tmps = [], []
        try:
            entries = list(os.scandir(self.path))
        except OSError:
            return dumps, tmps
        for entry in entries:
            m = _DUMP_NAME.match(entry.name)
            t = None if m else _TMP_NAME.match(entry.name)
            if not (m or t):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if m:
                dumps.append(((m.group(1), st.st_mtime_ns, entry.name),
                              entry.name, st.st_size))
            else:
                tmps.append((entry.name, int(t.group(2)), st.st_mtime))
        dumps.sort()
        return dumps, tmps

    def _remove_stale_tmp(self, tmps=None):
        if tmps is None:
            tmps = self.listing()[1]
        now = time.time()
        for name, pid, mtime in tmps:
            if pid == os.getpid():
                continue
            if _pid_alive(pid) and now - mtime < STALE_TMP_SECONDS:
                continue            # being written
            self._remove(name)

    def _remove(self, name):
        try:
            os.unlink(self.path / name)
        except FileNotFoundError:
            pass                    # another process pruned it first
        except OSError as e:
            warn("could not remove old dump %s: %s"
                 % (self.path / name, describe(e)))

    def prune(self, keep=None):
        """Apply the retention: remove the .tmp leftovers of dead writers,
        then the oldest dumps beyond max_dumps and max_total_bytes.  The
        file keep (the dump just written) is never removed.  Returns the
        names removed.  Never raises."""
        removed = []
        try:
            dumps, tmps = self.listing()
            self._remove_stale_tmp(tmps)
            keep = os.path.basename(os.fspath(keep)) if keep else None
            count = len(dumps)
            total = sum(size for _, _, size in dumps)
            for _, name, size in dumps:
                over_count = self.max_dumps is not None and \
                    count > self.max_dumps
                over_bytes = self.max_total_bytes is not None and \
                    total > self.max_total_bytes
                if not (over_count or over_bytes):
                    break
                if name == keep:
                    continue
                self._remove(name)
                removed.append(name)
                count -= 1
                total -= size
        except Exception as e:
            warn("could not apply the retention in %s: %s"
                 % (self.path, describe(e)))
        return removed


def describe(e):
    if isinstance(e, OSError) and e.strerror:
        text = "[Errno %s] %s" % (e.errno, e.strerror)
        if e.filename is not None:
            text += ": %r" % (os.fsdecode(e.filename),)
        return text
    return "%s: %s" % (type(e).__name__, e) if str(e) else \
        type(e).__name__


def _skip():
    """How many innermost frames of the calling thread are heapdump's own
    (this module's, the triggers', heapdump.dump()'s): left out of the
    dump, which starts where the program is."""
    n, f = 0, sys._getframe(1)
    while f is not None and f.f_globals.get("__name__") in _OWN_MODULES:
        n += 1
        f = f.f_back
    return n


def write_dump(path, *, exc=None, reason=None, headers=(), facts=None,
               redact=None, environ=False, hide=(), hidden=(), **limits):
    """heapdump.dump(path, ...) with extra header lines and META facts,
    and more values to hide (its _hidden).

    The frames of heapdump's own modules are left out of the calling
    thread's stack.
    """
    try:
        _writer.dump(path, exc=exc, reason=reason, redact=redact,
                      environ=environ, hide=hide, _skip=_skip(),
                      _extra_headers=list(headers), _extra_facts=facts,
                      _hidden=hidden, **limits)
    except BaseException:
        # the C writer removes its temporary file; make sure of it
        try:
            os.unlink("%s.%d.tmp" % (os.fspath(path), os.getpid()))
        except OSError:
            pass
        raise
    return path
