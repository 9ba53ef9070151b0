"""re.Match as a NATIVE record: each answer of the loaded stand-in is
compared with the live match's, for matches with named and unmatched
groups, a bytes pattern, a searched slice; a match whose string cannot be
held whole stays opaque; nothing of a str subclass is called."""

import re

import pytest
from scenes import roundtrip

from heapdump import _natives
from heapdump import _surrogates as S

WORD = re.compile(r"(?P<word>\w+)(?:-(?P<num>\d+))?(x)?")

LIVE = {
    "search": WORD.search("  abc-12 z", 1, 9),
    "optional": WORD.match("hello"),
    "bytes": re.match(rb"(a)(b)?", b"ab"),
    "unnamed": re.compile(r"(\d)(\d)?").fullmatch("7"),
    "empty": re.match(r"x*", "yyy"),
    "long": re.search(r"b+", "a" + "b" * 70),
    "last": re.match(r"(a)|(b)", "b"),
}

QUESTIONS = [
    lambda m: m.group(), lambda m: m.group(0), lambda m: m[0],
    lambda m: m.groups(), lambda m: m.groups("-"), lambda m: m.groupdict(),
    lambda m: m.groupdict(0), lambda m: m.span(), lambda m: m.start(),
    lambda m: m.end(), lambda m: m.lastindex, lambda m: m.lastgroup,
    lambda m: m.regs, lambda m: m.pos, lambda m: m.endpos,
    lambda m: m.string, lambda m: m.re.pattern, lambda m: repr(m),
    lambda m: bool(m), lambda m: m.group(0, 1) if m.re.groups else None,
    lambda m: [m.span(i) for i in range(m.re.groups + 1)],
    lambda m: [m.group(i) for i in range(m.re.groups + 1)],
]


def answer(q, m):
    try:
        return ("=", q(m))
    except Exception as e:  # the same error type, live and loaded
        return ("!", type(e))


def test_each_answer_is_the_live_one(tmp_path):
    _, got = roundtrip(tmp_path, dict(LIVE))
    for key, live in LIVE.items():
        g = got[key]
        assert isinstance(g, _natives.DumpedMatch), (key, g)
        for i, q in enumerate(QUESTIONS):
            assert answer(q, g) == answer(q, live), (key, i)
        assert g.re == live.re
    # by name, and errors as live
    s = got["search"]
    assert s.group("word", "num") == ("abc", "12") and s["num"] == "12"
    assert s.span("num") == (6, 8) and s.start(3) == -1
    for bad in (9, "nope", -1, 1.5):
        with pytest.raises(IndexError):
            s.group(bad)
        with pytest.raises(IndexError):
            LIVE["search"].group(bad)
    assert repr(got["long"]) == repr(LIVE["long"])     # cut at 50
    assert got["last"].lastindex == 2 and got["last"].lastgroup is None


def test_the_pattern_is_shared_and_expand_refuses(tmp_path):
    a, b = WORD.match("one"), WORD.match("two-2")
    _, got = roundtrip(tmp_path, {"a": a, "b": b, "p": WORD})
    assert got["a"].re is got["b"].re is got["p"]
    with pytest.raises(S.DumpedCodeError, match="expand"):
        got["b"].expand(r"\g<num>")


class Text(str):
    calls = []

    def __getitem__(self, i):
        Text.calls.append("getitem")
        return str.__getitem__(self, i)

    def __len__(self):
        Text.calls.append("len")
        return str.__len__(self)


def test_a_string_not_held_whole_leaves_it_opaque(tmp_path):
    values = {"sub": re.match("ab", Text("abc")),
              "long": re.match("a", "a" * 300),
              "view": re.match(b"a", memoryview(b"abc"))}
    Text.calls.clear()
    _, got = roundtrip(tmp_path, values, max_string=100)
    assert Text.calls == []
    for key in values:
        assert isinstance(got[key], S.Opaque), key
    _, got = roundtrip(tmp_path, {"short": re.match("a", "a" * 50)},
                       max_string=100)
    assert got["short"].group() == "a"


def test_a_hidden_string_is_never_matched_on(tmp_path):
    secret = "tok_" + "9" * 20
    m = re.search(r"\d+", "key=" + secret)
    _, got = roundtrip(tmp_path, {"m": m}, hide=[secret])
    assert isinstance(got["m"], _natives.NativeStandIn)
    assert "hidden" in got["m"].reason
