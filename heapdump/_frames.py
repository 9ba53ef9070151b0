"""Real frames, code objects and tracebacks for the dumped ones, so pdb works.

Stock pdb, ``inspect`` and ``traceback`` accept only real frame, code and
traceback objects.  This module makes them from the model of a loaded dump
(``heapdump._model``), without running anything from the file:

- ``real_code(code)`` is a *stub* code object: compiled from a trivial
  statement (``_()``) on each line it must have, then given the dumped name,
  qualname, file, first line, local names, argument counts and the
  ``*args`` / ``**kwargs`` flags.  It is never optimized (no
  ``CO_OPTIMIZED`` / ``CO_NEWLOCALS``), so a frame on it uses the locals
  dict it is given, on every Python version.  Its line table covers the
  definition's source span (and any other line a dumped frame stands at),
  so frames can stand at any of its lines; ``inspect`` finds the source
  from its file name and first line.
- ``realize(dump)`` makes a frame object (``Frame.frame``) for every dumped
  frame, standing at the dumped line, linked to its caller; a traceback
  object chain for every loaded exception (its ``__traceback__``); and puts
  the dumped source files in ``linecache``, where ``checkcache()`` keeps
  them although the files do not exist here.

The part that no public API does (the frame's instruction pointer and
``f_back``, copying values into its fast slots) is ``_heapdump._frame_new``
in ``src/frames.c``.
"""

from __future__ import annotations

import ast
import builtins
import dis
import inspect
import itertools
import linecache
import os
import re
import sys
import tokenize
import types

from heapdump import _model

__all__ = [
    "install_modules",
    "install_sources",
    "line_offset",
    "real_code",
    "realize",
    "traceback_for_thread",
    "traceback_from",
]

# Flags kept from the dumped code: the ones that say how the arguments
# are laid out in co_varnames (pdb's ``args`` and inspect.signature read
# them).  CO_OPTIMIZED and CO_NEWLOCALS are left out on purpose.
_CO_VARARGS = inspect.CO_VARARGS
_CO_VARKEYWORDS = inspect.CO_VARKEYWORDS
_KEPT_FLAGS = _CO_VARARGS | _CO_VARKEYWORDS

_PY311 = sys.version_info >= (3, 11)


def _frame_new(*args):
    # Imported late: the C extension is not needed to build code objects.
    from heapdump import _heapdump
    return _heapdump._frame_new(*args)


# ---------------------------------------------------------------------------
# Sources


def _source_lines(text):
    """text split as linecache does: every line ends in a newline."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _cached_lines(filename):
    """The lines linecache holds for filename, without reading any file."""
    entry = linecache.cache.get(filename)
    if entry is None or len(entry) != 4:
        return None
    return entry[2]


def install_sources(sources, cwd=None):
    """Put the dumped sources (file name -> text) into linecache.

    Each file is entered under its dumped name, replacing what linecache
    had (so that ``inspect`` and ``pdb`` show the source that was running,
    not another version of the file on this machine), and a relative name
    also under the absolute paths it may stand for (against the dumped
    process's ``cwd`` and ours) when those are not taken.  The mtime is
    None, which ``linecache.checkcache()`` leaves alone.  Returns the
    names entered.
    """
    entered = []
    for name, text in (sources or {}).items():
        if not isinstance(name, str) or not isinstance(text, str):
            continue
        lines = _source_lines(text)
        entry = (len(text), None, lines, name)
        names = [name]
        if not os.path.isabs(name) and not (
                name.startswith("<") and name.endswith(">")):
            if cwd:
                names.append(os.path.join(cwd, name))
            names.append(os.path.abspath(name))
        for alias in names:
            if alias == name or alias not in linecache.cache:
                linecache.cache[alias] = entry
                entered.append(alias)
    return entered


def _block_end(lines, first, name):
    """Last line (1-based) of the definition that starts at line first.

    lines: the file's lines.  Returns first when the block cannot be
    found, and for module code (its stub needs no span: inspect reads a
    module's source whole).
    """
    if not lines or first < 1 or first > len(lines) or name == "<module>":
        return first
    try:
        block = inspect.getblock(lines[first - 1:])
    except (tokenize.TokenError, SyntaxError, IndexError, ValueError,
            RecursionError):
        return first
    return first + max(len(block), 1) - 1


# ---------------------------------------------------------------------------
# Stub code objects


def _varint(value):
    """Unsigned varint of the 3.11+ location table (6-bit chunks)."""
    out = bytearray()
    while value >= 64:
        out.append(0x40 | (value & 0x3F))
        value >>= 6
    out.append(value)
    return out


def _svarint(value):
    return _varint((-value << 1) | 1 if value < 0 else value << 1)


def _linetable(code, positions=None):
    """A 3.11+ co_linetable for code's instructions: the line each has now
    (the preamble on the first line), no columns (so no misleading carets),
    except that the lines in positions (line -> (end_lineno, col_offset,
    end_col_offset)) carry those columns.  The format is CPython's
    Objects/locations.md: an entry is a byte 1cccclll (code c, l+1 code
    units) followed by varints; code 13 is "line only", 14 the long form
    with columns."""
    positions = positions or {}
    out = bytearray()
    previous = code.co_firstlineno
    for start, end, line in code.co_lines():
        if line is None or line < code.co_firstlineno:
            # the preamble (RESUME): on the first line, as in a function
            line = code.co_firstlineno
        units = (end - start) // 2
        pos = positions.get(line)
        while units > 0:
            n = min(units, 8)
            units -= n
            if pos is not None:
                end_line, col, end_col = pos
                out.append(0x80 | (14 << 3) | (n - 1))
                out += _svarint(line - previous)
                out += _varint(max(0, (end_line or line) - line))
                out += _varint(col + 1 if col is not None and col >= 0
                               else 0)
                out += _varint(end_col + 1
                               if end_col is not None and end_col >= 0
                               else 0)
            else:
                out.append(0x80 | (13 << 3) | (n - 1))
                out += _svarint(line - previous)
            previous = line
    return bytes(out)


def _stub(name, qualname, filename, first, lines):
    """A code object with a call (``_()``) on each of lines (all at least
    first), named as given, not yet carrying local names.  A dumped
    function runs it when called: its globals' ``_`` raises
    heapdump._surrogates.DumpedCodeError (heapdump._load gives every
    rebuilt function such globals).  Before 3.11, where a code object has
    no qualname, the call passes it: ``_("Cls.method")``.

    It is compiled from a syntax tree whose statements carry those line
    numbers, so lines far apart cost nothing in between."""
    body = []
    for line in sorted(set(lines) | {first}):
        # Lines relative to the first one: setting co_firstlineno later
        # shifts them all, since line tables are relative to it.
        rel = line - first + 1
        where = dict(lineno=rel, col_offset=0, end_lineno=rel,
                     end_col_offset=3)
        callee = ast.Name("_", ast.Load(), lineno=rel, col_offset=0,
                          end_lineno=rel, end_col_offset=1)
        args = [] if _PY311 else [ast.Constant(str(qualname), **where)]
        body.append(ast.Expr(ast.Call(callee, args, [], **where), **where))
    tree = ast.Module(body=body, type_ignores=[])
    code = compile(tree, filename, "exec", dont_inherit=True)
    changes = {"co_firstlineno": first, "co_name": name}
    if _PY311:
        changes["co_qualname"] = qualname
    code = code.replace(**changes)
    if _PY311:
        code = code.replace(co_linetable=_linetable(code))
    return code


def _count(value):
    """A dumped count or flag set: a non-negative int that fits a C int,
    else 0."""
    if isinstance(value, int) and 0 <= value < (1 << 31):
        return int(value)
    return 0


def _names_and_counts(code):
    """Unique local names, and argument counts and flags that fit them.

    Code that was not optimized (a module or class body, exec) keeps its
    variables in its locals mapping, not in fast slots: its stub gets no
    local names, so that nothing synchronizes slots into that mapping
    (on 3.9 to 3.12 an empty slot would delete the name from it)."""
    flags = _count(code.flags)
    if not flags & inspect.CO_OPTIMIZED:
        return (), 0, 0, 0, 0
    names, seen = [], set()
    for name in code.names or ():
        if isinstance(name, str) and name not in seen:
            seen.add(name)
            names.append(name)
    argcount = _count(code.argcount)
    posonly = _count(code.posonlyargcount)
    kwonly = _count(code.kwonlyargcount)
    flags &= _KEPT_FLAGS
    extra = bool(flags & _CO_VARARGS) + bool(flags & _CO_VARKEYWORDS)
    if argcount + kwonly + extra > len(names):
        # The names do not hold the arguments (a damaged record): show no
        # arguments rather than wrong ones.
        argcount = posonly = kwonly = flags = 0
    posonly = min(posonly, argcount)
    return tuple(names), argcount, posonly, kwonly, flags


# Sanity bounds on dumped line numbers: a stub gets no line beyond
# _MAX_LINE (a hostile file could ask for any), and is given every line of
# a definition (its whole source span) only up to _MAX_BLOCK lines.
_MAX_LINE = 1 << 24
_MAX_BLOCK = 5000


def _line_number(value):
    """value when it is a plausible line number, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and \
            0 < value <= _MAX_LINE:
        return value
    return None


def real_code(code, line=None):
    """The stub code object for a dumped ``_model.Code`` (cached on it).

    Its name, qualname (3.11+), file, first line, local names (co_varnames,
    made unique), argument counts and ``*args``/``**kwargs`` flags are the
    dumped ones; its line table has an instruction on every line of the
    definition's source when the source is in linecache (else on the first
    line), and on ``line`` too when given, so that frames can stand there;
    asking for a line it lacks makes a wider stub that replaces the cached
    one.  A module's stub has only the lines asked for.  Compiling the stub
    runs nothing from the dump.
    """
    real = getattr(code, "_real", None)
    first = _line_number(code.firstlineno) or 1
    line = _line_number(line)
    if line is not None and line < first:
        line = None
    if real is not None and (line is None or _covers(real, line)):
        return real
    name = code.name if isinstance(code.name, str) else "?"
    qualname = code.qualname if isinstance(code.qualname, str) else name
    filename = code.filename if isinstance(code.filename, str) else "?"
    lines = {first}
    if real is not None:
        lines.update(ln for _, ln in _lines_of(real) if ln >= first)
    elif name != "<module>":
        last = _block_end(_cached_lines(filename), first, name)
        if last - first < _MAX_BLOCK:
            lines.update(range(first, last + 1))
    if line is not None:
        lines.add(line)
    stub = _stub(name, qualname, filename, first, lines)
    names, argcount, posonly, kwonly, flags = _names_and_counts(code)
    stub = stub.replace(co_varnames=names, co_nlocals=len(names),
                        co_argcount=argcount, co_posonlyargcount=posonly,
                        co_kwonlyargcount=kwonly, co_flags=flags)
    try:
        code._real = stub
    except AttributeError:
        pass
    return stub


def _lines_of(code):
    """(byte offset, line) of the first instruction of each line."""
    if hasattr(code, "co_lines"):
        out, seen = [], set()
        for start, end, line in code.co_lines():
            if line is not None and start < end and line not in seen:
                seen.add(line)
                out.append((start, line))
        return out
    return list(dis.findlinestarts(code))


def _covers(code, line):
    return any(ln == line for _, ln in _lines_of(code))


def line_offset(code, line):
    """Byte offset of the first instruction of a real code object on line,
    or of its first instruction after the preamble when line has none."""
    starts = _lines_of(code)
    for offset, ln in starts:
        if ln == line:
            return offset
    for offset, ln in starts:
        if ln is not None and ln >= code.co_firstlineno:
            return offset
    return 0


def _valid_position(line, position):
    """Whether a dumped [end_lineno, col_offset, end_col_offset] is one a
    linetable can carry for line."""
    if not isinstance(position, (list, tuple)) or len(position) != 3:
        return False
    end_line, col, end_col = position
    if not all(v is None or (isinstance(v, int) and not isinstance(v, bool)
                             and 0 <= v <= _MAX_LINE)
               for v in (end_line, col, end_col)):
        return False
    return end_line is None or line <= end_line <= line + 10000


def _positioned(stub, positions, cache):
    """stub with the dumped columns (line -> position) on those lines
    (3.11+), for carets: the frame's current line and the lines its
    traceback entries stand at."""
    if not _PY311:
        return stub
    positions = {line: tuple(p) for line, p in positions.items()
                 if isinstance(line, int) and _valid_position(line, p)}
    if not positions:
        return stub
    key = (id(stub), tuple(sorted(positions.items())))
    found = cache.get(key)
    if found is None:
        found = stub.replace(co_linetable=_linetable(stub, positions))
        cache[key] = found
    return found


# ---------------------------------------------------------------------------
# Frames and tracebacks


class _Realizer:
    """Turns the dumped frames of one dump into frame objects."""

    def __init__(self, dump):
        self.dump = dump
        self.positioned = {}
        self.tb_positions = {}  # id(Frame) -> {line: position} of entries
        self.globals = {}      # id(loaded globals) -> dict to run with
        self.failed = []       # (Frame, error) for frames left without one
        self.failed_ids = set()

    def globals_for(self, frame):
        """A dict for the frame's globals: the loaded one when it is a real
        dict, with ``__builtins__`` made the real builtins module when the
        loaded one would not provide them (else ``p len(x)`` fails)."""
        g = frame.globals
        key = id(g)
        found = self.globals.get(key)
        if found is not None:
            return found
        if not isinstance(g, dict):     # e.g. a placeholder
            g = {"__name__": _module_name_guess(frame)}
        # dict's own methods: g may be a loaded dict subclass (a CutDict)
        b = dict.get(g, "__builtins__")
        if not (b is builtins or b is builtins.__dict__):
            dict.__setitem__(g, "__builtins__", builtins)
        self.globals[key] = g
        return g

    def locals_for(self, frame, g):
        loc = frame.locals
        if frame.is_module or (frame.code is not None and
                               frame.code.name == "<module>"):
            if loc is None or loc is frame.globals:
                return g
        if loc is None:
            return {}
        if isinstance(loc, dict) or hasattr(type(loc), "__getitem__"):
            return loc
        return {}

    def frame(self, frame):
        """The frame object for a dumped Frame (and its callers)."""
        # Collect the callers that still need one, outermost last; an
        # iterative walk, since a deep recursion can be thousands of frames.
        chain, seen, f = [], set(), frame
        while (isinstance(f, _model.Frame) and f.frame is None
               and id(f) not in seen and id(f) not in self.failed_ids):
            seen.add(id(f))
            chain.append(f)
            f = f.back
        for f in reversed(chain):
            back = f.back.frame if isinstance(f.back, _model.Frame) else None
            try:
                f.frame = self.make(f, back)
            except Exception as exc:  # a damaged record: no frame for it
                self.failed.append((f, exc))
                self.failed_ids.add(id(f))
                f.frame = None
        return frame.frame if isinstance(frame, _model.Frame) else None

    def make(self, f, back):
        code = f.code
        if not isinstance(code, _model.Code):
            code = _model.Code("?", "?", "?", 1, 0, 0, 0, 0, (), ())
        line = _line_number(f.lineno)
        stub = real_code(code, line)
        if line is None or not _covers(stub, line):
            line = stub.co_firstlineno
        positions = dict(self.tb_positions.get(id(f), ()))
        if f.position:
            positions[line] = f.position
        stub = _positioned(stub, positions, self.positioned)
        g = self.globals_for(f)
        return _frame_new(stub, g, self.locals_for(f, g), back,
                          line_offset(stub, line))

    def traceback(self, entries):
        """A traceback object chain for dumped Traceback entries."""
        for entry in entries:
            if isinstance(entry.frame, _model.Frame):
                self.frame(entry.frame)
        return traceback_from(entries)

    def cover(self, frames, chains):
        """Make each code's stub cover every line a frame or a traceback
        entry stands at, before any frame is made on it (frames made on an
        older, narrower stub would keep it)."""
        for f in frames:
            self.cover_line(f, f.lineno)
        for entries in chains:
            for entry in entries:
                self.cover_line(entry.frame, entry.lineno)
                line = _line_number(entry.lineno)
                position = getattr(entry, "position", None)
                if line is not None and position and \
                        isinstance(entry.frame, _model.Frame):
                    self.tb_positions.setdefault(
                        id(entry.frame), {}).setdefault(line, position)

    @staticmethod
    def cover_line(f, line):
        if (isinstance(f, _model.Frame) and isinstance(f.code, _model.Code)
                and _line_number(line) is not None):
            try:
                real_code(f.code, line)
            except (TypeError, ValueError, SyntaxError):
                pass        # make() reports it for the frame


def _module_name_guess(frame):
    g = frame.globals
    if isinstance(g, dict):
        name = dict.get(g, "__name__")
        if isinstance(name, str):
            return name
    return "?"


# Types no object of interest here is: most of a big dump's table.
_PLAIN = frozenset((int, float, str, bytes, bytearray, list, tuple, dict,
                    set, frozenset, bool, type(None), complex))


class _Scan:
    """The objects of a dump's table that realize() and install_modules()
    need, found in one pass (a dump can hold millions of objects)."""

    __slots__ = ("frames", "exceptions", "modules", "classes",
                 "generators")

    def __init__(self, objects):
        self.frames, self.exceptions = [], []
        self.modules, self.classes, self.generators = [], [], []
        lists = (None, self.frames, self.exceptions, self.classes,
                 self.modules, self.generators)
        generator = _generator_class()
        objects = objects or ()
        # Classify the types, then pick the objects of the wanted ones:
        # both loops run in C (map, compress), not one Python step per
        # object.
        kinds = {}
        for t in set(map(type, objects)) - _PLAIN:
            kind = (1 if issubclass(t, _model.Frame) else
                    2 if issubclass(t, BaseException) else
                    3 if issubclass(t, type) else
                    4 if issubclass(t, types.ModuleType) else
                    5 if generator is not None and issubclass(t, generator)
                    else 0)
            if kind:
                kinds[t] = kind
        if not kinds:
            return
        wanted = map(kinds.__contains__, map(type, objects))
        for obj in itertools.compress(objects, wanted):
            lists[kinds[type(obj)]].append(obj)


def _generator_class():
    """heapdump._surrogates.Generator, or None without the C extension."""
    try:
        from heapdump._surrogates import Generator
    except ImportError:
        return None
    return Generator


def _generator_frames(generators):
    """Make each loaded generator's, coroutine's or async generator's
    frame (gi_frame, cr_frame, ag_frame) the realized frame object, which
    reads like a frame (f_locals, f_lineno, f_code); the dumped Frame stays
    as ``dumped_frame``."""
    for gen in generators:
        d = object.__getattribute__(gen, "__dict__")
        for prefix in ("gi", "cr", "ag"):
            f = d.get(prefix + "_frame")
            if isinstance(f, _model.Frame):
                d["dumped_frame"] = f
                if isinstance(f.frame, types.FrameType):
                    d[prefix + "_frame"] = f.frame


def _scan(dump):
    """The _Scan of dump, made once (kept on the Dump)."""
    found = dump.__dict__.get("_frames_scan")
    if found is None:
        found = dump.__dict__["_frames_scan"] = _Scan(dump.objects)
    return found


def _exceptions_of(dump):
    """Every loaded exception: the dumped one and its chain first (cause,
    context, group members), then any other in the object table."""
    out, seen = [], set()
    stack = [dump.exception] + _scan(dump).exceptions
    stack.reverse()
    while stack:
        exc = stack.pop()
        if not isinstance(exc, BaseException) or id(exc) in seen:
            continue
        seen.add(id(exc))
        out.append(exc)
        more = [exc.__cause__, exc.__context__]
        members = getattr(exc, "exceptions", None) \
            if _is_group(exc) else None
        if isinstance(members, (tuple, list)):
            more.extend(members)
        stack.extend(reversed(more))
    return out


def _is_group(exc):
    group = getattr(builtins, "BaseExceptionGroup", None)
    return group is not None and isinstance(exc, group)


def realize(dump):
    """Make the real objects pdb needs for a loaded dump, in place.

    - the dumped sources go into linecache (``install_sources``);
    - every dumped frame (on a thread's stack, in a traceback, or anywhere
      in the object table) gets ``Frame.frame``: a frame object standing
      at the dumped line, with ``f_back`` its caller's frame object,
      ``f_globals`` the loaded globals (whose ``__builtins__`` is made the
      real builtins module) and ``f_locals`` the loaded locals;
    - every loaded exception with a dumped traceback gets a real traceback
      object as ``__traceback__``.

    Returns a list of (Frame, exception) for frames that could not be
    rebuilt (their ``frame`` stays None).  Runs nothing from the file.
    """
    meta = dump.meta if isinstance(dump.meta, dict) else {}
    install_sources(dump.sources, meta.get("cwd"))
    r = _Realizer(dump)
    frames = []
    for thread in dump.threads or ():
        frames.extend(thread.frames or ())
    frames.extend(_scan(dump).frames)
    chains = []
    for exc in _exceptions_of(dump):
        chain = dump.traceback_of(exc)
        if chain is not None:
            chains.append((exc, chain.entries()))
    if isinstance(dump.traceback, _model.Traceback):
        # the dumped exception's chain, also when the exception itself
        # did not load as one (a placeholder)
        chains.append((None, dump.traceback.entries()))
    r.cover(frames, [entries for _, entries in chains])
    for f in frames:
        r.frame(f)
    _generator_frames(_scan(dump).generators)
    for exc, entries in chains:
        tb = r.traceback(entries)
        if tb is not None and exc is not None:
            try:
                exc.__traceback__ = tb
            except (TypeError, AttributeError):
                pass
    return r.failed


def traceback_from(entries):
    """A traceback object chain for dumped Traceback entries (outermost
    first) whose frames are realized; entries without a frame object are
    left out.  None when none has one."""
    tb = None
    for entry in reversed(entries):
        frame = getattr(entry.frame, "frame", None)
        if not isinstance(frame, types.FrameType):
            continue
        line = _line_number(entry.lineno) or frame.f_lineno
        code = frame.f_code
        # tb_lasti only feeds the carets of 3.11+; the line is the dumped
        # one whatever the stub covers.
        lasti = line_offset(code, line) if _covers(code, line) \
            else frame.f_lasti
        tb = types.TracebackType(tb, frame, lasti, line)
    return tb


def traceback_for_thread(thread):
    """A traceback object chain over a realized thread's frames, outermost
    first, each at its frame's line: what pdb.post_mortem needs to start at
    the thread's innermost frame.  None when the thread has no frames."""
    tb = None
    for f in thread.frames or ():          # innermost first
        frame = getattr(f, "frame", None)
        if frame is None:
            continue
        tb = types.TracebackType(tb, frame, frame.f_lasti, frame.f_lineno)
    return tb


# ---------------------------------------------------------------------------
# Modules, for inspect's class lookups


def _modules_of(dump):
    """module name -> source file name, from the dumped frames' globals,
    the dumped module objects, and the code of dumped classes' methods."""
    found = {}
    frames = []
    scan = _scan(dump)
    classes = scan.classes
    for thread in dump.threads or ():
        frames.extend(thread.frames or ())
    frames.extend(scan.frames)
    for obj in scan.modules:
        d = vars(obj)
        name, file = d.get("__name__"), d.get("__file__")
        if isinstance(name, str) and isinstance(file, str):
            found.setdefault(name, file)
    for f in frames:
        g = f.globals
        if not isinstance(g, dict):
            continue
        name = g.get("__name__")
        if not isinstance(name, str) or name in found:
            continue
        file = g.get("__file__")
        if not isinstance(file, str):
            code = f.code
            if (isinstance(code, _model.Code) and code.name == "<module>"
                    and isinstance(code.filename, str)):
                file = code.filename
            else:
                continue
        found[name] = file
    for cls in classes:
        # A module none of whose code was running: where its classes'
        # functions were compiled.
        try:
            name = type.__getattribute__(cls, "__module__")
        except AttributeError:
            continue
        if not isinstance(name, str) or name in found:
            continue
        for attr in vars(cls).values():
            code = getattr(attr, "__code__", None) \
                if isinstance(attr, types.FunctionType) else None
            if code is not None and not code.co_filename.startswith("<"):
                found[name] = code.co_filename
                break
    return found


def install_modules(dump):
    """Register stand-in modules for the dumped modules that have source.

    inspect finds a class's file through ``sys.modules[cls.__module__]``;
    the dumped program's modules are not importable here.  For each module
    name seen in the dumped frames' globals with a file in
    ``dump.sources``, a bare module object with that ``__file__`` is put
    in ``sys.modules`` unless the name is taken (``__main__`` is handled by
    the caller).  Dumped classes of those modules without
    ``__firstlineno__`` get it from the source (3.13's inspect reads it).
    Returns (names added, name -> file of every dumped module found).
    """
    sources = dump.sources or {}
    modules = {n: f for n, f in _modules_of(dump).items() if f in sources}
    added = []
    for name, file in modules.items():
        if name in sys.modules:
            continue
        module = types.ModuleType(name)
        module.__file__ = file
        sys.modules[name] = module
        added.append(name)
    set_class_firstlines(dump, modules)
    return added, modules


def set_class_firstlines(dump, modules):
    """Give dumped classes of the given modules (name -> file) whose own
    ``__dict__`` lacks ``__firstlineno__`` the line of their ``class``
    statement (its first decorator), found by qualname in the dumped
    source."""
    trees, named = {}, {}
    for obj in _scan(dump).classes:
        if "__firstlineno__" in vars(obj):
            continue
        try:
            mod = type.__getattribute__(obj, "__module__")
        except AttributeError:
            continue
        file = modules.get(mod) if isinstance(mod, str) else None
        if file is None:
            continue
        # parse a file only for a class its text has a class statement
        # for: C types, namedtuples and functional enums have none
        if file not in named:
            named[file] = set(_CLASS_NAME.findall(dump.sources[file]))
        if type.__getattribute__(obj, "__name__") not in named[file]:
            continue
        if file not in trees:
            try:
                trees[file] = _class_lines(dump.sources[file])
            except (SyntaxError, ValueError, KeyError, RecursionError):
                trees[file] = {}
        line = trees[file].get(obj.__qualname__)
        if line is not None:
            try:
                obj.__firstlineno__ = line
            except (TypeError, AttributeError):
                pass


#: the names a text's class statements may define (a superset: one in a
#: string or a comment matches too; the parse then decides)
_CLASS_NAME = re.compile(r"\bclass\s+(\w+)")


def _class_lines(text):
    """qualname -> first line (decorators included) of each class in text."""
    found = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                qual = prefix + child.name
                lines = [child.lineno] + [d.lineno
                                          for d in child.decorator_list]
                found.setdefault(qual, min(lines))
                visit(child, qual + ".")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, prefix + child.name + ".<locals>.")
            else:
                visit(child, prefix)

    visit(ast.parse(text), "")
    return found


# ---------------------------------------------------------------------------
# heapdump's own frames


#: heapdump's own Python files, whose frames (the dump() wrapper) a stack
#: shown at the prompt should not start in.
_OWN_FILES = {"__init__.py", "_writer.py", "open.py", "_frames.py",
              "_load.py", "_report.py", "_model.py", "_surrogates.py",
              "_secrets.py", "_vet.py", "_pdbcmds.py", "_triggers.py"}

#: heapdump's subpackages, whose every file is heapdump's own code.
_OWN_PACKAGES = {"cli", "integrations"}


def own_frame(frame):
    """Whether a dumped frame is heapdump's own Python code (the dump()
    wrapper, a trigger, an integration), which the stack shown should not
    start in: a file of this heapdump or of its subpackages, or, for a
    dump made by a heapdump installed elsewhere, one of its file names."""
    code = frame.code
    filename = getattr(code, "filename", None)
    if not isinstance(filename, str):
        return False
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.dirname(filename)
    if folder == here or os.path.dirname(folder) == here:
        return True
    name = os.path.basename(folder)
    if name in _OWN_PACKAGES:
        return os.path.basename(os.path.dirname(folder)) == "heapdump"
    return name == "heapdump" and os.path.basename(filename) in _OWN_FILES


def own_frames_dropped(thread):
    """A thread's frames (innermost first) less heapdump's own innermost
    ones (at least one frame is kept)."""
    frames = list(thread.frames or ())
    while len(frames) > 1 and own_frame(frames[0]):
        frames.pop(0)
    return frames
