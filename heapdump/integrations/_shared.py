"""What the integrations share: where their dumps go, the request context,
and one dump per failure.

The web integrations (heapdump.integrations.wsgi, .asgi, .django) and
heapdump.integrations.logging dump failures that a framework catches, so
that the program goes on as it would without heapdump.  They all:

- write through a ``DumpDirectory`` (heapdump._files): retention, the rate
  limit of one failure, one line on stderr when anything goes wrong.  One
  directory object is shared by every integration of the process that
  names the same directory with the same options, so that the rate limit
  counts a failure once whichever integration sees it;
- put the request into the dump as context (``heapdump.set_context``,
  key ``"request"``) for as long as the request runs: method, path,
  query, headers, the user's id when the framework has it at hand.  Values
  of headers and query parameters whose names look secret (the dump's own
  redaction list, and always cookies and authorization) are never copied
  into it;
- dump one failure once: a request remembers the exceptions dumped while
  it runs (a Django view's failure is seen by the middleware and again by
  the logging handler when Django logs it).

Building the context reads plain data only (the WSGI environ, the ASGI
scope, instance dicts): no property, no lazy object, no database query.
"""

from __future__ import annotations

import contextvars
import os
import threading

from heapdump import _context, _format, _heapdump, _writer
from heapdump._files import DumpDirectory, check_options, describe, warn

#: The context key of the request.
CONTEXT_KEY = "request"

#: Header and query parameter names never copied into the context, even
#: with redact=False: credentials, not something to debug with.
ALWAYS_REDACTED = ("cookie", "set_cookie", "authorization",
                   "proxy_authorization")

#: What stands in the context for a value left out (the dumper's mark).
REDACTED = _format.REDACTED_TEXT

# The longest header value or query string copied into the context.
MAX_VALUE = 4096
# The most headers copied into the context.
MAX_HEADERS = 100

_MISSING = object()

# ------------------------------------------------------------ directories

_directories = {}
_directories_lock = threading.Lock()


def directory(directory=None, **options):
    """The DumpDirectory of this process for directory and options (made
    once, then shared).  Raises TypeError/ValueError for bad options."""
    check_options(options)
    files = DumpDirectory(directory, **options)
    # hide's values go into the key as they are (a repr would be one more
    # string holding them), objects by identity (the directory keeps them)
    hide = files.options.get("hide") or ()
    key = (str(files.path),
           repr(sorted((k, v) for k, v in options.items() if k != "hide")),
           tuple(v if isinstance(v, (str, bytes)) else ("id", id(v))
                 for v in hide))
    with _directories_lock:
        shared = _directories.get(key)
        if shared is None:
            _directories[key] = shared = files
    return shared


# ----------------------------------------------------------- redaction


#: The secret-name rule (src/redact.c): whether a name holds one of the
#: patterns (a tuple of str) as whole words, and a name as the rule reads
#: it ("userPassword" -> "user_password").
looks_secret = _heapdump.looks_secret
secret_words = _heapdump.secret_words


def redaction_patterns(redact=None):
    """The patterns of a redact= option, with ALWAYS_REDACTED."""
    return tuple(_writer.redact_patterns(redact)) + ALWAYS_REDACTED


def _cut(text):
    if len(text) > MAX_VALUE:
        return text[:MAX_VALUE] + "..."
    return text


def redact_query(query, patterns):
    """The query string with the values of secret-looking parameters
    replaced (the rest as it is)."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, sep, _ = part.partition("=")
        if sep and looks_secret(_unquote(name), patterns):
            part = name + "=" + REDACTED
        parts.append(part)
    return _cut("&".join(parts))


def _unquote(text):
    from urllib.parse import unquote_plus

    try:
        return unquote_plus(text)
    except Exception:
        return text


def _header_name(name):
    """Content-Type from CONTENT_TYPE, content-type or b"content-type"."""
    return "-".join(w[:1].upper() + w[1:].lower()
                    for w in name.replace("_", "-").split("-"))


def _add_header(headers, name, value, patterns):
    if name in headers:
        if headers[name] == REDACTED:
            return
        value = headers[name] + ", " + value
    elif len(headers) >= MAX_HEADERS:
        return
    headers[name] = REDACTED if looks_secret(name, patterns) else \
        _cut(value)


def _wsgi_str(value):
    """A WSGI "bytes as str" (latin-1) value as the text it encodes."""
    if not isinstance(value, str):
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


# ---------------------------------------------------------- the request


def wsgi_request(environ, patterns):
    """The request context of a WSGI environ (or a Django request.META):
    method, path, query, headers.  Plain dict reads only."""
    if not isinstance(environ, dict):
        return None
    get = dict.get
    headers = {}
    for key in list(dict.keys(environ)):
        if not isinstance(key, str):
            continue
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key
        else:
            continue
        value = get(environ, key)
        if isinstance(value, str) and value:
            name = _header_name(name)
            _add_header(headers, name, "" if looks_secret(name, patterns)
                        else _wsgi_str(value), patterns)
    path = (_wsgi_str(get(environ, "SCRIPT_NAME")) or "") + \
        (_wsgi_str(get(environ, "PATH_INFO")) or "")
    method = get(environ, "REQUEST_METHOD")
    scheme = get(environ, "wsgi.url_scheme")
    return {
        "method": method if isinstance(method, str) else None,
        "scheme": scheme if isinstance(scheme, str) else None,
        "path": _cut(path or "/"),
        "query": redact_query(_wsgi_str(get(environ, "QUERY_STRING"))
                              or "", patterns),
        "headers": headers,
    }


def asgi_request(scope, patterns):
    """The request context of an ASGI http or websocket scope."""
    headers = {}
    raw = scope.get("headers") if type(scope) is dict else None
    for item in raw if isinstance(raw, (list, tuple)) else ():
        if not (type(item) in (list, tuple) and len(item) == 2):
            continue
        name, value = item
        if not (isinstance(name, (bytes, bytearray)) and
                isinstance(value, (bytes, bytearray))):
            continue
        name = _header_name(bytes(name).decode("latin-1"))
        if looks_secret(name, patterns):
            _add_header(headers, name, "", patterns)
        else:
            _add_header(headers, name, bytes(value).decode("latin-1"),
                        patterns)
    get = scope.get if type(scope) is dict else (lambda key: None)
    query = get("query_string")
    query = bytes(query).decode("latin-1") \
        if isinstance(query, (bytes, bytearray)) else ""
    path = get("path")
    root = get("root_path")
    kind = get("type")
    request = {
        "method": get("method") if kind == "http" else "WEBSOCKET",
        "scheme": get("scheme"),
        "path": _cut((root if isinstance(root, str) else "") +
                     (path if isinstance(path, str) else "") or "/"),
        "query": redact_query(query, patterns),
        "headers": headers,
    }
    return request


def describe_request(request):
    """GET /path, for the reason of a dump."""
    if not isinstance(request, dict):
        return "?"
    return "%s %s" % (request.get("method") or "?", request.get("path")
                      or "?")


# The RequestScope running in this thread or task, or None.
_SCOPE = contextvars.ContextVar("heapdump_request", default=None)


class RequestScope:
    """While a request runs: its context set (the previous one put back
    at the end), the exceptions already dumped, and where its secrets are.

    request: the context dict (or None).  secrets: a callable returning
    the objects that hold the request's secrets (the values of its
    secret-looking headers, a parsed cookie dict), called when a dump is
    written: they are written as REDACTED wherever the dump meets them
    (the server's own copy of the headers too, which no name tells).
    refresh: a callable that updates the context dict when a dump is
    written (what the request learnt meanwhile: the user).

    Use ``enter()`` and ``exit()`` (the WSGI response outlives the call),
    or ``with``.  exit() is idempotent."""

    __slots__ = ("request", "secrets", "refresh", "dumped", "_previous",
                 "_token", "_active")

    def __init__(self, request, secrets=None, refresh=None):
        self.request = request
        self.secrets = secrets
        self.refresh = refresh
        self.dumped = []
        self._previous = _MISSING
        self._token = None
        self._active = False

    def enter(self):
        self._previous = _context.get_context().get(CONTEXT_KEY, _MISSING)
        if self.request is not None:
            _context.set_context(CONTEXT_KEY, self.request)
        self._token = _SCOPE.set(self)
        self._active = True
        return self

    def exit(self):
        if not self._active:
            return
        self._active = False
        self.dumped = []
        try:
            _SCOPE.reset(self._token)
        except ValueError:
            # exited in another context (a server calling close() from
            # another task or thread): forget ours there
            if _SCOPE.get() is self:
                _SCOPE.set(None)
        if _context.get_context().get(CONTEXT_KEY, _MISSING) is \
                self.request:
            if self._previous is _MISSING:
                _context.clear_context(CONTEXT_KEY)
            else:
                _context.set_context(CONTEXT_KEY, self._previous)
        self._previous = _MISSING

    def before_dump(self):
        """Update the context (never raises)."""
        if self.refresh is not None and self.request is not None:
            try:
                self.refresh(self.request)
            except Exception as e:
                warn("could not read the request for the dump context: %s"
                     % describe(e))

    def hidden(self):
        """The objects to hide in a dump written now (never raises)."""
        if self.secrets is None:
            return ()
        try:
            return tuple(self.secrets())
        except Exception as e:
            warn("could not find the request's secrets: %s" % describe(e))
            return ()

    def __enter__(self):
        return self.enter()

    def __exit__(self, *exc_info):
        self.exit()


# The shortest part of a secret header (a cookie's value, a token) that is
# hidden wherever an equal string is met, and the most values of one
# request hidden so.
MIN_SECRET = 4
MAX_SECRETS = 64


def header_secrets(name, value, out):
    """Append to out what hides the value of the secret header name: the
    value object itself (the server's, wherever it is referenced) and, as
    str and as bytes, the parts that frameworks parse out of it (each
    cookie's value, an Authorization's credentials and Basic password).
    heapdump.dump(_hidden=...) hides a str or bytes it is given wherever
    it appears (inside longer ones too from 8 characters on)."""
    out.append(value)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("latin-1")
    elif isinstance(value, str):
        text = value
    else:
        return
    parts = [text.strip()]
    words = secret_words(name)
    if words.endswith("cookie"):
        for item in text.split(";"):
            _, sep, v = item.strip().partition("=")
            v = v.strip()
            if sep:
                parts.append(v)
                if len(v) >= 2 and v[0] == v[-1] == '"':
                    parts.append(v[1:-1])
    elif words.endswith("authorization"):
        scheme, _, credentials = text.strip().partition(" ")
        credentials = credentials.strip()
        parts.append(credentials)
        if scheme.lower() == "basic":
            import base64
            import binascii

            try:
                decoded = base64.b64decode(credentials).decode("latin-1")
            except (binascii.Error, ValueError):
                decoded = ""
            parts += [decoded, decoded.partition(":")[2]]
    for part in parts:
        if len(part) >= MIN_SECRET and len(out) < MAX_SECRETS:
            out.append(part)
            try:
                out.append(part.encode("latin-1"))
            except UnicodeError:
                out.append(part.encode("utf-8", "surrogateescape"))


def environ_secrets(environ, patterns):
    """What hides the secret-looking headers of a WSGI environ (or a
    Django request.META)."""
    out = []
    if not isinstance(environ, dict):
        return out
    for key in list(dict.keys(environ)):
        if isinstance(key, str) and key.startswith("HTTP_") and \
                looks_secret(key[5:], patterns):
            value = dict.get(environ, key)
            if isinstance(value, (str, bytes)) and value:
                header_secrets(key[5:], value, out)
    return unique(out)


def scope_secrets(scope, patterns):
    """What hides the secret-looking headers of an ASGI scope."""
    raw = dict.get(scope, "headers") if isinstance(scope, dict) else None
    out = []
    for item in raw if isinstance(raw, (list, tuple)) else ():
        if type(item) in (list, tuple) and len(item) == 2:
            name, value = item
            if isinstance(name, (bytes, bytearray)) and value:
                name = bytes(name).decode("latin-1")
                if looks_secret(name, patterns):
                    header_secrets(name, value, out)
    return unique(out)


def unique(objects):
    """objects without repeats: the same object, or an equal str or
    bytes (which hides the same)."""
    seen, out = set(), []
    for o in objects:
        key = (type(o), o) if type(o) in (str, bytes) else (None, id(o))
        if key not in seen:
            seen.add(key)
            out.append(o)
    return out


#: The words that make a setting's name secret (Django's settings, Flask's
#: config), whose values the integrations hide by value: the dump's words
#: (DEFAULT_REDACT, the one list) less those that name a request's or a
#: session's state (REQUEST_STATE_WORDS), whose settings are configuration
#: (SESSION_ENGINE, AUTH_USER_MODEL, CSRF_COOKIE_NAME).  Derived, not
#: written again: a word added to DEFAULT_REDACT makes settings secret too
#: unless it is listed as request state.
SETTING_SECRET_WORDS = tuple(w for w in _writer.DEFAULT_REDACT
                             if w not in _writer.REQUEST_STATE_WORDS)

_DOTTED = None


def _is_dotted_name(value):
    """A dotted Python path ("django.contrib.auth.hashers.X"): a name in
    configuration, not a secret."""
    global _DOTTED
    if _DOTTED is None:
        import re

        _DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
    return isinstance(value, str) and _DOTTED.match(value) is not None


def config_secrets(items, always=(), words=SETTING_SECRET_WORDS):
    """The secret values of a configuration, to hide by value: items are
    (name, value) pairs (the settings); the str and bytes under a name in
    always or one that looks secret (words), and those under a
    secret-looking key at any depth of the dicts and lists of the others
    (DATABASES["default"]["PASSWORD"]).  Dotted Python paths are names,
    not secrets, and are left out."""
    out = []

    def leaves(value, secret, depth):
        if isinstance(value, (str, bytes)):
            if secret and value and not _is_dotted_name(value):
                out.append(value)
        elif depth < 6 and isinstance(value, dict):
            for k, v in list(value.items()):
                leaves(v, secret or (isinstance(k, str) and
                                     looks_secret(k, words)), depth + 1)
        elif depth < 6 and isinstance(value, (list, tuple)):
            for v in value:
                leaves(v, secret, depth + 1)

    for name, value in items:
        if isinstance(name, str):
            leaves(value, name in always or looks_secret(name, words), 0)
    return unique(out)


def request_context(build, source, patterns):
    """build(source, patterns), or None (said once) when that fails: a
    broken request never costs the program anything."""
    try:
        return build(source, patterns)
    except Exception as e:
        warn("could not read the request for the dump context: %s"
             % describe(e))
        return None


# ------------------------------------------------------------- dumping

_busy = threading.local()


def dump(files, exc, reason, secrets=()):
    """Dump exc into files unless it was dumped already during this
    request, hiding the request's secrets and secrets (what the
    integration knows: a framework's keys); returns the path or None.
    Raises nothing but a KeyboardInterrupt (as DumpDirectory.dump)."""
    if not isinstance(exc, BaseException) or \
            getattr(_busy, "active", False):
        return None
    scope = _SCOPE.get()
    hidden = tuple(secrets)
    if scope is not None:
        if any(e is exc for e in scope.dumped):
            return None
        scope.dumped.append(exc)
        scope.before_dump()
        hidden += scope.hidden()
    _busy.active = True
    try:
        return files.dump(exc, reason, hidden=hidden)
    except Exception as e:          # files.dump() does not raise
        warn("dump failed: %s" % describe(e))
        return None
    finally:
        _busy.active = False


def options_from(mapping, what):
    """(directory, options) from a dict of settings (Django's HEAPDUMP):
    "directory" plus DumpDirectory's options.  Raises TypeError or
    ValueError naming what."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise TypeError("%s must be a dict, not %s"
                        % (what, type(mapping).__name__))
    options = dict(mapping)
    directory = options.pop("directory", None)
    if directory is not None and not isinstance(directory, (str, bytes,
                                                             os.PathLike)):
        raise TypeError("%s['directory'] must be a path, not %s"
                        % (what, type(directory).__name__))
    try:
        check_options(options)
    except (TypeError, ValueError) as e:
        raise type(e)("%s: %s" % (what, e)) from None
    return directory, options
