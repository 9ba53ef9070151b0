"""C types of the standard library written exactly (NATIVE records) and
rebuilt as the real objects: datetime and its family, zoneinfo, Decimal,
deque, array.  Each dumps in this process, loads, and compares with the
live object: value (==), type, tzinfo, maxlen, typecode."""

import array
import collections
import datetime
import decimal
import sys

import pytest
from scenes import roundtrip

from heapdump import _format, _natives
from heapdump import _surrogates as S
from records import raw_records

try:
    import zoneinfo
    zoneinfo.ZoneInfo("Europe/Paris")
    HAVE_TZDATA = True
except Exception:
    HAVE_TZDATA = False

CALLS = []


# ---------------------------------------------------------------- datetime

def test_datetime_family_is_real(tmp_path):
    utc = datetime.timezone.utc
    plus = datetime.timezone(datetime.timedelta(hours=5, minutes=30), "IST")
    values = {
        "naive": datetime.datetime(2024, 2, 29, 23, 59, 58, 999999),
        "aware": datetime.datetime(1999, 12, 31, 1, 2, 3, 4, tzinfo=plus),
        "utc": datetime.datetime(2030, 1, 1, tzinfo=utc),
        "fold": datetime.datetime(2021, 11, 7, 1, 30, fold=1),
        "date": datetime.date(1, 1, 1),
        "dmax": datetime.date.max,
        "time": datetime.time(12, 0, 1, 5, tzinfo=plus, fold=1),
        "delta": datetime.timedelta(days=-3, seconds=5, microseconds=7),
        "dmin": datetime.timedelta.min,
        "tz": plus,
        "tzanon": datetime.timezone(datetime.timedelta(hours=-8)),
    }
    _, got = roundtrip(tmp_path, values)
    for key, want in values.items():
        assert got[key] == want, key
        assert type(got[key]) is type(want), key
        assert repr(got[key]) == repr(want), key
    assert got["aware"].tzinfo is got["tz"]
    assert got["time"].tzinfo is got["tz"]
    assert got["utc"].tzinfo is datetime.timezone.utc
    assert got["fold"].fold == 1 and got["time"].fold == 1
    assert got["tz"].tzname(None) == "IST"
    assert str(got["aware"]) == str(values["aware"])


class MyDateTime(datetime.datetime):
    def __repr__(self):
        CALLS.append("__repr__")
        return "mine"

    def __reduce__(self):
        CALLS.append("__reduce__")
        return (str, ("x",))

    def label(self):
        return "label"


def test_datetime_subclass_keeps_class_and_dict(tmp_path):
    dt = MyDateTime(2020, 5, 17, 8, 30)
    dt.note = "kept"
    CALLS.clear()
    _, got = roundtrip(tmp_path, {"dt": dt})
    assert CALLS == []
    g = got["dt"]
    assert isinstance(g, datetime.datetime) and type(g) is not MyDateTime
    assert type(g).__qualname__ == "MyDateTime"
    assert datetime.datetime.__eq__(g, datetime.datetime(2020, 5, 17, 8, 30))
    assert g.year == 2020 and g.minute == 30
    assert g.__dict__ == {"note": "kept"}
    with pytest.raises(S.DumpedCodeError):
        g.label()


def test_python_tzinfo_is_kept(tmp_path):
    class Fixed(datetime.tzinfo):
        def utcoffset(self, dt):
            return datetime.timedelta(hours=1)

    tz = Fixed()
    dt = datetime.datetime(2001, 1, 1, tzinfo=tz)
    _, got = roundtrip(tmp_path, {"dt": dt, "tz": tz})
    assert got["dt"].tzinfo is got["tz"]
    assert (got["dt"].year, got["dt"].month) == (2001, 1)


@pytest.mark.skipif(not HAVE_TZDATA, reason="no time zone database")
def test_zoneinfo_by_key(tmp_path):
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    dt = datetime.datetime(2024, 7, 1, 12, tzinfo=paris)
    _, got = roundtrip(tmp_path, {"dt": dt, "z": paris})
    assert got["z"] is zoneinfo.ZoneInfo("Europe/Paris")
    assert got["dt"].tzinfo is got["z"]
    assert got["dt"] == dt and got["dt"].utcoffset() == dt.utcoffset()
    assert str(got["dt"]) == "2024-07-01 12:00:00+02:00"


def test_zone_names_are_values_the_hider_sees(tmp_path):
    # a timezone's name and a ZoneInfo's key are str values like any
    # other: a value given to hide= is not in the file, and the zone
    # comes back as a stand-in that says why, not as a wrong zone
    named = datetime.timezone(datetime.timedelta(hours=1), "Secret-Zone-Name")
    values = {"tz": named}
    hide = ["Secret-Zone-Name"]
    if HAVE_TZDATA:
        values["z"] = zoneinfo.ZoneInfo("America/Argentina/Buenos_Aires")
        hide.append("America/Argentina/Buenos_Aires")
    d, got = roundtrip(tmp_path, values, hide=hide)
    raw = repr(raw_records(tmp_path / "scene.dump"))
    for secret in hide:
        assert secret not in raw
    for key in values:
        assert isinstance(got[key], _natives.NativeStandIn), key
        assert "not a str" in got[key].reason, got[key]
        assert "<redacted: str" in repr(got[key]), repr(got[key])


def test_zoneinfo_unknown_here_is_a_stand_in():
    fields = [zoneinfo.ZoneInfo if HAVE_TZDATA else None,
              _natives.ZONEINFO, ["No/Such_Zone_On_This_Machine"]]
    z = _natives.make(1, fields)
    assert isinstance(z, _natives.ZoneInfoStandIn)
    assert z.key == "No/Such_Zone_On_This_Machine"
    assert "stand-in" in repr(z)
    dt = datetime.datetime(2024, 1, 1, tzinfo=z)
    with pytest.raises(S.DumpedAttributeError, match="No/Such_Zone"):
        dt.utcoffset()


def test_bad_state_is_a_stand_in_never_a_value():
    bad = _natives.make(1, [datetime.datetime, _natives.DATETIME,
                            [2020, 13, 1, 0, 0, 0, 0, None, 0]])
    assert isinstance(bad, _natives.NativeStandIn)
    assert "month" in bad.reason
    unknown = _natives.make(1, [None, 99, [1]])
    assert isinstance(unknown, _natives.NativeStandIn)


# ----------------------------------------------------------------- decimal

DECIMALS = ["0", "-0", "1.10", "-123456789012345678901234567890.0001",
            "1E+999999", "-1E-999999", "NaN", "-NaN123", "sNaN", "-sNaN7",
            "Infinity", "-Infinity", "0E-30", "9" * 100, "1" + "0" * 19,
            "12345678901234567890"]


def test_decimal_exact(tmp_path):
    values = [decimal.Decimal(s) for s in DECIMALS]
    _, got = roundtrip(tmp_path, values)
    for want, g in zip(values, got):
        assert type(g) is decimal.Decimal
        assert g.as_tuple() == want.as_tuple(), want
        assert str(g) == str(want)


class MyDecimal(decimal.Decimal):
    def __repr__(self):
        CALLS.append("__repr__")
        return "mine"

    def __reduce__(self):
        CALLS.append("__reduce__")
        return (str, ("x",))


def test_decimal_subclass(tmp_path):
    m = MyDecimal("3.14")
    m.unit = "EUR"
    CALLS.clear()
    _, got = roundtrip(tmp_path, {"m": m})
    assert CALLS == []
    g = got["m"]
    assert isinstance(g, decimal.Decimal) and type(g).__name__ == "MyDecimal"
    assert g.as_tuple() == m.as_tuple()
    assert g.__dict__ == {"unit": "EUR"}


def test_decimal_longer_than_max_string_stays_opaque(tmp_path):
    big = decimal.Decimal("7" * 300)
    _, got = roundtrip(tmp_path, {"big": big}, max_string=100)
    assert not isinstance(got["big"], decimal.Decimal)
    assert isinstance(got["big"], S.Opaque)


# ------------------------------------------------------------------- deque

def test_deque_items_and_maxlen(tmp_path):
    bounded = collections.deque(range(100), maxlen=10)
    free = collections.deque(["a", ("t",), None])
    empty = collections.deque(maxlen=0)
    selfish = collections.deque()
    selfish.append(selfish)
    selfish.append((selfish,))
    _, got = roundtrip(tmp_path, [bounded, free, empty, selfish])
    for want, g in zip((bounded, free, empty), got):
        assert type(g) is collections.deque
        assert g == want and g.maxlen == want.maxlen
    s = got[3]
    assert s[0] is s and s[1][0] is s
    assert repr(got[0]) == repr(bounded)


class MyDeque(collections.deque):
    def __iter__(self):
        CALLS.append("__iter__")
        return iter(())

    def __len__(self):
        CALLS.append("__len__")
        return 0

    def __repr__(self):
        CALLS.append("__repr__")
        return "mine"


def test_deque_subclass(tmp_path):
    dq = MyDeque([1, 2, 3], maxlen=5)
    dq.tag = "t"
    CALLS.clear()
    _, got = roundtrip(tmp_path, {"dq": dq})
    assert CALLS == []
    g = got["dq"]
    assert isinstance(g, collections.deque) and type(g).__name__ == "MyDeque"
    assert list(collections.deque.__iter__(g)) == [1, 2, 3]
    assert g.maxlen == 5 and g.__dict__ == {"tag": "t"}
    with pytest.raises(S.DumpedCodeError, match="__iter__"):
        iter(g)


def test_deque_cut_says_so(tmp_path):
    dq = collections.deque(range(50), maxlen=60)
    d, got = roundtrip(tmp_path, {"dq": dq}, max_items=10)
    g = got["dq"]
    assert isinstance(g, collections.deque) and len(g) == 10
    assert list(g) == list(range(10)) and g.maxlen == 60
    assert g.original_length == 50
    assert "40 more items not dumped, 50 in all" in repr(g)


# ------------------------------------------------------------------- array

def test_arrays(tmp_path):
    codes = "bBhHiIlLqQfd" + ("w" if sys.version_info >= (3, 13) else "u")
    values = {}
    for code in codes:
        if code in "uw":
            values[code] = array.array(code, "h\u00e9llo \U0001f600"
                                       if code == "w" else "h\u00e9llo")
        elif code in "fd":
            values[code] = array.array(code, [0.5, -1e300 if code == "d"
                                              else -2.0, float("inf")])
        else:
            values[code] = array.array(code, [0, 1, 100, 127])
    values["empty"] = array.array("i")
    _, got = roundtrip(tmp_path, values)
    for key, want in values.items():
        assert type(got[key]) is array.array, key
        assert got[key].typecode == want.typecode
        assert got[key] == want, key


def test_array_cut_says_so(tmp_path):
    arr = array.array("q", range(1000))
    _, got = roundtrip(tmp_path, {"a": arr}, max_items=100)
    g = got["a"]
    assert isinstance(g, array.array) and g.typecode == "q"
    assert g.tolist() == list(range(100)) and g.original_length == 1000
    assert "900 more items not dumped, 1,000 in all" in repr(g)


def test_an_array_this_python_cannot_make_still_reads(tmp_path):
    # a 'w' array dumped by 3.13 and opened by an older Python, and an
    # array of 4-byte 'l' items (another platform's) opened where 'l' has
    # 8: stand-ins that say so and give the items, never a wrong array
    text = "h\u00e9llo \U0001f600"
    w = _natives.make(1, [array.array, _natives.ARRAY,
                          ["w", 4, False, text.encode("utf-32-le")]])
    if sys.version_info >= (3, 13):
        assert type(w) is array.array and w.tounicode() == text
    else:
        assert isinstance(w, _natives.ArrayStandIn)
        assert "no typecode 'w' here" in repr(w)
        assert "".join(w.tolist()) == text and len(w) == len(text)
        assert w[1] == "\u00e9" and list(w)[-1] == "\U0001f600"
    raw = b"".join(v.to_bytes(4, "big", signed=True) for v in (1, -2, 70000))
    small = _natives.make(1, [array.array, _natives.ARRAY,
                              ["l", 4, True, raw]], cut=10)
    assert isinstance(small, _natives.ArrayStandIn)
    assert small.tolist() == [1, -2, 70000] and small.tobytes() == raw
    assert small.typecode == "l" and small.itemsize == 4
    assert small.original_length == 10
    assert "7 more items not dumped, 10 in all" in repr(small)
    assert "items of 4 bytes where an array 'l' has 8 here" in repr(small)
    # items of a size no format reads: the repr still says what it holds
    odd = _natives.make(1, [array.array, _natives.ARRAY, ["i", 3, False,
                                                          b"abcdef"]])
    assert "<6 bytes>" in repr(odd) and len(odd) == 2
    with pytest.raises(S.DumpedAttributeError):
        odd.tolist()
    # a subclass's own state needs its class: it stays a NativeStandIn
    sub = _natives.make(1, [MyArray, _natives.ARRAY, ["l", 4, True, raw]])
    assert isinstance(sub, _natives.NativeStandIn)


class MyArray(array.array):
    def __iter__(self):
        CALLS.append("__iter__")
        return iter(())


def test_array_subclass(tmp_path):
    a = MyArray("d", [1.5, 2.5])
    a.unit = "m"
    CALLS.clear()
    _, got = roundtrip(tmp_path, {"a": a})
    assert CALLS == []
    g = got["a"]
    assert isinstance(g, array.array) and type(g).__name__ == "MyArray"
    assert array.array.tolist(g) == [1.5, 2.5] and g.__dict__ == {"unit": "m"}


# ------------------------------------------------------------ the records

def test_records_are_native_and_others_unchanged(tmp_path):
    """The new kinds are NATIVE records; an ordinary C object (a compiled
    struct format) is still OPAQUE, and a C subclass with state of its own
    too."""
    import struct
    values = [datetime.date(2000, 1, 1), collections.deque([1]),
              struct.Struct("<i"), collections.defaultdict(int)]
    _, got = roundtrip(tmp_path, values)
    assert isinstance(got[2], S.Opaque)
    assert type(got[0]) is datetime.date
    assert type(got[1]) is collections.deque
    assert type(got[3]) is collections.defaultdict
    assert _format.NATIVE == 30
    assert _format.FORMAT_VERSION == "1.4"


def test_native_kinds_are_the_specifications():
    """docs/format.rst's "Native kinds" table and format.h's list agree."""
    import pathlib
    import re
    spec = (pathlib.Path(__file__).resolve().parents[2] / "docs" /
            "format.rst").read_text()
    section = spec.split("Native kinds\n------------\n", 1)[1]
    section = section.split("Other records\n", 1)[0]
    rows = dict((int(n), name) for name, n in
                re.findall(r"^([A-Z]+)\s+(\d+)  ", section, re.M))
    from heapdump import _heapdump
    ours = {getattr(_heapdump, n): n[len("NATIVE_"):]
            for n in dir(_heapdump) if n.startswith("NATIVE_")}
    assert rows == ours and len(rows) >= 15


# ---------------------------------------------------------------- patterns

def test_patterns(tmp_path):
    import re
    values = [re.compile(r"(?P<word>\w+)-(\d{2,})", re.IGNORECASE),
              re.compile(rb"^\x00+$", re.MULTILINE), re.compile("plain")]
    _, got = roundtrip(tmp_path, values)
    for want, g in zip(values, got):
        assert type(g) is re.Pattern
        assert (g.pattern, g.flags, g.groups) == \
            (want.pattern, want.flags, want.groups)
        assert g == want
    assert got[0].match("Ab-123").group("word") == "Ab"


def test_pattern_longer_than_max_string_stays_opaque(tmp_path):
    import re
    long = re.compile("a" * 300)
    _, got = roundtrip(tmp_path, {"p": long}, max_string=100)
    assert isinstance(got["p"], S.Opaque)
