"""src/srcmask.c, the masking of secret literals in the source text a dump
embeds (heapdump._heapdump.mask_source): what its lexer masks, what it
leaves, and that lines and columns stay where they were."""

import io
import tokenize

import pytest

import heapdump
from heapdump import _heapdump

NAMES = heapdump.DEFAULT_REDACT


def mask(text, patterns=NAMES, hide=None):
    out, pieces = _heapdump.mask_source(text.encode("utf-8"), patterns,
                                        hide)
    return out.decode("utf-8"), pieces


# (source, what it becomes): the name rule only
CASES = [
    # assignments to secret-looking names, in every form
    ('API_KEY = "abc"\n', 'API_KEY = "***"\n'),
    ("API_KEY = 'abc'\n", "API_KEY = '***'\n"),
    ('api_key: str = "abc"\n', 'api_key: str = "***"\n'),
    ('self.password = "abc"\n', 'self.password = "***"\n'),
    ('conf["password"] = "abc"\n', 'conf["password"] = "***"\n'),
    ('a = PASSWORD = "abc"\n', 'a = PASSWORD = "***"\n'),
    ('password += "abc"\n', 'password += "***"\n'),
    ('user, password = "ann", "abc"\n', 'user, password = "***", "***"\n'),
    ('TOKEN = b"abc"\n', 'TOKEN = b"***"\n'),
    ('TOKEN = rb"a\\b"\n', 'TOKEN = rb"*\\*"\n'),
    ('SECRET = ("abc"\n          "def")\n',
     'SECRET = ("***"\n          "***")\n'),
    ('SECRET = os.environ.get("S", "dflt")\n',
     'SECRET = os.environ.get("*", "****")\n'),
    ('SECRET = "abc" \\\n    "def"\n', 'SECRET = "***" \\\n    "***"\n'),
    ('SECRET = """ab\ncd"""\n', 'SECRET = """**\n**"""\n'),
    ("SECRET = '''it's'''\n", "SECRET = '''**'*'''\n"),
    ('SECRET = "a\\"b"\n', 'SECRET = "*\\"*"\n'),
    # keyword arguments and parameter defaults
    ('connect(host="db", password="abc")\n',
     'connect(host="db", password="***")\n'),
    ('def f(user, password="abc", *, token: str = "t"): pass\n',
     'def f(user, password="***", *, token: str = "*"): pass\n'),
    ('f(x, token=g("abc"), y="kept")\n', 'f(x, token=g("***"), y="kept")\n'),
    ('f(obj.password, note="kept")\n', 'f(obj.password, note="kept")\n'),
    ('if (token := "abc"): pass\n', 'if (token := "***"): pass\n'),
    # dict displays with secret-looking keys
    ('d = {"password": "abc", "user": "ann"}\n',
     'd = {"password": "***", "user": "ann"}\n'),
    ('d = {\n    "api_key": "abc",\n    "name": "kept",\n}\n',
     'd = {\n    "api_key": "***",\n    "name": "kept",\n}\n'),
    ('d = {"token": {"a": "b"}, "c": "kept"}\n',
     'd = {"token": {"*": "*"}, "c": "kept"}\n'),
    # f-strings: the literal parts, not the expressions
    ('TOKEN = f"tk-{user}-x"\n', 'TOKEN = f"***{user}**"\n'),
    ('TOKEN = f"{a!r:>{width}}z"\n', 'TOKEN = f"{a!r:>{width}}*"\n'),
    ('TOKEN = f"{d["k"]}end"\n', 'TOKEN = f"{d["k"]}***"\n'),
    ('TOKEN = f"a{{b}}c"\n', 'TOKEN = f"*{{*}}*"\n'),
    ('TOKEN = rf"\\d{n}"\n', 'TOKEN = rf"\\*{n}"\n'),
    ('TOKEN = t"tpl-{x}"\n', 'TOKEN = t"****{x}"\n'),
    # non-ASCII: one '*' per code point
    ('SECRET = "h\u00e9llo\u20ac\U0001f600"\n', 'SECRET = "*******"\n'),
    # what stays
    ('password = get_password()\n', 'password = get_password()\n'),
    ('x = "password"\n', 'x = "password"\n'),
    ('if password == "abc": pass\n', 'if password == "abc": pass\n'),
    ('print("token", end="")\n', 'print("token", end="")\n'),
    ('author = "ann"\n', 'author = "ann"\n'),
    ('# password = "abc"\n', '# password = "abc"\n'),
    ('s = "password = \'abc\'"\n', 's = "password = \'abc\'"\n'),
    ('x = 1; password = "abc"; y = "kept"\n',
     'x = 1; password = "***"; y = "kept"\n'),
    ('password = 1234\nnote = "kept"\n', 'password = 1234\nnote = "kept"\n'),
    ('d = {"author": "ann"}\n', 'd = {"author": "ann"}\n'),
    ('x = f"{password}"\n', 'x = f"{password}"\n'),
]


@pytest.mark.parametrize("source, expected", CASES)
def test_masks(source, expected):
    out, pieces = mask(source)
    assert out == expected
    assert bool(pieces) == (out != source)
    # the layout and the tokens are as they were
    assert [len(x) for x in out.split("\n")] == \
        [len(x) for x in source.split("\n")]
    before = [(t.type, t.start, t.end) for t in
              tokenize.generate_tokens(io.StringIO(source).readline)]
    after = [(t.type, t.start, t.end) for t in
             tokenize.generate_tokens(io.StringIO(out).readline)]
    assert before == after


def test_positions_of_the_pieces():
    source = 'x = 1\nAPI_KEY = "ab\u00e9"\nd = {"token": """a\nbc"""}\n'
    out, pieces = mask(source)
    assert pieces == [(2, 11, 2, 14, "name"), (3, 17, 4, 2, "name")]
    assert out.splitlines()[1][11:14] == "***"


def test_unreadable_text_stops_the_rules_where_it_stops():
    # an unterminated string: what came before is masked, nothing after
    source = 'API_KEY = "abc"\nx = "open\nTOKEN = "def"\n'
    out, _ = mask(source)
    assert out.splitlines()[0] == 'API_KEY = "***"'
    assert out.splitlines()[2] == 'TOKEN = "def"'
    # brackets that never close, text that is not Python: no crash
    for junk in ("((((((" * 100, "}}}]]])))", "f'{" * 50, "\x00\xff'",
                 "x = f'{a:" + "{b:" * 100000,
                 '"""' + "x" * 1000, "def f(:\n  password ="):
        mask(junk)


def test_without_names_only_the_hider_masks():
    source = 'PASSWORD = "abc"\nurl = "postgresql://u:tiger@h/db"\n'
    out, pieces = mask(source, patterns=(),
                       hide=_heapdump.Hider((), True))
    assert out == 'PASSWORD = "abc"\nurl = "postgresql://u:*****@h/db"\n'
    assert pieces == [(2, 22, 2, 27, "url")]
    out, pieces = mask(source, patterns=())
    assert out == source and pieces == []


def test_the_hider_values_in_comments_and_code():
    hider = _heapdump.Hider([("s3cr3t-value", _heapdump.HIDE_SUBSTRING |
                              _heapdump.HIDE_WHOLE)], False)
    source = 'x = "s3cr3t-value"  # s3cr3t-value\n'
    out, pieces = mask(source, hide=hider)
    assert out == 'x = "************"  # ************\n'
    assert [p[4] for p in pieces] == ["value", "value"]


def test_a_file_in_another_encoding_counts_bytes():
    source = '# -*- coding: latin-1 -*-\nAPI_KEY = "\xe9t\xe9"\n'
    out, pieces = _heapdump.mask_source(source.encode("latin-1"), NAMES)
    assert out.decode("latin-1") == \
        '# -*- coding: latin-1 -*-\nAPI_KEY = "***"\n'
    assert pieces == [(2, 11, 2, 14, "name")]


def test_a_bom_is_no_column():
    out, pieces = _heapdump.mask_source(
        b'\xef\xbb\xbfTOKEN = "abc"\n', NAMES)
    assert out == b'\xef\xbb\xbfTOKEN = "***"\n'
    assert pieces == [(1, 9, 1, 12, "name")]


def test_crlf_line_breaks():
    out, pieces = mask('a = 1\r\nTOKEN = "abc"\r\n')
    assert out == 'a = 1\r\nTOKEN = "***"\r\n'
    assert pieces == [(2, 9, 2, 12, "name")]


def test_own_sources_tokenize_the_same_after_masking():
    # every module of heapdump and of the standard library's tokenizer:
    # masked, each still tokenizes into the same tokens at the same places
    import glob
    import os

    files = glob.glob(os.path.join(os.path.dirname(heapdump.__file__),
                                   "*.py"))
    files += [tokenize.__file__, io.__file__]
    for name in files:
        with open(name, "rb") as f:
            raw = f.read()
        out, _ = _heapdump.mask_source(raw, NAMES,
                                       _heapdump.Hider((), True))
        text, masked = raw.decode(), out.decode()
        assert text.count("\n") == masked.count("\n"), name
        before = [(t.type, t.start, t.end) for t in
                  tokenize.generate_tokens(io.StringIO(text).readline)]
        after = [(t.type, t.start, t.end) for t in
                 tokenize.generate_tokens(io.StringIO(masked).readline)]
        assert before == after, name
