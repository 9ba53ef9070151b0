"""What holds the memory: heap analysis on a dump's records.

    h = heapdump.load(path).heap()      # or HeapGraph(path): no surrogates
    h.histogram()                       # types: count, shallow, retained
    h.top(10)                           # the largest retainers
    h.paths_to(obj)                     # why is it alive
    h.referrers(obj)                    # who holds it (and what the dump
                                        # does not show)
    h.suspects()                        # where the memory accumulates
    heapdump.compare(a, b)              # two dumps, by type

The graph is built in C (src/graph_build.c, src/dominators.c) from the
records in one streaming pass, without making an object per record:
dense ids, successor lists, a type and a size per object.  Dominators by
SEMI-NCA, retained sizes, shortest paths from the roots by BFS.  Edge
labels (a dict key, an attribute, a local variable) are not kept: the few
shown are read again from the records (``Graph.fetch``).

Semantics (docs/analysis.rst): the roots are the threads (all their
frames), the dumped exception, the context and, in a heap-scope dump, the
modules, builtins, sys and the GC's unreached objects; what no root
reaches through strong references is "unattributed".  A WEAKREF's referent
is a weak edge: it never retains.  An instance's attribute storage is part
of the instance; values written inline are part of their container.  A
retained size whose dominator subtree lost references to a limit (a cut
container, an omitted object) is a lower bound, shown with ``>=``.
"""

from __future__ import annotations

import os
import sys
import time

from heapdump import _format as F
from heapdump import _heapdump
from heapdump._errors import HeapdumpError
from heapdump._header import read_headers
from heapdump._identity import id_of

__all__ = ["DEFAULT_LIMITS", "HeapGraph", "ObjRef", "compare", "why"]

#: Limits of the analysis' reader against hostile files: bigger than the
#: loader's (a heap-scope dump may hold tens of millions of objects), still
#: bounded.  None for none.
DEFAULT_LIMITS = {
    "max_record_bytes": 256 << 20,
    "max_body_bytes": 64 << 30,
    "max_objects": 200_000_000,
    "max_ratio": 200,
}

# record kinds (src/format.h)
_TUPLE, _LIST, _DICT, _SET, _FROZENSET = (
    F.TUPLE, F.LIST, F.DICT, F.SET, F.FROZENSET)
_STR, _BYTES = F.STR, F.BYTES
_TYPE, _INSTANCE, _FUNCTION, _CFUNCTION, _CODE = (
    F.TYPE, F.INSTANCE, F.FUNCTION, F.CFUNCTION, F.CODE)
_MODULE, _FRAME = F.MODULE, F.FRAME
_CONTAINERS = (_TUPLE, _LIST, _DICT, _SET, _FROZENSET)

# node flags (src/analysis/graph.h)
_CUT, _IMMORTAL, _VIRTUAL, _LOWER = (
    _heapdump.GF_CUT, _heapdump.GF_IMMORTAL, _heapdump.GF_VIRTUAL,
    _heapdump.GF_LOWER)

_KEY_CHARS = 40


# ----------------------------------------------------------------- helpers

def human(n, exact=False):
    """A byte count as 12.3 KiB / 4.0 MiB (exact: the number)."""
    if exact:
        return "{:,}".format(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            if unit == "B":
                return "%d B" % n
            return "%.1f %s" % (n, unit)
        n /= 1024.0
    return str(n)


def _short(text, limit=_KEY_CHARS):
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _key_repr(key, keys=True):
    if not keys:
        return "[\u2026]"
    if isinstance(key, str):
        return "[%s]" % _short(repr(key), _KEY_CHARS + 2)
    if isinstance(key, (int, float, bytes, bool)) or key is None:
        return "[%s]" % _short(repr(key))
    return "[\u2026]"


class _Progress:
    """A progress line on stderr for anything that takes more than a
    second, on a terminal only."""

    def __init__(self, enabled=None, stream=None):
        self.stream = stream or sys.stderr
        if enabled is None:
            try:
                enabled = self.stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, text):
        if not self.enabled or time.monotonic() - self.start < 1.0:
            return
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self.shown = True

    def done(self):
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class ObjRef:
    """An object of the dump, by its id (``ordinal``), without loading
    it.  ``address``, ``summary`` and the rest come from its record
    (``HeapGraph.describe``); ``surrogate()`` returns the loaded object,
    in a graph of a loaded dump (``Dump.heap()``)."""

    __slots__ = ("graph", "ordinal", "_info")

    def __init__(self, graph, ordinal, info=None):
        self.graph = graph
        self.ordinal = ordinal
        self._info = info

    def _get(self):
        if self._info is None:
            self._info = self.graph.describe([self.ordinal]).get(
                self.ordinal, {})
        return self._info

    @property
    def virtual(self):
        return self.ordinal >= self.graph.n

    @property
    def address(self):
        return None if self.virtual else self._get().get("address")

    @property
    def refcnt(self):
        return None if self.virtual else self._get().get("refcnt")

    @property
    def type_name(self):
        return self.graph.type_name(self.ordinal)

    @property
    def shallow(self):
        return self.graph.shallow(self.ordinal)

    @property
    def retained(self):
        return self.graph.retained(self.ordinal)

    @property
    def summary(self):
        return self.graph.summary(self.ordinal, self._get())

    def surrogate(self):
        dump = self.graph.dump
        if dump is None:
            # the loader is above the analysis: a graph made from a path
            # has no loaded objects (heapdump.load(path).heap() has)
            raise HeapdumpError("%s: a graph made from the path has no "
                                "loaded objects: use heapdump.load(path)"
                                ".heap()" % self.graph.path)
        if self.virtual:
            return None
        return dump.objects[self.ordinal]

    @property
    def id(self):
        return "@%d" % self.ordinal

    def __eq__(self, other):
        return isinstance(other, ObjRef) and other.ordinal == self.ordinal \
            and other.graph is self.graph

    def __hash__(self):
        return hash(self.ordinal)

    def __repr__(self):
        return "<ObjRef %s %s>" % (self.id, self.summary)


class Path:
    """A path from a root: steps [(label, ObjRef)], the first label the
    root's.  str() renders it on one line."""

    __slots__ = ("steps", "target")

    def __init__(self, steps, target):
        self.steps = steps
        #: the ObjRef the path leads to
        self.target = target

    def __str__(self):
        parts = []
        for label, ref in self.steps:
            if ref is None:
                parts.append(label)
            elif label:
                parts.append("%s \u2192 %s" % (label, ref.summary))
            else:
                parts.append(ref.summary)
        return " \u25b8 ".join(parts)

    def __repr__(self):
        return "<Path %s>" % self


# ------------------------------------------------------------------ graph

class HeapGraph:
    """The object graph of a dump file, for heap analysis.

    path: the dump.  dump: its loaded heapdump.Dump, if there is one (to
    resolve loaded objects).  progress: a callable taking one line of
    text, or None (a line on stderr when it is a terminal).  limits: see
    DEFAULT_LIMITS.
    """

    def __init__(self, path, *, dump=None, progress=None, **limits):
        unknown = set(limits) - set(DEFAULT_LIMITS)
        if unknown:
            raise TypeError("unexpected keyword arguments: %s"
                            % ", ".join(sorted(unknown)))
        options = dict(DEFAULT_LIMITS)
        options.update(limits)
        for name, value in options.items():
            if value is None:
                options[name] = 0 if name == "max_ratio" else (1 << 63)
        self.path = os.fspath(path)
        self.dump = dump
        self.headers, offset, self.format_version = read_headers(self.path)
        report = progress if progress is not None else _Progress()
        self._progress = report

        def on_records(records, file_bytes):
            report("reading %s: %s records, %s" % (
                os.path.basename(self.path), "{:,}".format(records),
                human(file_bytes)))

        try:
            self._g = _heapdump.Graph(
                self.path, offset, int(options["max_record_bytes"]),
                int(options["max_body_bytes"]), int(options["max_objects"]),
                int(options["max_ratio"]), on_records)
        finally:
            if hasattr(report, "done"):
                report.done()
        self.facts = self._g.facts()
        self.n = self.facts["objects"]
        self.super = self.facts["super"]
        self.meta = self.facts["meta"] or {}
        self.trailer = self.facts["trailer"]
        self._types = self._g.types()
        self._groups = {node: (kind, name, info)
                        for kind, name, info, node in self._g.groups()}
        self._analyzed = False
        self._info = {}
        self.warnings = []
        if self.facts["truncation"]:
            self.warnings.append("the file is truncated (%s): what was "
                                 "intact is analyzed"
                                 % self.facts["truncation"])
        if self.facts["lost_edges"]:
            self.warnings.append("%d references to objects no record "
                                 "defines were dropped"
                                 % self.facts["lost_edges"])
        if self.scope != "heap":
            self.warnings.append(
                "this is a %s-scope dump: only what its frames reach, not "
                "the whole heap (dump with scope=\"heap\" for leak "
                "analysis)" % self.scope)

    # ---------------------------------------------------------- basics

    @property
    def scope(self):
        return (self.headers.get("Heapdump-Scope") or
                self.meta.get("scope") or "frames").strip()

    @property
    def cuts(self):
        """How many containers were cut and objects omitted by limits."""
        trailer = self.trailer if isinstance(self.trailer, dict) else {}
        return int(trailer.get("cuts") or 0) + int(
            trailer.get("omitted") or self.facts["omitted"] or 0)

    @property
    def rss(self):
        trailer = self.trailer if isinstance(self.trailer, dict) else {}
        rss = trailer.get("rss")
        return rss if isinstance(rss, int) else None

    @property
    def total(self):
        """Bytes of every object of the dump (records and inline
        values)."""
        return self.facts["shallow"]

    def analyze(self):
        """Compute the dominators, retained sizes and shortest paths (done
        on first use by every query that needs them)."""
        if not self._analyzed:
            report = self._progress
            if self.facts["nodes"] > 1_000_000 and hasattr(report, "enabled"):
                report.start -= 1.0     # a big graph: say it at once
            report("analyzing %s objects, %s references..." % (
                "{:,}".format(self.n), "{:,}".format(self.facts["edges"])))
            try:
                self._g.analyze()
            finally:
                if hasattr(report, "done"):
                    report.done()
            self._analyzed = True
        return self

    def memory(self):
        """Bytes the graph's arrays hold."""
        return self._g.memory()

    def type_name(self, node):
        if node >= self.n:
            return self.group_label(node)
        return self._types[self._g.node(node)[1]][0]

    def shallow(self, node):
        """Its own size and its inline values' (the bytes it alone
        holds besides what it dominates)."""
        return self._g.node(node)[3]

    def retained(self, x):
        """The retained size of an object (or a group)."""
        self.analyze()
        return self._g.node(self.resolve(x))[4]

    def is_lower_bound(self, node):
        self.analyze()
        return bool(self._g.node(node)[2] & _LOWER)

    def idom(self, x):
        self.analyze()
        node = self.resolve(x)
        d = self._g.node(node)[5]
        return None if node == self.super else d

    def distance(self, node):
        """References from the nearest root object (a root is 0; the
        super-root and the root groups are not counted)."""
        self.analyze()
        return max(0, len(self._g.path(node)) - 3)

    def obj(self, node):
        return ObjRef(self, node, self._info.get(node))

    # ------------------------------------------------------- resolving

    def resolve(self, x):
        """A node id from: an int (an id), "@id", "0x..." (an address, as
        pdb prints it), an ObjRef, or an object loaded from this dump."""
        if isinstance(x, ObjRef):
            return x.ordinal
        if isinstance(x, bool):
            raise TypeError("not an object id: %r" % (x,))
        if isinstance(x, int):
            if not 0 <= x < self.facts["nodes"]:
                raise HeapdumpError("no object @%d (the dump holds %d)"
                                    % (x, self.n))
            return x
        if isinstance(x, str):
            text = x.strip()
            if text.startswith("@"):
                try:
                    return self.resolve(int(text[1:]))
                except ValueError:
                    raise HeapdumpError("not an object id: %r" % x) \
                        from None
            if text.lower().startswith("0x"):
                try:
                    addr = int(text, 16)
                except ValueError:
                    raise HeapdumpError("not an address: %r" % x) from None
                found = self._g.find_addresses([addr])
                if addr not in found:
                    raise HeapdumpError("no object at %s in %s"
                                        % (text, self.path))
                return found[addr]
            try:
                return self.resolve(int(text))
            except ValueError:
                raise HeapdumpError("not an object id: %r (an address "
                                    "0x..., or @id)" % x) from None
        if self.dump is not None:
            oid = id_of(self.dump, x)
            if oid is not None:
                return oid
            raise HeapdumpError("%s is not an object of this dump with a "
                                "record of its own (a value written inline "
                                "has none)" % _short(repr(x), 60))
        raise TypeError("cannot find %r in the dump" % (x,))

    def types_named(self, name):
        """The type indexes whose name is name (module.qualname)."""
        return [i for i, t in enumerate(self._types) if t[0] == name]

    # ------------------------------------------------------- describing

    def describe(self, nodes):
        """{node: info} of the records of nodes (read again, cached)."""
        return self._fetch(nodes, ())[0]

    def _fetch(self, nodes, pairs):
        want = [n for n in set(nodes) if n < self.n and n not in self._info]
        pairs = [p for p in pairs if p[0] < self.n]
        where = {}
        if want or pairs:
            info, where = self._g.fetch(want, pairs)
            self._info.update(info)
        return {n: self._info.get(n, {}) for n in nodes}, where

    def group_label(self, node):
        kind, name, info = self._groups.get(node, ("super", "", 0))
        if kind == "super":
            return "(roots)"
        if kind == "thread":
            return "thread %s" % name
        if kind == "roots" and name == "unreached":
            return "unreached (held by C code or awaiting collection)"
        if kind == "unattributed":
            return "unattributed (weak references only, or references " \
                   "the dump does not hold)"
        if name == "modules":
            return "sys.modules"
        return "root %s" % name

    def summary(self, node, info=None):
        """A short description of an object: its type, then what its
        record says (a name, a length, a preview)."""
        if node >= self.n:
            return self.group_label(node)
        if info is None:
            info = self.describe([node]).get(node, {})
        kind = info.get("kind") or self._g.node(node)[0]
        tname = self.type_name(node)
        extra = ""
        if kind == _MODULE:
            return "module %s" % info.get("name", "?")
        if kind == _FRAME:
            code = info.get("code_info") or {}
            return "frame %s (%s:%s)" % (
                code.get("qualname") or code.get("name") or "?",
                _short(code.get("third") or "?", 60),
                info.get("lineno", "?"))
        if kind in (_TYPE,):
            name = info.get("qualname") or info.get("name") or "?"
            mod = info.get("third")
            return "class %s" % (name if mod in (None, "builtins")
                                 else "%s.%s" % (mod, name))
        if kind in (_FUNCTION, _CFUNCTION, _CODE):
            extra = " %s" % (info.get("qualname") or info.get("name") or "?")
        elif kind in _CONTAINERS and "len" in info:
            extra = " (%s items)" % "{:,}".format(info["len"])
        elif kind == _STR and "text" in info:
            extra = " %s" % _short(repr(info["text"]), 42)
        addr = info.get("address")
        where = " @0x%x" % addr if isinstance(addr, int) and addr > 0 else ""
        return "%s%s%s" % (tname, extra, where)

    def _describe_frames(self, nodes, pairs=()):
        """describe() of nodes with each frame's code (its qualname, file
        and line) as "code_info"; with pairs, also where those edges are
        in their sources' records: one Graph.fetch (one or two passes over
        the records)."""
        info, where = self._fetch(nodes, pairs)
        for i in info.values():
            code = i.get("code")
            if i.get("kind") == _FRAME and isinstance(code, int) and \
                    "code_info" not in i:
                i["code_info"] = self._info.get(code, {})
        return (info, where) if pairs else info

    # ------------------------------------------------------------ paths

    def _label(self, src, dst, where, keys=True):
        """The label of the edge src -> dst."""
        if src == self.super:
            return self.group_label(dst)
        if src >= self.n:
            return ""
        if where is None:
            return "?"
        how = where[0]
        if how == "value":
            return _key_repr(where[2], keys)
        if how == "item":
            kind = self._g.node(src)[0]
            if kind in (_SET, _FROZENSET):
                return "{item}"
            if kind == _DICT:
                return "(a key)"
            return "[%d]" % where[1]
        if how == "key":
            return "(a key)"
        if how in ("attr", "field"):
            return ".%s" % where[1]
        if how == "index":
            return ".%s[%d]" % (where[1], where[2])
        if how == "local":
            return "local %r" % (where[1],)
        if how == "localindex":
            return "local #%d" % where[1]
        if how == "attrname":
            return "(an attribute name)"
        return "?"

    def _paths(self, chains, keys=True, extra=()):
        """Path objects of node chains [super, ..., target] (extra: more
        nodes to describe in the same fetch)."""
        nodes = sorted({n for c in chains for n in c} | set(extra))
        pairs = sorted({(a, b) for c in chains for a, b in zip(c, c[1:])})
        info, where = self._describe_frames(nodes, pairs) if pairs else \
            (self._describe_frames(nodes), {})
        return [Path(self._steps(chain, info, where, keys),
                     ObjRef(self, chain[-1], info.get(chain[-1])))
                for chain in chains]

    def _steps(self, chain, info, where, keys):
        """The readable steps of a chain: the root's label, then (label,
        ObjRef) per edge; sys.modules ['app'] -> module app reads "module
        app", module app -> .__dict__ -> ['_CACHE'] reads "._CACHE"."""
        steps = []
        hops = list(zip(chain, chain[1:]))
        i = 0
        while i < len(hops):
            a, b = hops[i]
            w = where.get((a, b))
            if a == self.super:
                steps.append((self.group_label(b), None))
                kind, name, _ = self._groups.get(b, ("", "", 0))
                if kind == "root" and name == "modules" and \
                        i + 3 < len(chain) and \
                        info.get(chain[i + 3], {}).get("kind") == _MODULE:
                    # sys.modules -> the dict -> ['app'] -> module app
                    steps[-1] = ("module %s" % info[chain[i + 3]].get(
                        "name", "?"), None)
                    i += 3
                    continue
                i += 1
                continue
            if a > self.super:
                # a group's member: the member is the step
                steps.append(("", ObjRef(self, b, info.get(b))))
                i += 1
                continue
            if w is not None and w[0] == "field" and w[1] == "__dict__" and \
                    info.get(a, {}).get("kind") == _MODULE and \
                    i + 1 < len(hops):
                c = hops[i + 1][1]
                w2 = where.get(hops[i + 1])
                if w2 is not None and w2[0] == "value" and \
                        isinstance(w2[2], str):
                    label = "." + w2[2] if keys else ".\u2026"
                    steps.append((label, ObjRef(self, c, info.get(c))))
                    i += 2
                    continue
            steps.append((self._label(a, b, w, keys),
                          ObjRef(self, b, info.get(b))))
            i += 1
        return steps

    def shortest_path(self, x, keys=True):
        """The shortest path from a root to an object."""
        self.analyze()
        return self._paths([self._g.path(self.resolve(x))], keys)[0]

    def paths_to(self, x, max=3, weak=False, keys=True):
        """Up to max shortest paths to an object, each through a
        different referrer (the nearest first); weak: referrers through
        weak references count too.  A type name ("module.qualname") gives
        the paths of the largest objects of that type."""
        self.analyze()
        if isinstance(x, str) and not x.strip().startswith(("@", "0x")) \
                and not x.strip().isdigit():
            nodes = []
            for t in self.types_named(x.strip()):
                nodes += self._g.of_type(t)
            if not nodes:
                raise HeapdumpError("no objects of type %r in the dump" % x)
            nodes.sort(key=lambda n: -self._g.node(n)[4])
            return self._paths([self._g.path(n) for n in nodes[:max]], keys)
        node = self.resolve(x)
        strong, weak_refs = self._g.referrers(node)
        refs = [r for r in strong if r != self.super]
        if weak:
            refs += weak_refs
        if not refs:
            return self._paths([self._g.path(node)], keys)
        refs = sorted(set(refs), key=lambda r: (len(self._g.path(r)), r))
        chains = []
        for r in refs[:max]:
            chain = self._g.path(r) + [node]
            if chain not in chains:
                chains.append(chain)
        return self._paths(chains, keys)

    # ------------------------------------------------------- referrers

    def referrers(self, x, keys=True):
        """Who holds an object: [(ObjRef, label)] strong, [(ObjRef,
        label)] weak, and the references the dump does not show: its
        reference count less its strong referrers in the file (None for
        an immortal object, whose count means nothing)."""
        self.analyze()
        node = self.resolve(x)
        strong, weak = self._g.referrers(node)
        strong = [r for r in strong if r < self.n]
        pairs = [(r, node) for r in strong + weak]
        info, where = self._fetch(strong + weak + [node], pairs)
        rows = [(ObjRef(self, r, info.get(r)),
                 self._label(r, node, where.get((r, node)), keys))
                for r in strong]
        wrows = [(ObjRef(self, r, info.get(r)), "(weak) referent")
                 for r in weak]
        refcnt = info.get(node, {}).get("refcnt")
        immortal = bool(self._g.node(node)[2] & _IMMORTAL)
        unseen = None
        if isinstance(refcnt, int) and refcnt > 0 and not immortal:
            # each referrer record counts once per reference it holds
            held = sum(self._g.successors(r).count(node) for r in strong)
            unseen = refcnt - held
        return rows, wrows, unseen

    # -------------------------------------------------------- histogram

    def histogram(self, by="type", root=None):
        """Rows {type, count, shallow, retained, lower} (retained: of the
        members no other member dominates: MAT's minimum retained size,
        a lower bound of the set's).  by: "type" or "module".  root: only
        what that object dominates."""
        self.analyze()
        node = self.super if root is None else self.resolve(root)
        merged = {}
        for t, count, shallow, retained, lower in self._g.histogram(node):
            name = self._types[t][0]
            if by == "module":
                name = name.rsplit(".", 1)[0] if "." in name else "builtins"
            elif by != "type":
                raise ValueError("by must be 'type' or 'module', not %r"
                                 % (by,))
            row = merged.setdefault(name, [0, 0, 0, False])
            row[0] += count
            row[1] += shallow
            row[2] += retained
            row[3] = row[3] or lower
        return [{"type": name, "count": c, "shallow": s, "retained": r,
                 "retained_lower_bound": low or self.cuts > 0}
                for name, (c, s, r, low) in merged.items()]

    def top(self, n=10):
        """The n objects with the largest retained sizes."""
        self.analyze()
        nodes = self._g.top(n)
        info = self._describe_frames(nodes)
        return [ObjRef(self, v, info.get(v)) for v in nodes]

    def children(self, x):
        """What an object (or group) dominates directly, largest first."""
        self.analyze()
        return self._g.children(self.resolve(x))

    # --------------------------------------------------------- suspects

    #: types that are the interpreter's machinery rather than data: no
    #: group suspects
    _MACHINERY = frozenset(("dict", "module", "frame", "type", "function",
                            "code", "builtin_function_or_method", "cell",
                            "method", "(singleton)"))

    def suspects(self, threshold=0.10):
        """Where the memory accumulates (MAT's leak suspects, adapted):
        descending the dominator tree from the roots through every node
        that retains at least threshold of the total, the nodes none of
        whose children does are the accumulation points.  Each comes with
        its holder (the nearest module, class, frame or thread above it),
        its shortest path, its item count and what it dominates, by type.
        Then the types whose members retain at least threshold together
        (group suspects), with the paths of their largest members.
        Returns (points, groups), lists of dicts."""
        self.analyze()
        total = self.retained(self.super) or 1
        limit = threshold * total
        points, stack = [], [self.super]
        while stack:
            v = stack.pop()
            kids = [k for k in self._g.children(v)
                    if self._g.node(k)[4] >= limit]
            if kids:
                stack.extend(reversed(kids))
            elif v != self.super:
                points.append(v)
        points.sort(key=lambda v: -self._g.node(v)[4])
        holders = {v: self._holder(v) for v in points}
        group_rows = []
        for row in sorted(self.histogram(), key=lambda r: -r["retained"]):
            if row["retained"] < limit or row["type"] in self._MACHINERY:
                continue
            nodes = []
            for t in self.types_named(row["type"]):
                nodes += self._g.of_type(t, 1000)
            nodes.sort(key=lambda n: -self._g.node(n)[4])
            group_rows.append((row, nodes[:3]))
        # every record wanted, in one fetch
        chains = [self._g.path(v) for v in points if v < self.n]
        chains += [self._g.path(n) for _, nodes in group_rows for n in nodes]
        extra = [h for h in holders.values() if h is not None] + points
        paths = self._paths(chains, extra=extra)
        by_target = {p.target.ordinal: p for p in paths}
        out = []
        for v in points:
            h = holders[v]
            info = self._info.get(v, {})
            hist = sorted(self.histogram(root=v),
                          key=lambda r: -r["retained"])[:5]
            out.append({
                "point": self.obj(v), "retained": self._g.node(v)[4],
                "fraction": self._g.node(v)[4] / total,
                "lower_bound": self.is_lower_bound(v),
                "holder": None if h is None else self.obj(h),
                "path": by_target.get(v), "items": info.get("len"),
                "dominated": hist,
            })
        groups = []
        for row, nodes in group_rows:
            groups.append(dict(row, fraction=row["retained"] / total,
                               paths=[by_target[n] for n in nodes
                                      if n in by_target]))
        return out, groups

    def _holder(self, v):
        """The nearest module, class, frame or thread that dominates v,
        or None."""
        u = v
        while u != self.super:
            u = self._g.node(u)[5]
            if u == self.super:
                return None
            if u > self.super:
                kind, _, _ = self._groups.get(u, ("", "", 0))
                if kind == "thread":
                    return u
                continue
            if self._g.node(u)[0] in (_MODULE, _TYPE, _FRAME):
                return u
        return None

    # ------------------------------------------------------------- dump

    def object_info(self, x):
        """A dict of everything about one object."""
        self.analyze()
        node = self.resolve(x)
        info = self._describe_frames([node]).get(node, {})
        kind, _, flags, size, retained, idom, _ = self._g.node(node)
        own = info.get("size")
        inline = size - own if isinstance(own, int) and own <= size else 0
        rows, wrows, unseen = self.referrers(node)
        return {
            "object": ObjRef(self, node, info), "kind": kind,
            "shallow": size - inline, "inline_values": inline,
            "retained": retained, "lower_bound": bool(flags & _LOWER),
            "cut": bool(flags & _CUT), "immortal": bool(flags & _IMMORTAL),
            "refcnt": info.get("refcnt"), "referrers": len(rows),
            "weak_referrers": len(wrows), "unseen_references": unseen,
            "idom": self.obj(idom), "distance": self.distance(node),
            "path": self.shortest_path(node),
            "dominates": [self.obj(k) for k in self._g.children(node)[:10]],
        }


# ------------------------------------------------------------------ diff

def compare(a, b, by="type"):
    """The difference between two dumps by type (or module): rows with
    the count, shallow and retained bytes in each and their deltas,
    sorted by the change in shallow bytes, largest first.  a, b: paths,
    heapdump.Dump or HeapGraph.  Returns (rows, warnings)."""
    ga, gb = (_graph_of(x) for x in (a, b))
    warnings = []
    if ga.scope != gb.scope:
        warnings.append("the dumps differ in scope (%s, %s)"
                        % (ga.scope, gb.scope))
    va = ga.meta.get("version_info")
    vb = gb.meta.get("version_info")
    if va and vb and list(va)[:2] != list(vb)[:2]:
        warnings.append("the dumps come from different Python versions "
                        "(%s, %s)" % (".".join(map(str, va)),
                                      ".".join(map(str, vb))))
    la = (ga.meta.get("limits") or {})
    lb = (gb.meta.get("limits") or {})
    if la != lb:
        warnings.append("the dumps were written with different limits")
    ra = {r["type"]: r for r in ga.histogram(by)}
    rb = {r["type"]: r for r in gb.histogram(by)}
    zero = {"count": 0, "shallow": 0, "retained": 0}
    rows = []
    for name in set(ra) | set(rb):
        x, y = ra.get(name, zero), rb.get(name, zero)
        rows.append({
            "type": name,
            "count_a": x["count"], "count_b": y["count"],
            "shallow_a": x["shallow"], "shallow_b": y["shallow"],
            "retained_a": x["retained"], "retained_b": y["retained"],
            "delta_count": y["count"] - x["count"],
            "delta_shallow": y["shallow"] - x["shallow"],
            "delta_retained": y["retained"] - x["retained"],
        })
    rows.sort(key=lambda r: (-abs(r["delta_shallow"]),
                             -abs(r["delta_count"]), r["type"]))
    return rows, warnings, (ga, gb)


def _graph_of(x):
    if isinstance(x, HeapGraph):
        return x
    heap = getattr(x, "heap", None)
    if callable(heap):
        return heap()
    return HeapGraph(x)


# ------------------------------------------------------------------- why

#: The dump the pdb session of ``python -m heapdump.open`` has open, for
#: heapdump.why().
current_dump = None


def why(obj, *, max_paths=3, file=None):
    """What keeps a loaded object alive: its retained size and its
    shortest paths from the roots, printed (to file, default stdout)."""
    dump = current_dump
    if dump is None:
        raise HeapdumpError("heapdump.why() works in the pdb session of "
                            "an opened dump (python -m heapdump.open FILE)")
    h = dump.heap()
    node = h.resolve(obj)
    ref = h.obj(node)
    lines = ["%s: retained %s%s, shallow %s" % (
        ref.summary, ">= " if h.is_lower_bound(node) else "",
        human(h.retained(node)), human(h.shallow(node)))]
    for i, path in enumerate(h.paths_to(node, max=max_paths), 1):
        lines.append("  %d. %s" % (i, path))
    _, _, unseen = h.referrers(node)
    if unseen:
        lines.append("  %d reference%s not in the dump (C code, the "
                     "interpreter, or objects past a limit)"
                     % (unseen, "" if unseen == 1 else "s"))
    (file or sys.stdout).write("\n".join(lines) + "\n")
