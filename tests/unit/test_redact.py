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
        io.BytesIO(body), read_across_frames=True).read()


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


def frame_locals(path, name="work"):
    dump = heapdump.load(path)
    for frame in dump.current_thread.frames:
        if frame.code.name == name:
            return dump, frame.locals
    raise AssertionError("no frame %s" % name)


# ------------------------------------------------------------- precision


class Engine:
    def __init__(self, the_secret):
        self.url = "sqlite:///shop.db"
        self.password = the_secret + "-engine"
        self.pool_size = 5


class Session:
    """Like an ORM session: a rich object."""

    def __init__(self, the_secret):
        self.bind = Engine(the_secret)
        self.autoflush = True


def test_a_rich_object_under_a_secret_name_is_walked(tmp_path):
    # its own secrets are caught at their names, the rest is kept
    the_secret = fresh_secret()

    def work(the_secret):
        session = Session(the_secret)
        auth_client = [Session(the_secret)]
        return heapdump.dump(tmp_path / "x.dump")

    path = work(the_secret)
    assert the_secret.encode() not in body_bytes(path)
    _, f = frame_locals(path)
    session = f["session"]
    assert session.autoflush is True
    assert session.bind.url == "sqlite:///shop.db"
    assert session.bind.pool_size == 5
    assert "redacted" in repr(session.bind.password)
    assert f["auth_client"][0].bind.pool_size == 5


def test_plain_data_under_a_secret_name_is_blanked_whole(tmp_path):
    the_secret = fresh_secret()

    def work(the_secret):
        password = the_secret
        token = the_secret.encode()
        pin_secret = 1234
        credentials = ("ann", the_secret)
        auth = {"user": "ann", "key": the_secret, "tries": 3}
        secret_list = [["a", the_secret]]
        session = None
        token_flag = True
        return heapdump.dump(tmp_path / "x.dump")

    path = work(the_secret)
    assert the_secret.encode() not in body_bytes(path)
    _, f = frame_locals(path)
    for name, type_name in (("password", "str"), ("token", "bytes"),
                            ("pin_secret", "int"), ("credentials", "tuple"),
                            ("auth", "dict"), ("secret_list", "list")):
        v = f[name]
        assert isinstance(v, heapdump._surrogates.Redacted), name
        assert (v.qualname, v.reason) == (type_name, "name"), name
        assert v.size > 0
    # nothing to hide in None or a bool
    assert f["session"] is None and f["token_flag"] is True


def test_namedtuple_fields_and_header_pairs(tmp_path):
    import collections

    the_secret = fresh_secret()
    URL = collections.namedtuple("URL", "drivername username password host")

    class Sub(URL):
        pass

    def work(the_secret):
        url = URL("postgresql", "scott", the_secret + "-nt", "db")
        sub = Sub("mysql", "ann", the_secret + "-sub", "db2")
        headers = [("Content-Type", "text/html"),
                   ("Authorization", "Bearer " + the_secret),
                   ["Cookie", "sid=" + the_secret],
                   (b"x-api-key", the_secret.encode())]
        pair = ("token", (the_secret, 1))
        return heapdump.dump(tmp_path / "x.dump")

    path = work(the_secret)
    assert the_secret.encode() not in body_bytes(path)
    _, f = frame_locals(path)
    url = f["url"]
    assert (url.drivername, url.username, url.host) == ("postgresql",
                                                        "scott", "db")
    assert url.password.reason == "name"
    assert f["sub"].username == "ann" and f["sub"].password.reason == "name"
    headers = f["headers"]
    assert headers[0] == ("Content-Type", "text/html")
    assert headers[1][0] == "Authorization" and headers[1][1].reason == "name"
    assert headers[2][1].reason == "name"
    assert headers[3][1].qualname == "bytes"
    assert f["pair"][1].qualname == "tuple"


def test_dataclass_slots_and_attrs_style_fields(tmp_path):
    import dataclasses

    @dataclasses.dataclass
    class Client:
        base_url: str
        api_token: str

    class Slotted:
        __slots__ = ("secret", "host")

        def __init__(self, s):
            self.secret, self.host = s, "h.example"

    the_secret = fresh_secret()

    def work(the_secret):
        client = Client("https://api.example.com", the_secret)
        slotted = Slotted(the_secret)
        return heapdump.dump(tmp_path / "x.dump")

    path = work(the_secret)
    assert the_secret.encode() not in body_bytes(path)
    _, f = frame_locals(path)
    assert f["client"].base_url == "https://api.example.com"
    assert f["client"].api_token.reason == "name"
    assert f["slotted"].host == "h.example"


# ---------------------------------------------------------------- rules


def test_url_passwords_and_key_formats_in_any_value(tmp_path):
    the_secret = fresh_secret()

    def work(the_secret, **kw):
        dsn = "postgresql://scott:%s@db.example/shop" % the_secret
        raw_dsn = ("redis://:%s@cache:6379/0" % the_secret).encode()
        nested = {"config": ["mysql://u:%s@h/d" % the_secret]}
        stripe = "sk_live_" + the_secret
        return heapdump.dump(tmp_path / "x.dump", **kw)

    path = work(the_secret)
    assert the_secret.encode() not in body_bytes(path)
    _, f = frame_locals(path)
    assert str(f["dsn"]) == "postgresql://scott:[redacted]@db.example/shop"
    assert f["dsn"].redacted == ((19, len(the_secret), "url"),)
    assert bytes(f["raw_dsn"]) == b"redis://:[redacted]@cache:6379/0"
    assert str(f["nested"]["config"][0]) == "mysql://u:[redacted]@h/d"
    assert str(f["stripe"]) == "sk_live_[redacted]"
    # redact=False turns the rules off too
    raw = body_bytes(work(the_secret, redact=False))
    assert ("postgresql://scott:%s@db.example/shop" % the_secret).encode() \
        in raw
    assert ("sk_live_" + the_secret).encode() in raw


def test_hide_by_value_inside_others_or_equal_when_short(tmp_path):
    vault_key = fresh_secret()        # 24 characters: inside others too
    short = fresh_secret()[:6]         # only where equal

    def work(k, s):
        holder = ["Bearer " + k, (k + "!").encode("utf-16-le"),
                  "x" + s, "".join(list(s))]
        as_bytearray = bytearray(b"key=" + k.encode())
        long_one = "a" * 100 + k
        return heapdump.dump(tmp_path / "x.dump", hide=[k, s],
                             max_string=50)

    path = work(vault_key, short)
    raw = body_bytes(path)
    assert vault_key.encode() not in raw
    _, f = frame_locals(path)
    holder = f["holder"]
    assert str(holder[0]) == "Bearer [redacted]"
    assert holder[2] == "x" + short            # not equal: kept
    assert holder[3].reason == "value"
    assert bytes(f["as_bytearray"]) == b"key=[redacted]"
    assert type(f["as_bytearray"]).__name__ == "RedactedBytearray"
    # longer than max_string: the start only, the hidden piece past it
    assert f["long_one"].original_length == 100 + len(vault_key)
    assert f["long_one"].complete is False and str(f["long_one"]) == "a" * 50
    # a UTF-16 copy is no UTF-8 match: not what hide= promises
    assert holder[1] == (vault_key + "!").encode("utf-16-le")


def test_hide_rejects_what_cannot_be_hidden(tmp_path):
    import pytest

    with pytest.raises(TypeError):
        heapdump.dump(tmp_path / "x.dump", hide=5)


def test_the_header_lines_and_facts_are_masked(tmp_path):
    import sys

    the_secret = fresh_secret()
    argv = sys.argv
    sys.argv = argv + ["--password=" + the_secret]
    try:
        try:
            raise ValueError("bad key " + the_secret + " for ann")
        except ValueError:
            path = heapdump.dump(tmp_path / "x.dump", hide=[the_secret],
                                 reason="retry with " + the_secret)
    finally:
        sys.argv = argv
    head, _ = split(path)
    assert the_secret.encode() not in head
    assert the_secret.encode() not in body_bytes(path)
    dump = heapdump.load(path)
    assert dump.headers["Heapdump-Exception"] == \
        "ValueError: bad key [redacted] for ann"
    assert dump.headers["Heapdump-Reason"] == "retry with [redacted]"
    assert dump.meta["argv"][-1] == "--password=[redacted]"


# ---------------------------------------------------------- environment


def test_the_environment_by_value(tmp_path, monkeypatch):
    long_value = "v" + fresh_secret()
    short_secret = "~#" + fresh_secret()[:4].upper()    # nowhere else
    url_password = fresh_secret()
    monkeypatch.setenv("HEAPDUMP_TEST_CFG", long_value)
    monkeypatch.setenv("HEAPDUMP_TEST_PASSWORD", short_secret)
    monkeypatch.setenv("HEAPDUMP_TEST_DB",
                       "postgres://app:%s@db.internal/app" % url_password)
    monkeypatch.setenv("HEAPDUMP_TEST_SHORT", "1234567")
    monkeypatch.setenv("LC_HEAPDUMP_TEST", "x" * 30)

    def work(**kw):
        env_copy = dict(os.environ)
        joined = "cfg=" + os.environ["HEAPDUMP_TEST_CFG"]
        dsn = "host=db.internal password=" + url_password
        return heapdump.dump(tmp_path / "x.dump", **kw)

    path = work()
    raw = body_bytes(path)
    assert url_password.encode() not in raw
    assert short_secret.encode() not in raw
    _, f = frame_locals(path)
    env_copy = f["env_copy"]
    assert env_copy["HEAPDUMP_TEST_CFG"].reason == "environ"
    assert env_copy["HEAPDUMP_TEST_PASSWORD"].reason == "name"
    assert env_copy["HEAPDUMP_TEST_DB"].reason == "environ"
    # short values and the variables that name places stay
    assert env_copy["HEAPDUMP_TEST_SHORT"] == "1234567"
    assert env_copy["LC_HEAPDUMP_TEST"] == "x" * 30
    assert env_copy["PATH"] == os.environ["PATH"]
    # an environment value is hidden where it is equal, not inside others
    assert f["joined"] == "cfg=" + long_value
    # but a URL password in it is hidden inside others too
    assert str(f["dsn"]) == "host=db.internal password=[redacted]"
    # environ=True: the values are dumped
    raw = body_bytes(work(environ=True, redact=False))
    assert long_value.encode() in raw and url_password.encode() in raw


# ---------------------------------------------------------------- sources


def test_secret_literals_in_the_dumped_sources(tmp_path):
    import importlib.util

    the_secret = fresh_secret()
    module = tmp_path / "leaky_module.py"
    module.write_text(
        "import heapdump\n"
        "API_SECRET = %r\n"
        "DB = 'postgresql://u:%s@h/d'\n"
        "PLAIN = 'kept'\n"
        "def work(path):\n"
        "    return heapdump.dump(path)\n" % (the_secret, the_secret))
    spec = importlib.util.spec_from_file_location("leaky_module", module)
    leaky = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(leaky)
    path = leaky.work(tmp_path / "x.dump")
    assert the_secret.encode() not in body_bytes(path)
    dump = heapdump.load(path)
    text = dump.sources[str(module)]
    assert text.splitlines()[1] == "API_SECRET = '%s'" % ("*" *
                                                         len(the_secret))
    assert text.splitlines()[2] == "DB = 'postgresql://u:%s@h/d'" % (
        "*" * len(the_secret))
    assert text.splitlines()[3] == "PLAIN = 'kept'"
    assert dump.source_redactions[str(module)] == [
        (2, 14, 2, 14 + len(the_secret), "name"),
        (3, 21, 3, 21 + len(the_secret), "url")]
    assert dump.trailer["source_redacted"] >= 2
    recs = Records(path)
    [source] = [r for r in recs.of("SOURCE") if r[1] == str(module)]
    assert source[4] == [[2, 14, 2, 14 + len(the_secret), "name"],
                         [3, 21, 3, 21 + len(the_secret), "url"]]


def test_named_roots_are_redacted_and_hidden_like_values(tmp_path):
    # roots (heapdump.set_context's, through _heapdump.dump's roots=) are
    # not written before the hider and the names have seen them
    from heapdump import _heapdump

    secret = fresh_secret()
    hider = _heapdump.Hider([(secret + "-v", _heapdump.HIDE_WHOLE |
                              _heapdump.HIDE_SUBSTRING)], True)
    path = tmp_path / "roots.dump"
    _heapdump.dump(str(path), redact=heapdump.DEFAULT_REDACT, hide=hider,
                   roots={"api_token": "tok-" + secret,
                          "vault": secret + "-v",
                          "dsn": "redis://:%s@cache/0" % secret,
                          "kept": ["harmless"]})
    assert secret.encode() not in body_bytes(path)
    roots = heapdump.load(path).roots
    assert roots["api_token"].reason == "name"
    assert roots["vault"].reason == "value"
    assert str(roots["dsn"]) == "redis://:[redacted]@cache/0"
    assert roots["kept"] == ["harmless"]


def test_a_long_value_is_looked_at_as_far_as_it_is_written(tmp_path):
    # max_string keeps the start: a secret far past it is not looked for
    # (it is not written either), one inside it is hidden
    the_secret = fresh_secret()

    def work(s):
        far = "x" * 200000 + s
        near = "y" * 10 + s + "z" * 200000
        return heapdump.dump(tmp_path / "x.dump", hide=[s], max_string=100)

    path = work(the_secret)
    assert the_secret.encode() not in body_bytes(path)
    _, f = frame_locals(path)
    assert f["far"] == "x" * 100 and type(f["far"]).__name__ == "CutStr"
    assert str(f["near"]) == "y" * 10 + "[redacted]" + "z" * 66
    assert f["near"].complete is False


# ------------------------------------------------- the verdicts kept per name


def test_a_freed_names_verdict_is_never_taken_for_another():
    """redact.c keeps each name's verdict by the str's address: a str made
    where a freed one was (same length, other letters) is read again."""
    from heapdump import _heapdump

    patterns = ("password",)
    for i in range(3000):
        a = "".join(["pass", "word_%d" % i])
        assert _heapdump.looks_secret(a, patterns)
        del a
        b = "".join(["pxss", "word_%d" % i])
        assert not _heapdump.looks_secret(b, patterns)
        del b


def test_the_same_name_object_in_many_places_of_one_dump(tmp_path):
    """One interned name met many times keeps one verdict, and the
    verdicts of two names that share an address slot stay apart."""
    keys = ["api_token"] + ["field_%d" % i for i in range(5000)]
    docs = [{k: "value-%d-%s" % (n, k) for k in keys[n % 7::7]}
            for n in range(300)] + [{"api_token": "tok-%d" % n}
                                    for n in range(300)]
    path = heapdump.dump(tmp_path / "x.dump")  # docs: a local of this frame
    raw = body_bytes(path)
    assert len(docs) == 600
    # (made here: the test's own source, embedded, holds its literals)
    assert ("tok-%d" % 123).encode() not in raw
    assert ("value-%d-%s" % (0, keys[0])).encode() not in raw
    assert ("value-%d-%s" % (1, keys[1])).encode() in raw
