"""Issue 12: the standard library's value classes that keep their state in
slots (Fraction, UUID, ipaddress's addresses) answer at the pdb prompt as
the live program did, from a real child's dump whose source is deleted;
a subclass of one, whose own methods cannot run, says so."""

import fractions
import ipaddress
import pathlib
import textwrap
import uuid

import pytest
from test_pdb_dumps import heapdump_open, make_dump, replies

pytest.importorskip("heapdump._heapdump")

APP = textwrap.dedent('''\
    import fractions
    import ipaddress
    import pathlib
    import sys
    import uuid

    import heapdump


    class Money(fractions.Fraction):
        def __repr__(self):
            return "Money!"


    def handle(out):
        fr = fractions.Fraction(3, 4)
        half = fractions.Fraction(1, 2)
        u = uuid.UUID(int=12345)
        ip4 = ipaddress.ip_address("10.1.2.3")
        ip6 = ipaddress.ip_address("fe80::1%eth0")
        money = Money(5, 2)
        base = pathlib.Path("/srv/app")
        rel = pathlib.Path("a", "b.tar.gz")
        win = pathlib.PureWindowsPath("C:/x/y.txt")
        try:
            raise ValueError(fr)
        except ValueError:
            heapdump.dump(out)


    handle(sys.argv[1])
''')

# each command and what the live program says to it
LIVE = {
    "fr": fractions.Fraction(3, 4),
    "fr * 2": fractions.Fraction(3, 2),
    "fr + half": fractions.Fraction(5, 4),
    "fr > half": True,
    "fr.limit_denominator(1)": fractions.Fraction(1, 1),
    "fr.numerator, fr.denominator": (3, 4),
    "u": uuid.UUID(int=12345),
    "u.hex": uuid.UUID(int=12345).hex,
    "str(u)": str(uuid.UUID(int=12345)),
    "u.int": 12345,
    "ip4": ipaddress.ip_address("10.1.2.3"),
    "ip4.is_private": True,
    "str(ip4 + 1)": "10.1.2.4",
    "ip6": ipaddress.ip_address("fe80::1%eth0"),
    "ip6.scope_id": "eth0",
    "base": pathlib.PosixPath("/srv/app"),
    "base / 'settings.py'": pathlib.PosixPath("/srv/app/settings.py"),
    "base.parent, base.name": (pathlib.PosixPath("/srv"), "app"),
    "rel.suffixes, rel.stem, str(rel)": (['.tar', '.gz'], 'b.tar',
                                         'a/b.tar.gz'),
    "rel == rel.parent / 'b.tar.gz', rel == base": (True, False),
    "win, win.drive": (pathlib.PureWindowsPath("C:/x/y.txt"), "C:"),
}


@pytest.fixture
def values_dump(tmp_path):
    path, _, _ = make_dump(tmp_path, {"app.py": APP})
    return path


def test_value_classes_answer_as_live(tmp_path, values_dump):
    commands = "".join("p %s\n" % c for c in LIVE)
    r = heapdump_open(tmp_path, values_dump, commands=commands)
    got = [x.strip() for x in replies(r.stdout)[1:len(LIVE) + 1]]
    assert got == [repr(v) for v in LIVE.values()], r.stdout + r.stderr


def test_equality_between_stand_ins(tmp_path, values_dump):
    # hash() is the stand-in's identity (README): a set or dict of the
    # dump holds its stand-ins by it
    r = heapdump_open(tmp_path, values_dump, commands=(
        "p fr == fr.limit_denominator(4), fr != half, sorted([fr, half])\n"
        "p fr in {fr}, len({fr, fr})\n"))
    got = [x.strip() for x in replies(r.stdout)[1:3]]
    assert got == ["(True, True, [Fraction(1, 2), Fraction(3, 4)])",
                   "(True, 1)"], r.stdout + r.stderr


def test_a_path_does_not_look_at_this_machines_files(tmp_path, values_dump):
    # live, /srv/app did not exist; here it might: either way the dump
    # cannot know, and says so
    r = heapdump_open(tmp_path, values_dump, commands=(
        "p base.exists()\n"
        "p (base / 'x').read_text()\n"))
    out = replies(r.stdout)
    for reply, name in ((out[1], "exists"), (out[2], "read_text")):
        assert ("DumpedAttributeError: PosixPath.%s cannot answer on a dump"
                % name) in reply, r.stdout


def test_a_subclass_does_not_answer_as_its_base(tmp_path, values_dump):
    # live: repr(money) is "Money!" and money * 2 is Fraction(5, 1); the
    # dump cannot run Money.__repr__, and must not pass Fraction's answer
    # off as Money's
    r = heapdump_open(tmp_path, values_dump, commands=(
        "p money\n"
        "p money * 2\n"))
    out = replies(r.stdout)
    assert out[1].strip().startswith("<__main__.Money object at 0x"), \
        r.stdout
    assert "DumpedAttributeError" in out[2] or "TypeError" in out[2], \
        r.stdout
    assert "Fraction(5, 1)" not in out[2]
