"""A Django site in one module, for tests/integration/test_web_django.py:
settings, URLs and views.  DJANGO_SETTINGS_MODULE=web_django; the dumps go
into $WEB_DUMPS (settings.HEAPDUMP).

    /ok/        200, the worker's pid
    /fail/      a view whose local ``order`` is a dict: ValueError
    /other/     another failure (another code location)
    /missing/   Http404: a 404, not a failure
    /user/      sets a session user id, then fails
    /async/     an async view that fails
    /mw-fail/   a middleware (after heapdump's) fails: no view runs
"""

import os

SECRET_KEY = "web-django-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "web_django"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
]
MIDDLEWARE = [
    "heapdump.contrib.django.HeapdumpMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "web_django.Exploding",
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
DATABASES = {}
HEAPDUMP = {"directory": os.environ.get("WEB_DUMPS", "dumps")}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"],
                                   "level": "ERROR", "propagate": False}},
}

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import Http404, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


class Exploding:
    """A middleware that fails for /mw-fail/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/mw-fail/":
            raise LookupError("a middleware failed")
        return self.get_response(request)


def ok(request):
    return HttpResponse("ok %d" % os.getpid())


def fail(request):
    order = {"id": 42, "items": ["apple", "pear"], "note": "a view local"}
    total = len(order["items"])
    raise ValueError("order %d has %d items" % (order["id"], total))


def other(request):
    basket = ["plum"]
    return basket[3]


def missing(request):
    raise Http404("no such thing")


def user(request):
    request.session["_auth_user_id"] = "1234"
    request.session.get("x")
    raise RuntimeError("with a session user")


async def async_view(request):
    order = {"id": 42, "items": ["apple", "pear"], "note": "a view local"}
    total = len(order["items"])
    raise ValueError("order %d has %d items" % (order["id"], total))


urlpatterns = [
    path("ok/", ok),
    path("fail/", fail),
    path("other/", other),
    path("missing/", missing),
    path("user/", user),
    path("async/", async_view),
]

application = get_wsgi_application() \
    if os.environ.get("DJANGO_SETTINGS_MODULE") == "web_django" else None
