"""Secrets stay out of the file: values under secret-looking names are
replaced before anything is written, and the environment is not dumped."""

import io
import os

import zstandard

import heapdump
from records import Ext, Records, split


def fresh_secret():
    """A value that appears nowhere else: not in this file's source (which
    the dump carries) nor in its globals (which it walks).  The tests keep
    it in locals whose names look secret."""
    return os.urandom(12).hex()


def body_bytes(path):
    _, body = split(path)
    return zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(body)).read()


def redactions(recs):
    out = []

    def walk(v):
        if isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, Ext) and v.name == "REDACTED":
            out.append(v.value)

    for rec in recs.all:
        walk(rec)
    return out


class Account:
    def __init__(self, the_secret):
        self.user = "ann"
        self.userPassword = the_secret + "-attr"


class Slotted:
    __slots__ = ("api_key", "name")

    def __init__(self, the_secret):
        self.api_key = the_secret + "-slot"
        self.name = "visible-name"


def test_secrets_at_any_depth_are_replaced(tmp_path):
    my_secret = fresh_secret()

    def work(the_secret):
        password = the_secret + "-local"
        config = {"db": {"nested": [{"DB_PASSWORD": the_secret + "-deep"}]},
                  "X-Api-Key": the_secret + "-header",
                  "author": "kept-author"}
        account = Account(the_secret)
        slotted = Slotted(the_secret)
        return heapdump.dump(tmp_path / "x.dump")

    path = work(my_secret)
    raw = body_bytes(path)
    assert my_secret.encode() not in raw
    assert b"kept-author" in raw and b"visible-name" in raw
    recs = Records(path)
    found = redactions(recs)
    assert len(found) >= 5
    assert ["builtins", "str"] in [f[:2] for f in found]
    assert all(f[2] > 0 for f in found)  # the size, never the value
    assert recs.trailer()["redacted"] == len(found)


def test_redact_adds_replaces_and_turns_off(tmp_path):
    the_secret = fresh_secret()

    def work(secret_base, **kw):
        pin_code = secret_base + "-pin"
        token = secret_base + "-token"
        return body_bytes(heapdump.dump(tmp_path / "x.dump", **kw))

    # (the expected bytes live in locals whose names look secret too)
    secret_pin = (the_secret + "-pin").encode()
    secret_tok = (the_secret + "-token").encode()
    raw = work(the_secret, redact=["pin_code"])
    assert secret_pin not in raw and secret_tok not in raw
    raw = work(the_secret, redact=heapdump.Redact(["pin_code", "secret"]))
    assert secret_pin not in raw and secret_tok in raw
    raw = work(the_secret, redact=False)
    assert secret_pin in raw and secret_tok in raw


def test_environment_is_not_dumped_unless_asked(tmp_path):
    the_secret = fresh_secret()
    os.environ["HEAPDUMP_TEST_ENV"] = "env-" + the_secret
    try:
        def work(**kw):
            env = os.environ  # reachable from a frame
            return body_bytes(heapdump.dump(tmp_path / "x.dump", **kw))

        secret_value = ("env-" + the_secret).encode()
        assert secret_value not in work()
        assert secret_value in work(environ=True, redact=False)
    finally:
        del os.environ["HEAPDUMP_TEST_ENV"]


def test_hidden_values_their_copies_and_the_strings_holding_them(tmp_path):
    # _hidden (the integrations' request secrets) and hide=: the object
    # itself and every equal str or bytes are REDACTED; a longer string
    # that holds it keeps its other pieces
    the_secret = fresh_secret()

    def work(hidden_value):
        copy = "".join(list(hidden_value))  # equal, another object
        as_bytes = hidden_value.encode()
        container = {"a": copy, "b": [as_bytes], "c": "x" + hidden_value}
        assert copy is not hidden_value
        return heapdump.dump(tmp_path / "x.dump", _hidden=[hidden_value])

    path = work(the_secret)
    raw = body_bytes(path)
    assert the_secret.encode() not in raw
    found = redactions(Records(path))
    assert ["builtins", "str", ] in [f[:2] for f in found]
    assert ["builtins", "bytes"] in [f[:2] for f in found]
    # "x" + secret: the "x" is kept, the rest is a hidden piece
    pieces = [f[4] for f in found if f[4] is not None]
    assert [4, 1 + len(the_secret), "x", [[1, len(the_secret), "value"]]] \
        in pieces
    container = heapdump.load(path).current_thread.frames[0].locals[
        "container"]
    assert str(container["c"]) == "x[redacted]"
