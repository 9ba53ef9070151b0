/* format.h: the facts of the file format (docs/format.rst), each defined
 * once.  No Python: the reader's msgpack core, the fuzz target and the
 * heap analysis include it too.  constants.c exports every one of them to
 * Python (heapdump._heapdump.K_INT, KIND_NAMES, DEFAULT_LIMITS...), which
 * heapdump/_format.py, the loader, tests/helpers and tools/hdcat.py take
 * them from; tests/unit/test_format_constants.py checks docs/format.rst's
 * tables against them.
 *
 * The lists are X-macros: X(NAME, number, ...) once per entry, expanded
 * into the enums below, the name and schema tables (format.c) and the
 * Python constants (constants.c).
 */
#ifndef HEAPDUMP_FORMAT_H
#define HEAPDUMP_FORMAT_H

#include <stdint.h>

/* Format version written in the header and the META record. */
#define HD_FORMAT_MAJOR 1
#define HD_FORMAT_MINOR 4
#define HD_FORMAT_VERSION "1.4"

/* Object record kinds (docs/format.rst, "Object records"): X(NAME, kind,
 * fields).  fields are the types of the fields after [kind, addr, refcnt,
 * size]: d data, v value, V [values], N [names] (str, else a value); the
 * fields after a '|' came with a later minor version; NULL: the fields
 * are all values (the containers) or the record is not described. */
#define HD_OBJECT_KINDS(X)                                                    \
    X(INT, 1, "v")                                                            \
    X(FLOAT, 2, "d")                                                          \
    X(COMPLEX, 3, "dd")                                                       \
    X(STR, 4, "d")                                                            \
    X(BYTES, 5, "d")                                                          \
    X(BYTEARRAY, 6, "d")                                                      \
    X(TUPLE, 7, NULL)                                                         \
    X(LIST, 8, NULL)                                                          \
    X(DICT, 9, NULL)                                                          \
    X(SET, 10, NULL)                                                          \
    X(FROZENSET, 11, NULL)                                                    \
    X(RANGE, 12, "vvv")                                                       \
    X(SLICE, 13, "vvv")                                                       \
    X(SINGLETON, 14, "d")                                                     \
    X(TYPE, 15, "dddvVdddNV")                                                 \
    X(INSTANCE, 16, "d")                                                      \
    X(OPAQUE, 17, "vdVV")                                                     \
    X(FUNCTION, 18, "dddvvvvdV")                                              \
    X(METHOD, 19, "vv")                                                       \
    X(CFUNCTION, 20, "dddv")                                                  \
    X(CODE, 21, "dddddddddd")                                                 \
    X(MODULE, 22, "dd|v") /* dict: 1.3 */                                     \
    X(CELL, 23, "v")                                                          \
    X(FRAME, 24, "vvvvdddV")                                                  \
    X(TRACEBACK, 25, "vddv|d") /* position: 1.1 */                            \
    X(EXCEPTION, 26, "vvvvvddV")                                              \
    X(GENERATOR, 27, "vdddvd|v") /* code: 1.4 */                              \
    X(WEAKREF, 28, "vvv")                                                     \
    X(UNREADABLE, 29, "d")                                                    \
    X(NATIVE, 30, "vdVdV") /* 1.4: a C type read exactly */

/* Other records ("Other records"): X(NAME, kind, fields), fields after
 * the kind; NULL for ROOTS and MORE, whose fields are all values. */
#define HD_OTHER_KINDS(X)                                                     \
    X(META, 64, "d")                                                          \
    X(LAYOUT, 65, "vN")                                                       \
    X(CLASS, 66, "vdV")                                                       \
    X(CUT, 67, "d")                                                           \
    X(MORE, 68, NULL)                                                         \
    X(THREAD, 69, "dddddv")                                                   \
    X(SOURCE, 70, "ddd|d") /* redactions: 1.2 */                              \
    X(ROOT, 71, "dv")                                                         \
    X(TRAILER, 72, "d")                                                       \
    X(ERROR, 73, "d")                                                         \
    X(ROOTS, 74, NULL)         /* 1.3: more roots, e.g. the unreached */      \
    X(INLINE, 75, "dddd")      /* 1.3: sizes of the values written inline */  \
    X(TASK, 76, "vddvvvV|vvv") /* 1.4: an asyncio task */

#define HD_FORMAT_K_(name, n, fields) HD_K_##name = n,
#define HD_FORMAT_R_(name, n, fields) HD_R_##name = n,
enum hd_kind { HD_OBJECT_KINDS(HD_FORMAT_K_) HD_OTHER_KINDS(HD_FORMAT_R_) };
#undef HD_FORMAT_K_
#undef HD_FORMAT_R_
/* Kinds below this are object records, from it other records. */
#define HD_FIRST_OTHER 64

/* msgpack ext types used in values ("Values"). */
#define HD_EXTS(X)                                                            \
    X(INT, 1)                                                                 \
    X(UNBOUND, 2)                                                             \
    X(OMITTED, 3)                                                             \
    X(REDACTED, 4)                                                            \
    X(RUN, 5)
#define HD_FORMAT_EXT_(name, n) HD_EXT_##name = n,
enum hd_ext { HD_EXTS(HD_FORMAT_EXT_) };
#undef HD_FORMAT_EXT_

/* The kinds of a CODE record's names (bits). */
#define HD_CODE_KINDS(X)                                                      \
    X(LOCAL, 1)                                                               \
    X(CELL, 2)                                                                \
    X(FREE, 4)                                                                \
    X(HIDDEN, 8)
#define HD_FORMAT_CK_(name, n) HD_CK_##name = n,
enum hd_code_kind { HD_CODE_KINDS(HD_FORMAT_CK_) };
#undef HD_FORMAT_CK_

/* A TYPE record's flags (bits). */
#define HD_TYPE_FLAGS(X)                                                      \
    X(HEAPTYPE, 1)                                                            \
    X(ABSTRACT, 2)
#define HD_FORMAT_TF_(name, n) HD_TF_##name = n,
enum hd_type_flag { HD_TYPE_FLAGS(HD_FORMAT_TF_) };
#undef HD_FORMAT_TF_

/* The Python types of inline values, the fields of an INLINE record. */
#define HD_INLINE_TYPES(X)                                                    \
    X(STR, 0)                                                                 \
    X(BYTES, 1)                                                               \
    X(INT, 2)                                                                 \
    X(FLOAT, 3)
#define HD_FORMAT_INL_(name, n) HD_INL_##name = n,
enum hd_inline_type { HD_INLINE_TYPES(HD_FORMAT_INL_) HD_INL_N = 4 };
#undef HD_FORMAT_INL_

/* Why a value was hidden: a REDACTED marker's reason, X(NAME, number,
 * the reason's str in the file). */
#define HD_WHYS(X)                                                            \
    X(NAME, 1, "name")       /* under a secret-looking name */                \
    X(VALUE, 2, "value")     /* holds a secret the program named */           \
    X(ENVIRON, 3, "environ") /* the environment, or one of its values */      \
    X(URL, 4, "url")         /* the password of a URL */                      \
    X(TOKEN, 5, "token")     /* the token of a known key format */
#define HD_FORMAT_WHY_(name, n, text) HD_WHY_##name = n,
enum hd_why { HD_WHYS(HD_FORMAT_WHY_) };
#undef HD_FORMAT_WHY_

/* What a dump walks from ("Scope"): X(NAME, number, its name). */
#define HD_SCOPES(X)                                                          \
    X(FRAMES, 0, "frames") /* the threads, the exception, the context */      \
    X(HEAP, 1, "heap")     /* and the modules, builtins, sys, and every       \
                              GC-tracked object nothing else reached */
#define HD_FORMAT_SCOPE_(name, n, text) HD_SCOPE_##name = n,
enum hd_scope { HD_SCOPES(HD_FORMAT_SCOPE_) };
#undef HD_FORMAT_SCOPE_

/* The C types a NATIVE record holds ("Native kinds"): X(NAME, number,
 * filled): filled 0 when the loader makes the object from its state once
 * what the state references is made (immutable values), 1 when it makes
 * an empty one first and fills it in later (containers, which may hold
 * themselves). */
#define HD_NATIVE_KINDS(X)                                                    \
    X(DATETIME, 1, 0)                                                         \
    X(DATE, 2, 0)                                                             \
    X(TIME, 3, 0)                                                             \
    X(TIMEDELTA, 4, 0)                                                        \
    X(TIMEZONE, 5, 0)                                                         \
    X(ZONEINFO, 6, 0)                                                         \
    X(DECIMAL, 7, 0)                                                          \
    X(DEQUE, 8, 1)                                                            \
    X(ARRAY, 9, 0)                                                            \
    X(TZINFO, 10, 0)                                                          \
    X(PATTERN, 11, 0)                                                         \
    X(LOCK, 12, 0)                                                            \
    X(RLOCK, 13, 0)                                                           \
    X(MEMORYVIEW, 14, 0)                                                      \
    X(BUFFER, 15, 0)                                                          \
    X(MATCH, 16, 0)                                                           \
    X(FUTURE, 17, 1)
#define HD_FORMAT_NK_(name, n, filled) HD_NK_##name = n,
enum hd_native_kind { HD_NATIVE_KINDS(HD_FORMAT_NK_) HD_NK_N = 18 };
#undef HD_FORMAT_NK_

/* Shortest run of consecutive references written as one ext 5 RUN. */
#define HD_MIN_RUN 4

/* Most elements one record holds before MORE records continue it. */
#define HD_MAX_RECORD_ITEMS 65536

/* What stands for a hidden piece in text heapdump writes itself (header
 * lines, META facts) and in the loader's stand-ins. */
#define HD_REDACTED_TEXT "[redacted]"

/* The limits a dump is written with unless told otherwise ("Limits"):
 * X(name, frames scope, heap scope), -1 for none.  Sized for a web
 * service in the frames scope; in the heap scope a heap of tens of
 * millions of objects stays whole (no container is cut), since a cut heap
 * makes leak analysis meaningless. */
#define HD_DEFAULT_LIMITS(X)                                                  \
    X(max_objects, 1000000, 20000000) /* object records */                    \
    X(max_bytes, INT64_C(1) << 30,                                            \
      INT64_C(4) << 30)             /* uncompressed body bytes */             \
    X(max_string, 65536, 65536)     /* characters of a str, bytes of bytes */ \
    X(max_items, 200000, -1)        /* elements of one container */           \
    X(max_source, 4 << 20, 4 << 20) /* bytes of one source file */

/* The defaults of one scope, by name (format.c). */
typedef struct hd_default_limits {
#define HD_FORMAT_DFL_(name, frames, heap) int64_t name;
    HD_DEFAULT_LIMITS(HD_FORMAT_DFL_)
#undef HD_FORMAT_DFL_
} hd_default_limits;
extern const hd_default_limits hd_format_defaults[2]; /* by enum hd_scope */

/* format.c: the names and field types of the lists above; NULL for a
 * number no list holds (or a record whose fields are all values). */
const char *hd_format_kind_name(int kind);
const char *hd_format_fields(int kind);
const char *hd_format_why_name(int why);
const char *hd_format_scope_name(int scope);

#endif /* HEAPDUMP_FORMAT_H */
