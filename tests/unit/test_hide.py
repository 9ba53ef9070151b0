"""src/hide.c, the matcher a dump hides values with, through its Python
face (heapdump._heapdump.Hider): what it finds in str of every kind, bytes
and bytearray, where, and why."""

import pytest

from heapdump import _heapdump

IDENTITY = _heapdump.HIDE_IDENTITY
WHOLE = _heapdump.HIDE_WHOLE
SUBSTRING = _heapdump.HIDE_SUBSTRING
ENVIRON = _heapdump.HIDE_ENVIRON

KEY = "k3y-0f-the-site-9f8e7d"          # a secret known by value
SHORT = "pw-42"                         # one too short to hide inside others


@pytest.fixture(scope="module")
def hider():
    return _heapdump.Hider([(KEY, WHOLE | SUBSTRING), (SHORT, WHOLE),
                            ("envvalue-123", WHOLE | ENVIRON)], True)


@pytest.mark.parametrize("value, found", [
    # a secret inside others: str of kinds 1, 2 and 4, bytes, bytearray
    (KEY, [(0, 22, "value")]),
    ("x" + KEY + "y", [(1, 23, "value")]),
    ("\xe9" + KEY, [(1, 23, "value")]),                 # kind 1, not ASCII
    ("\u20ac\u20ac" + KEY + "\u20ac", [(2, 24, "value")]),          # kind 2
    ("\U0001f600" + KEY + "\U0001f600", [(1, 23, "value")]),         # kind 4
    (b"django.http.cookies" + KEY.encode(), [(19, 41, "value")]),
    (bytearray(b"<" + KEY.encode() + b">"), [(1, 23, "value")]),
    (KEY + KEY, [(0, 44, "value")]),                    # touching: merged
    (KEY[:-1], []),
    # a short secret only where it is equal
    (SHORT, [(0, 5, "value")]),
    (SHORT.encode(), [(0, 5, "value")]),
    ("my " + SHORT, []),
    ("envvalue-123", [(0, 12, "environ")]),
    ("envvalue-1234", []),
    # URL passwords: user and host kept
    ("postgresql://scott:tiger@db.example/shop", [(19, 24, "url")]),
    (b"redis://:s3cr3t@cache:6379/0", [(9, 15, "url")]),
    ("see https://u:p@ss@h/x and more", [(14, 18, "url")]),  # the last @
    ("https://user@host/path", []),                       # no password
    ("postgresql://scott:%s@db/shop", []),                 # a placeholder
    ("postgresql://scott:p%40ss@db/shop", [(19, 25, "url")]),
    ("text ://a:b@c", []),                                 # no scheme
    ("ftp://a:b@c/" + "x" * 40, [(8, 9, "url")]),
    ("http://host/a:b@c", []),                             # in the path
    # known key formats: the token, not the prefix
    ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc end", [(12, 36, "token")]),
    ("ghp_" + "a1B2" * 9, [(4, 40, "token")]),
    ("AKIAIOSFODNN7EXAMPLE", [(4, 20, "token")]),
    ("AKIAIOSFODNN7EXAMPLE1", []),                       # not 16 after it
    ("disk_live_" + "a" * 20, []),                       # inside a word
    ("xoxb-1234-5678-abcdefghij", [(5, 25, "token")]),
    ("sk_live_short", []),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlZm9yaXQ",
     [(3, 56, "token")]),
    ("eyJ" + "a" * 40, []),                              # no dots: no JWT
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n"
     "-----END RSA PRIVATE KEY-----\n", [(31, 49, "token")]),
    ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", []),
    # nothing
    ("", []), ("abc", []), (b"", []), (12345, []),
])
def test_what_is_found(hider, value, found):
    assert hider.scan(value) == found


def test_several_pieces_and_their_reasons(hider):
    text = "a=%s url=postgresql://u:tiger@h/db b=%s" % (KEY, KEY)
    assert hider.scan(text) == [(2, 24, "value"), (44, 49, "url"),
                                (57, 79, "value")]
    assert hider.mask(text) == \
        "a=[redacted] url=postgresql://u:[redacted]@h/db b=[redacted]"
    assert hider.mask("nothing here") == "nothing here"


def test_more_pieces_than_it_keeps_hide_the_whole_value(hider):
    many = " ".join([KEY] * 40)
    assert hider.scan(many) == [(0, len(many), "value")]


def test_overlapping_secrets_are_one_piece():
    h = _heapdump.Hider([("abcdefghij", WHOLE | SUBSTRING),
                         ("ghijklmnop", WHOLE | SUBSTRING),
                         ("defg", WHOLE)], False)
    assert h.scan("xxabcdefghijklmnopyy") == [(2, 18, "value")]
    assert h.scan("abcdefghij") == [(0, 10, "value")]
    assert h.scan("defg") == [(0, 4, "value")]
    assert h.scan("xdefg") == []


def test_a_bytes_secret_and_one_of_invalid_utf8():
    h = _heapdump.Hider([(b"\xffsecret-bytes\xfe", WHOLE | SUBSTRING),
                         ("caf\xe9-secret", WHOLE | SUBSTRING)], False)
    assert h.scan(b"..\xffsecret-bytes\xfe..") == [(2, 16, "value")]
    # a str secret is matched in UTF-8 inside bytes
    assert h.scan("caf\xe9-secret".encode()) == [(0, 12, "value")]
    assert h.scan("x caf\xe9-secret") == [(2, 13, "value")]


def test_identity_and_counts():
    holder = {"a": 1}
    other = {"a": 1}
    h = _heapdump.Hider([(holder, IDENTITY | ENVIRON), (KEY, WHOLE)], False)
    assert h.scan(holder) == [(0, 0, "environ")]
    assert h.scan(other) == []
    assert (h.objects, h.values, h.substrings, h.rules) == (1, 1, 0, False)
    # rules off: URLs and key formats are not looked at
    assert h.scan("postgresql://scott:tiger@db/shop") == []


def test_entries_are_checked():
    with pytest.raises(TypeError):
        _heapdump.Hider([("a", "b")])
    with pytest.raises(TypeError):
        _heapdump.Hider([(12, WHOLE)])
    with pytest.raises(TypeError):
        _heapdump.Hider(["abc"])
    with pytest.raises(ValueError, match="too large"):
        _heapdump.Hider([("x" * (2 << 20), WHOLE | SUBSTRING)])
    # empty values hide nothing
    assert _heapdump.Hider([("", WHOLE | SUBSTRING)], False).substrings == 0


def test_a_hostile_value_is_read_a_linear_number_of_times():
    # prefixes over and over: each token run is read once; PEM headers
    # without an end would be read far too often, so the value is hidden
    h = _heapdump.Hider((), True)
    many = "xoxb-" * 20000
    assert h.scan(many) == [(5, len(many), "token")]
    pem = "-----BEGIN PRIVATE KEY-----" * 40000
    assert h.scan(pem) == [(0, len(pem), "token")]
    urls = "a://" * 50000 + "b://u:p@h"
    assert h.scan(urls) == [(len(urls) - 3, len(urls) - 2, "url")]
