"""What a dump hides by value, gathered before it is written.

The hiding itself is C (src/hide.c, a ``_heapdump.Hider``), made once per
dump, before the walk (or when a fatal-signal handler is installed).  This
module decides what goes into it:

- ``hide=[...]`` of ``heapdump.dump`` and of the triggers' and
  integrations' options, and the secrets an integration knows (a request's
  cookies and credentials, Django's ``SECRET_KEY``): a ``str``, ``bytes``
  or ``bytearray`` is hidden by value, wherever it appears inside another
  when it has at least ``MIN_SUBSTRING`` (8) characters, where an equal
  value is met when it is shorter; any other object by identity;
- the environment, unless ``environ=True``: the objects that hold it
  (``os.environ``'s dict, ``posix.environ``) by identity, and its values
  (the rule of ``environment_entries``) where an equal value is met, which
  covers WSGI environ copies, Django's ``request.META``,
  ``dict(os.environ)`` and settings read from it;
- the rules, unless redaction is off (``redact=False``): the password of a
  URL in any string and the tokens of known key formats (``sk_live_``,
  ``ghp_``, ``AKIA``, ``xoxb-``, ...), found by the same automaton.

The header lines and META facts the dump writes (argv, the reason) go
through the same hider (``mask_facts``).
"""

from __future__ import annotations

import os
import sys

from heapdump import _heapdump

IDENTITY = _heapdump.HIDE_IDENTITY
WHOLE = _heapdump.HIDE_WHOLE
SUBSTRING = _heapdump.HIDE_SUBSTRING
ENVIRON = _heapdump.HIDE_ENVIRON
#: A secret given by value with at least this many characters (bytes) is
#: hidden inside longer values too; a shorter one only where it is equal.
MIN_SUBSTRING = _heapdump.HIDE_MIN_SUBSTRING
#: The shortest environment value hidden (unless its name looks secret):
#: "1", "yes" or "/usr/bin" would blank half the heap.
MIN_ENVIRON = 8

#: Variables whose values name the process's places and settings, never a
#: credential: not hidden (their values are paths, the program's own
#: settings module, locales...), unless their name looks secret.
ENV_NOT_SECRET = frozenset((
    "PATH", "HOME", "PWD", "OLDPWD", "SHELL", "USER", "LOGNAME", "LANG",
    "LANGUAGE", "TERM", "TZ", "TMPDIR", "SHLVL", "_", "HOSTNAME", "MAIL",
    "EDITOR", "VISUAL", "PAGER", "DISPLAY", "COLORTERM", "LS_COLORS",
    "PYTHONPATH", "PYTHONHOME", "PYTHONDEVMODE", "PYTHONFAULTHANDLER",
    "PYTHONMALLOC", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
    "PYTHONHASHSEED", "PYTHONWARNINGS", "VIRTUAL_ENV",
    "DJANGO_SETTINGS_MODULE", "HEAPDUMP_DIR",
))
ENV_NOT_SECRET_PREFIXES = ("LC_", "XDG_")

# a hider of the rules alone: finds the URL passwords in environment values
_RULES = None


def _rules():
    global _RULES
    if _RULES is None:
        _RULES = _heapdump.Hider((), True)
    return _RULES


def value_entries(values, flags=0):
    """Hider entries for values: a str, bytes or bytearray by value
    (inside others from MIN_SUBSTRING characters on), anything else by
    identity.  None and empty values are left out."""
    out = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, (str, bytes, bytearray)):
            if not v:
                continue
            f = WHOLE | (SUBSTRING if len(v) >= MIN_SUBSTRING else 0)
            out.append((bytes(v) if isinstance(v, bytearray) else v,
                        f | flags))
        else:
            out.append((v, IDENTITY | flags))
    return out


def check_hide(hide):
    """hide= as a tuple of values (a lone str or bytes is one value).
    Raises TypeError for what cannot be hidden."""
    if hide is None:
        return ()
    if isinstance(hide, (str, bytes, bytearray)):
        return (hide,)
    try:
        return tuple(hide)
    except TypeError:
        raise TypeError("hide must be a list of values to hide, not %s"
                        % type(hide).__name__) from None


def environment_objects():
    """The objects that hold the process environment."""
    hidden = []
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict):
        hidden.append(data)
    posix = sys.modules.get("posix") or sys.modules.get("nt")
    initial = getattr(posix, "environ", None)
    if isinstance(initial, dict):
        hidden.append(initial)
    return hidden


def environment_entries(patterns):
    """Hider entries for the environment: its objects by identity, and
    the values of its variables where an equal value is met: those of
    MIN_ENVIRON characters or more, but the variables of ENV_NOT_SECRET;
    every value of a variable whose name looks secret (patterns), inside
    others too from MIN_SUBSTRING characters on; and the password of every
    URL in a value, as a secret given by value."""
    out = [(o, IDENTITY | ENVIRON) for o in environment_objects()]
    looks_secret = _heapdump.looks_secret
    patterns = tuple(patterns)
    rules = _rules()
    encoding = sys.getfilesystemencoding()
    for name, value in list(os.environ.items()):
        if not value:
            continue
        secret = bool(patterns) and looks_secret(name, patterns)
        if not secret and (name in ENV_NOT_SECRET or
                           name.startswith(ENV_NOT_SECRET_PREFIXES)):
            continue
        if secret or len(value) >= MIN_ENVIRON:
            flags = WHOLE | ENVIRON
            if secret and len(value) >= MIN_SUBSTRING:
                flags |= SUBSTRING
            out.append((value, flags))
            # the bytes the process holds (os.environb, posix.environ),
            # when they are not the UTF-8 of the str
            try:
                raw = value.encode(encoding, "surrogateescape")
            except (UnicodeError, LookupError):
                raw = None
            if raw is not None and raw != value.encode("utf-8",
                                                       "surrogatepass"):
                out.append((raw, flags))
        for start, end, why in rules.scan(value):
            if why == "url":
                out.extend(value_entries([value[start:end]], ENVIRON))
    return out


def hider(patterns, *, hide=(), hidden=(), environ=False, rules=None):
    """The Hider of one dump: hide (the caller's values), hidden (an
    integration's request secrets), the environment unless environ, and
    the rules when redaction is on (patterns not empty; rules= forces)."""
    entries = value_entries(check_hide(hide)) + value_entries(hidden)
    if not environ:
        entries += environment_entries(patterns)
    if rules is None:
        rules = bool(patterns)
    return _heapdump.Hider(entries, bool(rules))


def _mask(h, value, depth=0):
    if isinstance(value, str):
        return h.mask(value)
    if isinstance(value, list) and depth < 4:
        return [_mask(h, v, depth + 1) for v in value]
    return value


def mask_facts(h, facts, headers):
    """facts (a dict) and headers ((name, value) pairs) with what h hides
    masked: the argv of a program given a password, a reason that quotes
    one."""
    facts = {k: _mask(h, v) for k, v in facts.items()}
    headers = [(k, h.mask(v) if isinstance(v, str) else v)
               for k, v in headers]
    return facts, headers
