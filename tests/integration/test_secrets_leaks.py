"""Issue 8's "done when": secrets that no name tells stay out of the file.

A real Django 5.2 site under ``manage.py runserver`` (a real server on
loopback, sessions and messages in signed cookies, a SECRET_KEY made at run
time, DATABASE_URL with a password in the environment) fails a request;
and a plain program fails holding a namedtuple URL with a password, a DSN
in a local, a dataclass token, a copy of the environment and two secret
literals in its own source.  The file's bytes (the header block and the
decompressed body) hold none of the secrets, nor any 20-character piece of
the key, and the harmless values next to them are still there.
"""

import http.cookies
import os
import re
import sys

import pytest

import heapdump
import webtests as w
from conftest import PROGRAMS, child_env, run_python


def fresh(n=12):
    return os.urandom(n).hex()


def assert_absent(raw, name, secret):
    if secret.encode() in raw:
        raise w.SecretLeaked("%s (%d chars) is in the file" % (name,
                                                               len(secret)))


def assert_no_piece(raw, name, secret, length=20):
    """No length-character piece of secret is in raw."""
    for i in range(len(secret) - length + 1):
        if secret[i:i + length].encode() in raw:
            raise w.SecretLeaked("characters %d to %d of %s are in the "
                                 "file" % (i, i + length, name))


def vet(path):
    """python -m heapdump.open --secrets FILE: (status, output)."""
    import subprocess

    r = subprocess.run([sys.executable, "-m", "heapdump.open", "--secrets",
                        str(path)], env=child_env(), capture_output=True,
                       text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


# ------------------------------------------------------------ Django


@pytest.fixture
def site(tmp_path):
    w.require("django")
    dumps = tmp_path / "dumps"
    password = "pw" + fresh()
    env = w.server_env(
        dumps, SECRETSITE_KEY_FILE=str(tmp_path / "key.txt"),
        SECRETSITE_DB=str(tmp_path / "db.sqlite3"),
        DATABASE_URL="postgres://appuser:%s@db.example.internal:5432/appdb"
                     % password)
    s = w.Server([sys.executable, str(PROGRAMS / "secretsite" / "manage.py"),
                  "runserver", "--noreload", "127.0.0.1:{port}"],
                 cwd=str(tmp_path), env=env)
    try:
        s.wait_ready("/ok/")
        s.dumps = dumps
        s.password = password
        s.key = (tmp_path / "key.txt").read_text()
        yield s
    finally:
        s.stop()


@pytest.mark.integrations
def test_runserver_the_key_the_password_and_the_cookie_stay_out(site):
    status, _, headers = site.request("/login/", response=True)
    assert status == 200
    jar = http.cookies.SimpleCookie()
    for name, value in headers:
        if name.lower() == "set-cookie":
            jar.load(value)
    session = jar["sessionid"].value
    assert len(session) > 20 and "messages" in jar
    cookie = "; ".join("%s=%s" % (k, m.value) for k, m in jar.items())
    status, body = site.request("/fail/", headers={"Cookie": cookie})
    assert status == 500, body
    assert "Internal Server Error: /fail/" in site.output()
    [path] = w.dumps_in(site.dumps)
    raw = w.decompressed(path)
    assert len(site.key) >= 50
    assert_absent(raw, "SECRET_KEY", site.key)
    assert_no_piece(raw, "SECRET_KEY", site.key)
    assert_absent(raw, "the database password", site.password)
    assert_absent(raw, "the session cookie", session)
    assert_absent(raw, "the messages cookie", jar["messages"].value)
    # what is next to them is still there
    for harmless in (b"db.example.internal", b"appuser", b"appdb",
                     b"Heapdump Test Shop", b"Europe/Paris",
                     b"order 42 was saved", b"/fail/"):
        assert harmless in raw, harmless
    # and the dump still opens where the view failed, the signer's key
    # kept but for the secret
    dump = heapdump.load(path)
    inner = dump.traceback.entries()[-1].frame
    assert inner.code.name == "fail"
    assert inner.locals["order"] == {"id": 42, "items": ["apple", "pear"],
                                     "shop": "Heapdump Test Shop"}
    signers = [o for o in dump.objects
               if type(o).__name__.endswith("Signer")
               and isinstance(getattr(o, "key", None), bytes)]
    assert signers, "no signer with a bytes key in the dump"
    assert any(type(s.key).__name__ == "RedactedBytes" and
               bytes(s.key) == b"django.http.cookies[redacted]"
               for s in signers), [repr(s.key) for s in signers]
    # nothing left that looks like a credential
    status, out = vet(path)
    assert status == 0, out
    assert "SECRET_KEY" in out and "Redacted:" in out


# ------------------------------------------------------- the stdlib


@pytest.fixture
def leaky_program(tmp_path):
    """A copy of tests/programs/secret_leaks.py with two fresh literals."""
    literals = {"@@LITERAL_BY_NAME@@": "pay" + fresh(),
                "@@LITERAL_BY_FORMAT@@": "sk_live_" + fresh()}
    text = (PROGRAMS / "secret_leaks.py").read_text()
    for placeholder, value in literals.items():
        text = text.replace(placeholder, value)
    program = tmp_path / "secret_leaks.py"
    program.write_text(text)
    return program, literals


def derive(seed, what):
    import hashlib

    return hashlib.sha256((seed + what).encode()).hexdigest()[:24]


def test_stdlib_url_dsn_dataclass_environment_and_literals(tmp_path,
                                                           leaky_program):
    program, literals = leaky_program
    seed = fresh()
    env_secret = "cfg" + fresh()
    db_password = "db" + fresh()
    r = run_python(script=program, args=[seed, tmp_path / "dumps"],
                   check=False, env=child_env(
                       PAYMENT_CFG=env_secret,
                       DATABASE_URL="postgres://app:%s@db.example.internal"
                                    "/app" % db_password))
    assert r.returncode == 1, r.stderr
    assert "RuntimeError: checkout failed for order 42" in r.stderr
    [path] = w.dumps_in(tmp_path / "dumps")
    raw = w.decompressed(path)
    secrets = {"the URL's password": derive(seed, "url"),
               "the DSN's password": derive(seed, "dsn"),
               "the dataclass token": derive(seed, "token"),
               "the environment's PAYMENT_CFG": env_secret,
               "the environment's database password": db_password}
    secrets.update(("the literal %s" % k, v) for k, v in literals.items())
    for name, value in secrets.items():
        assert_absent(raw, name, value)
    for harmless in (b"scott", b"db.example.internal",
                     b"https://api.example.com", b"a harmless setting",
                     b"checkout failed for order 42", b"sk_live_",
                     b"PAYMENT_API_SECRET", b"STRIPE_KEY_LITERAL"):
        assert harmless in raw, harmless
    dump = heapdump.load(path)
    frame = dump.traceback.entries()[-1].frame
    assert frame.code.name == "checkout"
    # the URL keeps its other fields; the password field is redacted
    url = frame.locals["url"]
    assert (url.username, url.host, url.port) == ("scott",
                                                  "db.example.internal", 5432)
    assert "redacted" in repr(url.password)
    assert str(frame.locals["dsn"]) == \
        "postgresql://scott:[redacted]@db.example.internal/shop"
    assert frame.locals["client"].base_url == "https://api.example.com"
    # a rich object under a secret-looking name is walked, not blanked:
    # its own secrets are caught at their names
    session = frame.locals["session"]
    assert session.autoflush is True and session.bind.pool_size == 5
    assert session.bind.url.host == "db.example.internal"
    assert "redacted" in repr(session.bind.url.password)
    # the environment's copy: the values hidden, the names kept
    env_copy = frame.locals["env_copy"]
    assert "redacted" in repr(env_copy["PAYMENT_CFG"])
    assert "PATH" in env_copy and "DATABASE_URL" in env_copy
    # the source: masked in place, lines and columns as they were
    source = dump.sources[frame.code.filename]
    original = program.read_text()
    assert source.count("\n") == original.count("\n")
    assert [len(line) for line in source.splitlines()] == \
        [len(line) for line in original.splitlines()]
    masked = [line for line in source.splitlines()
              if re.match(r"(PAYMENT_API_SECRET|STRIPE_KEY_LITERAL) = ",
                          line)]
    assert len(masked) == 2 and all("****" in line for line in masked)
    pieces = dump.source_redactions[frame.code.filename]
    assert [p[4] for p in pieces] == ["name", "token"], pieces
    status, out = vet(path)
    assert status == 0, out
    assert "masked" in out
    # pdb: the values as the dump has them, the source where it was
    out = w.open_pdb(path, "p dsn\np url.password\nlist 20,23\nq\n")
    assert "'postgresql://scott:' + <redacted 24 chars: url> + " \
        "'@db.example.internal/shop'" in out, out
    assert "redacted: str object" in out
    lineno = original.splitlines().index(
        [line for line in original.splitlines()
         if line.startswith("PAYMENT_API_SECRET")][0]) + 1
    assert re.search(r"%d\s+PAYMENT_API_SECRET = \"\*{27}\"" % lineno,
                     out), out
    assert "PLAIN_SETTING = \"a harmless setting\"" in out
