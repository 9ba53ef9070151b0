"""heapdump/_heapdump.pyi describes the C extension as it is built: every
function, constant and type it exports is in the stub and nothing else,
with the functions' parameters (where the C docstring gives a signature),
the types' methods and attributes, and the constants' types.  A new
export without its stub line fails here."""

import ast
import pathlib
import re

import pytest

from heapdump import _heapdump

STUB = pathlib.Path(__file__).parents[2] / "heapdump" / "_heapdump.pyi"


def stub():
    return ast.parse(STUB.read_text(encoding="utf-8"), str(STUB))


def members(body):
    """{name: ast node} of the definitions of a module or class body."""
    out = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign) and \
                isinstance(node.target, ast.Name):
            out[node.target.id] = node
    return out


def exported(obj):
    return {n for n in dir(obj) if not (n.startswith("__") and
                                        n.endswith("__"))}


def own(cls):
    """The names a C type defines itself (its methods and attributes)."""
    return {n for n in vars(cls) if not (n.startswith("__") and
                                         n.endswith("__"))}


def test_the_stub_names_every_export_and_nothing_else():
    names = set(members(stub().body))
    built = exported(_heapdump)
    assert sorted(built - names) == [], "exported, not in the stub"
    assert sorted(names - built) == [], "in the stub, not exported"


def _annotation_type(node):
    text = ast.unparse(node.annotation)
    base = text.split("[", 1)[0]
    return {"int": int, "str": str, "dict": dict, "Tuple": tuple}[base]


def test_the_constants_have_the_stubs_types():
    checked = 0
    for name, node in members(stub().body).items():
        if isinstance(node, ast.AnnAssign):
            value = getattr(_heapdump, name)
            assert type(value) is _annotation_type(node), name
            checked += 1
    assert checked > 80


def _parameters(node, skip_self=False):
    """[(name, kind, has default)] of a stub function."""
    a = node.args
    out = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + a.defaults
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        if skip_self and i == 0:
            continue
        kind = "POSITIONAL_ONLY" if arg in a.posonlyargs else \
            "POSITIONAL_OR_KEYWORD"
        out.append((arg.arg, kind, default is not None))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, "KEYWORD_ONLY", default is not None))
    return out


def _signature(obj):
    """[(name, kind, has default)] of a C function or type, read from its
    __text_signature__ (the "name(...)\\n--\\n\\n" line of its docstring)
    with ast, the same way on every Python; None when it has none."""
    text = getattr(obj, "__text_signature__", None)
    if not text:
        return None
    # the implicit first parameter ($module, $self, $type) is not one
    text = re.sub(r"^\(\$\w+(?:, /)?(?:, |(?=\)))", "(", text)
    node = ast.parse("def f%s: pass" % text).body[0]
    return [p for p in _parameters(node) if p[0] != "self"]


def test_the_functions_take_the_stubs_parameters():
    compared = []
    for name, node in members(stub().body).items():
        if isinstance(node, ast.FunctionDef):
            built = _signature(getattr(_heapdump, name))
            if built is not None:
                assert _parameters(node) == built, name
                compared.append(name)
    # every function of the extension has a text signature today
    assert len(compared) == len([n for n in members(stub().body).values()
                                 if isinstance(n, ast.FunctionDef)])


@pytest.mark.parametrize("name", ["Graph", "Hider", "Loader", "Surrogate"])
def test_the_types_have_the_stubs_methods(name):
    node = members(stub().body)[name]
    assert isinstance(node, ast.ClassDef)
    described = members(node.body)
    init = described.pop("__init__", None)
    cls = getattr(_heapdump, name)
    assert sorted(own(cls)) == sorted(described), name
    for method, fn in described.items():
        if isinstance(fn, ast.FunctionDef) and not fn.decorator_list:
            built = _signature(getattr(cls, method))
            if built is not None:
                assert _parameters(fn, skip_self=True) == built, \
                    "%s.%s" % (name, method)
    built = _signature(cls)
    if built is not None:
        assert init is not None and \
            _parameters(init, skip_self=True) == built, name
