"""A program that fails holding secrets no name tells, for
tests/integration/test_secrets_leaks.py: a SQLAlchemy-style URL (a
namedtuple with a password field) inside a Session-like object, a DSN
string in a local, a dataclass holding a token, a copy of the environment,
and two secret literals in its own source.

    python secret_leaks.py SEED DUMPDIR

The test writes the two literals into a copy of this file; the other
secrets are derived from SEED at run time, so that no source holds them.
"""

import collections
import dataclasses
import hashlib
import os
import sys

import heapdump

PAYMENT_API_SECRET = "@@LITERAL_BY_NAME@@"  # masked: its name
STRIPE_KEY_LITERAL = "@@LITERAL_BY_FORMAT@@"  # masked: sk_live_...
PLAIN_SETTING = "a harmless setting"

URL = collections.namedtuple(
    "URL", "drivername username password host port database")


@dataclasses.dataclass
class ApiClient:
    base_url: str
    token: str


class Engine:
    def __init__(self, url):
        self.url = url
        self.pool_size = 5


class Session:
    """Like SQLAlchemy's: a rich object, dumped under the secret-looking
    name "session" with its own secrets caught at their names."""

    def __init__(self, url):
        self.bind = Engine(url)
        self.autoflush = True
        self.identity_map = {}


def derive(seed, what):
    return hashlib.sha256((seed + what).encode()).hexdigest()[:24]


def checkout(seed):
    url = URL("postgresql", "scott", derive(seed, "url"),
              "db.example.internal", 5432, "shop")
    dsn = "postgresql://scott:%s@db.example.internal/shop" % derive(
        seed, "dsn")
    client = ApiClient("https://api.example.com", derive(seed, "token"))
    env_copy = dict(os.environ)
    session = Session(url)
    stripe = STRIPE_KEY_LITERAL
    raise RuntimeError("checkout failed for order 42")


heapdump.dump_on_unhandled_exceptions(sys.argv[2])
checkout(sys.argv[1])
