"""The facts of the file format (docs/format.rst) as the C extension
defines them: src/format.h is their one definition, src/constants.c
exports them.  The names are the specification's: INT ... UNREADABLE
(object records), META ... INLINE (other records), EXT_INT ... EXT_RUN
(the ext types of values), CK_LOCAL ... CK_HIDDEN (a CODE record's name
kinds), TF_HEAPTYPE and TF_ABSTRACT (a TYPE record's flags).
tests/unit/test_format_constants.py checks them against the
specification's tables.
"""

from __future__ import annotations

from heapdump import _heapdump as _c

FORMAT_VERSION = _c.FORMAT_VERSION
FORMAT_MAJOR = _c.FORMAT_MAJOR
FORMAT_MINOR = _c.FORMAT_MINOR

#: kind -> name, for every record kind this version writes
KIND_NAMES = dict(_c.KIND_NAMES)
#: kind -> the field types after the header ("d" data, "v" value, "V"
#: [values], "N" [names]; after a "|" the fields of later minor versions)
FIELDS = dict(_c.FIELDS)
#: kinds below this are object records, from it other records
FIRST_OTHER = _c.FIRST_OTHER

INT = _c.K_INT
FLOAT = _c.K_FLOAT
COMPLEX = _c.K_COMPLEX
STR = _c.K_STR
BYTES = _c.K_BYTES
BYTEARRAY = _c.K_BYTEARRAY
TUPLE = _c.K_TUPLE
LIST = _c.K_LIST
DICT = _c.K_DICT
SET = _c.K_SET
FROZENSET = _c.K_FROZENSET
RANGE = _c.K_RANGE
SLICE = _c.K_SLICE
SINGLETON = _c.K_SINGLETON
TYPE = _c.K_TYPE
INSTANCE = _c.K_INSTANCE
OPAQUE = _c.K_OPAQUE
FUNCTION = _c.K_FUNCTION
METHOD = _c.K_METHOD
CFUNCTION = _c.K_CFUNCTION
CODE = _c.K_CODE
MODULE = _c.K_MODULE
CELL = _c.K_CELL
FRAME = _c.K_FRAME
TRACEBACK = _c.K_TRACEBACK
EXCEPTION = _c.K_EXCEPTION
GENERATOR = _c.K_GENERATOR
WEAKREF = _c.K_WEAKREF
UNREADABLE = _c.K_UNREADABLE
NATIVE = _c.K_NATIVE

META = _c.R_META
LAYOUT = _c.R_LAYOUT
CLASS = _c.R_CLASS
CUT = _c.R_CUT
MORE = _c.R_MORE
THREAD = _c.R_THREAD
SOURCE = _c.R_SOURCE
ROOT = _c.R_ROOT
TRAILER = _c.R_TRAILER
ERROR = _c.R_ERROR
ROOTS = _c.R_ROOTS
INLINE = _c.R_INLINE
TASK = _c.R_TASK

#: ext type -> name
EXT_NAMES = dict(_c.EXT_NAMES)
EXT_INT = _c.EXT_INT
EXT_UNBOUND = _c.EXT_UNBOUND
EXT_OMITTED = _c.EXT_OMITTED
EXT_REDACTED = _c.EXT_REDACTED
EXT_RUN = _c.EXT_RUN

CK_LOCAL = _c.CK_LOCAL
CK_CELL = _c.CK_CELL
CK_FREE = _c.CK_FREE
CK_HIDDEN = _c.CK_HIDDEN

TF_HEAPTYPE = _c.TF_HEAPTYPE
TF_ABSTRACT = _c.TF_ABSTRACT

#: the INLINE record's fields, in order: the Python types of the values
#: a record writes in place
INL_STR = _c.INL_STR
INL_BYTES = _c.INL_BYTES
INL_INT = _c.INL_INT
INL_FLOAT = _c.INL_FLOAT

#: why a value was hidden: number -> the REDACTED marker's reason
WHY_NAMES = dict(_c.WHY_NAMES)

#: the scopes a dump walks, by name
SCOPES = tuple(_c.SCOPES)

#: the shortest run of consecutive references written as one RUN, and the
#: most elements a record holds before MORE records continue it
MIN_RUN = _c.MIN_RUN
MAX_RECORD_ITEMS = _c.MAX_RECORD_ITEMS

#: what stands for a hidden piece in the text heapdump writes itself and
#: in the loader's stand-ins
REDACTED_TEXT = _c.REDACTED_TEXT


def default_limits(scope="frames"):
    """The limits a dump of scope is written with unless told otherwise
    (a new dict; None: no limit)."""
    if scope not in SCOPES:
        raise ValueError("scope must be 'frames' or 'heap', not %r"
                         % (scope,))
    return dict(_c.DEFAULT_HEAP_LIMITS if scope == "heap"
                else _c.DEFAULT_LIMITS)
