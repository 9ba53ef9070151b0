"""The facts of the format have one definition, src/format.h, exported by
the extension (heapdump._heapdump, heapdump._format): the specification's
tables (docs/format.rst) and the README's limits must say the same."""

import pathlib
import re

import pytest

import heapdump
from heapdump import _format, _heapdump, _surrogates

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = (ROOT / "docs" / "format.rst").read_text()
README = (ROOT / "README.rst").read_text()


def _table_rows(text, first, last):
    """{number: (name, description)} of the rows of the table whose rows
    are numbered from first to last; a row's description goes on over
    its continuation lines."""
    rows, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+)\s{2,}([A-Z]+)\s{2,}(.*)$", line)
        if m and first <= int(m.group(1)) <= last:
            current = int(m.group(1))
            rows[current] = [m.group(2), m.group(3)]
        elif current is not None and re.match(r"^\s{10,}\S", line):
            rows[current][1] += " " + line.strip()
        elif current is not None and line.startswith("=="):
            current = None
    return {n: tuple(v) for n, v in rows.items()}


OBJECT_ROWS = _table_rows(SPEC, 1, 63)
OTHER_ROWS = _table_rows(SPEC, 64, 255)


def test_the_record_kinds_are_the_specifications():
    spec = {n: name for n, (name, _) in OBJECT_ROWS.items()}
    spec.update({n: name for n, (name, _) in OTHER_ROWS.items()})
    assert spec == _format.KIND_NAMES
    assert max(OBJECT_ROWS) < _format.FIRST_OTHER <= min(OTHER_ROWS)
    for n, name in _format.KIND_NAMES.items():
        prefix = "K_" if n < _format.FIRST_OTHER else "R_"
        assert getattr(_heapdump, prefix + name) == n
        assert getattr(_format, name) == n


def _field_count(description):
    """The fields a row's first literal lists before a run of values
    ("v..." at the top level ends them); None when it has no literal."""
    m = re.match(r"``([^`]*)``", description)
    if m is None:
        return None
    fields, depth, item = [], 0, ""
    for c in m.group(1):
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        if c == "," and depth == 0:
            fields.append(item.strip())
            item = ""
        else:
            item += c
    fields.append(item.strip())
    if "v..." in fields:
        fields = fields[:fields.index("v...")]
    return len(fields)


@pytest.mark.parametrize("kind", sorted(_format.FIELDS))
def test_each_records_fields_are_those_the_specification_lists(kind):
    rows = OBJECT_ROWS if kind < _format.FIRST_OTHER else OTHER_ROWS
    name, description = rows[kind]
    types = _format.FIELDS[kind].replace("|", "")
    assert set(types) <= set("dvVN")
    assert _field_count(description) == len(types), (name, description)


def test_the_records_without_field_types_are_runs_of_values():
    # the containers, MORE and ROOTS: their fields are all values
    undescribed = set(_format.KIND_NAMES) - set(_format.FIELDS)
    assert {_format.KIND_NAMES[k] for k in undescribed} == {
        "TUPLE", "LIST", "DICT", "SET", "FROZENSET", "MORE", "ROOTS"}


def test_the_ext_types_are_the_specifications():
    spec = {int(n): name for n, name in
            re.findall(r"^ext (\d+) ``([A-Z]+)``", SPEC, re.M)}
    assert spec == _format.EXT_NAMES
    for n, name in _format.EXT_NAMES.items():
        assert getattr(_format, "EXT_" + name) == n


def test_the_code_kinds_and_type_flags_are_the_specifications():
    assert re.search(r"bit 0 local, bit 1 cell, bit 2 free\s+variable, "
                     r"bit 3 hidden", SPEC)
    assert (_format.CK_LOCAL, _format.CK_CELL, _format.CK_FREE,
            _format.CK_HIDDEN) == (1 << 0, 1 << 1, 1 << 2, 1 << 3)
    assert re.search(r"``flags``:\s+bit 0 heap type \(defined in Python\), "
                     r"bit 1 abstract", SPEC)
    assert (_format.TF_HEAPTYPE, _format.TF_ABSTRACT) == (1, 2)


def test_the_inline_records_fields_are_in_the_specifications_order():
    name, description = OTHER_ROWS[_format.INLINE]
    order = [t.strip() for t in
             re.match(r"``([^`]*)``", description).group(1).split(",")]
    assert order == ["str", "bytes", "int", "float"]
    assert [_format.INL_STR, _format.INL_BYTES, _format.INL_INT,
            _format.INL_FLOAT] == [0, 1, 2, 3]


def test_every_reason_of_a_redaction_is_specified_and_explained():
    reasons = set(_format.WHY_NAMES.values())
    for reason in reasons:
        assert '``"%s"``' % reason in SPEC, reason
    # the loader's words for each
    assert set(_surrogates.REDACTED_WHY) == reasons


def test_the_version_is_the_specifications():
    assert SPEC.splitlines()[1] == "The heapdump file, version %s" % (
        _format.FORMAT_VERSION,)
    assert _format.FORMAT_VERSION == "%d.%d" % (_format.FORMAT_MAJOR,
                                                _format.FORMAT_MINOR)
    assert heapdump.FORMAT_VERSION == _format.FORMAT_VERSION


def _size(text):
    number, _, unit = text.replace(",", "").partition(" ")
    return int(number) * {"": 1, "KiB": 1 << 10, "MiB": 1 << 20,
                          "GiB": 1 << 30}[unit]


def test_the_readmes_limits_are_the_dumpers():
    table = dict(re.findall(r"^``(max_\w+)``\s{2,}(\d[\d,]*(?: [KMG]iB)?)\s",
                            README, re.M))
    assert {k: _size(v) for k, v in table.items()} == heapdump.DEFAULT_LIMITS
    heap = heapdump.DEFAULT_HEAP_LIMITS
    text = " ".join(README.split())
    assert ("``max_objects`` {:,}, ``max_bytes`` {} GiB, no ``max_items``"
            .format(heap["max_objects"], heap["max_bytes"] >> 30)) in text
    assert heap["max_items"] is None
    assert {k: v for k, v in heap.items()
            if k not in ("max_objects", "max_bytes", "max_items")} == {
        k: v for k, v in heapdump.DEFAULT_LIMITS.items()
        if k not in ("max_objects", "max_bytes", "max_items")}


def test_the_defaults_are_new_dicts_each_time():
    a = _format.default_limits("heap")
    a["max_objects"] = 1
    assert _format.default_limits("heap")["max_objects"] != 1
    with pytest.raises(ValueError):
        _format.default_limits("everything")


def _writers_table():
    """docs/format.rst's "written in" table: (kind names, file) rows."""
    head = SPEC.index("records                                                "
                      "written in")
    body = SPEC[head:].split("\n")[2:]
    rows = []
    for line in body:
        if line.startswith("=="):
            break
        names, where = line[:55], line[55:]
        rows.append((re.findall(r"``([A-Z]+)``", names), names,
                     where.strip().strip("`")))
    return rows


def _packed_kinds(path):
    """The kinds a writer file writes as the first field of a record."""
    text = path.read_text()
    return set(re.findall(r"pack_uint8\([^;]*?\bHD_[KR]_([A-Z]+)\)", text)
               + re.findall(r"pack_(?:obj_)?header(?:_attrs)?\(d, HD_K_"
                            r"([A-Z]+)", text))


def test_the_specification_says_where_each_record_is_written():
    writers = {p.name: _packed_kinds(p)
               for p in (ROOT / "src" / "writer").glob("*.c")}
    said = {}
    for names, text, where in _writers_table():
        name = where.split("/")[-1]
        assert name in writers, where
        if not names:  # the object records
            assert "every object record" in text
            objects = {n for k, n in _format.KIND_NAMES.items()
                       if k < _format.FIRST_OTHER}
            for other, kinds in writers.items():
                if other != name:
                    assert not (kinds & objects) - said.keys(), other
            continue
        for n in names:
            said[n] = name
    others = {n for k, n in _format.KIND_NAMES.items()
              if k >= _format.FIRST_OTHER} | {"UNREADABLE", "NATIVE"}
    assert set(said) == others
    for n, name in said.items():
        assert [f for f, kinds in writers.items() if n in kinds] == [name], n
