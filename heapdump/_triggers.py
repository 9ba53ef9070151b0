"""Dump when it matters: unhandled exceptions, signals and fatal crashes.

    heapdump.dump_on_unhandled_exceptions()    sys.excepthook,
                                               threading.excepthook, asyncio,
                                               and fatal signals (C)
    heapdump.dump_on_signal(signal.SIGUSR1)    dump every thread, carry on
    heapdump.disable()                         put everything back

Each hook writes its dump first, then hands the failure to the hook it
replaced, so the traceback still prints, the exit status is the same and a
framework's own hook still runs.  Nothing inside a hook may hurt the
program: any failure of heapdump's is one line on stderr (heapdump._files).

The signal parts are C (src/signals.c): a signal handler cannot run Python,
and a Python-level handler would only run when the main thread returns to
the interpreter, which a thread blocked in C never does.  The C side calls
back into Python (``_signal_dump``) from its own watcher thread once it
holds the GIL.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading

from heapdump import _heapdump, _secrets, _writer
from heapdump._files import (
    DumpDirectory,
    check_options,
    describe,
    ensure_directory,
    warn,
)
from heapdump._importhook import PatchOnImport
from heapdump._memory import dump_on_memory

__all__ = ["disable", "dump_on_memory", "dump_on_signal",
           "dump_on_unhandled_exceptions"]

#: The fatal signals the C side dumps on (for the documentation and the
#: tests; the list that counts is src/signals.c's).
FATAL_SIGNALS = tuple(
    getattr(signal, name) for name in
    ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT")
    if hasattr(signal, name))

# Guards every change to the hooks below.
_lock = threading.RLock()
# Set while a hook of this thread is dumping: a failure inside the dump is
# not dumped again.
_busy = threading.local()


class _Installed:
    """What dump_on_unhandled_exceptions() and dump_on_signal() replaced,
    to put back.  Changed under _lock only."""

    def __init__(self):
        self.files = None               # DumpDirectory; None: disabled
        self.sys_hooked = False         # ours is sys.excepthook or in
        self.sys_previous = None        # its chain; the one we replaced
        self.threading_hooked = False   # the same for threading's
        self.threading_previous = None
        self.finder = None              # PatchOnImport until asyncio
        self.asyncio_class = None       # the class we patched and the
        self.asyncio_previous = None    # method we replaced
        self.fatal = False              # fatal_install() done
        self.signals = {}               # signum -> its DumpDirectory


_state = _Installed()


# ------------------------------------------------------------ the hooks


def _dump(exc, reason):
    """Dump exc for a hook; never raises.  A MemoryError dumps the whole
    heap (what took the memory is the question)."""
    files = _state.files
    if files is None or getattr(_busy, "active", False):
        return None
    _busy.active = True
    try:
        if isinstance(exc, MemoryError):
            return files.dump(exc, reason, scope="heap")
        return files.dump(exc, reason)
    except Exception as e:               # files.dump() does not raise
        warn("dump failed: %s" % describe(e))
        return None
    finally:
        _busy.active = False


def _handle(exc, reason, previous, *args):
    """Dump exc (when reason is not None), then call previous(*args).

    An exception that this thread is handling already is not dumped
    again: ours can be twice in a chain of hooks (after disable(), with a
    hook that someone wrapped over ours, and enabling again).  Whatever
    happens here, previous runs, and only its exceptions propagate (and
    a KeyboardInterrupt during the dump, as it would without heapdump).
    """
    handling = _busy.__dict__.setdefault("handling", [])
    first = not any(e is exc for e in handling)
    if first:
        handling.append(exc)
    try:
        if first and reason is not None:
            try:
                _dump(exc, reason)
            except Exception as e:
                warn("in an exception hook: %s" % describe(e))
        return previous(*args)
    finally:
        if first:
            handling.pop()


def _sys_excepthook(exc_type, exc, tb):
    """sys.excepthook: dump, then the hook we replaced prints.
    KeyboardInterrupt is not a failure."""
    reason = None
    if _state.files is not None and isinstance(exc, BaseException) and \
            not isinstance(exc, KeyboardInterrupt):
        if exc.__traceback__ is None and tb is not None:
            exc.__traceback__ = tb
        reason = "unhandled exception (sys.excepthook)"
    previous = _state.sys_previous or sys.__excepthook__
    return _handle(exc, reason, previous, exc_type, exc, tb)


def _threading_excepthook(args):
    """threading.excepthook: dump, then the hook we replaced prints.
    threading ignores SystemExit in a thread; so do we."""
    reason = None
    exc = getattr(args, "exc_value", None)
    if _state.files is not None and isinstance(exc, BaseException) and \
            not isinstance(exc, SystemExit):
        thread = getattr(args, "thread", None)
        name = getattr(thread, "name", "?")
        reason = "unhandled exception in thread %r (threading.excepthook)" \
            % (name,)
    previous = _state.threading_previous or threading.__excepthook__
    return _handle(exc, reason, previous, args)


def _asyncio_reason(context):
    """Why an exception that reached an event loop's exception handler
    is dumped, or None when there is no exception to dump."""
    exc = context.get("exception") if isinstance(context, dict) else None
    if _state.files is None or not isinstance(exc, BaseException):
        return exc, None
    message = context.get("message")
    if not isinstance(message, str) or not message:
        message = "exception in the event loop"
    return exc, "asyncio: %s" % message


def _patch_asyncio(base_events):
    """Wrap BaseEventLoop.call_exception_handler: every exception that
    reaches a loop's handler (a task's exception nobody retrieved, a
    failing callback) passes there, whatever handler the loop has."""
    cls = base_events.BaseEventLoop
    previous = cls.__dict__.get("call_exception_handler")
    if previous is None or getattr(previous, "_heapdump_wrapper", False):
        return

    @functools.wraps(previous)
    def call_exception_handler(self, context):
        try:
            exc, reason = _asyncio_reason(context)
        except Exception as e:
            warn("in asyncio's exception handler: %s" % describe(e))
            exc, reason = None, None
        return _handle(exc, reason, previous, self, context)

    call_exception_handler._heapdump_wrapper = True
    cls.call_exception_handler = call_exception_handler
    _state.asyncio_class = cls
    _state.asyncio_previous = previous


def _unpatch_asyncio():
    cls, previous = _state.asyncio_class, _state.asyncio_previous
    if cls is not None and getattr(cls.__dict__.get(
            "call_exception_handler"), "_heapdump_wrapper", False):
        cls.call_exception_handler = previous
    # else someone wrapped ours: it stays in their chain and does nothing
    # since _state.files is None
    _state.asyncio_class = _state.asyncio_previous = None


def _asyncio_imported(base_events):
    """The program imported asyncio: patch it (unless disabled meanwhile)
    and take the finder away."""
    with _lock:
        if _state.files is not None:
            try:
                _patch_asyncio(base_events)
            except Exception as e:
                warn("could not hook asyncio: %s" % describe(e))
        # the finder has done its work
        finder, _state.finder = _state.finder, None
        if finder is not None:
            finder.remove()


def _hook_asyncio():
    base_events = sys.modules.get("asyncio.base_events")
    if base_events is not None:
        _patch_asyncio(base_events)
    elif _state.finder is None and _state.asyncio_class is None:
        # wait for the program to import asyncio: enabling heapdump does
        # not import it
        _state.finder = PatchOnImport("asyncio.base_events",
                                      _asyncio_imported)
        _state.finder.install()


def _unhook_asyncio():
    finder, _state.finder = _state.finder, None
    if finder is not None:
        finder.remove()
    _unpatch_asyncio()


# ------------------------------------------------------- fatal signals


def _c_options(files):
    """The dump options of files as the C signal functions take them:
    the limits, the redaction patterns already expanded and the Hider of
    what is hidden by value (the environment as it is now: a fatal dump
    cannot read it)."""
    # a fatal dump walks the frames only (reading the whole heap of a
    # crashed process risks more faults): the frames' limits, unless given
    options = files.dump_options("frames")
    del options["scope"]
    redact = options.pop("redact", None)
    environ = options.pop("environ", False)
    hide = options.pop("hide", ())
    options["redact"] = tuple(_writer.redact_patterns(redact))
    options["hide"] = _secrets.hider(options["redact"], hide=hide,
                                     environ=environ)
    return options


def _install_fatal(files):
    """Dumps on SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT (C).  The META
    facts and header lines are computed now: nothing can be in a signal
    handler."""
    options = _c_options(files)
    facts, headers = _secrets.mask_facts(options["hide"],
                                         *_writer.facts_and_headers())
    if _state.fatal:
        _heapdump.fatal_uninstall()
        _state.fatal = False
    _heapdump.fatal_install(os.fspath(files.path), headers, facts, options)
    _state.fatal = True


def _uninstall_fatal():
    if _state.fatal:
        _state.fatal = False
        _heapdump.fatal_uninstall()


# ------------------------------------------------------------- the API


def dump_on_unhandled_exceptions(directory=None, *, fatal_signals=True,
                                 **options):
    """Write a dump for every exception nobody handles, and on fatal
    signals.

    Hooks sys.excepthook (the main thread), threading.excepthook (other
    threads) and every asyncio event loop's exception handler (a task's
    exception nobody retrieved, a failing callback), each writing a dump
    of the failing exception, its frames and the rest of the process,
    before the hook it replaced runs as before.  KeyboardInterrupt, and
    SystemExit in a thread, are not failures and are not dumped.  With
    fatal_signals, SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT write a
    best-effort dump before the process dies as it would have.

    directory: where the dumps go (created 0700 if missing; default
    $HEAPDUMP_DIR or the current directory, fixed now).  options:
    max_dumps, max_total_bytes, min_interval (heapdump._files
    DEFAULT_POLICY: the directory's retention and the rate limit of one
    failure), and the options of heapdump.dump(): redact, environ, hide,
    max_objects, max_bytes, max_string, max_items, max_source, level.
    What hide and the environment hide is fixed now for fatal signals
    (their handler cannot run Python), per dump otherwise.

    Calling it again replaces the options and keeps the hooks; disable()
    undoes it.  Raises TypeError/ValueError for bad options; a directory
    that cannot be made is said on stderr (each dump tries again).
    """
    check_options(options)
    files = DumpDirectory(directory, **options)
    files.prune()
    with _lock:
        old = _state.files
        if old is not None and old.path == files.path:
            files._failures = old._failures     # keep counting
        _state.files = files
        # after disable(), a hook that someone installed over ours may
        # still call ours: then ours is in the chain already
        if not _state.sys_hooked:
            if sys.excepthook is not _sys_excepthook:   # put back by hand
                _state.sys_previous = sys.excepthook
                sys.excepthook = _sys_excepthook
            _state.sys_hooked = True
        if not _state.threading_hooked:
            if threading.excepthook is not _threading_excepthook:
                _state.threading_previous = threading.excepthook
                threading.excepthook = _threading_excepthook
            _state.threading_hooked = True
        _hook_asyncio()
        # a directory that cannot be made now is said in one line; the
        # dumps try again when they happen (it may be there by then)
        _make_directory(files)
        if fatal_signals:
            try:
                _install_fatal(files)
            except Exception as e:
                # the exception hooks work without: say it, keep them
                warn("cannot dump on fatal signals: %s" % describe(e))
        else:
            _uninstall_fatal()


def _make_directory(files):
    try:
        ensure_directory(files.path)
    except OSError as e:
        warn("cannot make the dump directory %s: %s"
             % (files.path, describe(e)))


def _signal_dump(files, name):
    """The callback of the C watcher thread: dump every thread."""
    files.dump(None, "signal %s" % name, limit=False, tag=name)


def dump_on_signal(signum=signal.SIGUSR1, directory=None, *, timeout=10.0,
                   **options):
    """On signum, dump every thread and carry on.

    The signal is caught in C and handled by a watcher thread, so the dump
    happens even when the main thread is blocked in C and never returns to
    Python; interrupted system calls are restarted (SA_RESTART), and a
    burst of signals gives at most one more dump after the one running.
    When no thread lets go of the GIL within timeout seconds, the C side
    writes the stacks alone (``heapdump-...-stacks.dump``, header
    ``Heapdump-Stacks-Only``).  directory and options as for
    dump_on_unhandled_exceptions() (signal dumps are not rate limited).
    """
    signum = int(signum)
    if signum in FATAL_SIGNALS:
        raise ValueError("%s is a fatal signal: use "
                         "dump_on_unhandled_exceptions(fatal_signals=True)"
                         % signal.Signals(signum).name)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not timeout > 0:
        raise ValueError("timeout must be a number of seconds > 0")
    check_options(options)
    files = DumpDirectory(directory, **options)
    _make_directory(files)
    files.prune()
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = str(signum)
    callback = functools.partial(_signal_dump, files, name)
    with _lock:
        if signum in _state.signals:
            _heapdump.signal_dump_uninstall(signum)
            del _state.signals[signum]
        _heapdump.signal_dump_install(signum, callback,
                                      os.fspath(files.path), float(timeout),
                                      _c_options(files))
        _state.signals[signum] = files


def _disable_unlocked(signals=True):
    # a hook that someone installed over ours keeps calling ours, which
    # then only calls the one it replaced (files is None)
    from heapdump import _memory

    _memory.stop()
    _state.files = None
    if _state.sys_hooked and sys.excepthook is _sys_excepthook:
        sys.excepthook = _state.sys_previous
        _state.sys_hooked = False
        _state.sys_previous = None
    if _state.threading_hooked and \
            threading.excepthook is _threading_excepthook:
        threading.excepthook = _state.threading_previous
        _state.threading_hooked = False
        _state.threading_previous = None
    _unhook_asyncio()
    _uninstall_fatal()
    if signals:
        for signum in list(_state.signals):
            del _state.signals[signum]
            _heapdump.signal_dump_uninstall(signum)


def disable():
    """Undo dump_on_unhandled_exceptions(), dump_on_signal() and
    dump_on_memory(): every hook, method and signal handler they replaced
    is put back, the memory watcher stops."""
    with _lock:
        _disable_unlocked()
