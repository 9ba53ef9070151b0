"""Writing a dump: the defaults, the names, the facts, heapdump.dump().

heapdump/__init__.py re-exports what is public here (dump, Redact,
DEFAULT_LIMITS, DEFAULT_HEAP_LIMITS, DEFAULT_REDACT, SCOPES, limits_for,
default_filename); the triggers (heapdump._files, heapdump._triggers) and
the integrations take the rest from here, never from the package, so
that no module imports heapdump/__init__.py back.  The C writer is
heapdump._heapdump.dump (src/writer/).
"""

from __future__ import annotations

import gc
import os
import pathlib
import sys

from heapdump import _context, _format, _heapdump

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
#: denylist is the floor.  The rule that matches them is written once, in
#: C (src/secrets/redact.c); this is the one list of words.  The
#: integrations' SETTING_SECRET_WORDS (heapdump/integrations/_shared.py),
#: for the names of settings, is derived from it: these words less
#: REQUEST_STATE_WORDS (tests/unit/test_secret_words.py pins that).
DEFAULT_REDACT = (
    "password", "passwd", "secret", "api_key", "apikey", "auth",
    "credentials", "credential", "mysql_pwd", "privatekey", "private_key",
    "token", "session", "sessionid", "csrftoken", "csrf_token", "csrf",
    "xsrf", "xsrf_token", "cookie", "set_cookie", "authorization",
    "x_api_key", "x_forwarded_for", "connect.sid", "phpsessid", "passphrase",
    "access_key", "secret_key", "bearer", "jwt",
)

#: The words of DEFAULT_REDACT that name a request's or a session's state
#: rather than a secret itself.  A variable, a header or a dict key named
#: so holds a credential at run time (a session id, a cookie, an
#: Authorization header, a CSRF token), so a dump blanks it; a *setting*
#: named so is configuration (SESSION_ENGINE, AUTH_USER_MODEL,
#: CSRF_COOKIE_NAME, JWT_AUTH_HEADER_TYPES), which the integrations do not
#: hide by value (SETTING_SECRET_WORDS).
REQUEST_STATE_WORDS = (
    "auth", "authorization", "bearer", "jwt", "session", "sessionid",
    "csrftoken", "csrf_token", "csrf", "xsrf", "xsrf_token", "cookie",
    "set_cookie", "connect.sid", "phpsessid", "x_forwarded_for",
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


def redact_patterns(redact):
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


def facts_and_headers():
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

    ``heapdump-20261122T101500Z-4242-ValueError.dump``: the UTC time
    (``when``, a ``time.time()``; None: now), the pid, and the exception's
    type name, its ASCII letters, digits and "_" only.  The C extension
    builds it (src/writer/names.c), as it builds the names of the signal
    and fatal dumps and the temporary names: one builder for every name.
    """
    return _heapdump.dump_name(None, _tag(exc), when)


def _tag(exc):
    """What a dump's name says of exc (None: nothing)."""
    return None if exc is None else type(exc).__name__


def target(file, exc):
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
    return pathlib.Path(_heapdump.dump_name(directory, _tag(exc))).absolute()


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
    # No collection from here to the return: one would run the __del__ of
    # the program's garbage, user code, inside dump().  The C dump keeps
    # it off through the freeze and gives it back as it found it.
    collecting = gc.isenabled()
    gc.disable()
    try:
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
        patterns = redact_patterns(redact)
        hider = _secrets.hider(patterns, hide=hide, hidden=_hidden,
                               environ=environ)
        if reason is not None:
            reason = hider.mask(str(reason))
        path = target(file, exc)
        facts, headers = facts_and_headers()
        if _extra_facts:
            facts.update(_extra_facts)
        headers += list(_extra_headers)
        facts, headers = _secrets.mask_facts(hider, facts, headers)
        _heapdump.dump(os.fspath(path), exc=exc, reason=reason, facts=facts,
                       headers=headers, skip=1 + _skip, redact=patterns,
                       hide=hider, roots=_context.current_roots(),
                       scope=scope, **options)
        return path
    finally:
        if collecting:
            gc.enable()
