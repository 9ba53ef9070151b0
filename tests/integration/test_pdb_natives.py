"""Issue 12, point 3: C types of the standard library at the pdb prompt of
a dump, as the live program shows them.

A real child program (its source file deleted afterwards) makes datetime,
timezone, zoneinfo, Decimal, deque and array values, prints what each
expression below gives live, and dumps from an ``except`` block; then
``python -m heapdump.open`` is driven through stdin with the same
expressions, and pdb's replies must be the live ones.
"""

import json
import textwrap

import pytest
from test_pdb_dumps import heapdump_open, make_dump, replies

pytest.importorskip("heapdump._heapdump")

NATIVES = textwrap.dedent('''\
    import array
    import collections
    import datetime
    import decimal
    import json
    import re
    import sys

    import heapdump

    try:
        import zoneinfo
        ZONE = zoneinfo.ZoneInfo("America/New_York")
    except Exception:
        ZONE = None

    EXPRESSIONS = [
        "when", "when.tzinfo", "when.isoformat()", "str(when - start)",
        "day", "day.weekday()", "noon", "span", "span.total_seconds()",
        "ist", "price", "price * 3", "price.as_tuple()", "str(nan)",
        "recent", "recent.maxlen", "list(recent)", "len(recent)",
        "samples", "samples.typecode", "sum(samples)", "samples[-1]",
        "local", "local.tzinfo", "str(local)", "type(price).__name__",
        "sub", "sub.extra", "rx", "rx.flags", "rx.match('ab-12').groups()",
        "found", "found.group(2)", "found.span(1)", "found.groups()",
        "found.re is rx", "named['num']", "named.groupdict('-')",
        "named.lastgroup", "named.regs",
    ]


    class Total(collections.deque):
        def __init__(self, n):
            super().__init__(range(n), maxlen=n + 1)


    class Stamp(datetime.datetime):
        pass


    def report(out):
        start = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc)
        ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30),
                                "IST")
        when = datetime.datetime(2024, 3, 9, 17, 45, 12, 250000,
                                 tzinfo=ist)
        day = datetime.date(2024, 2, 29)
        noon = datetime.time(12, 0, tzinfo=datetime.timezone.utc)
        span = datetime.timedelta(days=2, hours=3, microseconds=9)
        price = decimal.Decimal("19.990")
        nan = decimal.Decimal("-sNaN12")
        recent = collections.deque(["a", "b", "c", "d"], maxlen=3)
        samples = array.array("d", [0.5, 1.25, -3.0])
        local = datetime.datetime(2024, 7, 4, 9, 30, tzinfo=ZONE)
        sub = Stamp(2001, 9, 9, 1, 46, 40)
        sub.extra = {"k": 1}
        rx = re.compile(r"(\\w+)-(\\d+)", re.IGNORECASE)
        found = rx.search("see AB-123 here")
        named = re.match(r"(?P<word>[a-z]+)(?P<num>\\d+)?(?P<tail>!)?",
                         "abc7")
        scope = dict(locals())
        live = {e: repr(eval(e, globals(), scope)) for e in EXPRESSIONS}
        del scope
        print(json.dumps(live))
        try:
            raise RuntimeError("report failed")
        except RuntimeError:
            heapdump.dump(out)


    report(sys.argv[1])
''')


def test_native_values_read_as_live(tmp_path):
    path, stdout, _ = make_dump(tmp_path, {"natives.py": NATIVES},
                                main="natives.py")
    live = json.loads(stdout.strip().splitlines()[-1])
    exprs = list(live)
    r = heapdump_open(tmp_path, path,
                      commands="".join("p %s\n" % e for e in exprs) +
                      "p Total(5)\n")
    assert r.stderr == ""
    out = replies(r.stdout)[1:]
    got = dict(zip(exprs, (o.rstrip("\n") for o in out)))
    assert got == live
    # a dumped class's constructor cannot run: one clear error, not the
    # real deque's __init__ answering instead
    assert "Total()" in out[len(exprs)] and \
        "cannot be called" in out[len(exprs)]
    # what was checked, so that the test cannot pass on empty answers
    assert live["recent.maxlen"] == "3"
    assert live["rx.match('ab-12').groups()"] == "('ab', '12')"
    assert live["found"] == "<re.Match object; span=(4, 10), match='AB-123'>"
    assert live["found.re is rx"] == "True"
    assert live["named.groupdict('-')"] == \
        "{'word': 'abc', 'num': '7', 'tail': '-'}"
    assert live["list(recent)"] == "['b', 'c', 'd']"
    assert live["price * 3"] == "Decimal('59.970')"
    assert live["local.tzinfo"] == "zoneinfo.ZoneInfo(key='America/" \
        "New_York')" or "no time zone database" and \
        live["local.tzinfo"] == "None"
    assert live["when.tzinfo"] == \
        "datetime.timezone(datetime.timedelta(seconds=19800), 'IST')"
