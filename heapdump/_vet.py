"""``python -m heapdump.open --secrets FILE``: vet a dump before it leaves
the host.

It lists every redaction the writer made (where, the type and size of
what was replaced, why; never a value) and flags every string still in the
file that looks like a credential:

- the password of a URL (``scheme://user:PASSWORD@host``) and the tokens of
  known key formats (``sk_live_``, ``ghp_``, ``AKIA``, ``xoxb-``, a PEM
  private key, a JWT...): the writer's own rules (src/hide.c), so anything
  they find was not hidden (a dump written with ``redact=False``, or by an
  older heapdump);
- high-entropy tokens: a run of more than 24 characters of letters,
  digits and ``+/=_-`` holding digits and letters (hexadecimal), or digits
  and letters of both cases (anything else), whose Shannon entropy is at
  least 3.5 bits per character for hexadecimal, 4.2 for anything else:
  random keys, not words, paths, UUIDs or alphabets.

The header lines, the META facts, every object and value of the body and
the rule-matches of the embedded sources are looked at.  The exit status
says whether anything was flagged (main()).
"""

from __future__ import annotations

import collections
import math
import re
import types

from heapdump import _heapdump, _model
from heapdump import _surrogates as S

#: The shortest token the entropy check looks at (more than 24).
MIN_TOKEN = 25
#: Bits per character from which a token is taken for a random key.
HEX_ENTROPY = 3.5
OTHER_ENTROPY = 4.2

_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{%d,}" % MIN_TOKEN)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# How much of a long string is looked at.
_MAX_SCAN = 1 << 20

_RULES = None


def _rules():
    global _RULES
    if _RULES is None:
        _RULES = _heapdump.Hider((), True)
    return _RULES


def _entropy(token):
    counts = collections.Counter(token)
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _ascending_run(token, length=4):
    """Whether token holds length characters in a row that follow each
    other (abcd, 0123): alphabets and tables, not random keys."""
    run = 1
    for a, b in zip(token, token[1:]):
        run = run + 1 if ord(b) == ord(a) + 1 else 1
        if run >= length:
            return True
    return False


def token_flags(text):
    """What in text (a str) looks like a credential: a list of
    descriptions, none showing the value."""
    out = []
    if len(text) > _MAX_SCAN:
        text = text[:_MAX_SCAN]
    for start, end, why in _rules().scan(text):
        if why == "url":
            if text[start:end] != S.REDACTED_MARK:
                out.append("a URL with a password (%d characters)"
                           % (end - start))
        elif why == "token":
            prefix = text[max(0, start - 12):start]
            prefix = re.split(r"[^A-Za-z0-9_.-]", prefix)[-1] or "?"
            out.append("a key of a known format (%s..., %d characters)"
                       % (prefix, end - start))
    for m in _TOKEN.finditer(text):
        token = m.group(0).strip("=")
        if len(token) < MIN_TOKEN or _UUID.match(token):
            continue
        hexadecimal = _HEX.match(token) is not None
        if not re.search(r"[0-9]", token) or not (
                re.search(r"[a-fA-F]", token) if hexadecimal else
                re.search(r"[a-z]", token) and re.search(r"[A-Z]", token)):
            continue            # words, paths, numbers
        if _ascending_run(token):
            continue
        limit = HEX_ENTROPY if hexadecimal else OTHER_ENTROPY
        if _entropy(token) >= limit:
            out.append("a high-entropy token of %d characters" % len(token))
    return out


def _text(v):
    """The text of a str or bytes to look at (bytes as latin-1), or
    None."""
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("latin-1")
    return None


class Vetting:
    """The redactions and the flags of a loaded dump."""

    def __init__(self, dump):
        self.dump = dump
        self.redactions = []    # (root, where, what)
        self.flags = []         # (root, where, what)
        self._root = ""
        self._flagged = set()   # ids of str objects already looked at

    # -- values -----------------------------------------------------------

    def _look(self, where, v):
        if isinstance(v, S.Redacted):
            what = "%s, %s bytes (%s)" % (S._dotted(v.module, v.qualname),
                                          v.size, v.why)
            self._add(self.redactions, where, what)
            return
        if type(v) in S.REDACTED_CLASSES:
            d = object.__getattribute__(v, "__dict__")
            module, qualname = d.get("dumped_type", (None, "?"))
            unit = "chars" if isinstance(v, str) else "bytes"
            holes = ", ".join("%s (%d %s)" % (reason, n, unit)
                              for _, n, reason in d.get("redacted", ()))
            self._add(self.redactions, where,
                      "%s of %s %s, pieces hidden: %s" % (
                          S._dotted(module, qualname),
                          d.get("original_length"), unit, holes))
            for piece in d.get("pieces", ()):
                if not isinstance(piece, tuple):
                    self._flag_text(where, _text(piece))
            return
        if isinstance(v, (str, bytes, bytearray)):
            if id(v) in self._flagged:
                return
            self._flagged.add(id(v))
            self._flag_text(where, _text(v))

    def _add(self, into, where, what):
        root = self._root
        if root and where.startswith(root):
            into.append((root, where[len(root):].lstrip() or "itself",
                         what))
        else:
            into.append(("", where, what))

    def _flag_text(self, where, text):
        if not text or len(text) < 9:
            return
        for what in token_flags(text):
            self._add(self.flags, where, what)

    # -- the walk ---------------------------------------------------------

    def _children(self, obj):
        """(label, value) of what obj holds, read without user code."""
        if isinstance(obj, _model.Frame):
            locals_ = obj.locals if isinstance(obj.locals, dict) else {}
            for k, v in dict.items(locals_):
                yield "local %r" % (k,), v
            if isinstance(obj.globals, dict):
                yield "globals", obj.globals
            return
        if type(obj) in S.REDACTED_CLASSES:
            return
        if isinstance(obj, dict):
            for k, v in list(dict.items(obj)):
                label = _label(k)
                yield "key " + label, k
                yield "[%s]" % label, v
        elif isinstance(obj, (list, tuple)):
            base = list if isinstance(obj, list) else tuple
            for i, v in enumerate(base.__iter__(obj)):
                yield "[%d]" % i, v
        elif isinstance(obj, (set, frozenset)):
            base = set if isinstance(obj, set) else frozenset
            for v in base.__iter__(obj):
                yield "{element}", v
        if isinstance(obj, BaseException):
            try:
                args = BaseException.args.__get__(obj)
            except Exception:
                args = ()
            for i, v in enumerate(args):
                yield ".args[%d]" % i, v
            for name in ("__cause__", "__context__"):
                try:
                    yield "." + name, getattr(BaseException, name).__get__(
                        obj)
                except Exception:
                    pass
        if isinstance(obj, (str, bytes, bytearray, int, float, complex,
                            type, types.FunctionType, types.ModuleType)):
            return
        try:
            attrs = object.__getattribute__(obj, "__dict__")
        except (AttributeError, TypeError):
            attrs = None
        if isinstance(attrs, dict):
            for k, v in list(dict.items(attrs)):
                yield "." + (k if isinstance(k, str) else _label(k)), v
        refs = _heapdump.surrogate_referents(obj)
        for i, v in enumerate(refs or ()):
            yield "<referent %d>" % i, v

    def _roots(self):
        dump = self.dump
        for t in dump.threads or ():
            for f in t.frames or ():
                code = f.code
                yield ("thread %r, frame %s (%s:%s)" % (
                    t.name, getattr(code, "qualname", "?"),
                    getattr(code, "filename", "?"), f.lineno)), f
        if dump.exception is not None:
            yield "the exception", dump.exception
        for name, v in (dump.roots or {}).items():
            if name != "exception":
                yield "root %r" % (name,), v
        for i, v in enumerate(dump.objects or ()):
            yield "object #%d (%s)" % (i, _type_label(v)), v

    def run(self):
        seen = set()
        queue = collections.deque()
        for where, v in self._roots():
            self._root = where
            if id(v) not in seen:
                seen.add(id(v))
                self._look(where, v)
                queue.append((where, v))
            while queue:
                path, obj = queue.popleft()
                for label, child in self._children(obj):
                    where = path + " " + label if not label.startswith(
                        ("[", ".")) else path + label
                    self._look(where, child)
                    if _walks(child) and id(child) not in seen:
                        seen.add(id(child))
                        queue.append((where, child))
        self._root = ""
        self._headers_and_meta()
        self._sources()
        return self

    def _headers_and_meta(self):
        headers = self.dump.headers
        for name, value in (headers.items() if headers is not None else ()):
            self._flag_text("header %s" % name, str(value))
        meta = self.dump.meta if isinstance(self.dump.meta, dict) else {}
        for k, v in meta.items():
            for i, item in enumerate(v if isinstance(v, list) else [v]):
                if isinstance(item, str):
                    self._flag_text("META %s%s" % (
                        k, "[%d]" % i if isinstance(v, list) else ""), item)

    def _sources(self):
        for name, pieces in sorted(
                (self.dump.source_redactions or {}).items()):
            for line, col, end_line, end_col, reason in pieces:
                self.redactions.append((
                    "source %s" % name, "%d:%d-%d:%d" % (
                        line, col, end_line, end_col),
                    "masked (%s)" % S.REDACTED_WHY.get(reason, reason)))
        for name, text in sorted((self.dump.sources or {}).items()):
            for lineno, line in enumerate(text.splitlines(), 1):
                for start, end, why in _rules().scan(line):
                    piece = line[start:end]
                    if set(piece) <= {"*"}:
                        continue        # masked by the writer
                    self.flags.append((
                        "source %s" % name, "line %d" % lineno,
                        "a URL with a password" if why == "url"
                        else "a key of a known format"))


def _walks(v):
    """Whether the walk goes into v (containers and stand-ins, not
    scalars or placeholders)."""
    return not isinstance(v, (str, bytes, bytearray, int, float, complex,
                              type(None), S.Placeholder, type,
                              types.FunctionType, types.ModuleType))


def _label(k):
    if isinstance(k, str):
        return repr(str.__str__(k)) if len(k) <= 60 else \
            repr(str.__str__(k[:57])) + "..."
    if isinstance(k, (int, float, bool)) or k is None:
        return repr(k)
    return "<%s>" % _type_label(k)


def _type_label(v):
    t = type(v)
    try:
        return "%s.%s" % (type.__getattribute__(t, "__module__"),
                          type.__getattribute__(t, "__qualname__"))
    except Exception:
        return "?"


def _grouped(entries):
    """Lines for (root, where, what) entries, each root once."""
    out, last = [], None
    for root, where, what in entries:
        if not root:
            out.append("  %s: %s" % (where, what))
            last = None
            continue
        if root != last:
            out.append("  %s:" % root)
            last = root
        out.append("    %s: %s" % (where, what))
    return out


def render(vetting, path):
    """The report, as lines of text."""
    v = vetting
    out = ["heapdump: secrets in %s" % path, ""]
    out.append("Redacted: %d" % len(v.redactions))
    out += _grouped(v.redactions)
    out.append("")
    if v.flags:
        out.append("Flagged: %d string%s still look%s like %s" % (
            len(v.flags), "s" if len(v.flags) != 1 else "",
            "" if len(v.flags) != 1 else "s",
            "credentials" if len(v.flags) != 1 else "a credential"))
        out += _grouped(v.flags)
    else:
        out.append("Flagged: none; no string looks like a credential")
    return out


def main(dump, path, out):
    """Print the report of dump to out; returns the exit status: 0 when
    nothing was flagged, 1 when something was."""
    vetting = Vetting(dump).run()
    for line in render(vetting, path):
        out.write(line + "\n")
    out.flush()
    return 1 if vetting.flags else 0
