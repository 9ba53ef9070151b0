"""A Django site with secrets no name tells, run by ``manage.py runserver``
for tests/integration/test_secrets_leaks.py: settings, URLs and views.

- ``SECRET_KEY`` is made at run time (it is in no file; the site writes it
  to $SECRETSITE_KEY_FILE for the test, which then looks for it in the
  dump);
- the database settings come from ``$DATABASE_URL`` (with a password), as
  dj-database-url would make them (the engine is SQLite: there is no
  PostgreSQL here, and the site never queries it);
- sessions in signed cookies and the default messages storage (cookies),
  so the message middleware's signer holds b"django.http.cookies" +
  SECRET_KEY.

    /ok/      200, the pid
    /login/   sets a session user and a message: the session and messages
              cookies
    /fail/    reads the session, adds a message, fails
"""

import os
import secrets
import urllib.parse

SECRET_KEY = secrets.token_urlsafe(40)
with open(os.environ["SECRETSITE_KEY_FILE"], "w") as _f:
    _f.write(SECRET_KEY)
del _f

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "secretsite"
USE_TZ = True
TIME_ZONE = "Europe/Paris"
SHOP_NAME = "Heapdump Test Shop"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "heapdump.contrib.django.HeapdumpMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

DATABASE = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["SECRETSITE_DB"],
        "USER": DATABASE.username,
        "PASSWORD": DATABASE.password,
        "HOST": DATABASE.hostname,
        "PORT": DATABASE.port,
    },
}
HEAPDUMP = {"directory": os.environ["WEB_DUMPS"]}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"],
                                   "level": "ERROR", "propagate": False}},
}

from django.conf import settings  # noqa: E402
from django.contrib import messages  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def ok(request):
    return HttpResponse("ok %d" % os.getpid())


def login(request):
    request.session["_auth_user_id"] = "1234"
    request.session["cart"] = ["apple", "pear"]
    messages.info(request, "welcome back, ann")
    return HttpResponse("logged in")


def fail(request):
    cart = request.session.get("cart")
    messages.success(request, "order 42 was saved")
    order = {"id": 42, "items": cart, "shop": settings.SHOP_NAME}
    raise ValueError("order %d has %d items" % (order["id"], len(cart)))


urlpatterns = [
    path("ok/", ok),
    path("login/", login),
    path("fail/", fail),
]
