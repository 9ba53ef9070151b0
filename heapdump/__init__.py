"""heapdump: post-mortem heap dumps for CPython, reopened in pdb.

    heapdump.dump()                 write the state of the process to a file
    heapdump.load(path)             read it back (a heapdump.Dump)
    python -m heapdump.open FILE    land in pdb where the program stopped

Nothing heavy happens at import: the C extension is loaded, the rest on use.
"""

from __future__ import annotations

import os
import pathlib
import sys
import time

from heapdump import _context, _format, _heapdump
from heapdump._context import clear_context, get_context, set_context
from heapdump._model import Code, Dump, Frame, HeapdumpError, Thread, Traceback

__all__ = [
    "Code",
    "DEFAULT_HEAP_LIMITS",
    "DEFAULT_LIMITS",
    "DEFAULT_REDACT",
    "Redact",
    "Dump",
    "Frame",
    "HeapdumpError",
    "HeapdumpWarning",
    "Thread",
    "Traceback",
    "clear_context",
    "compare",
    "disable",
    "dump",
    "dump_on_memory",
    "dump_on_signal",
    "dump_on_unhandled_exceptions",
    "get_context",
    "load",
    "referents",
    "why",
    "set_context",
]

__version__ = "0.1.0"
FORMAT_VERSION = _format.FORMAT_VERSION

#: The limits dump() applies unless told otherwise (src/format.h): sized
#: for a web service.  None means unlimited.  max_objects: object records;
#: max_bytes: uncompressed body bytes; max_string: characters of a str,
#: bytes of a bytes; max_items: elements of a container; max_source:
#: bytes of one source file.
DEFAULT_LIMITS = _format.default_limits("frames")

#: The limits of a heap-scope dump (``dump(scope="heap")``): a heap of tens
#: of millions of objects stays whole, since a cut heap makes leak analysis
#: meaningless.  No container is cut; a str or bytes longer than
#: max_string keeps only its first characters in the file, but its size is
#: its whole size.  The dumping process needs about 24 bytes per object
#: while it dumps (the identity table and the queue).
DEFAULT_HEAP_LIMITS = _format.default_limits("heap")

#: What a dump walks from: "frames" (the threads' frames, the exception,
#: the context) or "heap" (also every module, builtins, sys and every
#: object the cyclic GC tracks: the whole heap, for leak analysis).
SCOPES = _format.SCOPES


def limits_for(scope):
    """The default limits of a dump of this scope (a new dict)."""
    return _format.default_limits(scope)

#: Names whose values are replaced before anything is written: matched as
#: whole words without regard to case, on local variable names, str dict
#: keys and attribute names at any depth ("db_password" and "userPassword"
#: match "password"; "author" does not match "auth").  Sentry's default
#: denylist is the floor.
DEFAULT_REDACT = (
    "password", "passwd", "secret", "api_key", "apikey", "auth",
    "credentials", "credential", "mysql_pwd", "privatekey", "private_key",
    "token", "session", "sessionid", "csrftoken", "csrf_token", "csrf",
    "xsrf", "xsrf_token", "cookie", "set_cookie", "authorization",
    "x_api_key", "x_forwarded_for", "connect.sid", "phpsessid", "passphrase",
    "access_key", "secret_key", "bearer", "jwt",
)


class Redact:
    """A redaction list for ``dump(redact=...)`` that replaces the default
    one instead of adding to it: ``Redact(["pin"], replace=True)``."""

    def __init__(self, names, replace=True):
        self.names = tuple(names)
        self.replace = replace
        for name in self.names:
            if not isinstance(name, str):
                raise TypeError("redact names must be str, not %s"
                                % type(name).__name__)


def _redact_patterns(redact):
    """The patterns for the C dumper from a dump(redact=...) argument."""
    if redact is None or redact is True:
        return DEFAULT_REDACT
    if redact is False:
        return ()
    if isinstance(redact, Redact):
        return redact.names if redact.replace else \
            DEFAULT_REDACT + redact.names
    if isinstance(redact, str):
        redact = (redact,)
    names = tuple(redact)
    for name in names:
        if not isinstance(name, str):
            raise TypeError("redact names must be str, not %s"
                            % type(name).__name__)
    return DEFAULT_REDACT + names


_static_facts = None


def _process_facts():
    """Facts about the process that do not change while it runs."""
    global _static_facts
    if _static_facts is None:
        import platform

        _static_facts = {
            "executable": sys.executable,
            "implementation": sys.implementation.name,
            "version": sys.version,
            "version_info": list(sys.version_info[:3]),
            "platform": platform.platform(),
        }
    return _static_facts


def _facts_and_headers():
    """The META facts and the header lines of a dump written now."""
    import shlex
    import socket

    facts = dict(_process_facts())
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    try:
        hostname = socket.gethostname()
    except OSError:
        hostname = ""
    argv = [str(a) for a in sys.argv]
    facts.update({
        "pid": os.getpid(),
        "argv": argv,
        "cwd": cwd,
        "hostname": hostname,
        "path": [p for p in sys.path if isinstance(p, str)],
    })
    impl = "CPython" if facts["implementation"] == "cpython" else \
        facts["implementation"]
    headers = [
        ("Heapdump-Python", "%s %d.%d.%d" % ((impl,) + sys.version_info[:3])),
        ("Heapdump-Platform", facts["platform"]),
        ("Heapdump-Pid", str(facts["pid"])),
        ("Heapdump-Argv", " ".join(shlex.quote(a) for a in argv)),
        ("Heapdump-Hostname", hostname),
    ]
    return facts, headers


def default_filename(exc=None, when=None):
    """The name dump() gives a file: sorts by time, says what happened.

    ``heapdump-20261122T101500Z-4242-ValueError.dump``
    """
    when = time.time() if when is None else when
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))
    name = "heapdump-%s-%d" % (stamp, os.getpid())
    if exc is not None:
        tname = type(exc).__name__
        safe = "".join(c for c in tname if c.isalnum() or c in "_")[:60]
        if safe:
            name += "-" + safe
    return name + ".dump"


def _target(file, exc):
    """The path to write: file itself, or a new name in file (a directory),
    in $HEAPDUMP_DIR or in the current directory.  A new name never
    replaces an existing file; an explicit path does (atomically)."""
    if file is not None:
        path = pathlib.Path(os.fspath(file))
        if not path.is_dir():
            return path.absolute()
        directory = path
    else:
        directory = pathlib.Path(os.environ.get("HEAPDUMP_DIR") or os.curdir)
    name = default_filename(exc)
    path = directory / name
    n = 1
    while path.exists():
        n += 1
        path = directory / ("%s-%d.dump" % (name[:-5], n))
    return path.absolute()


def dump(file=None, *, exc=None, reason=None, redact=None, environ=False,
         hide=(), scope="frames", _skip=0, _extra_headers=(),
         _extra_facts=None, _hidden=(), **limits):
    """Write the state of the whole process to a file and return its path.

    file: a path, a directory to put a new file in, or None for a new file
    in $HEAPDUMP_DIR or the current directory (``default_filename()``).
    exc: the exception to record; by default the one being handled by the
    calling thread, if any.  reason: why (in the header).
    redact: None for DEFAULT_REDACT, a list of names to add to it,
    ``Redact(names)`` to replace it, False to redact nothing (no names,
    no URL passwords, no key formats).  environ: also dump the process
    environment (hidden by default, by identity and by value).
    hide: values to hide wherever they are met (a key loaded from a
    vault): a str, bytes or bytearray by value, inside longer ones too
    when it has 8 characters or more; any other object by identity.
    scope: "frames" (the threads, the exception and what they reach) or
    "heap" (also every module with its globals, builtins, sys, and every
    object the cyclic GC tracks that nothing else reached: the whole heap,
    for ``python -m heapdump.open --suspects`` and the rest of the heap
    analysis), with the defaults of DEFAULT_HEAP_LIMITS.
    limits: max_objects, max_bytes, max_string, max_items, max_source (see
    DEFAULT_LIMITS; None for unlimited) and level (zstd, default 3).
    The underscored arguments are heapdump's own (triggers, integrations):
    _skip more innermost frames of the calling thread, _extra_headers
    (name, value) pairs for the header, _extra_facts for the META record,
    _hidden more values to hide, as hide (an integration's request
    secrets).

    Callable from any thread.  While it runs, the calling thread holds the
    GIL and no Python code runs anywhere: the dump is one instant.  Raises
    OSError when the file cannot be written (nothing half-written is left),
    TypeError/ValueError for bad arguments.
    """
    from heapdump import _secrets

    if exc is None:
        exc = sys.exc_info()[1]
    elif not isinstance(exc, BaseException):
        raise TypeError("exc must be an exception instance, not %s"
                        % type(exc).__name__)
    unknown = set(limits) - set(DEFAULT_LIMITS) - {"level"}
    if unknown:
        raise TypeError("dump() got unexpected keyword arguments: %s"
                        % ", ".join(sorted(unknown)))
    options = limits_for(scope)
    options.update(limits)
    patterns = _redact_patterns(redact)
    hider = _secrets.hider(patterns, hide=hide, hidden=_hidden,
                           environ=environ)
    if reason is not None:
        reason = hider.mask(str(reason))
    path = _target(file, exc)
    facts, headers = _facts_and_headers()
    if _extra_facts:
        facts.update(_extra_facts)
    headers += list(_extra_headers)
    facts, headers = _secrets.mask_facts(hider, facts, headers)
    _heapdump.dump(os.fspath(path), exc=exc, reason=reason, facts=facts,
                   headers=headers, skip=1 + _skip, redact=patterns,
                   hide=hider, roots=_context.current_roots(),
                   scope=scope, **options)
    return path


def load(path, **limits):
    """Read a dump file and return a heapdump.Dump.

    Raises HeapdumpError for a file that is not a dump, is of a newer
    major format version or is corrupt; a truncated file loads as far as
    it is intact, with a HeapdumpWarning.  Nothing from the file is
    executed.  limits: max_record_bytes (256 MiB), max_body_bytes (2 GiB),
    max_objects (10 million), max_ratio (200: a body that expands more than
    that, past 64 MiB, is refused as a decompression bomb); None for none.
    """
    from heapdump._load import load as _load

    return _load(path, **limits)


def referents(obj):
    """What a loaded object referred to in the dumped process, a tuple:
    for an opaque stand-in, what its type's tp_traverse visited (less its
    type and attributes); for other stand-ins, their attribute values; for
    a builtin value, gc.get_referents(obj)."""
    from heapdump._surrogates import referents as _referents

    return _referents(obj)


def compare(a, b, by="type"):
    """The difference between two dumps (paths, heapdump.Dump or their
    heap()) by type or module: (rows, warnings), the rows sorted by the
    change in shallow bytes, largest first (see heapdump._heap.compare)."""
    from heapdump._heap import compare as _compare

    rows, warnings, _ = _compare(a, b, by=by)
    return rows, warnings


def why(obj, *, max_paths=3, file=None):
    """In the pdb session of an opened dump (``python -m heapdump.open``):
    print what keeps a loaded object alive, its retained size and its
    shortest paths from the roots.  ``(Pdb) !heapdump.why(cache)``.
    Returns the report as a str too."""
    from heapdump._heap import why as _why

    _why(obj, max_paths=max_paths, file=file)


_TRIGGERS = ("dump_on_unhandled_exceptions", "dump_on_signal",
             "dump_on_memory", "disable")


def __getattr__(name):
    # the triggers and the loader's warning live in modules imported on
    # first use, so that `import heapdump` stays light
    if name in _TRIGGERS:
        from heapdump import _triggers

        return getattr(_triggers, name)
    if name == "HeapdumpWarning":
        from heapdump._load import HeapdumpWarning

        return HeapdumpWarning
    raise AttributeError("module 'heapdump' has no attribute %r" % name)
