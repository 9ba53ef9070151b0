"""python -m heapdump.open --secrets FILE (heapdump._vet): every redaction
listed (where, type, size, why; never a value), the strings that still
look like credentials flagged, and the exit status that says so."""

import base64
import os
import subprocess
import sys
import uuid

import pytest

from conftest import child_env, run_python
from heapdump import _vet

PROGRAM = """
import sys
import heapdump

def work(values, mode):
    # the values leave the dict: only the locals hold them
    password = values.pop("password")
    dsn = "postgresql://scott:%s@db.example/shop" % values.pop("dsn")
    github = "ghp_" + values.pop("github")
    blob = {"data": values.pop("blob")}
    pem = ("-----BEGIN PRIVATE KEY-----\\n" + values.pop("pem") +
           "\\n-----END PRIVATE KEY-----\\n")
    harmless = ["/usr/lib/python3/site-packages/some_module_name.py",
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789",
                values.pop("uuid"), "the quick brown fox jumps over"]
    if mode == "redact":
        # the blob is no key of a known format: the program names it
        return heapdump.dump(sys.argv[1], hide=[blob["data"]])
    return heapdump.dump(sys.argv[1], redact=False)

# the values come on stdin, so that no argv or source holds them
raw = sys.stdin.buffer.read()
values = dict(line.split("=", 1) for line in raw.decode().splitlines())
del raw
work(values, sys.argv[2])
"""


def secret_values():
    return {
        "password": os.urandom(10).hex(),
        "dsn": os.urandom(10).hex(),
        "github": base64.b32encode(os.urandom(25)).decode().rstrip("="),
        "blob": base64.b64encode(os.urandom(30)).decode(),
        "pem": base64.b64encode(os.urandom(60)).decode(),
        "uuid": str(uuid.uuid4()),
    }


def write_dump(tmp_path, mode, values):
    path = tmp_path / ("%s.dump" % mode)
    run_python(PROGRAM, args=[path, mode],
               input="".join("%s=%s\n" % kv for kv in values.items()))
    return path


def vet(path):
    r = subprocess.run([sys.executable, "-m", "heapdump.open", "--secrets",
                        str(path)], env=child_env(), capture_output=True,
                       text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def test_a_redacted_dump_lists_its_redactions_and_flags_nothing(tmp_path):
    values = secret_values()
    status, out, err = vet(write_dump(tmp_path, "redact", values))
    assert status == 0, out + err
    assert "Flagged: none" in out
    assert "local 'password': str" in out and "its name looks secret" in out
    assert "local 'dsn': str of" in out and "url (20 chars)" in out
    assert "local 'github': str of" in out and "token (40 chars)" in out
    assert "it holds a secret known by value" in out
    for value in values.values():
        assert value not in out, value


def test_an_unredacted_dump_is_flagged(tmp_path):
    values = secret_values()
    status, out, err = vet(write_dump(tmp_path, "plain", values))
    assert status == 1, out + err
    flagged = out[out.index("Flagged:"):]
    assert "local 'dsn': a URL with a password (20 characters)" in flagged
    assert "local 'github': a key of a known format (ghp_..." in flagged
    assert "local 'blob'['data']: a high-entropy token" in flagged
    assert "local 'pem': a key of a known format" in flagged
    # the harmless strings are not flagged, and no value is shown
    assert "local 'harmless'" not in flagged
    for value in values.values():
        assert value not in out, value


def test_masked_sources_are_listed(tmp_path):
    module = tmp_path / "leaky.py"
    module.write_text("import heapdump, sys\nAPI_SECRET = 'x' * 3 + "
                      "'hunter2hunter2'\nheapdump.dump(sys.argv[1])\n")
    path = tmp_path / "src.dump"
    run_python(script=module, args=[path])
    status, out, _ = vet(path)
    assert "source %s:" % module in out
    assert "2:14-2:15: masked (its name looks secret)" in out
    assert "2:24-2:38: masked (its name looks secret)" in out
    assert "hunter2" not in out


def test_a_file_that_is_no_dump(tmp_path):
    bad = tmp_path / "bad.dump"
    bad.write_bytes(b"not a dump\n\n")
    status, _, err = vet(bad)
    assert status == 2 and "error" in err


@pytest.mark.parametrize("text, flagged", [
    ("x" * 30, False),
    ("abcdefghijklmnopqrstuvwxyz0123456789", False),     # an alphabet
    (str(uuid.UUID(int=0x1234567890abcdef1234567890abcdef)), False),
    ("/usr/lib/python3.13/site-packages/django/core", False),
    ("heapdump_surrogates_RedactedBytearray_2", False),
    ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
     True),                                                # hex key
    ("Jg7cBwX1k9QzRt4LmV2nYp8sHd6fA3eK", True),            # mixed key
    ("see eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlZm9yaXQ", True),
    ("redis://:s3cr3t@cache/0", True),
    ("postgresql://scott:[redacted]@db/shop", False),
])
def test_token_flags(text, flagged):
    assert bool(_vet.token_flags(text)) == flagged, _vet.token_flags(text)
