"""Dumps of the failures of a Django site.

In settings.py:

    MIDDLEWARE = [
        "heapdump.integrations.django.HeapdumpMiddleware",  # first: sees all
        # (or, as before: "heapdump.contrib.django.HeapdumpMiddleware")
        ...
    ]
    HEAPDUMP = {"directory": "/var/tmp/dumps"}          # optional

When a view raises an exception that Django answers with a 500, the
middleware writes a dump (the view's frames with their locals, the rest of
the process, the request as context) and lets Django go on: the same 500
page, the same ``django.request`` log record, the worker alive.  A failure
outside the view (another middleware, URL resolution) is dumped through
Django's ``got_request_exception`` signal.  Exceptions Django answers with
4xx (Http404, PermissionDenied, BadRequest, SuspiciousOperation, a bad
multipart body) are not failures and are not dumped.

``HEAPDUMP`` holds ``directory`` (default $HEAPDUMP_DIR or the current
directory), ``max_dumps``, ``max_total_bytes``, ``min_interval`` (the
directory's retention and the rate limit of one failure; see
heapdump.dump_on_unhandled_exceptions), ``redact``, ``environ``, ``hide``,
``max_objects``, ``max_bytes``, ``max_string``, ``max_items``,
``max_source``, ``level``; and ``enabled`` (default True).

The settings' secrets are hidden by value in every dump the middleware
writes, wherever they are met: ``SECRET_KEY``, ``SECRET_KEY_FALLBACKS``,
every setting whose name looks secret and what is under a secret-looking
key inside the others (each database's ``PASSWORD``), gathered when
Django makes the middleware.  So are the request's cookies and
credentials.

The request context (method, path, query, headers without cookies and
credentials, the user's id) is read from ``request.META`` and instance
dicts: the middleware never evaluates ``request.user`` or loads a session.
The user's id is there when something already did (the authentication
middleware once a view used ``request.user``, or a loaded session).
Works under WSGI and ASGI, with sync and async views.
"""

from __future__ import annotations

import sys
import types

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    ImproperlyConfigured,
    PermissionDenied,
    SuspiciousOperation,
)
from django.core.signals import got_request_exception
from django.http import Http404
from django.http.multipartparser import MultiPartParserError

from heapdump.integrations import _shared as _i

__all__ = ["HeapdumpMiddleware"]

#: What Django answers with a 4xx: not failures, not dumped.
NOT_FAILURES = (Http404, PermissionDenied, BadRequest, SuspiciousOperation,
                MultiPartParserError)

# The directory of the middleware made last, and the settings' secrets,
# for failures that reach the got_request_exception signal (sent without
# the middleware).
_signal_files = None
_signal_secrets = []


class HeapdumpMiddleware:
    """Django middleware: dump a view's failure, then let Django go on."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        global _signal_files

        self.get_response = get_response
        config = getattr(settings, "HEAPDUMP", None)
        try:
            if config is not None and isinstance(config, dict):
                config = dict(config)
                enabled = config.pop("enabled", True)
            else:
                enabled = True
            directory, options = _i.options_from(config, "HEAPDUMP")
        except (TypeError, ValueError) as e:
            raise ImproperlyConfigured(str(e)) from None
        if not enabled:
            from django.core.exceptions import MiddlewareNotUsed

            raise MiddlewareNotUsed("HEAPDUMP['enabled'] is false")
        self.files = _i.directory(directory, **options)
        self._patterns = _i.redaction_patterns(options.get("redact"))
        self.secrets = _signal_secrets[:] = settings_secrets()
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
        _signal_files = self.files
        got_request_exception.connect(
            _got_request_exception,
            dispatch_uid="heapdump.contrib.django")

    def __repr__(self):
        return "<heapdump.contrib.django.HeapdumpMiddleware into %s>" % (
            self.files.path,)

    def _scope(self, request):
        patterns = self._patterns
        return _i.RequestScope(
            _i.request_context(django_request, request, patterns),
            lambda: request_secrets(request, patterns),
            lambda context: _add_user(context, request))

    def __call__(self, request):
        if self._async:
            return self._acall(request)
        with self._scope(request):
            return self.get_response(request)

    async def _acall(self, request):
        with self._scope(request):
            return await self.get_response(request)

    def process_exception(self, request, exception):
        """Called by Django in its except block, with the view's
        exception: dump it, return None so that Django handles it."""
        if isinstance(exception, Exception) and \
                not isinstance(exception, NOT_FAILURES):
            _i.dump(self.files, exception, _reason(request, "view"),
                    self.secrets)
        return None


def _reason(request, where):
    context = _i._context.get_context().get(_i.CONTEXT_KEY)
    return "exception in a Django %s (%s)" % (
        where, _i.describe_request(context))


def _got_request_exception(sender, request=None, **kwargs):
    """Django's signal for a failure it answers with a 500, sent in its
    except block: a failure that was no view's (the view's was dumped by
    process_exception, and is not dumped twice)."""
    files = _signal_files
    exc = sys.exc_info()[1]
    if files is None or not isinstance(exc, Exception) or \
            isinstance(exc, NOT_FAILURES):
        return
    _i.dump(files, exc, _reason(request, "request"), tuple(_signal_secrets))


# ------------------------------------------------------ the settings


def settings_secrets():
    """The secrets of the settings, hidden by value in every dump of the
    middleware (gathered once, when Django makes it): SECRET_KEY,
    SECRET_KEY_FALLBACKS, every setting whose name looks secret and what is
    under a secret-looking key inside the others (each database's
    PASSWORD).  Django keeps copies no name tells: the message
    middleware's signer holds b"django.http.cookies" + SECRET_KEY."""
    items = []
    for name in dir(settings):
        if name.isupper():
            try:
                items.append((name, getattr(settings, name)))
            except Exception:
                continue
    return _i.config_secrets(items,
                             always=("SECRET_KEY", "SECRET_KEY_FALLBACKS"))


# ------------------------------------------------------- the request


def _plain_dict(obj):
    """obj's instance dict through the C descriptor, or None: no property
    or __getattr__ of a class can run."""
    for cls in type(obj).__mro__:
        d = cls.__dict__.get("__dict__")
        if d is not None:
            if isinstance(d, types.GetSetDescriptorType):
                try:
                    value = d.__get__(obj, type(obj))
                except Exception:
                    return None
                return value if type(value) is dict else None
            return None
    return None


def _class_attr(obj, name):
    """A class attribute of obj's type, read from the class dicts."""
    for cls in type(obj).__mro__:
        if name in cls.__dict__:
            return cls.__dict__[name]
    return None


def user_id(request):
    """The id of the request's user when something loaded it already,
    else the user id of a session that was loaded, else None."""
    from django.utils.functional import LazyObject, empty

    d = _plain_dict(request) or {}
    user = d.get("user")
    if isinstance(user, LazyObject):
        user = (_plain_dict(user) or {}).get("_wrapped", empty)
        if user is empty:
            user = None
    if user is not None:
        meta = _class_attr(user, "_meta")
        pk = getattr(meta, "pk", None) if meta is not None else None
        attname = getattr(pk, "attname", None) if pk is not None else None
        if isinstance(attname, str):
            value = (_plain_dict(user) or {}).get(attname)
            if isinstance(value, (int, str)) or value is None:
                if value is not None:
                    return value
    session = d.get("session")
    cache = (_plain_dict(session) or {}).get("_session_cache") \
        if session is not None else None
    if isinstance(cache, dict):
        value = cache.get("_auth_user_id")
        if isinstance(value, (int, str)):
            return value
    return None


def django_request(request, patterns):
    """The request context of a Django request: request.META as for
    WSGI, and the user's id when there is one at hand."""
    d = _plain_dict(request) or {}
    context = _i.wsgi_request(d.get("META"), patterns) or {}
    path = d.get("path")
    if isinstance(path, str):
        context["path"] = _i._cut(path)
    method = d.get("method")
    if isinstance(method, str):
        context["method"] = method
    _add_user(context, request)
    return context


def _add_user(context, request):
    uid = user_id(request)
    if uid is not None:
        # before the headers, which are long: the summary shows the start
        headers = context.pop("headers", None)
        context["user_id"] = uid
        if headers is not None:
            context["headers"] = headers


def request_secrets(request, patterns):
    """What holds the request's secrets: the values of its secret-looking
    headers (in META, and in the ASGI scope under Django's ASGI handler)
    and the parsed cookies (request.COOKIES, once something read it),
    whatever their names."""
    d = _plain_dict(request) or {}
    out = _i.environ_secrets(d.get("META"), patterns)
    scope = d.get("scope")
    if isinstance(scope, dict):
        out += _i.scope_secrets(scope, patterns)
    cookies = d.get("COOKIES")
    if isinstance(cookies, dict) and cookies:
        out.append(cookies)
    return _i.unique(out)
