"""The Django site of benchmarks/bench_django.py, in one module: settings,
URLs, views and the WSGI application (DJANGO_SETTINGS_MODULE=django_site).

The settings are those of `django-admin startproject` (its middleware,
apps, templates, validators), less the database-backed parts no view
here needs (sessions in signed cookies).  With BENCH_HEAPDUMP=1 heapdump's
middleware comes first, dumping into $BENCH_DUMPS with the rate limit off
(min_interval None: every failing request dumps) and the default
retention (10 files).

    /ok/                 200
    /fail/               a view that fails (ValueError): Django's 500;
                         dumped by the middleware when it is on
    /direct/?dump=MODE   the same failure, and the view calls
                         heapdump.dump() itself before raising: MODE none
                         (no dump), full (the defaults), nosource
                         (max_source=0)
"""

import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "bench-django-not-a-secret-" + "x" * 24
DEBUG = False
# testserver: the test client of bench_django.py's profile and callgrind
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "django_site"
WSGI_APPLICATION = "django_site.application"
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if os.environ.get("BENCH_HEAPDUMP") == "1":
    MIDDLEWARE.insert(0, "heapdump.contrib.django.HeapdumpMiddleware")
HEAPDUMP = {"directory": os.environ.get("BENCH_DUMPS", "dumps"),
            "min_interval": None}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(os.environ.get("BENCH_DUMPS", BASE_DIR),
                             "db.sqlite3"),
    }
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation."
             "UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"django.request": {"handlers": ["null"], "level": "ERROR",
                                   "propagate": False}},
}

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def ok(request):
    return HttpResponse("ok")


def _order(request):
    return {"id": 4242,
            "customer": {"name": "Ann", "email": "ann@example.org"},
            "items": [{"sku": "A-%d" % i, "qty": i, "price": 9.5 + i}
                      for i in range(5)],
            "path": request.path}


def fail(request):
    order = _order(request)
    total = sum(item["qty"] * item["price"] for item in order["items"])
    raise ValueError("order %d: total %.2f does not match" % (order["id"],
                                                              total))


def direct(request):
    order = _order(request)
    total = sum(item["qty"] * item["price"] for item in order["items"])
    mode = request.GET.get("dump", "none")
    try:
        raise ValueError("order %d: total %.2f does not match"
                         % (order["id"], total))
    except ValueError:
        if mode != "none":
            import heapdump

            kw = {"max_source": 0} if mode == "nosource" else {}
            heapdump.dump(os.environ.get("BENCH_DUMPS", "dumps"), **kw)
        raise


urlpatterns = [
    path("ok/", ok),
    path("fail/", fail),
    path("direct/", direct),
]

application = get_wsgi_application() \
    if os.environ.get("DJANGO_SETTINGS_MODULE") == "django_site" else None
