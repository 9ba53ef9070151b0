"""The loader's protocol between C and Python, declared once on each side:
src/reader/protocol.h's table (exported as _heapdump.LOADER_CALLBACKS) and
heapdump._load.LOADER_PROTOCOL name the same attributes of the support
object, in the same order, with the same parameters; _Builder has every
one of them in the declared form; the C Loader fetches each exactly once
when it is made, and refuses a support object that lacks one, naming it."""

import inspect

import pytest

import heapdump
from heapdump import _heapdump, _load

PROTOCOL_NAMES = [row[0] for row in _load.LOADER_PROTOCOL]


def test_c_and_python_declare_the_same_protocol():
    declared = [(name, params) for name, params, _ in _load.LOADER_PROTOCOL]
    assert list(_heapdump.LOADER_CALLBACKS) == declared
    assert len(set(PROTOCOL_NAMES)) == len(PROTOCOL_NAMES)


@pytest.mark.parametrize("row", _load.LOADER_PROTOCOL, ids=PROTOCOL_NAMES)
def test_each_entry_has_a_one_line_contract(row):
    contract = row[2]
    assert isinstance(contract, str) and contract.strip()
    assert "\n" not in contract


def _positional(params):
    """The fixed parameter names of a declared call, and whether it
    declares *rest."""
    names = [p.strip() for p in params.split(",")]
    rest = bool(names) and names[-1].startswith("*")
    return [n for n in names if not n.startswith("*")], rest


@pytest.mark.parametrize("row", _load.LOADER_PROTOCOL, ids=PROTOCOL_NAMES)
def test_the_builder_answers_every_entry_as_declared(row, tmp_path):
    name, params, _ = row
    builder = _load._Builder(str(tmp_path / "x.heapdump"))
    value = getattr(builder, name)
    if params is None:
        if name == "HeapdumpError":
            assert issubclass(value, Exception)
        elif name.endswith("_classes"):
            assert isinstance(value, dict) and value
            assert all(isinstance(c, type) for c in value.values())
        else:
            assert not callable(value), name  # a sentinel
        return
    assert callable(value)
    fixed, rest = _positional(params)
    sig = inspect.signature(value)
    sig.bind(*fixed)  # the loader's call binds
    if rest:
        sig.bind(*fixed, "more", "and more")
    else:
        with pytest.raises(TypeError):
            sig.bind(*fixed, "one too many")


class _Recording(_load._Builder):
    """A _Builder that counts the reads of the protocol's names."""

    def __init__(self, *a, **kw):
        object.__setattr__(self, "reads", [])
        super().__init__(*a, **kw)

    def __getattribute__(self, name):
        if name in PROTOCOL_NAMES:
            object.__getattribute__(self, "reads").append(name)
        return object.__getattribute__(self, name)


def test_a_load_reads_each_entry_once_in_the_tables_order(tmp_path,
                                                          monkeypatch):
    made = []

    def builder(path):
        made.append(_Recording(path))
        return made[-1]

    monkeypatch.setattr(_load, "_Builder", builder)

    def inner():
        local = [1, "two", 3.0]  # noqa: F841  (dumped with the frame)
        return heapdump.dump(str(tmp_path / "p.heapdump"))

    path = inner()
    dump = heapdump.load(path)
    assert dump.threads  # a real load, with its classes, code and functions
    assert made and made[0].reads == PROTOCOL_NAMES


class _Missing:
    """A support object that is a _Builder but for one protocol name."""

    def __init__(self, builder, missing, value=None):
        self._builder = builder
        self._missing = missing
        self._value = value

    def __getattr__(self, name):
        if name == self._missing:
            if self._value is None:
                raise AttributeError(name)
            return self._value
        return getattr(self._builder, name)


def _loader(path, support):
    return _heapdump.Loader(str(path), 0, support, 1 << 20, 1 << 30)


@pytest.mark.parametrize("name", PROTOCOL_NAMES)
def test_a_support_object_without_an_entry_is_refused_by_name(name,
                                                              tmp_path):
    path = tmp_path / "x.heapdump"
    builder = _load._Builder(str(path))
    _loader(path, builder)  # the whole builder is accepted
    with pytest.raises(TypeError, match=r"support object has no %s \("
                       % name):
        _loader(path, _Missing(builder, name))


@pytest.mark.parametrize(
    "name", [n for n, p, _ in _load.LOADER_PROTOCOL if p is not None])
def test_a_call_that_is_not_callable_is_refused_by_name(name, tmp_path):
    path = tmp_path / "x.heapdump"
    support = _Missing(_load._Builder(str(path)), name, value=42)
    with pytest.raises(TypeError, match="%s is not callable" % name):
        _loader(path, support)


@pytest.mark.parametrize("name", ["cut_classes", "shell_classes"])
def test_a_class_table_that_is_not_a_dict_is_refused(name, tmp_path):
    path = tmp_path / "x.heapdump"
    support = _Missing(_load._Builder(str(path)), name, value=[1])
    with pytest.raises(TypeError, match="must be dicts"):
        _loader(path, support)
