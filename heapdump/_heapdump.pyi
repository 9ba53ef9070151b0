# The C extension heapdump._heapdump (src/): what it exports, for readers
# and type checkers.  tests/unit/test_stub.py checks that this file names
# every function, constant and type the built module has (and no other),
# the functions' parameters and the types' methods.  The constants'
# values are src/format.h's (heapdump/_format.py is their Python face).

import os
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

# ---------------------------------------------------------- the format

FORMAT_MAJOR: int
FORMAT_MINOR: int
FORMAT_VERSION: str

# record kinds: objects (K_*) and the other records (R_*, from FIRST_OTHER)
K_INT: int
K_FLOAT: int
K_COMPLEX: int
K_STR: int
K_BYTES: int
K_BYTEARRAY: int
K_TUPLE: int
K_LIST: int
K_DICT: int
K_SET: int
K_FROZENSET: int
K_RANGE: int
K_SLICE: int
K_SINGLETON: int
K_TYPE: int
K_INSTANCE: int
K_OPAQUE: int
K_FUNCTION: int
K_METHOD: int
K_CFUNCTION: int
K_CODE: int
K_MODULE: int
K_CELL: int
K_FRAME: int
K_TRACEBACK: int
K_EXCEPTION: int
K_GENERATOR: int
K_WEAKREF: int
K_UNREADABLE: int
K_NATIVE: int
FIRST_OTHER: int
R_META: int
R_LAYOUT: int
R_CLASS: int
R_CUT: int
R_MORE: int
R_THREAD: int
R_SOURCE: int
R_ROOT: int
R_TRAILER: int
R_ERROR: int
R_ROOTS: int
R_INLINE: int
R_TASK: int
#: kind -> its name ("INT", "META", ...)
KIND_NAMES: dict[int, str]
#: kind -> the field codes of its record
FIELDS: dict[int, str]

# msgpack ext types
EXT_INT: int
EXT_UNBOUND: int
EXT_OMITTED: int
EXT_REDACTED: int
EXT_RUN: int
EXT_NAMES: dict[int, str]
MIN_RUN: int

# inline values, code locals' kinds, type flags, graph node flags
INL_STR: int
INL_BYTES: int
INL_INT: int
INL_FLOAT: int
CK_LOCAL: int
CK_CELL: int
CK_FREE: int
CK_HIDDEN: int
TF_HEAPTYPE: int
TF_ABSTRACT: int
GF_CUT: int
GF_IMMORTAL: int
GF_VIRTUAL: int
GF_LOWER: int

# why a value was redacted
WHY_NAME: int
WHY_VALUE: int
WHY_ENVIRON: int
WHY_URL: int
WHY_TOKEN: int
NATIVE_DATETIME: int
NATIVE_DATE: int
NATIVE_TIME: int
NATIVE_TIMEDELTA: int
NATIVE_TIMEZONE: int
NATIVE_ZONEINFO: int
NATIVE_DECIMAL: int
NATIVE_DEQUE: int
NATIVE_ARRAY: int
NATIVE_TZINFO: int
NATIVE_PATTERN: int
NATIVE_MATCH: int
NATIVE_FUTURE: int
NATIVE_LOCK: int
NATIVE_RLOCK: int
NATIVE_MEMORYVIEW: int
NATIVE_BUFFER: int
WHY_NAMES: dict[int, str]
REDACTED_TEXT: str

# what a Hider entry hides
HIDE_IDENTITY: int
HIDE_WHOLE: int
HIDE_SUBSTRING: int
HIDE_ENVIRON: int
HIDE_MIN_SUBSTRING: int

# scopes and limits
SCOPE_FRAMES: int
SCOPE_HEAP: int
SCOPES: Tuple[str, ...]
DEFAULT_LIMITS: dict[str, Optional[int]]
DEFAULT_HEAP_LIMITS: dict[str, Optional[int]]
MAX_RECORD_ITEMS: int

# ---------------------------------------------------------- the writer

def dump(
    path: str,
    *,
    exc: Optional[BaseException] = None,
    reason: Optional[str] = None,
    facts: Optional[Mapping[str, Any]] = None,
    headers: Sequence[Tuple[str, str]] = (),
    skip: int = 0,
    max_objects: Optional[int] = None,
    max_bytes: Optional[int] = None,
    max_string: Optional[int] = None,
    max_items: Optional[int] = None,
    max_source: Optional[int] = None,
    level: int = 3,
    redact: Optional[Sequence[str]] = None,
    hide: Optional[Hider] = None,
    roots: Optional[Mapping[str, Any]] = None,
    scope: str = "frames",
) -> dict[str, Any]: ...

class Hider:
    """What a dump hides by value (src/secrets/hide.c)."""

    def __init__(
        self, entries: Sequence[Tuple[object, int]] = (), rules: bool = True
    ) -> None: ...
    def mask(self, text: str, /) -> str: ...
    def scan(self, value: object, /) -> list[Tuple[int, int, int]]: ...
    @property
    def objects(self) -> Tuple[object, ...]: ...
    @property
    def values(self) -> Tuple[Any, ...]: ...
    @property
    def substrings(self) -> Tuple[Any, ...]: ...
    @property
    def rules(self) -> bool: ...

def looks_secret(name: str, patterns: Tuple[str, ...], /) -> bool: ...
def secret_words(name: str, /) -> str: ...
def mask_source(
    text: bytes, patterns: Tuple[str, ...] = (), hide: Optional[Hider] = None,
    /,
) -> Tuple[bytes, list[Tuple[int, int, int, int, int]]]: ...

# --------------------------------------------------------- the triggers

def fatal_install(
    directory: str,
    headers: Sequence[Tuple[str, str]],
    facts: Mapping[str, Any],
    options: Mapping[str, Any],
    /,
) -> None: ...
def fatal_uninstall() -> None: ...
def signal_dump_install(
    signum: int,
    callback: Callable[[], object],
    directory: str,
    timeout: float,
    options: Optional[Mapping[str, Any]] = None,
    /,
) -> None: ...
def signal_dump_uninstall(signum: int, /) -> None: ...

# the names of dump files, final and temporary (src/writer/names.c)
def dump_name(
    directory: Optional[Union[str, bytes, os.PathLike[str]]],
    tag: Optional[str] = None,
    when: Optional[float] = None,
    pid: Optional[int] = None,
    /,
) -> str: ...
def tmp_name(
    final: Union[str, bytes, os.PathLike[str]],
    pid: Optional[int] = None,
    /,
) -> str: ...

# ---------------------------------------------------------- the reader

# what a Loader reads from its support object (src/reader/protocol.h):
# (name, parameters, or None for a value), as heapdump._load.LOADER_PROTOCOL
LOADER_CALLBACKS: Tuple[Tuple[str, Optional[str]], ...]

class Loader:
    """The C core of heapdump.load(); heapdump._load drives it."""

    def __init__(
        self,
        path: str,
        offset: int,
        support: object,
        max_record_bytes: int,
        max_body_bytes: int,
        max_objects: int = ...,
        max_ratio: int = ...,
    ) -> None: ...
    def read(self) -> None: ...
    def build(self) -> None: ...
    def close(self) -> None: ...
    def addr(self, id: int, /) -> int: ...
    def addresses(self) -> Any: ...
    def sizes(self) -> Any: ...
    def refcounts(self) -> Any: ...
    def kinds(self) -> bytes: ...
    def objects(self) -> list[Any]: ...
    def fields(self, id: int, soft: bool = False) -> Any: ...
    def layout(self, n: int, /) -> Tuple[Any, Tuple[str, ...]]: ...
    def others(self) -> list[Tuple[int, Any]]: ...
    def pyfill(self) -> list[Tuple[int, int]]: ...
    after_trailer: int
    body_bytes: int
    cuts: Any
    file_bytes: int
    nlayouts: int
    nobjects: int
    records: int
    truncated: bool
    truncation: Any

class Surrogate:
    """The base of the classes of loaded instances."""

def set_surrogate(
    obj: Surrogate,
    addr: int,
    oid: int,
    referents: Optional[Tuple[Any, ...]] = None,
    opaque: Optional[bool] = None,
    /,
) -> None: ...
def surrogate_info(obj: object, /) -> Optional[Tuple[int, int, bool]]: ...
def surrogate_referents(obj: object, /) -> Optional[Tuple[Any, ...]]: ...
def set_attr(obj: object, name: str, value: object, /) -> bool: ...
def set_group(
    exc: BaseException, message: str, exceptions: Sequence[BaseException], /
) -> None: ...
def _frame_new(
    code: Any, globals: dict[str, Any], locals: Any, back: Any, lasti: int,
    /,
) -> Any: ...
def _layout() -> list[Tuple[str, int, int]]: ...

# ------------------------------------------------------- heap analysis

class Graph:
    """The object graph of a dump, for heap analysis."""

    def __init__(
        self,
        path: str,
        offset: int,
        max_record_bytes: int,
        max_body_bytes: int,
        max_objects: int,
        max_ratio: int,
        progress: Optional[Callable[..., object]] = None,
    ) -> None: ...
    def analyze(self) -> None: ...
    def facts(self) -> dict[str, Any]: ...
    def memory(self) -> int: ...
    def types(self) -> list[Tuple[str, Optional[int], int, int, int]]: ...
    def groups(self) -> list[Tuple[int, str, Any, int]]: ...
    def node(self, object: int, /) -> Tuple[int, int, int, int, int, int,
                                            int]: ...
    def children(self, object: int, /) -> list[int]: ...
    def successors(self, object: int, /) -> list[int]: ...
    def referrers(self, object: int, /) -> Tuple[list[int], list[int]]: ...
    def path(self, object: int, /) -> list[int]: ...
    def top(self, object: int, /) -> list[int]: ...
    def exact_retained(self, object: Sequence[int], /) -> Tuple[int, int]: ...
    def find_addresses(self, object: Sequence[int], /) -> dict[int, int]: ...
    def of_type(self, type: int, limit: int = ..., /) -> list[int]: ...
    def histogram(self, root: int = ...,
                  /) -> list[Tuple[int, int, int, int, bool]]: ...
    def fetch(self, nodes: Sequence[int], pairs: Any,
              /) -> Tuple[Any, Any]: ...
