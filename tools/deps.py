"""The shape of the tree: cycles between files, and files or functions past
the sizes.

    python tools/deps.py [--root DIR] [--baseline FILE] [--figures]

Reads, under --root (the project by default):

- the C files of src/ (``*.c``, ``*.h``): a file depends on every file it
  includes with ``#include "..."`` (resolved beside it, then under src/),
  and a ``.c`` file depends on every other ``.c`` file that defines a
  function it calls (the functions a file defines without ``static``);
- the Python modules of heapdump/: a module depends on every module of the
  package it imports, anywhere in it (imports inside functions included,
  ``if TYPE_CHECKING:`` blocks left out, as they never run).  ``import
  heapdump`` or ``from heapdump import name`` (``name`` not a submodule)
  is a dependency on the package's ``__init__.py``; importing a submodule
  is not one on its parents.

and reports:

- every cycle (a strongly connected component of more than one file, or a
  file that imports itself), with one path through it;
- every C file over 1,200 lines and every C function over 120 lines,
  unless a comment says why: ``size:`` followed by the reason, in a comment
  among the first 40 lines of the file (for the file) or in the 20 lines
  above the function's name (for the function), e.g. ``/* size: one switch
  over the record kinds, one case each */``.

Exit status: 1 when a cycle or an unexplained size is found that the
baseline does not list, or when the baseline lists one that is gone (the
baseline only shrinks); 0 otherwise.  The baseline (one finding a line, as
this tool prints them after "known: " or "new: "; ``#`` comments) holds
what is known and left to do.  --figures prints the file sizes and the
largest C functions too.
"""

import argparse
import ast
import os
import re
import sys

MAX_FILE_LINES = 1200
MAX_FUNCTION_LINES = 120
MARKER = "size:"
FILE_MARKER_LINES = 40
FUNCTION_MARKER_LINES = 20

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# PEP 7 (clang-format here): the return type on a line of its own, the
# name at the start of the next one, the body's braces in column 0
_DEFINITION = re.compile(r"^([A-Za-z_]\w*)\(")
_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


# ------------------------------------------------------------------ C


def _blank(match):
    """A comment or string replaced by as many newlines as it held."""
    return "\n" * match.group(0).count("\n")


def _strip(text):
    """C text without comments and string literals, lines kept."""
    out = []
    i = 0
    # one pass, strings before comments: a "/*" inside a string is text
    pattern = re.compile(
        r'"(?:\\.|[^"\\\n])*"|' r"'(?:\\.|[^'\\\n])*'|/\*.*?\*/|//[^\n]*", re.S
    )
    for m in pattern.finditer(text):
        out.append(text[i : m.start()])
        out.append(_blank(m))
        i = m.end()
    out.append(text[i:])
    return "".join(out)


class CFunction:
    def __init__(self, name, path, start, end, static):
        self.name = name
        self.path = path
        self.start = start  # 1-based line of the name
        self.end = end  # 1-based line of the closing brace
        self.static = static

    @property
    def lines(self):
        return self.end - self.start + 1


def c_functions(path, text):
    """The functions defined in a C file, from the PEP 7 layout, with the
    text of each one's body (comments and strings removed)."""
    lines = text.split("\n")
    code = _strip(text).split("\n")
    found = []
    i = 0
    while i < len(code):
        m = _DEFINITION.match(code[i])
        if not m or m.group(1) in ("if", "while", "for", "switch", "return"):
            i += 1
            continue
        # the opening brace in column 0 before any ';' ends a definition
        j = i
        while j < len(code) and not code[j].startswith("{"):
            if code[j].rstrip().endswith(";"):
                break
            j += 1
        if j >= len(code) or not code[j].startswith("{"):
            i += 1
            continue
        k = j + 1
        while k < len(code) and not code[k].startswith("}"):
            k += 1
        before = code[i - 1] if i else ""
        static = before.startswith("static")
        fn = CFunction(m.group(1), path, i + 1, k + 1, static)
        fn.body = "\n".join(code[j : k + 1])
        fn.above = "\n".join(lines[max(0, i - FUNCTION_MARKER_LINES) : i + 1])
        found.append(fn)
        i = k + 1
    return found


def _resolve_include(name, here, src):
    for base in (here, src):
        p = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(p):
            return p
    return None


def c_graph(root):
    """(edges, files, functions): edges maps a C file (relative path) to
    the set of files it depends on."""
    src = os.path.join(root, "src")
    files = {}
    for d, _, names in os.walk(src):
        for n in sorted(names):
            if n.endswith((".c", ".h")):
                p = os.path.join(d, n)
                with open(p, encoding="utf-8") as f:
                    files[os.path.relpath(p, root)] = f.read()
    edges = {p: set() for p in files}
    functions = []
    exported = {}  # function name -> the .c file defining it
    per_file = {}
    for rel, text in files.items():
        here = os.path.dirname(os.path.join(root, rel))
        for name in _INCLUDE.findall(_COMMENT.sub("", text)):
            target = _resolve_include(name, here, src)
            if target is not None:
                t = os.path.relpath(target, root)
                if t in edges and t != rel:
                    edges[rel].add(t)
        if rel.endswith(".c"):
            fns = c_functions(rel, text)
            per_file[rel] = fns
            functions.extend(fns)
            for fn in fns:
                if not fn.static:
                    exported.setdefault(fn.name, rel)
    for rel, fns in per_file.items():
        local = {fn.name for fn in fns}
        for fn in fns:
            for called in _CALL.findall(fn.body):
                target = exported.get(called)
                if target and target != rel and called not in local:
                    edges[rel].add(target)
    return edges, files, functions


# ------------------------------------------------------------- Python


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree):
    """Every Import / ImportFrom node, TYPE_CHECKING blocks left out."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def python_graph(root, package="heapdump", extensions=("_heapdump",)):
    """edges between the modules of the package (dotted names).  The
    extension modules named (C, no imports of their own) are leaves."""
    base = os.path.join(root, package)
    modules = {}
    for d, dirs, names in os.walk(base):
        dirs[:] = sorted(x for x in dirs if not x.startswith((".", "__")))
        for n in sorted(names):
            if not n.endswith(".py"):
                continue
            p = os.path.join(d, n)
            parts = os.path.relpath(p, root)[:-3].split(os.sep)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            modules[".".join(parts)] = (p, is_pkg)
    edges = {m: set() for m in modules}
    leaves = {package + "." + e for e in extensions}
    for mod, (path, is_pkg) in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        pkg = mod if is_pkg else mod.rpartition(".")[0]
        for node in _imports(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    anchor = pkg.split(".")
                    if node.level > 1:
                        anchor = anchor[: -(node.level - 1)]
                    if node.module:
                        anchor = anchor + [node.module]
                    origin = ".".join(anchor)
                else:
                    origin = node.module or ""
                for a in node.names:
                    sub = origin + "." + a.name
                    known = sub in modules or sub in leaves
                    targets.append(sub if known else origin)
            for t in targets:
                if t in leaves:
                    continue
                # the longest module of the package the name starts with
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    edges[mod].add(t)
    return edges


# ------------------------------------------------------------- graphs


def cycles(edges):
    """The strongly connected components of more than one node (Tarjan,
    iterative), each as a sorted list, sorted."""
    index = {}
    low = {}
    on = set()
    stack = []
    out = []
    counter = [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in edges:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    advanced = True
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def cycle_path(edges, comp):
    """One closed path through a component: its first node, back to it."""
    members = set(comp)
    start = comp[0]
    # breadth-first from start's successors back to start
    prev = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt = []
        for n in frontier:
            for m in sorted(edges[n]):
                if m not in members:
                    continue
                if m == start:
                    path = [n]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if m not in seen:
                    seen.add(m)
                    prev[m] = n
                    nxt.append(m)
        frontier = nxt
    return comp


# ------------------------------------------------------------- report


def findings(root):
    """(findings, figures): findings are one-line strings, stable across
    runs (no line numbers), the baseline's vocabulary."""
    out = []
    c_edges, c_files, functions = c_graph(root)
    members = {}
    for comp in cycles(c_edges):
        out.append("C cycle: " + " -> ".join(cycle_path(c_edges, comp)))
        members[out[-1]] = comp
    py_edges = python_graph(root)
    for comp in cycles(py_edges):
        out.append("Python cycle: " + " -> ".join(cycle_path(py_edges, comp)))
        members[out[-1]] = comp
    for rel, text in sorted(c_files.items()):
        n = text.count("\n")
        head = "\n".join(text.split("\n")[:FILE_MARKER_LINES])
        if n > MAX_FILE_LINES and MARKER not in head:
            out.append(f"C file over {MAX_FILE_LINES} lines: {rel}")
    for fn in functions:
        if fn.lines > MAX_FUNCTION_LINES and MARKER not in fn.above:
            out.append(f"C function over {MAX_FUNCTION_LINES} lines: "
                       f"{fn.path} {fn.name}")
    figures = {
        "files": sorted(
            ((t.count("\n"), r) for r, t in c_files.items()), reverse=True
        ),
        "functions": sorted(
            ((fn.lines, fn.path, fn.name) for fn in functions), reverse=True
        ),
        "c_edges": c_edges,
        "py_edges": py_edges,
        "members": members,
    }
    return out, figures


def read_baseline(path):
    if not path or not os.path.exists(path):
        return set()
    with open(path, encoding="utf-8") as f:
        return {
            line.strip()
            for line in f
            if line.strip() and not line.lstrip().startswith("#")
        }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--root", default=here)
    parser.add_argument("--baseline", default=None)
    parser.add_argument("--figures", action="store_true")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    found, figures = findings(args.root)
    known = read_baseline(args.baseline)
    status = 0
    for f in found:
        if f in known:
            print("known:", f)
        else:
            print("new:", f)
            status = 1
        comp = figures["members"].get(f)
        if comp and len(comp) > 2:
            print(f"    ({len(comp)} in the cycle: {', '.join(comp)})")
    for f in sorted(known - set(found)):
        print("gone (remove it from the baseline):", f)
        status = 1
    if args.figures:
        print(f"\nC files ({sum(n for n, _ in figures['files'])} lines):")
        for n, r in figures["files"]:
            print(f"  {n:6d}  {r}")
        print(f"\nthe {args.top} largest C functions:")
        for n, p, name in figures["functions"][: args.top]:
            print(f"  {n:6d}  {p} {name}")
    if not found:
        print("deps: no cycle, no unexplained size")
    return status


if __name__ == "__main__":
    sys.exit(main())
