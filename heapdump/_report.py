"""The text report of a loaded dump (``python -m heapdump.open --summary``).

What the dump says, in the order one reads a crash: the headers (reason,
the exception and its chain, Python, process, time), the exception's
traceback with each frame's source line and locals, then every thread's
stack the same way.

Values are rendered from the exact loaded values, shortened the way
pystack's ``--locals`` shortens them (long strings cut, containers
abbreviated, nesting limited), and the report says where the dump itself
was cut: a value the writer shortened says its original length, an object
it left out says so, and a truncated file is flagged at the top.

Rendering is safe: builtin values are rendered here from their contents
(never through methods a subclass overrides); anything else, such as the
loader's stand-ins for instances, by its type's ``__repr__`` under a
guard, cut to the line width.  Nothing from the file is executed.
"""

from __future__ import annotations

import builtins
import inspect
import re
import shlex
import types

from heapdump import _model

__all__ = ["Renderer", "render"]

_CO_VARARGS = inspect.CO_VARARGS
_CO_VARKEYWORDS = inspect.CO_VARKEYWORDS

_SCALARS = (type(None), bool, int, float, complex)


class Renderer:
    """Renders values and the report of one dump.

    max_string: characters of a str (bytes of a bytes) shown; max_items:
    elements of a container shown; max_depth: container nesting shown;
    width: longest value shown (characters).
    """

    def __init__(self, dump, *, max_string=60, max_items=6, max_depth=2,
                 width=160):
        self.dump = dump
        self.max_string = max_string
        self.max_items = max_items
        self.max_depth = max_depth
        self.width = width
        self.cuts = {}
        cuts = getattr(dump, "cuts", None) or {}
        objects = getattr(dump, "objects", None) or ()
        for oid, length in cuts.items():
            if isinstance(oid, int) and 0 <= oid < len(objects):
                self.cuts[id(objects[oid])] = length
        self.sources = {}
        self.shown = set()      # ids of frames whose locals were printed
        self._expanding = False  # inside an instance's attributes

    # -- values ------------------------------------------------------------

    def value(self, v):
        """One line for a value, at most self.width characters (plus the
        notes that say how long it was, which are never cut off)."""
        text = self._value(v, 0)
        if len(text) > self.width:
            m = _NOTES.search(text)
            notes = m.group(0) if m else ""
            body = text[:len(text) - len(notes)]
            text = body[:max(self.width - 3, 10)] + "..." + notes
        return text

    def name(self, k):
        """A variable name: as is when it is a str, else rendered (a name
        the dump shortened says so)."""
        return k if type(k) is str else self._value(k, 0)

    def _cut_note(self, v, shown_len):
        original = self.cuts.get(id(v))
        if original is None:
            return ""
        return " [cut in the dump: %s of %s]" % (shown_len, original)

    def _cut_value(self, v, depth):
        """A value the dump shortened (the loader's Cut* classes): its
        contents as the builtin's, and how long it was."""
        t = type(v)
        base = next((b for b in t.__mro__ if b in _CUTTABLE), None)
        if base is None:
            return None
        try:
            original = object.__getattribute__(v, "__dict__").get(
                "original_length")
        except AttributeError:
            original = None
        text = self._value(_as_base(v, base), depth)
        return "%s [cut in the dump: %d of %s]" % (
            text, base.__len__(v), original if original is not None
            else "?")

    def _value(self, v, depth):
        t = type(v)
        if t in _SCALARS:
            return self._scalar(v)
        if t is str:
            return self._str(v)
        if t in (bytes, bytearray):
            return self._bytes(v)
        if t in (list, tuple, set, frozenset, dict):
            return self._container(v, t, depth)
        kinds = _surrogate_kinds()
        if kinds is not None:
            placeholder, cut_classes, redacted_classes = kinds[:3]
            if isinstance(v, placeholder) or t in redacted_classes:
                # Omitted, Redacted, Lost, UnknownObject, and values of
                # which pieces were hidden: heapdump's own repr says what
                # is missing and why.
                return _guarded_repr(v)
            if t in cut_classes:
                text = self._cut_value(v, depth)
                if text is not None:
                    return text
        if isinstance(v, BaseException):
            return self._exception(v, depth)
        if isinstance(v, type):
            return "<class %s>" % _qualified(v)
        if isinstance(v, (types.FunctionType, types.BuiltinFunctionType)):
            return "<function %s>" % _safe_str(getattr(v, "__qualname__",
                                                       "?"))
        if isinstance(v, types.ModuleType):
            return "<module %r>" % _safe_str(getattr(v, "__name__", "?"))
        if isinstance(v, (types.FrameType, types.CodeType,
                          types.TracebackType)):
            return _guarded_repr(v)
        short = self._builtin_short(v, t, depth)
        if short is not None:
            return short
        for base in (dict, list, tuple, set, frozenset, str, bytes,
                     bytearray, int, float):
            if isinstance(v, base):
                # A subclass of a builtin: its contents through the
                # builtin's own methods, never the subclass's overrides.
                return "%s(%s)" % (_type_name(t), self._value(
                    _as_base(v, base), depth))
        text = self._instance(v, depth)
        return _guarded_repr(v) if text is None else text

    def _builtin_short(self, v, t, depth):
        """An enum member of a builtin mix-in (IntEnum...) or a
        namedtuple, as their reprs show them: ``<Level.HIGH: 2>``,
        ``Pair(left=1, right='b')``.  None for anything else."""
        try:
            d = object.__getattribute__(v, "__dict__")
        except AttributeError:
            d = None
        if isinstance(d, dict) and type(d.get("_name_")) is str and \
                "_value_" in d:
            return "<%s.%s: %s>" % (_type_name(t), d["_name_"],
                                    self._value(d["_value_"], depth + 1))
        fields = t.__dict__.get("_fields")
        if fields is None:
            for klass in t.__mro__[1:]:
                fields = klass.__dict__.get("_fields")
                if fields is not None:
                    break
        if isinstance(v, tuple) and type(fields) is tuple and \
                len(fields) == tuple.__len__(v) and \
                all(type(f) is str for f in fields):
            return "%s(%s)" % (_type_name(t), ", ".join(
                "%s=%s" % (f, self._value(x, depth + 1))
                for f, x in zip(fields, tuple.__iter__(v))))
        return None

    def _instance(self, v, depth):
        """An instance of a Python class with the repr of object: its
        class and one level of its attributes, ``Order(id=3, total=9.5)``
        (the attributes' own instances as their reprs).  None for
        anything else (a dataclass, attrs or pydantic instance, an enum
        member: their reprs are the libraries' short forms already)."""
        kinds = _surrogate_kinds()
        if kinds is None or self._expanding or depth >= self.max_depth:
            return None
        instance = kinds[3]
        if not isinstance(v, instance) or type(v).__repr__ is not \
                instance.__repr__:
            return None
        from heapdump import _classes

        try:
            d = object.__getattribute__(v, "__dict__")
        except AttributeError:
            return None
        if not isinstance(d, dict) or "_value_" in d or \
                _classes.field_names(type(v)) is not None:
            return None
        names = [k for k in d if type(k) is str]
        parts = []
        self._expanding = True
        try:
            for name in names[:self.max_items]:
                parts.append("%s=%s" % (name, self._value(d[name],
                                                          depth + 1)))
        finally:
            self._expanding = False
        if len(names) > self.max_items:
            parts.append("... %d attributes" % len(names))
        return "%s(%s)" % (_type_name(type(v)), ", ".join(parts))

    def _scalar(self, v):
        if type(v) is int and v.bit_length() > 200:
            digits = int(v.bit_length() * 0.30103) + 1
            sign = "-" if v < 0 else ""
            return "<%sint of about %d digits>" % (sign, digits)
        return repr(v)

    def _str(self, v):
        note = self._cut_note(v, len(v))
        if len(v) > self.max_string:
            return "%s... (%d chars)%s" % (repr(v[:self.max_string]),
                                            len(v), note)
        return repr(v) + note

    def _bytes(self, v):
        note = self._cut_note(v, len(v))
        if len(v) > self.max_string:
            return "%s... (%d bytes)%s" % (repr(bytes(v[:self.max_string])),
                                            len(v), note)
        return repr(v) + note

    def _container(self, v, t, depth):
        n = len(v)
        note = self._cut_note(v, n)
        if t is dict:
            opener, closer = "{", "}"
        elif t is list:
            opener, closer = "[", "]"
        elif t is tuple:
            opener, closer = "(", ")"
        elif t is set:
            opener, closer = "{", "}"
        else:
            opener, closer = "frozenset({", "})"
        if n == 0:
            return {"set": "set()", "frozenset": "frozenset()"}.get(
                t.__name__, opener + closer) + note
        if depth >= self.max_depth:
            return "%s...%s (%d items)%s" % (opener, closer, n, note)
        parts = []
        if t is dict:
            for i, (k, item) in enumerate(dict.items(v)):
                if i >= self.max_items:
                    break
                parts.append("%s: %s" % (self._value(k, depth + 1),
                                         self._value(item, depth + 1)))
        else:
            for i, item in enumerate(t.__iter__(v)):
                if i >= self.max_items:
                    break
                parts.append(self._value(item, depth + 1))
        more = ""
        if n > self.max_items:
            more = ", ..."
        text = opener + ", ".join(parts) + more
        if t is tuple and n == 1:
            text += ","
        text += closer
        if n > self.max_items:
            text += " (%d items)" % n
        return text + note

    def _exception(self, exc, depth):
        try:
            args = BaseException.args.__get__(exc)
        except Exception:
            return _guarded_repr(exc)
        inner = ", ".join(self._value(a, depth + 1) for a in args[:4])
        if len(args) > 4:
            inner += ", ..."
        try:        # as BaseException.__repr__ names it
            name = type.__getattribute__(type(exc), "__name__")
        except Exception:
            name = "?"
        return "%s(%s)" % (name, inner)

    def exception_line(self, exc):
        """``Type: message`` as Python prints the last line of a traceback,
        from the loaded args (no __str__ of a loaded object is called)."""
        if not isinstance(exc, BaseException):
            return self.value(exc)
        # As traceback prints it: module.qualname, bare for builtins.
        name = _qualified(type(exc), ("builtins", "__main__"))
        try:
            args = BaseException.args.__get__(exc)
        except Exception:
            args = ()
        if len(args) == 0:
            return name
        if len(args) == 1 and type(args[0]) is str and \
                not isinstance(exc, KeyError):
            msg = args[0]
            if len(msg) > self.width:
                msg = msg[:self.width - 3] + "..."
            return "%s: %s" % (name, msg)
        if len(args) == 1:
            return "%s: %s" % (name, self.value(args[0]))
        return "%s: %s" % (name, self.value(tuple(args)))

    # -- the report --------------------------------------------------------

    def source_line(self, filename, lineno):
        lines = self.sources.get(filename)
        if lines is None:
            text = (self.dump.sources or {}).get(filename)
            lines = text.splitlines() if isinstance(text, str) else []
            self.sources[filename] = lines
        if isinstance(lineno, int) and 1 <= lineno <= len(lines):
            return lines[lineno - 1].strip()
        return None

    def frame_lines(self, frame, lineno=None, indent="  ",
                    show_locals=True):
        """The lines of one frame: where, the source line, the locals."""
        code = frame.code if isinstance(frame.code, _model.Code) else None
        filename = code.filename if code else "?"
        name = code.qualname or code.name if code else "?"
        lineno = frame.lineno if lineno is None else lineno
        out = ['%sFile "%s", line %s, in %s' % (indent, filename, lineno,
                                                 name)]
        line = self.source_line(filename, lineno)
        if line is not None:
            out.append("%s    %s" % (indent, line))
        if show_locals:
            lines = self.locals_lines(frame, indent + "  ")
            if lines and id(frame) in self.shown:
                lines = ["%s  (locals as above)" % indent]
            self.shown.add(id(frame))
            out.extend(lines)
        return out

    def locals_lines(self, frame, indent):
        loc = frame.locals
        code = frame.code if isinstance(frame.code, _model.Code) else None
        if not isinstance(loc, dict):
            if loc is not None:
                return ["%sLocals: %s" % (indent, self.value(loc))]
            return []
        is_module = frame.is_module or (code is not None and
                                        code.name == "<module>")
        if is_module:
            names = [k for k in dict.keys(loc) if isinstance(k, str)
                     and not (k.startswith("__") and k.endswith("__"))
                     and not isinstance(dict.get(loc, k),
                                        (types.ModuleType, type,
                                         types.FunctionType))]
            if not names:
                return []
            out = ["%sGlobals (variables):" % indent]
            for k in names[:20]:
                out.append("%s  %s = %s" % (indent, self.name(k),
                                            self.value(dict.get(loc, k))))
            if len(names) > 20:
                out.append("%s  ... %d more" % (indent, len(names) - 20))
            return out
        args = _argument_names(code) if code else []
        ordered = [n for n in (code.names if code else ()) if n in loc]
        ordered += [k for k in dict.keys(loc) if k not in ordered]
        out = []
        arg_lines = [(k, dict.get(loc, k)) for k in ordered if k in args]
        local_lines = [(k, dict.get(loc, k)) for k in ordered
                       if k not in args]
        if arg_lines:
            out.append("%sArguments:" % indent)
            out.extend("%s  %s = %s" % (indent, self.name(k), self.value(v))
                       for k, v in arg_lines)
        if local_lines:
            out.append("%sLocals:" % indent)
            out.extend("%s  %s = %s" % (indent, self.name(k), self.value(v))
                       for k, v in local_lines)
        return out

    def headers(self):
        dump = self.dump
        h = dump.headers
        meta = dump.meta if isinstance(dump.meta, dict) else {}

        def header(name, key=None):
            value = h.get(name) if h is not None else None
            if value is None and key is not None:
                value = meta.get(key)
            return value

        out = ["heapdump %s" % dump.path]
        if dump.truncated:
            out.append("WARNING: the file is truncated; what follows is "
                       "what was intact")
        out.append("Reason:     %s" % (header("Heapdump-Reason", "reason")
                                       or "?"))
        exc = dump.exception
        if exc is not None:
            chain = exception_chain(exc)
            out.append("Exception:  %s" % self.exception_line(chain[-1][0]))
            for i in range(len(chain) - 1, 0, -1):
                how = chain[i][1]
                out.append("  %s %s" % (
                    "caused by:     " if how == "cause"
                    else "while handling:",
                    self.exception_line(chain[i - 1][0])))
            for i, member in enumerate(_group_members(chain[-1][0])):
                out.append("  member %d:      %s" % (
                    i + 1, self.exception_line(member)))
        else:
            out.append("Exception:  none")
        out.extend(self.context_lines())
        python = header("Heapdump-Python")
        if python is None and meta.get("version"):
            python = "%s %s" % (meta.get("implementation", "?"),
                                str(meta["version"]).split()[0])
        platform = header("Heapdump-Platform", "platform")
        out.append("Python:     %s%s" % (python or "?", " on %s" % platform
                                         if platform else ""))
        pid = header("Heapdump-Pid", "pid")
        host = header("Heapdump-Hostname", "hostname")
        out.append("Process:    pid %s%s" % (pid or "?", " on %s" % host
                                             if host else ""))
        argv = meta.get("argv")
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            argv = " ".join(shlex.quote(a) for a in argv)
        else:
            argv = header("Heapdump-Argv")
        out.append("Argv:       %s" % (self._plain(argv) if argv else "?"))
        out.append("Time:       %s" % (header("Heapdump-Time", "time")
                                       or "?"))
        out.append("Threads:    %d" % len(dump.threads or ()))
        if len(dump.threads or ()) > 1:
            # as pdb's threads command lists them (heapdump._pdbcmds)
            for n, t, marks in thread_rows(dump):
                out.append("          " + thread_line(n, t, marks))
        if dump.tasks:
            # as pdb's tasks command lists them (heapdump._pdbcmds)
            out.append("Tasks:      %d" % len(dump.tasks))
            rows = task_rows(dump)
            for n, t in rows:
                out.append("          " + task_line(rows, n, t))
                out.extend("          " + ln
                           for ln in task_chain_lines(dump, t))
        trailer = dump.trailer if isinstance(dump.trailer, dict) else None
        if trailer:
            bits = []
            for key, label in (("objects", "objects"), ("cuts", "values cut"),
                               ("omitted", "objects omitted"),
                               ("errors", "read errors")):
                n = trailer.get(key)
                if isinstance(n, int) and (n or key == "objects"):
                    bits.append("%s %s" % (format(n, ","), label))
            if bits:
                out.append("Contents:   %s" % ", ".join(bits))
        out.extend(self.cut_lines())
        for w in dump.warnings or ():
            out.append("Warning:    %s" % self._plain(w))
        for e in dump.errors or ():
            out.append("Writer error: %s" % self._plain(e))
        return out

    def cut_lines(self, label="Cut:        ", shown=12):
        """Which values the dump shortened: each one a frame's variable
        holds, by name, type, how much of it is in the dump and where;
        then how many others (inside other objects) there are."""
        if not self.cuts:
            return []
        named, seen = [], set()
        frames = []
        dump = self.dump
        model = dump.traceback_of(dump.exception) if isinstance(
            dump.exception, BaseException) else None
        if model is None:
            model = dump.traceback
        if model is not None:
            frames.extend(e.frame for e in model.entries())
        for thread in dump.threads or ():
            frames.extend(thread.frames or ())
        for f in frames:
            loc = getattr(f, "locals", None)
            if type(loc) is not dict or id(f) in seen:
                continue
            seen.add(id(f))
            code = f.code
            where = "%s(), %s:%s" % (code.name, code.filename, f.lineno) \
                if isinstance(code, _model.Code) else "?"
            for name, v in dict.items(loc):
                if id(v) in self.cuts and id(v) not in seen:
                    seen.add(id(v))
                    named.append((name, v, where))
        out = []
        for name, v, where in named[:shown]:
            base = next((b for b in type(v).__mro__ if b in _CUTTABLE),
                        type(v))
            unit = "chars" if base is str else "bytes" if base in (
                bytes, bytearray) else "items"
            out.append("%s%s: %s, %s of %s %s in the dump (in %s)" % (
                label if not out else " " * len(label), self.name(name),
                base.__name__, format(base.__len__(v), ","),
                format(self.cuts[id(v)], ","), unit, where))
        others = len(self.cuts) - min(len(named), shown)
        if others:
            out.append("%s%s%s other value%s cut (%s)" % (
                label if not out else " " * len(label),
                "and " if out else "", format(others, ","),
                "s" if others > 1 else "",
                "inside other objects" if len(named) <= shown else
                "variables not listed, or inside other objects"))
        return out

    def context_lines(self, label="Context:    "):
        """The context the program attached (heapdump.set_context), one
        line per key, and one per key of a dict value (an integration's
        request: ``request.method = 'GET'``); at most 40 lines."""
        roots = getattr(self.dump, "roots", None)
        context = roots.get("context") if isinstance(roots, dict) else None
        if context is None:
            return []
        if type(context) is not dict:
            return [label + self.value(context)]
        lines, more = [], 0
        for k, v in dict.items(context):
            nested = type(v) is dict and 0 < len(v) <= 40
            items = dict.items(v) if nested else [(None, v)]
            if len(lines) == 39:
                more += len(items)  # counted, not rendered
                continue
            name = self.name(k)
            for k2, v2 in items:
                if len(lines) == 39:
                    more += 1
                    continue
                full = name + "." + self.name(k2) if nested else name
                lines.append("%s = %s" % (full, self.value(v2)))
        if more:
            lines.append("... %d more" % more)
        pad = " " * len(label)
        return [(label if i == 0 else pad) + line
                for i, line in enumerate(lines)]

    def _plain(self, text):
        text = _safe_str(text)
        if len(text) > self.width * 2:
            text = text[:self.width * 2 - 3] + "..."
        return text

    def exception_lines(self):
        """The exception chain as Python prints it, with locals."""
        dump = self.dump
        if dump.exception is None:
            return []
        out = []
        chain = exception_chain(dump.exception)
        for i, (exc, how) in enumerate(chain):
            if i:
                out.append("")
                out.append(
                    "The above exception was the direct cause of the "
                    "following exception:" if how == "cause" else
                    "During handling of the above exception, another "
                    "exception occurred:")
                out.append("")
            model = dump.traceback_of(exc) if isinstance(
                exc, BaseException) else None
            if model is None and exc is dump.exception:
                model = dump.traceback
            if model is not None:
                out.append("Traceback (most recent call last):")
                for entry in model.entries():
                    if isinstance(entry.frame, _model.Frame):
                        out.extend(self.frame_lines(entry.frame,
                                                    entry.lineno))
            out.append(self.exception_line(exc))
        return out

    def thread_lines(self, thread):
        bits = []
        if thread.is_current:
            bits.append("called dump()")
        if thread.is_main:
            bits.append("main thread")
        out = ["Thread %s (%s, native id %s)%s:" % (
            thread.ident, thread_name(thread), thread.native_id,
            " [%s]" % ", ".join(bits) if bits else "")]
        frames = list(thread.frames or ())
        if not frames:
            out.append("  (no Python frames)")
        for f in reversed(frames):      # outermost first, as tracebacks
            out.extend(self.frame_lines(f))
        return out

    def render(self):
        out = self.headers()
        exc = self.exception_lines()
        if exc:
            out.append("")
            out.extend(exc)
        for thread in self.dump.threads or ():
            out.append("")
            out.extend(self.thread_lines(thread))
        return "\n".join(out) + "\n"


def render(dump, **options):
    """The report of a loaded dump, as one str (see Renderer)."""
    return Renderer(dump, **options).render()


def exception_chain(exc):
    """[(exception, how)] oldest first, as Python prints a chain: how is
    "cause" or "context" for what links an exception to the one before it
    in the list (None for the first)."""
    chain, seen = [], set()
    how = None
    current = exc
    links = []
    while isinstance(current, BaseException) and id(current) not in seen:
        seen.add(id(current))
        links.append((current, how))
        cause = current.__cause__
        context = current.__context__
        if cause is not None:
            current, how = cause, "cause"
        elif context is not None and not current.__suppress_context__:
            current, how = context, "context"
        else:
            break
    if not links and exc is not None:
        return [(exc, None)]    # a placeholder that stands for it
    # links: newest first, each with how it links to the previous (newer);
    # turn around so that how says how the later one links to the earlier.
    links.reverse()
    for i, (e, _) in enumerate(links):
        chain.append((e, links[i - 1][1] if i else None))
    return chain


def _group_members(exc):
    group = getattr(builtins, "BaseExceptionGroup", None)
    if group is None or not isinstance(exc, group):
        return []
    members = exc.exceptions
    return list(members) if isinstance(members, tuple) else []


def _argument_names(code):
    n = (code.argcount or 0) + (code.kwonlyargcount or 0)
    flags = code.flags or 0
    if flags & _CO_VARARGS:
        n += 1
    if flags & _CO_VARKEYWORDS:
        n += 1
    return set(code.names[:n])


def _as_base(v, base):
    if base is dict:
        return dict(dict.items(v))
    if base in (list, tuple, set, frozenset):
        return base(base.__iter__(v))
    if base is str:
        return str.__str__(v)
    if base is bytes:
        return bytes.__bytes__(v) if hasattr(bytes, "__bytes__") \
            else bytes(memoryview(v))
    if base is bytearray:
        return bytearray(memoryview(v))
    if base is int:
        return int.__index__(v)
    if base is float:
        return float.__float__(v)
    return v


def _type_name(t):
    try:
        return type.__getattribute__(t, "__qualname__")
    except Exception:
        return "?"


def _qualified(t, bare=("builtins",)):
    try:
        module = type.__getattribute__(t, "__module__")
    except Exception:
        module = None
    name = _type_name(t)
    if isinstance(module, str) and module not in bare:
        return "%s.%s" % (module, name)
    return name


def thread_name(thread):
    """A thread's name for display ("?" when the dump could not read it,
    as in a crash dump)."""
    name = thread.name
    return "?" if name is None else _safe_str(name)


def _safe_str(s):
    if type(s) is str:
        return s
    return _guarded_repr(s)


_CUTTABLE = (str, bytes, bytearray, tuple, list, dict, set, frozenset)
# The notes at the end of a rendered value, kept when it is shortened.
_NOTES = re.compile(r"(?: \(\d+ (?:items|chars|bytes)\))?"
                    r"(?: \[cut in the dump: \d+ of [^\]]+\])?$")
_KINDS = []


def _surrogate_kinds():
    """(Placeholder base, Cut* classes, Redacted* value classes) of
    heapdump._surrogates, or
    None when it cannot be imported (no C extension)."""
    if not _KINDS:
        try:
            from heapdump import _surrogates
            _KINDS.append((_surrogates.Placeholder,
                           frozenset(_surrogates.CUT_CLASSES.values()),
                           frozenset(_surrogates.REDACTED_CLASSES),
                           _surrogates.Instance))
        except ImportError:
            _KINDS.append(None)
    return _KINDS[0]


def _guarded_repr(v):
    try:
        text = type(v).__repr__(v)
        if type(text) is not str:
            raise TypeError("__repr__ returned %s" % type(text).__name__)
        return text
    except Exception as e:
        return "<%s object (repr failed: %s)>" % (
            _type_name(type(v)), type(e).__name__)


# --------------------------------------------------------------- threads

def _where(thread):
    """'file:line in function' of a thread's innermost frame, or why not."""
    for f in thread.frames or ():
        code = f.code
        if isinstance(code, _model.Code):
            return "%s:%s in %s" % (code.filename, f.lineno, code.name)
        return "?"
    return "(no Python frames)"


def thread_rows(dump):
    """(number, thread, marks) for each dumped thread, numbered from 1 in
    the order of the dump; marks: 'called dump()', 'main'."""
    rows = []
    for n, t in enumerate(dump.threads or (), 1):
        marks = []
        if t.is_current:
            marks.append("called dump()")
        if t.is_main:
            marks.append("main")
        rows.append((n, t, marks))
    return rows


def thread_line(n, thread, marks, current=False):
    """One line of the ``threads`` list (and of --summary's)."""
    return "%s%3d %s (ident %s%s): %s" % (
        "*" if current else " ", n, thread_name(thread),
        thread.ident, ", " + ", ".join(marks) if marks else "",
        _where(thread))


# --------------------------------------------------------------- tasks

def _gen_dict(coro):
    try:
        d = object.__getattribute__(coro, "__dict__")
    except (AttributeError, TypeError):
        return {}
    return d if isinstance(d, dict) else {}


def _coro_frame(coro):
    """The dumped Frame of a loaded coroutine or generator, or None."""
    d = _gen_dict(coro)
    f = d.get("dumped_frame")
    if isinstance(f, _model.Frame):
        return f
    for prefix in ("cr", "gi", "ag"):
        f = d.get(prefix + "_frame")
        if isinstance(f, _model.Frame):
            return f
    return None


def _running_frames(dump, frame):
    """The frames from frame inward on the thread whose stack holds it
    (a running coroutine's), outermost first, less heapdump's own."""
    from heapdump._frames import own_frames_dropped

    for thread in dump.threads or ():
        frames = own_frames_dropped(thread)     # innermost first
        for i, f in enumerate(frames):
            if f is frame:
                return frames[i::-1]
    return None


def task_running(task):
    """Whether the task's coroutine was running when the dump was taken."""
    return _gen_dict(task.coro).get("state") == "running"


def task_frames(dump, task):
    """A task's await chain as frames, outermost first: its coroutine's
    suspended frame, then those of the coroutines it awaits (cr_await);
    for the running task, its thread's frames from the coroutine's in."""
    frames = []
    for coro in task.coroutines():
        f = _coro_frame(coro)
        if f is None:
            continue
        if _gen_dict(coro).get("state") == "running":
            inner = _running_frames(dump, f)
            if inner:
                frames.extend(inner)
                break
        frames.append(f)
    return frames


def task_rows(dump):
    """(number, task) for each dumped task, numbered from 1 in the order
    of the dump."""
    return list(enumerate(dump.tasks or (), 1))


def _task_ref(rows, obj):
    for n, t in rows:
        if t.obj is obj:
            return "task %d (%s)" % (n, task_name(t))
    return None


def task_children(rows, task):
    """The Tasks that task waits on through a gather() future (those
    whose ``awaited_by`` holds task, less the one it awaits directly)."""
    return [t for _, t in rows if task in t.awaited_by and
            t.obj is not task.awaits]


def task_name(task):
    return "?" if task.name is None else _safe_str(task.name)


def task_line(rows, n, task, current=False):
    """The head line of a task in the ``tasks`` list (and --summary's):
    number, name, state, what it awaits and who awaits it."""
    state = task.state or "?"
    if task_running(task):
        state += ", running"
    bits = [state]
    if task.awaits is not None:
        ref = _task_ref(rows, task.awaits)
        if ref is None:
            kids = [r for r in (_task_ref(rows, t.obj) for t in task_children(
                rows, task)) if r]
            if kids:
                ref = "a %s of %s" % (_type_name(type(task.awaits)),
                                      ", ".join(kids))
        bits.append("awaits " + (ref or "a " + _type_name(type(task.awaits))))
    waiters = [r for r in (_task_ref(rows, t.obj) for t in task.awaited_by)
               if r]
    if waiters:
        bits.append("awaited by " + ", ".join(waiters))
    return "%s%3d %s (%s)" % ("*" if current else " ", n, task_name(task),
                              "; ".join(bits))


def task_chain_lines(dump, task):
    """The await chain under a task's head line, as ``python -m asyncio
    pstree`` shows it: one line per frame, 'function file:line',
    innermost last."""
    out = []
    for f in task_frames(dump, task):
        code = f.code
        if isinstance(code, _model.Code):
            out.append("      %s %s:%s" % (code.name, code.filename,
                                           f.lineno))
        else:
            out.append("      ?")
    return out
