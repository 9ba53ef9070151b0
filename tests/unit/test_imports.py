"""heapdump's Python modules import one another in one direction: no
cycle, imports inside functions included (read from the source with ast,
nothing imported).

An edge goes from a module to each heapdump module it imports: ``import
heapdump.x``, ``from heapdump import x`` (x a module) and ``from
heapdump.x import name`` give heapdump.x; ``import heapdump`` and ``from
heapdump import name`` (name not a module) give the package itself,
heapdump/__init__.py.  The package a module sits in is not an edge (Python
imports it first anyway, and heapdump/__init__.py importing its modules is
the point of a package).
"""

import ast
import importlib.machinery
import pathlib

import pytest

import heapdump

PACKAGE = pathlib.Path(heapdump.__file__).parent
EXTENSIONS = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len,
                    reverse=True)


def modules(root):
    """{dotted name: path} of the .py files of the package at root, and
    {dotted name: None} of its C extensions (which import nothing of
    ours)."""
    found = {}
    for path in sorted(root.rglob("*")):
        suffix = next((s for s in EXTENSIONS if path.name.endswith(s)),
                      None)
        if suffix is not None:
            parts = path.relative_to(root.parent).parts
            found[".".join(parts[:-1] + (path.name[:-len(suffix)],))] = None
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name, path, known):
    """{imported module: first line} of the module name at path."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    out.setdefault(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                full = base + "." + alias.name
                if full in known:
                    out.setdefault(full, node.lineno)
                elif base in known:
                    out.setdefault(base, node.lineno)
    return out


def graph(root):
    known = modules(root)
    return {name: imports(name, path, known) if path else {}
            for name, path in known.items()}


def cycles(edges):
    """The strongly connected components of more than one module (or of
    a module importing itself), each sorted (Tarjan, iteratively)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, successors = work[-1]
            for w in successors:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1 or v in edges.get(v, ()):
                        found.append(sorted(component))
    return found


def test_no_import_cycle_between_heapdumps_modules():
    edges = graph(PACKAGE)
    # the walk sees what is there: top-level, in-function and relative
    # imports, the aliases and the subpackages
    assert "heapdump._heapdump" in edges["heapdump._writer"]     # the C one
    assert "heapdump._writer" in edges["heapdump"]
    assert "heapdump._triggers" in edges["heapdump"]       # in __getattr__
    assert "heapdump.cli.run" in edges["heapdump.__main__"]
    assert "heapdump.integrations.wsgi" in edges["heapdump.wsgi"]
    assert "heapdump.integrations._shared" in \
        edges["heapdump.integrations.django"]
    problems = cycles(edges)
    described = [" -> ".join(c) + "  (" + "; ".join(
        "%s imports %s at line %d" % (a, b, edges[a][b])
        for a in c for b in sorted(edges[a]) if b in c) + ")"
        for c in problems]
    assert problems == [], "\n".join(described)


def test_nothing_below_the_package_imports_it():
    """heapdump/__init__.py re-exports; the modules it reaches (the
    writer, the triggers, the loader, the analysis) never import it
    back: what they share lives in a module of its own."""
    edges = graph(PACKAGE)
    reached, todo = set(), ["heapdump"]
    while todo:
        for m in edges[todo.pop()]:
            if m not in reached:
                reached.add(m)
                todo.append(m)
    assert "heapdump._load" in reached and "heapdump._heap" in reached
    assert sorted(m for m in reached if "heapdump" in edges[m]) == []


@pytest.mark.parametrize("body", [
    # at the top
    {"__init__.py": "from pkg import a\n", "a.py": "import pkg.b\n",
     "b.py": "from pkg import a\n"},
    # inside a function, relative, and through the package's own names
    {"__init__.py": "def f():\n    from . import a\n",
     "a.py": "def g():\n    import pkg\n    return pkg.x\n"},
    # through a subpackage
    {"__init__.py": "", "a.py": "from pkg.sub.c import x\n",
     "sub/__init__.py": "", "sub/c.py": "from ..a import y\n"},
])
def test_the_check_finds_a_cycle(tmp_path, body):
    root = tmp_path / "pkg"
    for name, text in body.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert len(cycles(graph(root))) == 1
