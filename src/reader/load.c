/* load.c: a dump's body -> Python objects, the C core of heapdump.load().
 *
 * heapdump/_load.py reads the MIME header block and drives a Loader:
 *
 *   1. read()   stream the body (stream.c: read(2) -> zstd -> one framed
 *               msgpack record at a time, read with mpread.c's bounds-
 *               checked reader).  Scalars (str, int,
 *               float, bytes...) become objects at once; every other record
 *               keeps its bytes in an arena for the later phases, since a
 *               record may reference objects whose records come later.
 *   2. build()  a. TYPE records in id order -> classes (_load's make_type),
 *               b. shells in id order: empty containers, surrogates with the
 *                  right class, CELL, model shells (Frame, Traceback...),
 *               c. fill in id order: list/dict/set items, instance
 *                  attributes; tuples, frozensets, ranges, slices,
 *                  functions and methods are built on demand, dependencies
 *                  first (an explicit stack, never C recursion), so that
 *                  nothing is hashed before it is complete and a cycle
 *                  through immutable objects is an error, not a crash,
 *               d. the attributes of instances of builtin subclasses.
 *   3. _load.py fills the rest (frames, tracebacks, exceptions, functions'
 *      attributes...) from fields(id), which decodes a record with its
 *      references resolved.
 *
 * The msgpack is read with mpread.c's bounds-checked reader (why one of
 * our own: mpread.c), and values are decoded straight into their Python
 * objects.
 *
 * Safety rules: nothing from the file is executed.  The only Python code
 * called is heapdump's own (_load/_surrogates callbacks); objects are made
 * with the tp_new/tp_alloc of builtin (static) base types and filled with
 * the C API of the builtin types, so no __new__, __init__, __setitem__,
 * __hash__ or descriptor from the file can run (a surrogate class never
 * gets dunder methods from the file in the first place).
 *
 * Memory: the decompressed window grows to about twice the largest record
 * (capped by max_record_bytes); the arena holds the bytes of the records
 * not yet turned into objects (capped by max_body_bytes in all).
 *
 * Threading: a Loader is used by one thread at a time, with the GIL held.
 */
#include "heapdump.h"
#include "mpread.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Constants
 */

#define LOAD_ARENA_CHUNK ((size_t)1 << 20)
#define LOAD_DATA_DEPTH 32 /* nesting of plain data */
/* Tuples (and frozensets, slices) nested deeper than this are refused:
 * hashing them recurses in C once per level. */
#define LOAD_MAX_IMMUTABLE_DEPTH 1000
#define LOAD_NO_ID UINT64_MAX

/* entry states and flags */
#define LOAD_F_CUT 0x01      /* a CUT record preceded it */
#define LOAD_F_TUPLE 0x02    /* tuple-like: exists before it is filled */
#define LOAD_F_FILLED 0x04   /* its contents are in */
#define LOAD_F_VISITING 0x08 /* on the dependency stack */
#define LOAD_F_PYFILL 0x10   /* _load.py fills it from fields() */
#define LOAD_F_LATE 0x20     /* made in phase c, from its contents */

/* goals of a reference */
#define LOAD_EXIST 0 /* the object must exist (its identity is enough) */
#define LOAD_READY 1 /* ... and be complete enough to be hashed */

/* how references are resolved while decoding */
#define LOAD_DFS 0    /* build what is missing (phase c, top level) */
#define LOAD_STRICT 1 /* everything needed must already be there */
#define LOAD_SOFT 2   /* what is not there yet decodes as PENDING */

/* ---------------------------------------------------------------------
 * The loader's state
 */

typedef struct load_entry {
    PyObject *obj;            /* owned; NULL until made */
    const unsigned char *raw; /* the fields after the header */
    const unsigned char *raw_end;
    uint32_t nfields; /* fields after the header */
    uint32_t nitems;  /* containers: elements, with MORE */
    uint32_t more;    /* first MORE segment + 1, or 0 */
    uint32_t pre;     /* CLASS prefix + 1, or 0 */
    uint16_t depth;   /* nesting of immutables (hash depth) */
    uint8_t kind;
    uint8_t flags;
} load_entry;

typedef struct {
    const unsigned char *raw, *end;
    uint32_t n;
    uint32_t owner; /* the entry it continues */
} load_segment;

typedef struct {
    const unsigned char *raw, *end; /* CLASS fields: type, layout, [v] */
    uint32_t nfields;
} load_prefix;

typedef struct {
    const unsigned char *names, *names_end; /* the [names] array */
    uint64_t type_id;                       /* the type's id, or LOAD_NO_ID */
    uint32_t nnames;
    PyObject *names_tuple; /* decoded at first use */
    PyObject *cls;         /* the class of its INSTANCE records */
    PyObject *type_obj;    /* the loaded type (for fields()) */
} load_layout;

typedef struct {
    const unsigned char *raw, *end;
    uint32_t nfields;
    uint8_t kind;
} load_other;

typedef struct {
    uint32_t id;
    uint8_t goal;
    uint8_t expanded;
} load_task;

typedef struct load_chunk {
    struct load_chunk *next;
    size_t used, cap;
    unsigned char data[];
} load_chunk;

/* a (type id, kind) -> class cache */
typedef struct {
    uint64_t key; /* (type id << 6 | kind) + 1; 0 empty */
    PyObject *cls;
} load_classslot;

typedef struct {
    PyObject_HEAD
        /* configuration */
        char *path;
    uint64_t offset; /* where the body starts in the file */
    size_t max_record;
    uint64_t max_body;
    uint64_t max_objects;
    uint64_t max_ratio; /* 0: no check */
    PyObject *support;
    PyObject *error_type;        /* HeapdumpError */
    PyObject *unbound, *pending; /* sentinels */
    PyObject *empty_tuple;
    PyObject *s_original_length;

    /* the objects */
    load_entry *entries;
    size_t n, cap;
    int64_t *addrs;
    uint64_t *refcnts, *sizes;
    load_segment *more;
    size_t nmore, more_cap;
    load_prefix *prefixes;
    size_t nprefixes, prefixes_cap;
    load_layout *layouts;
    size_t nlayouts, layouts_cap;
    load_other *others;
    size_t nothers, others_cap;
    load_chunk *arena;
    PyObject *cuts; /* dict: id -> original length */
    PyObject *lost; /* dict: id -> placeholder */
    load_classslot *classes;
    size_t classes_mask, nclasses;
    load_task *stack;
    size_t sp, stack_cap;

    /* phase 1 state */
    int64_t last_addr;
    uint64_t pending_cut; /* + 1; 0: none */
    uint32_t pending_pre; /* CLASS prefix + 1; 0: none */
    int64_t last_object;  /* for MORE; -1 none */
    uint64_t records;
    uint64_t elements; /* container elements, RUNs expanded */
    uint64_t body_bytes;
    uint64_t after_trailer; /* body bytes after the TRAILER */
    uint64_t file_bytes;
    int truncated;
    int trailer_seen;
    const char *truncation; /* how it ended early */
    int read_done, built;
} LoaderObject;

static PyTypeObject LoaderType;
static PyTypeObject SurrogateType;

/* A record kind's name for the messages ("unknown" for a kind no list
 * holds). */
static const char *
load_kind_name(int kind)
{
    const char *name = hd_format_kind_name(kind);
    return name != NULL && kind < HD_FIRST_OTHER ? name : "unknown";
}

/* ---------------------------------------------------------------------
 * Errors
 */

/* Raise HeapdumpError(formatted).  Returns NULL. */
static PyObject *
load_fail(LoaderObject *L, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, va);
    va_end(va);
    if (msg != NULL) {
        PyErr_SetObject(L->error_type, msg);
        Py_DECREF(msg);
    }
    return NULL;
}

/* Turn the exception being raised into a HeapdumpError saying which object
 * was being built, unless it already is one (or is a MemoryError or a
 * KeyboardInterrupt, which stay what they are).  The original is kept as
 * __cause__. */
static void
load_wrap(LoaderObject *L, size_t id)
{
    PyObject *type, *value, *tb;
    if (!PyErr_Occurred() || PyErr_ExceptionMatches(L->error_type) ||
        PyErr_ExceptionMatches(PyExc_MemoryError) ||
        PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        return;
    }
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) {
        PyException_SetTraceback(value, tb);
    }
    int kind = id < L->n ? L->entries[id].kind : 0;
    PyObject *msg = PyUnicode_FromFormat(
        "object %zu (%s record): %s: %S", id, load_kind_name(kind),
        type ? ((PyTypeObject *)type)->tp_name : "?", value ? value : Py_None);
    if (msg != NULL) {
        PyObject *err = PyObject_CallOneArg(L->error_type, msg);
        Py_DECREF(msg);
        if (err != NULL) {
            if (value != NULL) {
                Py_INCREF(value);
                PyException_SetCause(err, value);
            }
            PyErr_SetObject(L->error_type, err);
            Py_DECREF(err);
        }
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* ---------------------------------------------------------------------
 * Growth helpers
 */

/* Make room for one more element of size sz in *arr (count n, capacity
 * *cap).  Returns 0, or -1 with MemoryError. */
static int
load_grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > PY_SSIZE_T_MAX / sz) {
        PyErr_NoMemory();
        return -1;
    }
    void *p = PyMem_Realloc(*arr, ncap * sz);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Copy n bytes into the arena; a stable pointer, or NULL (MemoryError). */
static const unsigned char *
load_arena_copy(LoaderObject *L, const unsigned char *src, size_t n)
{
    load_chunk *c = L->arena;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > LOAD_ARENA_CHUNK ? n : LOAD_ARENA_CHUNK;
        c = PyMem_Malloc(sizeof(load_chunk) + cap);
        if (c == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        c->cap = cap;
        c->used = 0;
        c->next = L->arena;
        L->arena = c;
    }
    unsigned char *dst = c->data + c->used;
    if (n > 0) {
        memcpy(dst, src, n);
    }
    c->used += n;
    return dst;
}

/* ---------------------------------------------------------------------
 * Scalars
 */

/* An int from ext INT's payload: little-endian two's complement. */
static PyObject *
load_int_bytes(const unsigned char *p, size_t n)
{
    if (n == 0) {
        return PyLong_FromLong(0);
    }
    if (n <= 8) {
        uint64_t u = 0;
        for (size_t i = 0; i < n; i++) {
            u |= (uint64_t)p[i] << (8 * i);
        }
        if (n < 8 && (p[n - 1] & 0x80)) {
            u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        }
        return PyLong_FromLongLong((long long)u);
    }
    return _PyLong_FromByteArray(p, n, 1, 1);
}

/* A msgpack str: UTF-8 where lone surrogates are allowed.  Invalid
 * UTF-8 raises UnicodeDecodeError, which load_wrap() and _load turn into
 * HeapdumpError. */
static PyObject *
load_str(const hd_mp_item *it)
{
    return PyUnicode_DecodeUTF8((const char *)it->data, (Py_ssize_t)it->u,
                                "surrogatepass");
}

/* ---------------------------------------------------------------------
 * Plain data (META, TRAILER, names, counts): msgpack as itself
 */

static PyObject *
load_data(LoaderObject *L, hd_mp_cur *c, int depth)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        return load_fail(L, "malformed msgpack data");
    }
    switch (it.type) {
    case HD_MP_NIL: Py_RETURN_NONE;
    case HD_MP_BOOL: return PyBool_FromLong((long)it.u);
    case HD_MP_UINT: return PyLong_FromUnsignedLongLong(it.u);
    case HD_MP_NEG: return PyLong_FromLongLong(it.i);
    case HD_MP_FLOAT: return PyFloat_FromDouble(it.f);
    case HD_MP_STR: return load_str(&it);
    case HD_MP_BIN:
        return PyBytes_FromStringAndSize((const char *)it.data,
                                         (Py_ssize_t)it.u);
    case HD_MP_EXT:
        if (it.ext == HD_EXT_INT) {
            return load_int_bytes(it.data, (size_t)it.u);
        }
        return load_fail(L, "unexpected msgpack ext type %d in data", it.ext);
    case HD_MP_ARRAY: {
        if (depth >= LOAD_DATA_DEPTH) {
            return load_fail(L, "data nested too deep");
        }
        if (it.u > (uint64_t)(c->end - c->p)) {
            return load_fail(L, "array longer than its record");
        }
        PyObject *list = PyList_New((Py_ssize_t)it.u);
        if (list == NULL) {
            return NULL;
        }
        for (uint64_t i = 0; i < it.u; i++) {
            PyObject *v = load_data(L, c, depth + 1);
            if (v == NULL) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)i, v);
        }
        return list;
    }
    case HD_MP_MAP: {
        if (depth >= LOAD_DATA_DEPTH) {
            return load_fail(L, "data nested too deep");
        }
        if (it.u > (uint64_t)(c->end - c->p) / 2) {
            return load_fail(L, "map longer than its record");
        }
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            return NULL;
        }
        for (uint64_t i = 0; i < it.u; i++) {
            PyObject *k = load_data(L, c, depth + 1);
            PyObject *v = k ? load_data(L, c, depth + 1) : NULL;
            if (v == NULL || PyDict_SetItem(dict, k, v) < 0) {
                Py_XDECREF(k);
                Py_XDECREF(v);
                Py_DECREF(dict);
                if (!PyErr_ExceptionMatches(L->error_type)) {
                    PyErr_Clear();
                    load_fail(L, "a map key that is not hashable");
                }
                return NULL;
            }
            Py_DECREF(k);
            Py_DECREF(v);
        }
        return dict;
    }
    }
    return load_fail(L, "malformed msgpack data");
}

/* Read a non-negative integer field; -1 with HeapdumpError otherwise. */
static int
load_uint_field(LoaderObject *L, hd_mp_cur *c, uint64_t *out, const char *what)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        load_fail(L, "malformed msgpack in %s", what);
        return -1;
    }
    if (it.type == HD_MP_UINT) {
        *out = it.u;
        return 0;
    }
    if (it.type == HD_MP_EXT && it.ext == HD_EXT_INT && it.u <= 8) {
        PyObject *v = load_int_bytes(it.data, (size_t)it.u);
        if (v == NULL) {
            return -1;
        }
        long long x = PyLong_AsLongLong(v);
        Py_DECREF(v);
        if (x >= 0) {
            *out = (uint64_t)x;
            return 0;
        }
        PyErr_Clear();
    }
    load_fail(L, "%s is not a non-negative integer", what);
    return -1;
}

/* A signed integer field (msgpack int or ext INT of at most 8 bytes). */
static int
load_int_field(LoaderObject *L, hd_mp_cur *c, int64_t *out, const char *what)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        load_fail(L, "malformed msgpack in %s", what);
        return -1;
    }
    if (it.type == HD_MP_UINT && it.u <= INT64_MAX) {
        *out = (int64_t)it.u;
        return 0;
    }
    if (it.type == HD_MP_UINT) {
        *out = (int64_t)it.u; /* an address delta wraps */
        return 0;
    }
    if (it.type == HD_MP_NEG) {
        *out = it.i;
        return 0;
    }
    if (it.type == HD_MP_EXT && it.ext == HD_EXT_INT && it.u <= 8) {
        uint64_t u = 0;
        size_t n = (size_t)it.u;
        for (size_t i = 0; i < n; i++) {
            u |= (uint64_t)it.data[i] << (8 * i);
        }
        if (n > 0 && n < 8 && (it.data[n - 1] & 0x80)) {
            u |= ~(uint64_t)0 << (8 * n);
        }
        *out = (int64_t)u;
        return 0;
    }
    load_fail(L, "%s is not an integer", what);
    return -1;
}

/* ---------------------------------------------------------------------
 * Support objects (heapdump._surrogates / _load callbacks)
 */

static PyObject *
load_support(LoaderObject *L, const char *name)
{
    return PyObject_GetAttrString(L->support, name);
}

/* support.<name>(*args) */
static PyObject *
load_call(LoaderObject *L, const char *name, PyObject *args)
{
    PyObject *f = load_support(L, name);
    if (f == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_Call(f, args, NULL);
    Py_DECREF(f);
    return r;
}

/* The placeholder for a reference to an id that no record defines (a
 * truncated file), one per id; in a complete file that is an error. */
static PyObject *
load_lost(LoaderObject *L, uint64_t id)
{
    if (!L->truncated) {
        return load_fail(L,
                         "reference to object %llu, which no record "
                         "defines (the file has %zu objects)",
                         (unsigned long long)id, L->n);
    }
    PyObject *key = PyLong_FromUnsignedLongLong(id);
    if (key == NULL) {
        return NULL;
    }
    PyObject *p = PyDict_GetItemWithError(L->lost, key);
    if (p != NULL) {
        Py_DECREF(key);
        return Py_NewRef(p);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    PyObject *args = PyTuple_Pack(1, key);
    p = args ? load_call(L, "lost", args) : NULL;
    Py_XDECREF(args);
    if (p != NULL && PyDict_SetItem(L->lost, key, p) < 0) {
        Py_CLEAR(p);
    }
    Py_DECREF(key);
    return p;
}

/* ext OMITTED / REDACTED: [module, qualname, size, ...] -> placeholder.
 * REDACTED's payload (format 1.2) adds the reason and the pieces kept of
 * a partly hidden value, [kind, length, text, [[start, length, why]...]]:
 * data three arrays deeper than the marker's own (the support object's
 * redacted() checks them). */
static PyObject *
load_marker(LoaderObject *L, const hd_mp_item *it)
{
    hd_mp_cur c = {it->data, it->data + it->u};
    PyObject *data = load_data(L, &c, LOAD_DATA_DEPTH - 4);
    if (data == NULL) {
        return NULL;
    }
    if (!PyList_Check(data) || PyList_GET_SIZE(data) < 3) {
        Py_DECREF(data);
        return load_fail(L, "malformed %s marker",
                         it->ext == HD_EXT_OMITTED ? "OMITTED" : "REDACTED");
    }
    PyObject *args = PyList_AsTuple(data);
    Py_DECREF(data);
    if (args == NULL) {
        return NULL;
    }
    PyObject *r =
        load_call(L, it->ext == HD_EXT_OMITTED ? "omitted" : "redacted", args);
    Py_DECREF(args);
    return r;
}

/* ---------------------------------------------------------------------
 * References and values
 */

static int load_need(LoaderObject *L, size_t id, int goal);

static inline int
load_is_ready(const load_entry *e, int goal)
{
    if (e->obj == NULL) {
        return 0;
    }
    if (goal == LOAD_EXIST || !(e->flags & LOAD_F_TUPLE)) {
        return 1;
    }
    return (e->flags & LOAD_F_FILLED) != 0;
}

/* The object with this id (new reference), made first when mode allows. */
static PyObject *
load_ref(LoaderObject *L, uint64_t id, int goal, int mode)
{
    if (id >= L->n) {
        return load_lost(L, id);
    }
    load_entry *e = &L->entries[id];
    if (!load_is_ready(e, goal)) {
        if (mode == LOAD_SOFT) {
            if (load_is_ready(e, LOAD_READY)) {
                return Py_NewRef(e->obj);
            }
            return Py_NewRef(L->pending);
        }
        if (mode == LOAD_DFS) {
            if (load_need(L, (size_t)id, goal) < 0) {
                return NULL;
            }
            e = &L->entries[id];
        }
        if (!load_is_ready(e, goal)) {
            return load_fail(L,
                             "object %llu (%s record) is needed before it "
                             "can be built: a cycle through immutable "
                             "objects",
                             (unsigned long long)id, load_kind_name(e->kind));
        }
    }
    return Py_NewRef(e->obj);
}

/* The value of an item already read (load_next); a new reference, or
 * NULL.  ext UNBOUND decodes as L->unbound, which callers check for. */
static PyObject *
load_value_item(LoaderObject *L, const hd_mp_item *it, int goal, int mode)
{
    switch (it->type) {
    case HD_MP_UINT: return load_ref(L, it->u, goal, mode);
    case HD_MP_STR: return load_str(it);
    case HD_MP_NIL: Py_RETURN_NONE;
    case HD_MP_BOOL: return PyBool_FromLong((long)it->u);
    case HD_MP_FLOAT: return PyFloat_FromDouble(it->f);
    case HD_MP_BIN:
        return PyBytes_FromStringAndSize((const char *)it->data,
                                         (Py_ssize_t)it->u);
    case HD_MP_EXT:
        switch (it->ext) {
        case HD_EXT_INT: return load_int_bytes(it->data, (size_t)it->u);
        case HD_EXT_UNBOUND: return Py_NewRef(L->unbound);
        case HD_EXT_OMITTED:
        case HD_EXT_REDACTED: return load_marker(L, it);
        case HD_EXT_RUN:
            return load_fail(L, "a RUN outside the elements of a container");
        default:
            return load_fail(L, "unknown msgpack ext type %d in a value",
                             it->ext);
        }
    case HD_MP_NEG:
        return load_fail(L, "a negative integer where a value belongs");
    default:
        return load_fail(L, "a msgpack array or map where a value belongs");
    }
}

/* Decode one value at c (advancing it); a new reference, or NULL. */
static PyObject *
load_value(LoaderObject *L, hd_mp_cur *c, int goal, int mode)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        return load_fail(L, "malformed msgpack value");
    }
    return load_value_item(L, &it, goal, mode);
}

/* ext 5 RUN's payload: first id and count. */
static int
load_run(LoaderObject *L, const hd_mp_item *it, uint64_t *first,
         uint64_t *count)
{
    hd_mp_cur c = {it->data, it->data + it->u};
    hd_mp_item a, b;
    if (hd_mpread_next(&c, &a) < 0 || hd_mpread_next(&c, &b) < 0 ||
        a.type != HD_MP_UINT || b.type != HD_MP_UINT) {
        load_fail(L, "malformed RUN value");
        return -1;
    }
    if (b.u > HD_MAX_RECORD_ITEMS || a.u + b.u < a.u) {
        load_fail(L, "a RUN of %llu references; a record holds at most %d",
                  (unsigned long long)b.u, HD_MAX_RECORD_ITEMS);
        return -1;
    }
    *first = a.u;
    *count = b.u;
    return 0;
}

/* Skip a value, reporting its reference (id) if it is one. */
static int
load_value_ref(LoaderObject *L, hd_mp_cur *c, uint64_t *id)
{
    hd_mp_item it;
    const unsigned char *start = c->p;
    if (hd_mpread_next(c, &it) < 0) {
        load_fail(L, "malformed msgpack value");
        return -1;
    }
    if (it.type == HD_MP_ARRAY || it.type == HD_MP_MAP) {
        c->p = start;
        if (hd_mpread_skip(c) < 0) {
            load_fail(L, "malformed msgpack value");
            return -1;
        }
        *id = LOAD_NO_ID;
        return 0;
    }
    *id = it.type == HD_MP_UINT ? it.u : LOAD_NO_ID;
    return 0;
}

/* Skip n fields of a record. */
static int
load_skip_fields(LoaderObject *L, hd_mp_cur *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (hd_mpread_skip(c) < 0) {
            load_fail(L, "malformed msgpack record");
            return -1;
        }
    }
    return 0;
}

/* Iterate the elements of a container: its record's fields after skip
 * (TUPLE, LIST, SET, FROZENSET) or its [keys] or [values] array (DICT),
 * then those of its MORE records; a RUN stands for its references. */
typedef struct {
    hd_mp_cur cur;     /* the raw values of the current segment */
    uint32_t left;     /* raw values left in it */
    uint64_t run_next; /* a RUN being expanded: its next id */
    uint64_t run_left; /* and how many are left */
    size_t seg;        /* next MORE segment + 1, or 0 */
    uint32_t owner;
    int which; /* 0: fields; 1: [keys]; 2: [values] */
} load_items;

/* Position it at the values of a segment (a record's fields). */
static int
load_items_enter(LoaderObject *L, load_items *it, const unsigned char *raw,
                 const unsigned char *end, uint32_t nfields, uint32_t skip)
{
    hd_mp_item a;
    it->cur.p = raw;
    it->cur.end = end;
    if (it->which == 0) {
        if (skip > nfields) {
            load_fail(L, "a record with too few fields");
            return -1;
        }
        it->left = nfields - skip;
        return load_skip_fields(L, &it->cur, skip);
    }
    if (nfields < 2 ||
        (it->which == 2 && load_skip_fields(L, &it->cur, 1) < 0) ||
        hd_mpread_next(&it->cur, &a) < 0 || a.type != HD_MP_ARRAY ||
        a.u > (uint64_t)(it->cur.end - it->cur.p)) {
        if (!PyErr_Occurred()) {
            load_fail(L, "a DICT record without its [keys] and [values]");
        }
        return -1;
    }
    it->left = (uint32_t)a.u;
    return 0;
}

static int
load_items_init(LoaderObject *L, load_items *it, size_t id, int which,
                uint32_t skip)
{
    load_entry *e = &L->entries[id];
    memset(it, 0, sizeof(*it));
    it->owner = (uint32_t)id;
    it->seg = e->more;
    it->which = which;
    return load_items_enter(L, it, e->raw, e->raw_end, e->nfields, skip);
}

/* The next element into *out (a RUN's references come as HD_MP_UINT
 * items).  Returns 1, 0 at the end, -1 on error. */
static int
load_items_next(LoaderObject *L, load_items *it, hd_mp_item *out)
{
    for (;;) {
        if (it->run_left > 0) {
            out->type = HD_MP_UINT;
            out->u = it->run_next++;
            it->run_left--;
            return 1;
        }
        if (it->left == 0) {
            if (it->seg == 0 || it->seg > L->nmore) {
                return 0;
            }
            load_segment *s = &L->more[it->seg - 1];
            if (s->owner != it->owner) {
                it->seg = 0;
                return 0;
            }
            it->seg++;
            if (load_items_enter(L, it, s->raw, s->end, s->n, 0) < 0) {
                return -1;
            }
            continue;
        }
        it->left--;
        if (hd_mpread_next(&it->cur, out) < 0) {
            load_fail(L, "malformed msgpack in the elements of a container");
            return -1;
        }
        if (out->type == HD_MP_ARRAY || out->type == HD_MP_MAP) {
            load_fail(L, "a msgpack array or map where a value belongs");
            return -1;
        }
        if (out->type == HD_MP_EXT && out->ext == HD_EXT_RUN) {
            if (load_run(L, out, &it->run_next, &it->run_left) < 0) {
                return -1;
            }
            continue;
        }
        return 1;
    }
}

/* How many elements the values at c hold (n raw values, RUNs counted as
 * their length), checking that they are values. */
static int
load_count_values(LoaderObject *L, hd_mp_cur *c, uint64_t n, uint64_t *count)
{
    hd_mp_item it;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *start = c->p;
        if (hd_mpread_next(c, &it) < 0) {
            load_fail(L, "malformed msgpack in the elements of a container");
            return -1;
        }
        if (it.type == HD_MP_EXT && it.ext == HD_EXT_RUN) {
            uint64_t first, len;
            if (load_run(L, &it, &first, &len) < 0) {
                return -1;
            }
            total += len;
        }
        else if (it.type == HD_MP_ARRAY || it.type == HD_MP_MAP) {
            c->p = start;
            if (hd_mpread_skip(c) < 0) {
                load_fail(L, "malformed msgpack");
                return -1;
            }
            total += 1; /* an error when it is decoded */
        }
        else {
            total += 1;
        }
    }
    *count = total;
    return 0;
}

/* The elements of one container record or MORE (fields at c): their
 * count, checked against the limit per record and the body budget. */
static int
load_count_elements(LoaderObject *L, int kind, hd_mp_cur *c, uint32_t nfields,
                    uint64_t *count)
{
    if (kind != HD_K_DICT) {
        if (load_count_values(L, c, nfields, count) < 0) {
            return -1;
        }
    }
    else {
        hd_mp_item a;
        uint64_t nk = 0, nv = 0;
        if (nfields < 2 || hd_mpread_next(c, &a) < 0 ||
            a.type != HD_MP_ARRAY || load_count_values(L, c, a.u, &nk) < 0 ||
            hd_mpread_next(c, &a) < 0 || a.type != HD_MP_ARRAY ||
            load_count_values(L, c, a.u, &nv) < 0) {
            if (!PyErr_Occurred()) {
                load_fail(L,
                          "record %llu: a DICT (or its MORE) without its "
                          "[keys] and [values] arrays",
                          (unsigned long long)L->records);
            }
            return -1;
        }
        if (nk != nv) {
            load_fail(L, "record %llu: a DICT with %llu keys and %llu values",
                      (unsigned long long)L->records, (unsigned long long)nk,
                      (unsigned long long)nv);
            return -1;
        }
        *count = nk;
    }
    if (*count > HD_MAX_RECORD_ITEMS) {
        load_fail(L,
                  "record %llu holds %llu elements; a record holds at "
                  "most %d",
                  (unsigned long long)L->records, (unsigned long long)*count,
                  HD_MAX_RECORD_ITEMS);
        return -1;
    }
    /* each element costs a pointer or more: count it against the body
     * budget as if it were a byte, so a few bytes of RUN cannot make
     * gigabytes of lists */
    L->elements += *count;
    if (L->elements > L->max_body) {
        load_fail(L,
                  "the body holds more than max_body_bytes (%llu) "
                  "container elements; pass a larger max_body_bytes to load "
                  "it",
                  (unsigned long long)L->max_body);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Phase 1: records
 */

/* A scalar object from its record: INT, FLOAT, COMPLEX, STR, BYTES,
 * BYTEARRAY, SINGLETON.  cls: a subclass to make (CLASS prefix, CUT), or
 * NULL for the builtin type itself. */
static PyObject *
load_scalar(LoaderObject *L, int kind, hd_mp_cur *c, uint32_t nfields,
            PyTypeObject *cls)
{
    hd_mp_item it, it2;
    PyObject *v = NULL;
    if (nfields < (kind == HD_K_COMPLEX ? 2u : 1u) ||
        hd_mpread_next(c, &it) < 0) {
        return load_fail(L, "%s record is malformed", load_kind_name(kind));
    }
    switch (kind) {
    case HD_K_INT:
        if (it.type == HD_MP_EXT && it.ext == HD_EXT_INT) {
            v = load_int_bytes(it.data, (size_t)it.u);
        }
        else if (it.type == HD_MP_UINT) {
            v = PyLong_FromUnsignedLongLong(it.u);
        }
        else if (it.type == HD_MP_NEG) {
            v = PyLong_FromLongLong(it.i);
        }
        break;
    case HD_K_FLOAT:
        if (it.type == HD_MP_FLOAT) {
            v = PyFloat_FromDouble(it.f);
        }
        break;
    case HD_K_COMPLEX:
        if (it.type == HD_MP_FLOAT && hd_mpread_next(c, &it2) == 0 &&
            it2.type == HD_MP_FLOAT) {
            v = PyComplex_FromDoubles(it.f, it2.f);
        }
        break;
    case HD_K_STR:
        if (it.type == HD_MP_STR) {
            v = load_str(&it);
        }
        break;
    case HD_K_BYTES:
    case HD_K_BYTEARRAY:
        if (it.type == HD_MP_BIN || it.type == HD_MP_STR) {
            if (kind == HD_K_BYTES) {
                v = PyBytes_FromStringAndSize((const char *)it.data,
                                              (Py_ssize_t)it.u);
            }
            else if (cls == NULL) {
                v = PyByteArray_FromStringAndSize((const char *)it.data,
                                                  (Py_ssize_t)it.u);
            }
            else {
                v = PyBytes_FromStringAndSize((const char *)it.data,
                                              (Py_ssize_t)it.u);
            }
        }
        break;
    case HD_K_SINGLETON:
        if (it.type == HD_MP_STR && it.u == 8 &&
            memcmp(it.data, "Ellipsis", 8) == 0) {
            v = Py_NewRef(Py_Ellipsis);
        }
        else if (it.type == HD_MP_STR && it.u == 14 &&
                 memcmp(it.data, "NotImplemented", 14) == 0) {
            v = Py_NewRef(Py_NotImplemented);
        }
        else {
            return load_fail(L, "SINGLETON record names no known singleton");
        }
        break;
    }
    if (v == NULL) {
        if (!PyErr_Occurred()) {
            load_fail(L, "%s record holds a value of the wrong type",
                      load_kind_name(kind));
        }
        return NULL;
    }
    if (cls == NULL || kind == HD_K_SINGLETON) {
        return v;
    }
    /* an instance of a subclass: made by the builtin base type's own
     * tp_new (the subclass's __new__ is never called) */
    PyObject *r = NULL;
    if (kind == HD_K_BYTEARRAY) {
        r = PyByteArray_Type.tp_new(cls, L->empty_tuple, NULL);
        if (r != NULL && (PyByteArray_Resize(r, PyBytes_GET_SIZE(v)) < 0)) {
            Py_CLEAR(r);
        }
        if (r != NULL) {
            memcpy(PyByteArray_AS_STRING(r), PyBytes_AS_STRING(v),
                   (size_t)PyBytes_GET_SIZE(v));
        }
    }
    else {
        PyTypeObject *base = kind == HD_K_INT       ? &PyLong_Type
                             : kind == HD_K_FLOAT   ? &PyFloat_Type
                             : kind == HD_K_COMPLEX ? &PyComplex_Type
                             : kind == HD_K_STR     ? &PyUnicode_Type
                                                    : &PyBytes_Type;
        PyObject *args = PyTuple_Pack(1, v);
        if (args != NULL) {
            r = base->tp_new(cls, args, NULL);
            Py_DECREF(args);
        }
    }
    Py_DECREF(v);
    return r;
}

/* The class a CUT value of this kind is made as (borrowed), or NULL. */
static PyTypeObject *
load_cut_class(LoaderObject *L, int kind)
{
    PyObject *classes = load_support(L, "cut_classes");
    if (classes == NULL) {
        return NULL;
    }
    PyObject *key = PyLong_FromLong(kind);
    PyObject *cls = key ? PyDict_GetItemWithError(classes, key) : NULL;
    Py_XDECREF(key);
    Py_DECREF(classes);
    if (cls == NULL) {
        if (!PyErr_Occurred()) {
            load_fail(L, "no class for a cut %s", load_kind_name(kind));
        }
        return NULL;
    }
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "cut class is not a class");
        return NULL;
    }
    return (PyTypeObject *)cls; /* held by support.cut_classes */
}

static int
load_set_original_length(LoaderObject *L, PyObject *obj, size_t id)
{
    PyObject *key = PyLong_FromSize_t(id);
    if (key == NULL) {
        return -1;
    }
    PyObject *n = PyDict_GetItemWithError(L->cuts, key);
    Py_DECREF(key);
    if (n == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return PyObject_SetAttr(obj, L->s_original_length, n);
}

/* An object record [kind, addr, refcnt, size, fields...] (c after the
 * array header, nfields fields after the 4 of the header). */
static int
load_object_record(LoaderObject *L, int kind, hd_mp_cur *c, uint32_t n,
                   const unsigned char *rec, size_t reclen)
{
    int64_t delta;
    uint64_t refcnt, size;
    (void)rec;
    (void)reclen;
    if (n < 4) {
        load_fail(L, "record %llu (%s object) has only %u fields",
                  (unsigned long long)L->records, load_kind_name(kind), n);
        return -1;
    }
    if (load_int_field(L, c, &delta, "addr") < 0 ||
        load_uint_field(L, c, &refcnt, "refcnt") < 0 ||
        load_uint_field(L, c, &size, "size") < 0) {
        return -1;
    }
    if (L->n >= UINT32_MAX - 1 || L->n >= L->max_objects) {
        load_fail(L,
                  "the file holds more than max_objects (%llu) objects; "
                  "pass a larger max_objects to load it",
                  (unsigned long long)L->max_objects);
        return -1;
    }
    if (load_grow((void **)&L->entries, L->n, &L->cap, sizeof(load_entry)) <
        0) {
        return -1;
    }
    if (L->n + 1 > L->cap || 1) {
        /* the per-id arrays follow the entries' capacity */
        size_t cap = L->cap;
        int64_t *a = PyMem_Realloc(L->addrs, cap * sizeof(int64_t));
        if (a == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        L->addrs = a;
        uint64_t *r = PyMem_Realloc(L->refcnts, cap * sizeof(uint64_t));
        if (r == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        L->refcnts = r;
        uint64_t *s = PyMem_Realloc(L->sizes, cap * sizeof(uint64_t));
        if (s == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        L->sizes = s;
    }
    size_t id = L->n;
    load_entry *e = &L->entries[id];
    memset(e, 0, sizeof(*e));
    e->kind = (uint8_t)kind;
    e->nfields = n - 4;
    L->last_addr = (int64_t)((uint64_t)L->last_addr + (uint64_t)delta);
    L->addrs[id] = L->last_addr;
    L->refcnts[id] = refcnt;
    L->sizes[id] = size;
    L->n++;
    L->last_object = (int64_t)id;

    uint64_t cut = L->pending_cut;
    uint32_t pre = L->pending_pre;
    L->pending_cut = 0;
    L->pending_pre = 0;
    if (cut) {
        PyObject *k = PyLong_FromSize_t(id);
        PyObject *v = PyLong_FromUnsignedLongLong(cut - 1);
        int r = (k && v) ? PyDict_SetItem(L->cuts, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (r < 0) {
            return -1;
        }
        e->flags |= LOAD_F_CUT;
    }

    switch (kind) {
    case HD_K_INT:
    case HD_K_FLOAT:
    case HD_K_COMPLEX:
    case HD_K_STR:
    case HD_K_BYTES:
    case HD_K_BYTEARRAY:
    case HD_K_SINGLETON:
        if (pre == 0) {
            PyTypeObject *cls = NULL;
            if ((e->flags & LOAD_F_CUT) &&
                (kind == HD_K_STR || kind == HD_K_BYTES ||
                 kind == HD_K_BYTEARRAY)) {
                cls = load_cut_class(L, kind);
                if (cls == NULL) {
                    return -1;
                }
            }
            e->obj = load_scalar(L, kind, c, e->nfields, cls);
            if (e->obj == NULL) {
                load_wrap(L, id);
                return -1;
            }
            if (cls != NULL && load_set_original_length(L, e->obj, id) < 0) {
                load_wrap(L, id);
                return -1;
            }
            e->flags |= LOAD_F_FILLED;
            return 0;
        }
        break;
    case HD_K_TUPLE:
    case HD_K_LIST:
    case HD_K_SET:
    case HD_K_FROZENSET:
    case HD_K_DICT: {
        uint64_t count;
        hd_mp_cur cc = *c;
        if (load_count_elements(L, kind, &cc, e->nfields, &count) < 0) {
            return -1;
        }
        e->nitems = (uint32_t)count;
    }
        if (kind == HD_K_TUPLE) {
            e->flags |= LOAD_F_TUPLE;
        }
        if (kind == HD_K_FROZENSET) {
            e->flags |= LOAD_F_LATE;
        }
        break;
    case HD_K_RANGE:
    case HD_K_SLICE:
    case HD_K_FUNCTION:
    case HD_K_METHOD: e->flags |= LOAD_F_LATE; break;
    case HD_K_TYPE:
    case HD_K_CODE:
    case HD_K_FRAME:
    case HD_K_TRACEBACK:
    case HD_K_EXCEPTION:
    case HD_K_CFUNCTION:
    case HD_K_MODULE:
    case HD_K_GENERATOR:
    case HD_K_WEAKREF: e->flags |= LOAD_F_PYFILL; break;
    case HD_K_INSTANCE:
    case HD_K_OPAQUE:
    case HD_K_CELL: break;
    case HD_K_UNREADABLE: {
        /* [29, addr, 0, 0, reason]: what a crash dump could not read */
        PyObject *reason =
            e->nfields >= 1 ? load_data(L, c, 0) : Py_NewRef(Py_None);
        PyObject *args = reason
                             ? Py_BuildValue("(nLN)", (Py_ssize_t)id,
                                             (long long)L->last_addr, reason)
                             : NULL;
        PyObject *obj = args ? load_call(L, "unreadable", args) : NULL;
        Py_XDECREF(args);
        if (obj == NULL) {
            load_wrap(L, id);
            return -1;
        }
        L->entries[id].obj = obj;
        L->entries[id].flags |= LOAD_F_FILLED;
        return 0;
    }
    default: {
        /* an object kind this reader does not know: a placeholder that
         * says so, and the id is taken */
        PyObject *args = Py_BuildValue("(inL)", kind, (Py_ssize_t)id,
                                       (long long)L->last_addr);
        e->obj = args ? load_call(L, "unknown", args) : NULL;
        Py_XDECREF(args);
        if (e->obj == NULL) {
            return -1;
        }
        e->flags |= LOAD_F_FILLED;
        return 0;
    }
    }
    if (pre != 0) {
        switch (kind) {
        case HD_K_INT:
        case HD_K_FLOAT:
        case HD_K_COMPLEX:
        case HD_K_STR:
        case HD_K_BYTES:
        case HD_K_BYTEARRAY:
        case HD_K_TUPLE:
        case HD_K_LIST:
        case HD_K_SET:
        case HD_K_FROZENSET:
        case HD_K_DICT: e->pre = pre; break;
        default:
            load_fail(L,
                      "record %llu: a CLASS record precedes a %s record, "
                      "which cannot have one",
                      (unsigned long long)L->records, load_kind_name(kind));
            return -1;
        }
    }
    /* keep the fields for the later phases */
    size_t len = (size_t)(c->end - c->p);
    const unsigned char *raw = load_arena_copy(L, c->p, len);
    if (raw == NULL) {
        return -1;
    }
    e->raw = raw;
    e->raw_end = raw + len;
    return 0;
}

/* An other record [kind, fields...]. */
static int
load_other_record(LoaderObject *L, int kind, hd_mp_cur *c, uint32_t n)
{
    uint32_t nf = n - 1;
    switch (kind) {
    case HD_R_LAYOUT: {
        /* [65, type, [names]] */
        uint64_t tid;
        hd_mp_item it;
        if (nf < 2 || load_value_ref(L, c, &tid) < 0) {
            if (!PyErr_Occurred()) {
                load_fail(L, "record %llu (LAYOUT) is malformed",
                          (unsigned long long)L->records);
            }
            return -1;
        }
        const unsigned char *start = c->p;
        if (hd_mpread_next(c, &it) < 0 || it.type != HD_MP_ARRAY) {
            load_fail(L, "record %llu (LAYOUT) has no array of names",
                      (unsigned long long)L->records);
            return -1;
        }
        if (load_skip_fields(L, c, (uint32_t)it.u) < 0) {
            return -1;
        }
        if (it.u > UINT32_MAX / 2) {
            load_fail(L, "LAYOUT record too long");
            return -1;
        }
        if (load_grow((void **)&L->layouts, L->nlayouts, &L->layouts_cap,
                      sizeof(load_layout)) < 0) {
            return -1;
        }
        const unsigned char *raw =
            load_arena_copy(L, start, (size_t)(c->p - start));
        if (raw == NULL) {
            return -1;
        }
        load_layout *l = &L->layouts[L->nlayouts++];
        memset(l, 0, sizeof(*l));
        l->names = raw;
        l->names_end = raw + (c->p - start);
        l->type_id = tid;
        l->nnames = (uint32_t)it.u;
        return 0;
    }
    case HD_R_CLASS: {
        if (nf < 3) {
            load_fail(L, "record %llu (CLASS) is malformed",
                      (unsigned long long)L->records);
            return -1;
        }
        if (load_grow((void **)&L->prefixes, L->nprefixes, &L->prefixes_cap,
                      sizeof(load_prefix)) < 0) {
            return -1;
        }
        size_t len = (size_t)(c->end - c->p);
        const unsigned char *raw = load_arena_copy(L, c->p, len);
        if (raw == NULL) {
            return -1;
        }
        load_prefix *p = &L->prefixes[L->nprefixes++];
        p->raw = raw;
        p->end = raw + len;
        p->nfields = nf;
        L->pending_pre = (uint32_t)L->nprefixes;
        return 0;
    }
    case HD_R_CUT: {
        uint64_t orig;
        if (nf < 1 || load_uint_field(L, c, &orig, "CUT length") < 0) {
            if (!PyErr_Occurred()) {
                load_fail(L, "record %llu (CUT) is malformed",
                          (unsigned long long)L->records);
            }
            return -1;
        }
        L->pending_cut = orig == UINT64_MAX ? orig : orig + 1;
        return 0;
    }
    case HD_R_MORE: {
        if (L->last_object < 0) {
            load_fail(L, "record %llu: MORE before any object record",
                      (unsigned long long)L->records);
            return -1;
        }
        load_entry *e = &L->entries[L->last_object];
        if (e->kind != HD_K_TUPLE && e->kind != HD_K_LIST &&
            e->kind != HD_K_DICT && e->kind != HD_K_SET &&
            e->kind != HD_K_FROZENSET) {
            load_fail(L, "record %llu: MORE after a %s record",
                      (unsigned long long)L->records, load_kind_name(e->kind));
            return -1;
        }
        uint64_t count;
        hd_mp_cur cc = *c;
        if (load_count_elements(L, e->kind, &cc, nf, &count) < 0) {
            return -1;
        }
        if ((uint64_t)e->nitems + count > UINT32_MAX / 2) {
            load_fail(L, "a container of more than 2**31 elements");
            return -1;
        }
        if (load_grow((void **)&L->more, L->nmore, &L->more_cap,
                      sizeof(load_segment)) < 0) {
            return -1;
        }
        size_t len = (size_t)(c->end - c->p);
        const unsigned char *raw = load_arena_copy(L, c->p, len);
        if (raw == NULL) {
            return -1;
        }
        load_segment *s = &L->more[L->nmore++];
        s->raw = raw;
        s->end = raw + len;
        s->n = nf;
        s->owner = (uint32_t)L->last_object;
        if (e->more == 0) {
            e->more = (uint32_t)L->nmore;
        }
        e->nitems += (uint32_t)count;
        return 0;
    }
    case HD_R_META:
    case HD_R_THREAD:
    case HD_R_SOURCE:
    case HD_R_ROOT:
    case HD_R_TRAILER:
    case HD_R_ERROR: {
        if (load_grow((void **)&L->others, L->nothers, &L->others_cap,
                      sizeof(load_other)) < 0) {
            return -1;
        }
        size_t len = (size_t)(c->end - c->p);
        const unsigned char *raw = load_arena_copy(L, c->p, len);
        if (raw == NULL) {
            return -1;
        }
        load_other *o = &L->others[L->nothers++];
        o->raw = raw;
        o->end = raw + len;
        o->nfields = nf;
        o->kind = (uint8_t)kind;
        if (kind == HD_R_TRAILER) {
            L->trailer_seen = 1;
        }
        return 0;
    }
    default: return 0; /* a newer kind of other record: skipped */
    }
}

/* One complete record at [rec, rec + len). */
static int
load_record(LoaderObject *L, const unsigned char *rec, size_t len)
{
    hd_mp_cur c = {rec, rec + len};
    hd_mp_item it;
    uint64_t kind;
    if (hd_mpread_next(&c, &it) < 0 || it.type != HD_MP_ARRAY || it.u < 1) {
        load_fail(L, "record %llu is not a msgpack array with a kind",
                  (unsigned long long)L->records);
        return -1;
    }
    uint64_t n = it.u;
    if (hd_mpread_next(&c, &it) < 0 || it.type != HD_MP_UINT || it.u == 0) {
        load_fail(L, "record %llu has no valid kind",
                  (unsigned long long)L->records);
        return -1;
    }
    kind = it.u;
    if (n > UINT32_MAX) {
        load_fail(L, "record %llu is too long",
                  (unsigned long long)L->records);
        return -1;
    }
    if (kind < 64) {
        return load_object_record(L, (int)kind, &c, (uint32_t)n, rec, len);
    }
    if (L->pending_pre && (kind != HD_R_CUT && kind != HD_R_LAYOUT)) {
        /* a CLASS must be followed by its object */
        if (kind == HD_R_CLASS || kind == HD_R_MORE) {
            load_fail(L,
                      "record %llu: a CLASS record is not followed by "
                      "its object",
                      (unsigned long long)L->records);
            return -1;
        }
    }
    return load_other_record(L, kind > 255 ? 255 : (int)kind, &c, (uint32_t)n);
}

/* Raise the stream's failure: OSError naming the file, MemoryError, or
 * HeapdumpError with its message.  Returns -1. */
static int
load_stream_raise(LoaderObject *L, const hd_stream *s)
{
    switch (s->error) {
    case HD_STREAM_EIO:
        errno = s->err_no;
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, L->path);
        break;
    case HD_STREAM_ENOMEM: PyErr_NoMemory(); break;
    default: load_fail(L, "%s", s->message); break;
    }
    return -1;
}

/* Phase 1: read the body, keep what the later phases need, make scalars. */
static PyObject *
Loader_read(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    hd_stream s;
    hd_stream_init(&s);
    if (L->read_done) {
        return load_fail(L, "read() was called already");
    }
    L->read_done = 1;
    s.max_record = L->max_record;
    s.max_body = L->max_body;
    s.max_ratio = L->max_ratio;
    if (hd_stream_open(&s, L->path, L->offset) < 0) {
        goto error;
    }
    for (;;) {
        const unsigned char *rec;
        size_t rlen;
        int r = hd_stream_next(&s, &rec, &rlen);
        L->body_bytes = s.body_bytes;
        L->file_bytes = s.file_bytes;
        if (r < 0) {
            load_stream_raise(L, &s);
            goto error;
        }
        if (r == 0) {
            if (s.truncation != NULL) {
                L->truncated = 1;
                L->truncation = s.truncation;
            }
            break;
        }
        if (load_record(L, rec, rlen) < 0) {
            goto error;
        }
        L->records++;
        if (L->trailer_seen) {
            /* TRAILER is last: read the rest of the stream only to check
             * it (the last frame's checksum) */
            if (hd_stream_drain(&s, &L->after_trailer) < 0) {
                load_stream_raise(L, &s);
                goto error;
            }
            L->body_bytes = s.body_bytes;
            L->file_bytes = s.file_bytes;
            if (s.truncation != NULL) {
                L->truncated = 1;
                L->truncation = s.truncation;
            }
            break;
        }
    }
    if (!L->trailer_seen && !L->truncated) {
        L->truncated = 1;
        L->truncation = "the body ends before its TRAILER record";
    }
    if (L->pending_pre) {
        L->pending_pre = 0; /* a CLASS with no object after it: dropped */
    }
    hd_stream_close(&s);
    Py_RETURN_NONE;
error:
    if (!PyErr_Occurred()) {
        load_stream_raise(L, &s);
    }
    hd_stream_close(&s);
    return NULL;
}

/* ---------------------------------------------------------------------
 * Record fields as Python objects (for _load.py and the callbacks)
 */

/* An array of values (V) or of names (N: str as str, else a value). */
static PyObject *
load_value_array(LoaderObject *L, hd_mp_cur *c, int names, int goal, int mode)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        return load_fail(L, "malformed msgpack array");
    }
    if (it.type == HD_MP_NIL) {
        Py_RETURN_NONE;
    }
    if (it.type != HD_MP_ARRAY) {
        return load_fail(L, "an array of values was expected");
    }
    if (it.u > (uint64_t)(c->end - c->p)) {
        return load_fail(L, "array longer than its record");
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    uint64_t expanded = 0;
    for (uint64_t i = 0; i < it.u; i++) {
        hd_mp_item item;
        PyObject *v;
        if (hd_mpread_next(c, &item) < 0) {
            Py_DECREF(list);
            return load_fail(L, "malformed msgpack value");
        }
        if (item.type == HD_MP_EXT && item.ext == HD_EXT_RUN) {
            /* tolerated here too: references to consecutive ids */
            uint64_t first, count;
            if (load_run(L, &item, &first, &count) < 0 ||
                (expanded += count) > HD_MAX_RECORD_ITEMS) {
                Py_DECREF(list);
                if (!PyErr_Occurred()) {
                    load_fail(L, "an array of more than %d values",
                              HD_MAX_RECORD_ITEMS);
                }
                return NULL;
            }
            for (uint64_t j = 0; j < count; j++) {
                v = load_ref(L, first + j, goal, mode);
                if (v == NULL || PyList_Append(list, v) < 0) {
                    Py_XDECREF(v);
                    Py_DECREF(list);
                    return NULL;
                }
                Py_DECREF(v);
            }
            continue;
        }
        v = load_value_item(L, &item, goal, mode);
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        if (names && PyUnicode_CheckExact(v)) {
            PyUnicode_InternInPlace(&v);
        }
        if (PyList_Append(list, v) < 0) {
            Py_DECREF(v);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(v);
    }
    return list;
}

/* The fields of a record (after its header) decoded by schema; fields
 * past the schema are left out, missing ones are an error but for the
 * optional ones (None).  upto: decode at most that many fields. */
static PyObject *
load_decode_fields(LoaderObject *L, int kind, const unsigned char *raw,
                   const unsigned char *end, uint32_t nfields, int mode,
                   uint32_t upto)
{
    const char *schema = hd_format_fields(kind);
    hd_mp_cur c = {raw, end};
    if (schema == NULL) {
        schema = "";
    }
    const char *bar = strchr(schema, '|');
    size_t required = bar ? (size_t)(bar - schema) : strlen(schema);
    size_t ns = required + (bar ? strlen(bar + 1) : 0);
    if (upto < ns) {
        ns = upto;
    }
    if (nfields < (ns < required ? ns : required)) {
        return load_fail(L, "a %s record has %u fields, %zu expected",
                         kind < 64 ? load_kind_name(kind) : "other", nfields,
                         required);
    }
    PyObject *list = PyList_New((Py_ssize_t)ns);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < ns; i++) {
        PyObject *v;
        if (i >= nfields) {
            PyList_SET_ITEM(list, (Py_ssize_t)i, Py_NewRef(Py_None));
            continue;
        }
        switch (schema[i >= required ? i + 1 : i]) {
        case 'v': v = load_value(L, &c, LOAD_READY, mode); break;
        case 'V': v = load_value_array(L, &c, 0, LOAD_READY, mode); break;
        case 'N': v = load_value_array(L, &c, 1, LOAD_READY, mode); break;
        default: v = load_data(L, &c, 0); break;
        }
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    return list;
}

static PyObject *
load_entry_fields(LoaderObject *L, size_t id, int mode, uint32_t upto)
{
    load_entry *e = &L->entries[id];
    if (e->raw == NULL) {
        return PyList_New(0);
    }
    return load_decode_fields(L, e->kind, e->raw, e->raw_end, e->nfields, mode,
                              upto);
}

/* ---------------------------------------------------------------------
 * Classes
 */

static PyTypeObject *
load_builtin_of_kind(int kind)
{
    switch (kind) {
    case HD_K_INT: return &PyLong_Type;
    case HD_K_FLOAT: return &PyFloat_Type;
    case HD_K_COMPLEX: return &PyComplex_Type;
    case HD_K_STR: return &PyUnicode_Type;
    case HD_K_BYTES: return &PyBytes_Type;
    case HD_K_BYTEARRAY: return &PyByteArray_Type;
    case HD_K_TUPLE: return &PyTuple_Type;
    case HD_K_LIST: return &PyList_Type;
    case HD_K_DICT: return &PyDict_Type;
    case HD_K_SET: return &PySet_Type;
    case HD_K_FROZENSET: return &PyFrozenSet_Type;
    case HD_K_INSTANCE:
    case HD_K_OPAQUE: return &SurrogateType;
    case HD_K_EXCEPTION: return (PyTypeObject *)PyExc_BaseException;
    default: return NULL;
    }
}

/* The class to make a record of this kind as, for the type with this id
 * (support.class_for(type_id, type, kind), cached).  Borrowed. */
static PyTypeObject *
load_class_for(LoaderObject *L, uint64_t type_id, int kind)
{
    uint64_t key =
        ((type_id == LOAD_NO_ID ? (uint64_t)UINT32_MAX : type_id) << 6 |
         (uint64_t)kind) +
        1;
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & L->classes_mask;
    while (L->classes[i].key != 0) {
        if (L->classes[i].key == key) {
            return (PyTypeObject *)L->classes[i].cls;
        }
        i = (i + 1) & L->classes_mask;
    }
    PyObject *type_obj;
    if (type_id == LOAD_NO_ID) {
        type_obj = Py_NewRef(Py_None);
    }
    else {
        type_obj = load_ref(L, type_id, LOAD_EXIST, LOAD_SOFT);
        if (type_obj == NULL) {
            return NULL;
        }
    }
    PyObject *args = Py_BuildValue(
        "(LNi)", type_id == LOAD_NO_ID ? -1LL : (long long)type_id, type_obj,
        kind);
    PyObject *cls = args ? load_call(L, "class_for", args) : NULL;
    Py_XDECREF(args);
    if (cls == NULL) {
        return NULL;
    }
    PyTypeObject *want = load_builtin_of_kind(kind);
    if (!PyType_Check(cls) ||
        (want != NULL && !PyType_IsSubtype((PyTypeObject *)cls, want))) {
        Py_DECREF(cls);
        load_fail(L, "class_for() gave no valid class for a %s",
                  load_kind_name(kind));
        return NULL;
    }
    /* keep it; grow the table at half full */
    if ((L->nclasses + 1) * 2 > L->classes_mask + 1) {
        size_t ncap = (L->classes_mask + 1) * 2;
        load_classslot *nt = PyMem_Calloc(ncap, sizeof(load_classslot));
        if (nt == NULL) {
            Py_DECREF(cls);
            PyErr_NoMemory();
            return NULL;
        }
        for (size_t j = 0; j <= L->classes_mask; j++) {
            if (L->classes[j].key != 0) {
                size_t k =
                    (size_t)(L->classes[j].key * 0x9E3779B97F4A7C15ull) &
                    (ncap - 1);
                while (nt[k].key != 0) {
                    k = (k + 1) & (ncap - 1);
                }
                nt[k] = L->classes[j];
            }
        }
        PyMem_Free(L->classes);
        L->classes = nt;
        L->classes_mask = ncap - 1;
        i = (size_t)(key * 0x9E3779B97F4A7C15ull) & L->classes_mask;
        while (L->classes[i].key != 0) {
            i = (i + 1) & L->classes_mask;
        }
    }
    L->classes[i].key = key;
    L->classes[i].cls = cls; /* owned by the table */
    L->nclasses++;
    return (PyTypeObject *)cls;
}

/* The type id a value field refers to, reading it at c. */
static int
load_type_field(LoaderObject *L, hd_mp_cur *c, uint64_t *tid)
{
    return load_value_ref(L, c, tid);
}

/* The first builtin (static) type in cls's base chain: its tp_new and
 * tp_alloc are C code. */
static PyTypeObject *
load_static_base(PyTypeObject *cls)
{
    while (cls != NULL && (cls->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        cls = cls->tp_base;
    }
    return cls;
}

/* ---------------------------------------------------------------------
 * Surrogates: the C base of the classes of loaded instances
 */

typedef struct {
    PyObject_HEAD PyObject *dict;
    PyObject *referents; /* OPAQUE: tuple of its referents, or NULL */
    int64_t addr;        /* the original address */
    int64_t oid;         /* its id in the dump, or -1 */
    int opaque;
} SurrogateObject;

static PyObject *
load_surrogate_new_of(PyTypeObject *cls, int64_t addr, int64_t oid)
{
    PyObject *obj = cls->tp_alloc(cls, 0);
    if (obj == NULL) {
        return NULL;
    }
    SurrogateObject *s = (SurrogateObject *)obj;
    s->addr = addr;
    s->oid = oid;
    return obj;
}

/* ---------------------------------------------------------------------
 * Phase 2: types, then shells
 */

static int
load_make_type(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    /* name .. [attribute names]: the values come later (phase 3) */
    PyObject *fields = load_entry_fields(L, id, LOAD_SOFT, 9);
    if (fields == NULL) {
        return -1;
    }
    PyObject *args = Py_BuildValue("(nN)", (Py_ssize_t)id, fields);
    PyObject *cls = args ? load_call(L, "make_type", args) : NULL;
    Py_XDECREF(args);
    if (cls == NULL) {
        return -1;
    }
    e->obj = cls;
    e->flags |= LOAD_F_FILLED;
    return 0;
}

/* The class for the INSTANCE record id, from its layout or type. */
static PyTypeObject *
load_instance_class(LoaderObject *L, size_t id, hd_mp_cur *c)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        load_fail(L, "INSTANCE record is malformed");
        return NULL;
    }
    if (it.type == HD_MP_NIL) {
        uint64_t tid;
        if (L->entries[id].nfields < 2 || load_type_field(L, c, &tid) < 0) {
            if (!PyErr_Occurred()) {
                load_fail(L, "INSTANCE record with no layout has no type");
            }
            return NULL;
        }
        return load_class_for(L, tid, HD_K_INSTANCE);
    }
    if (it.type != HD_MP_UINT || it.u >= L->nlayouts) {
        load_fail(L,
                  "INSTANCE record names layout %llu, not defined before "
                  "it",
                  it.type == HD_MP_UINT ? (unsigned long long)it.u : 0);
        return NULL;
    }
    load_layout *l = &L->layouts[it.u];
    if (l->cls == NULL) {
        PyTypeObject *cls = load_class_for(L, l->type_id, HD_K_INSTANCE);
        if (cls == NULL) {
            return NULL;
        }
        l->cls = Py_NewRef((PyObject *)cls);
    }
    return (PyTypeObject *)l->cls;
}

static int
load_make_shell(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    int kind = e->kind;
    PyTypeObject *cls = NULL;
    PyObject *obj = NULL;

    if (e->pre) {
        load_prefix *p = &L->prefixes[e->pre - 1];
        hd_mp_cur pc = {p->raw, p->end};
        uint64_t tid;
        if (load_type_field(L, &pc, &tid) < 0) {
            return -1;
        }
        cls = load_class_for(L, tid, kind);
        if (cls == NULL) {
            return -1;
        }
    }
    else if ((e->flags & LOAD_F_CUT) &&
             (kind == HD_K_TUPLE || kind == HD_K_LIST || kind == HD_K_DICT ||
              kind == HD_K_SET || kind == HD_K_FROZENSET)) {
        cls = load_cut_class(L, kind);
        if (cls == NULL) {
            return -1;
        }
    }

    switch (kind) {
    case HD_K_INT:
    case HD_K_FLOAT:
    case HD_K_COMPLEX:
    case HD_K_STR:
    case HD_K_BYTES:
    case HD_K_BYTEARRAY:
        /* only scalars of subclasses get here (CLASS) */
        obj = load_scalar(L, kind, &c, e->nfields, cls);
        if (obj != NULL) {
            e->flags |= LOAD_F_FILLED;
        }
        break;
    case HD_K_TUPLE:
        if (cls == NULL) {
            obj = PyTuple_New((Py_ssize_t)e->nitems);
        }
        else {
            /* a tuple subclass: allocated with its items NULL, filled
             * in phase 3 before anything can see it */
            obj = hd_pyversion_tuple_alloc(cls, (Py_ssize_t)e->nitems);
        }
        break;
    case HD_K_LIST:
        if (cls == NULL) {
            obj = PyList_New(0);
        }
        else {
            obj = PyList_Type.tp_new(cls, L->empty_tuple, NULL);
        }
        break;
    case HD_K_DICT:
        if (cls == NULL) {
            obj = PyDict_New();
        }
        else {
            PyTypeObject *base = load_static_base(cls);
            obj = base->tp_new(cls, L->empty_tuple, NULL);
        }
        break;
    case HD_K_SET:
        if (cls == NULL) {
            obj = PySet_New(NULL);
        }
        else {
            obj = PySet_Type.tp_new(cls, L->empty_tuple, NULL);
        }
        break;
    case HD_K_INSTANCE:
        cls = load_instance_class(L, id, &c);
        if (cls != NULL) {
            obj = load_surrogate_new_of(cls, L->addrs[id], (int64_t)id);
        }
        break;
    case HD_K_OPAQUE: {
        uint64_t tid;
        if (e->nfields < 4 || load_type_field(L, &c, &tid) < 0) {
            if (!PyErr_Occurred()) {
                load_fail(L, "OPAQUE record is malformed");
            }
            break;
        }
        cls = load_class_for(L, tid, HD_K_OPAQUE);
        if (cls != NULL) {
            obj = load_surrogate_new_of(cls, L->addrs[id], (int64_t)id);
            if (obj != NULL) {
                ((SurrogateObject *)obj)->opaque = 1;
            }
        }
        break;
    }
    case HD_K_EXCEPTION: {
        uint64_t tid;
        if (e->nfields < 1 || load_type_field(L, &c, &tid) < 0) {
            if (!PyErr_Occurred()) {
                load_fail(L, "EXCEPTION record is malformed");
            }
            break;
        }
        cls = load_class_for(L, tid, HD_K_EXCEPTION);
        if (cls == NULL) {
            break;
        }
        PyTypeObject *base = load_static_base(cls);
#if PY_VERSION_HEX >= 0x030B0000
        if (PyType_IsSubtype(base, (PyTypeObject *)PyExc_BaseExceptionGroup)) {
            /* its tp_new wants the members; BaseException's makes it
             * with none, and set_group() puts them in later */
            base = (PyTypeObject *)PyExc_BaseException;
            obj = base->tp_new(cls, L->empty_tuple, NULL);
            if (obj != NULL) {
                PyBaseExceptionGroupObject *g =
                    (PyBaseExceptionGroupObject *)obj;
                g->msg = PyUnicode_FromString("");
                g->excs = PyTuple_New(0);
                if (g->msg == NULL || g->excs == NULL) {
                    Py_CLEAR(obj);
                }
            }
            break;
        }
#endif
        obj = base->tp_new(cls, L->empty_tuple, NULL);
        break;
    }
    case HD_K_CELL: obj = PyCell_New(NULL); break;
    case HD_K_CODE: {
        PyObject *fields = load_entry_fields(L, id, LOAD_SOFT, 10);
        if (fields == NULL) {
            break;
        }
        PyObject *args = Py_BuildValue("(nN)", (Py_ssize_t)id, fields);
        obj = args ? load_call(L, "make_code", args) : NULL;
        Py_XDECREF(args);
        if (obj != NULL) {
            e->flags |= LOAD_F_FILLED;
        }
        break;
    }
    case HD_K_FRAME:
    case HD_K_TRACEBACK:
    case HD_K_CFUNCTION:
    case HD_K_MODULE:
    case HD_K_GENERATOR:
    case HD_K_WEAKREF: {
        /* a shell of heapdump's own class for the kind, filled by _load */
        PyObject *classes = load_support(L, "shell_classes");
        PyObject *key = PyLong_FromLong(kind);
        PyObject *k =
            (classes && key) ? PyDict_GetItemWithError(classes, key) : NULL;
        Py_XDECREF(key);
        if (k == NULL || !PyType_Check(k)) {
            Py_XDECREF(classes);
            if (!PyErr_Occurred()) {
                load_fail(L, "no shell class for %s", load_kind_name(kind));
            }
            break;
        }
        cls = (PyTypeObject *)k;
        PyTypeObject *base = load_static_base(cls);
        if (PyType_IsSubtype(cls, &SurrogateType)) {
            obj = load_surrogate_new_of(cls, L->addrs[id], (int64_t)id);
        }
        else {
            obj = base->tp_new(cls, L->empty_tuple, NULL);
        }
        Py_DECREF(classes);
        break;
    }
    default: return 0;
    }
    if (obj == NULL) {
        if (!PyErr_Occurred()) {
            load_fail(L, "could not make object %zu", id);
        }
        load_wrap(L, id);
        return -1;
    }
    e = &L->entries[id];
    e->obj = obj;
    if ((e->flags & LOAD_F_CUT) && cls != NULL && e->pre == 0 &&
        kind != HD_K_INSTANCE && kind != HD_K_OPAQUE) {
        if (load_set_original_length(L, obj, id) < 0) {
            load_wrap(L, id);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Phase 3: contents, and the objects made from them
 */

/* The instance attributes of a layout, as a tuple (decoded at first use;
 * names that are not str are values, resolved as dict keys). */
static PyObject *
load_layout_names(LoaderObject *L, load_layout *l, int mode)
{
    if (l->names_tuple != NULL) {
        return l->names_tuple;
    }
    hd_mp_cur c = {l->names, l->names_end};
    PyObject *list = load_value_array(L, &c, 1, LOAD_READY, mode);
    if (list == NULL) {
        return NULL;
    }
    if (list == Py_None) {
        Py_DECREF(list);
        list = PyList_New(0);
        if (list == NULL) {
            return NULL;
        }
    }
    l->names_tuple = PyList_AsTuple(list);
    Py_DECREF(list);
    return l->names_tuple;
}

/* A dict of the attributes: names of layout ln and values at it. */
static PyObject *
load_attr_dict(LoaderObject *L, size_t id, uint64_t ln, hd_mp_cur *c,
               uint32_t nvalues, int mode)
{
    if (ln >= L->nlayouts) {
        return load_fail(L,
                         "object %zu names layout %llu, which is not "
                         "defined before it",
                         id, (unsigned long long)ln);
    }
    load_layout *l = &L->layouts[ln];
    PyObject *names = load_layout_names(L, l, mode);
    if (names == NULL) {
        return NULL;
    }
    if ((size_t)PyTuple_GET_SIZE(names) != nvalues) {
        return load_fail(L,
                         "object %zu has %u attribute values for a layout "
                         "of %zd names",
                         id, nvalues, PyTuple_GET_SIZE(names));
    }
    PyObject *dict = _PyDict_NewPresized((Py_ssize_t)nvalues);
    if (dict == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < nvalues; i++) {
        PyObject *v = load_value(L, c, LOAD_EXIST, mode);
        if (v == NULL) {
            Py_DECREF(dict);
            return NULL;
        }
        if (v != L->unbound &&
            PyDict_SetItem(dict, PyTuple_GET_ITEM(names, i), v) < 0) {
            Py_DECREF(v);
            Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(v);
    }
    return dict;
}

static int
load_fill_instance(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    hd_mp_item it;
    if (hd_mpread_next(&c, &it) < 0) {
        load_fail(L, "INSTANCE record is malformed");
        return -1;
    }
    if (it.type != HD_MP_UINT) {
        return 0; /* no attributes */
    }
    PyObject *dict = load_attr_dict(L, id, it.u, &c, e->nfields - 1, LOAD_DFS);
    if (dict == NULL) {
        return -1;
    }
    SurrogateObject *s = (SurrogateObject *)L->entries[id].obj;
    Py_XSETREF(s->dict, dict);
    return 0;
}

static int
load_fill_opaque(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    hd_mp_item it, arr;
    if (hd_mpread_skip(&c) < 0 || hd_mpread_next(&c, &it) < 0 ||
        hd_mpread_next(&c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        load_fail(L, "OPAQUE record is malformed");
        return -1;
    }
    PyObject *dict = NULL;
    if (it.type == HD_MP_UINT) {
        dict = load_attr_dict(L, id, it.u, &c, (uint32_t)arr.u, LOAD_DFS);
        if (dict == NULL) {
            return -1;
        }
    }
    else if (arr.u != 0 || it.type != HD_MP_NIL) {
        load_fail(L, "OPAQUE record has values without a layout");
        return -1;
    }
    PyObject *refs = load_value_array(L, &c, 0, LOAD_EXIST, LOAD_DFS);
    if (refs == NULL) {
        Py_XDECREF(dict);
        return -1;
    }
    PyObject *t = refs == Py_None ? PyTuple_New(0) : PyList_AsTuple(refs);
    Py_DECREF(refs);
    if (t == NULL) {
        Py_XDECREF(dict);
        return -1;
    }
    SurrogateObject *s = (SurrogateObject *)L->entries[id].obj;
    Py_XSETREF(s->dict, dict);
    Py_XSETREF(s->referents, t);
    return 0;
}

/* LIST, DICT, SET (and their subclasses): the elements. */
static int
load_fill_container(LoaderObject *L, size_t id)
{
    load_items its, vals;
    hd_mp_item item;
    load_entry *e = &L->entries[id];
    int kind = e->kind, r;
    PyObject *obj = e->obj;
    if (load_items_init(L, &its, id, kind == HD_K_DICT ? 1 : 0, 0) < 0) {
        return -1;
    }
    if (kind == HD_K_LIST && PyList_CheckExact(obj)) {
        /* the exact size at once, items set in place: nothing has seen
         * the empty list yet */
        size_t cap = e->nitems ? e->nitems : 1;
        PyObject **items = PyMem_New(PyObject *, cap);
        size_t n = 0;
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        while ((r = load_items_next(L, &its, &item)) > 0) {
            PyObject *v = n < cap
                              ? load_value_item(L, &item, LOAD_EXIST, LOAD_DFS)
                              : NULL;
            if (v == NULL || v == L->unbound) {
                Py_XDECREF(v);
                r = -1;
                if (!PyErr_Occurred()) {
                    load_fail(L, "an UNBOUND value in a list, or more "
                                 "elements than counted");
                }
                break;
            }
            items[n++] = v;
        }
        if (r < 0) {
            while (n > 0) {
                Py_DECREF(items[--n]);
            }
            PyMem_Free(items);
            return -1;
        }
        PyListObject *list = (PyListObject *)obj;
        PyObject **old = list->ob_item;
        list->ob_item = items;
        Py_SET_SIZE(list, (Py_ssize_t)n);
        list->allocated = (Py_ssize_t)cap;
        PyMem_Free(old);
        return 0;
    }
    if (kind == HD_K_LIST || kind == HD_K_SET) {
        int goal = kind == HD_K_SET ? LOAD_READY : LOAD_EXIST;
        while ((r = load_items_next(L, &its, &item)) > 0) {
            PyObject *v = load_value_item(L, &item, goal, LOAD_DFS);
            if (v == NULL || v == L->unbound ||
                (kind == HD_K_LIST ? PyList_Append(obj, v)
                                   : PySet_Add(obj, v)) < 0) {
                Py_XDECREF(v);
                if (!PyErr_Occurred()) {
                    load_fail(L, "an UNBOUND value in a %s",
                              load_kind_name(kind));
                }
                return -1;
            }
            Py_DECREF(v);
        }
        return r;
    }
    /* DICT: builtin subclasses of dict with their own C bookkeeping
     * (OrderedDict) through their mp_ass_subscript; the exact dict and
     * the classes made by the loader (no __setitem__) through
     * PyDict_SetItem. */
    PyMappingMethods *mp = Py_TYPE(obj)->tp_as_mapping;
    int generic =
        !PyDict_CheckExact(obj) && mp != NULL &&
        mp->mp_ass_subscript != PyDict_Type.tp_as_mapping->mp_ass_subscript &&
        load_static_base(Py_TYPE(obj)) != &PyDict_Type;
    if (load_items_init(L, &vals, id, 2, 0) < 0) {
        return -1;
    }
    while ((r = load_items_next(L, &its, &item)) > 0) {
        PyObject *k = load_value_item(L, &item, LOAD_READY, LOAD_DFS);
        PyObject *v = NULL;
        if (k != NULL) {
            r = load_items_next(L, &vals, &item);
            if (r > 0) {
                v = load_value_item(L, &item, LOAD_EXIST, LOAD_DFS);
            }
            else if (r == 0) {
                load_fail(L, "a DICT with fewer values than keys");
            }
        }
        if (v == NULL || k == L->unbound || v == L->unbound) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (!PyErr_Occurred()) {
                load_fail(L, "an UNBOUND key or value in a dict");
            }
            return -1;
        }
        r = generic ? PyObject_SetItem(obj, k, v) : PyDict_SetItem(obj, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0) {
            return -1;
        }
    }
    return r;
}

static int
load_fill_cell(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    if (e->nfields < 1) {
        load_fail(L, "CELL record is malformed");
        return -1;
    }
    PyObject *v = load_value(L, &c, LOAD_EXIST, LOAD_DFS);
    if (v == NULL) {
        return -1;
    }
    int r = 0;
    if (v != L->unbound) {
        r = PyCell_Set(L->entries[id].obj, v);
    }
    Py_DECREF(v);
    return r;
}

/* The references a late or tuple-like object needs before it is made, and
 * at what goal: calls push(L, dep, goal) for each. */
typedef int (*load_dep_fn)(LoaderObject *L, uint64_t dep, int goal);

static int
load_deps(LoaderObject *L, size_t id, load_dep_fn push)
{
    load_entry *e = &L->entries[id];
    uint64_t ref;
    switch (e->kind) {
    case HD_K_TUPLE:
    case HD_K_FROZENSET: {
        load_items its;
        hd_mp_item item;
        int r;
        if (load_items_init(L, &its, id, 0, 0) < 0) {
            return -1;
        }
        while ((r = load_items_next(L, &its, &item)) > 0) {
            if (item.type == HD_MP_UINT && push(L, item.u, LOAD_READY) < 0) {
                return -1;
            }
        }
        return r;
    }
    case HD_K_RANGE:
    case HD_K_SLICE:
    case HD_K_METHOD: {
        hd_mp_cur c = {e->raw, e->raw_end};
        uint32_t n = e->kind == HD_K_METHOD ? 2 : 3;
        if (e->nfields < n) {
            load_fail(L, "%s record is malformed", load_kind_name(e->kind));
            return -1;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (load_value_ref(L, &c, &ref) < 0) {
                return -1;
            }
            if (ref != LOAD_NO_ID &&
                push(L, ref,
                     e->kind == HD_K_METHOD ? LOAD_EXIST : LOAD_READY) < 0) {
                return -1;
            }
        }
        return 0;
    }
    case HD_K_FUNCTION: {
        /* name, qualname, module, code, defaults, kwdefaults, closure */
        hd_mp_cur c = {e->raw, e->raw_end};
        if (e->nfields < 7) {
            load_fail(L, "FUNCTION record is malformed");
            return -1;
        }
        if (load_skip_fields(L, &c, 3) < 0 ||
            load_value_ref(L, &c, &ref) < 0) {
            return -1;
        }
        if (ref != LOAD_NO_ID && push(L, ref, LOAD_EXIST) < 0) {
            return -1;
        }
        if (load_skip_fields(L, &c, 2) < 0 ||
            load_value_ref(L, &c, &ref) < 0) {
            return -1;
        }
        if (ref != LOAD_NO_ID && push(L, ref, LOAD_READY) < 0) {
            return -1;
        }
        return 0;
    }
    default: return 0;
    }
}

/* The depth of immutable nesting below a value (for the hash bound). */
static uint16_t
load_depth_of(LoaderObject *L, PyObject *v, uint64_t ref)
{
    (void)v;
    if (ref != LOAD_NO_ID && ref < L->n) {
        return L->entries[ref].depth;
    }
    return 0;
}

/* Make a late object / fill a tuple, its dependencies being ready. */
static int
load_action(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    int kind = e->kind;
    uint16_t depth = 0;
    PyObject *obj = NULL;
    switch (kind) {
    case HD_K_TUPLE: {
        load_items its;
        hd_mp_item item;
        int r;
        if (load_items_init(L, &its, id, 0, 0) < 0) {
            return -1;
        }
        PyObject *t = e->obj;
        Py_ssize_t i = 0, n = PyTuple_GET_SIZE(t);
        while ((r = load_items_next(L, &its, &item)) > 0) {
            PyObject *v = load_value_item(L, &item, LOAD_READY, LOAD_STRICT);
            if (v == NULL) {
                return -1;
            }
            if (v == L->unbound || i >= n) {
                Py_DECREF(v);
                load_fail(L, "an UNBOUND value in a tuple, or more elements "
                             "than counted");
                return -1;
            }
            uint16_t d = load_depth_of(
                L, v, item.type == HD_MP_UINT ? item.u : LOAD_NO_ID);
            if (d > depth) {
                depth = d;
            }
            PyTuple_SET_ITEM(t, i, v);
            i++;
        }
        if (r < 0) {
            return -1;
        }
        if (i != n) {
            load_fail(L, "a tuple shorter than its records said");
            return -1;
        }
        e = &L->entries[id];
        e->flags |= LOAD_F_FILLED;
        break;
    }
    case HD_K_FROZENSET: {
        load_items its;
        hd_mp_item item;
        int r;
        if (load_items_init(L, &its, id, 0, 0) < 0) {
            return -1;
        }
        PyObject *list = PyList_New(0);
        if (list == NULL) {
            return -1;
        }
        while ((r = load_items_next(L, &its, &item)) > 0) {
            PyObject *v = load_value_item(L, &item, LOAD_READY, LOAD_STRICT);
            if (v == NULL || v == L->unbound || PyList_Append(list, v) < 0) {
                Py_XDECREF(v);
                if (!PyErr_Occurred()) {
                    load_fail(L, "an UNBOUND value in a frozenset");
                }
                r = -1;
                break;
            }
            Py_DECREF(v);
            uint16_t d = load_depth_of(
                L, NULL, item.type == HD_MP_UINT ? item.u : LOAD_NO_ID);
            if (d > depth) {
                depth = d;
            }
        }
        if (r < 0) {
            Py_DECREF(list);
            return -1;
        }
        PyTypeObject *cls = NULL;
        if (e->pre) {
            load_prefix *p = &L->prefixes[e->pre - 1];
            hd_mp_cur pc = {p->raw, p->end};
            uint64_t tid;
            if (load_type_field(L, &pc, &tid) < 0 ||
                (cls = load_class_for(L, tid, kind)) == NULL) {
                Py_DECREF(list);
                return -1;
            }
        }
        else if (e->flags & LOAD_F_CUT) {
            cls = load_cut_class(L, kind);
            if (cls == NULL) {
                Py_DECREF(list);
                return -1;
            }
        }
        if (cls == NULL) {
            obj = PyFrozenSet_New(list);
        }
        else {
            PyObject *args = PyTuple_Pack(1, list);
            obj = args ? PyFrozenSet_Type.tp_new(cls, args, NULL) : NULL;
            Py_XDECREF(args);
            if (obj != NULL && e->pre == 0 &&
                load_set_original_length(L, obj, id) < 0) {
                Py_CLEAR(obj);
            }
        }
        Py_DECREF(list);
        break;
    }
    case HD_K_RANGE:
    case HD_K_SLICE: {
        hd_mp_cur c = {e->raw, e->raw_end};
        PyObject *v[3] = {NULL, NULL, NULL};
        int ok = 1;
        for (int i = 0; i < 3 && ok; i++) {
            uint64_t ref;
            hd_mp_cur peek = c;
            ok = load_value_ref(L, &peek, &ref) == 0 &&
                 (v[i] = load_value(L, &c, LOAD_READY, LOAD_STRICT)) != NULL;
            if (ok) {
                uint16_t d = load_depth_of(L, v[i], ref);
                if (d > depth) {
                    depth = d;
                }
            }
        }
        if (ok && kind == HD_K_RANGE) {
            if (!PyLong_Check(v[0]) || !PyLong_Check(v[1]) ||
                !PyLong_Check(v[2])) {
                load_fail(L, "RANGE record with a value that is not an int");
            }
            else {
                obj = PyObject_CallFunctionObjArgs((PyObject *)&PyRange_Type,
                                                   v[0], v[1], v[2], NULL);
            }
        }
        else if (ok) {
            for (int i = 0; i < 3; i++) {
                if (v[i] == L->unbound) {
                    Py_SETREF(v[i], Py_NewRef(Py_None));
                }
            }
            obj = PySlice_New(v[0], v[1], v[2]);
        }
        Py_XDECREF(v[0]);
        Py_XDECREF(v[1]);
        Py_XDECREF(v[2]);
        break;
    }
    case HD_K_METHOD: {
        hd_mp_cur c = {e->raw, e->raw_end};
        PyObject *f = load_value(L, &c, LOAD_EXIST, LOAD_STRICT);
        PyObject *self = f ? load_value(L, &c, LOAD_EXIST, LOAD_STRICT) : NULL;
        if (self != NULL) {
            if (self == Py_None || self == L->unbound) {
                /* an unbound method cannot be rebuilt: the function */
                obj = Py_NewRef(f);
            }
            else {
                obj = PyMethod_New(f, self);
            }
        }
        Py_XDECREF(f);
        Py_XDECREF(self);
        break;
    }
    case HD_K_FUNCTION: {
        PyObject *fields = load_entry_fields(L, id, LOAD_SOFT, 9);
        if (fields == NULL) {
            return -1;
        }
        PyObject *args = Py_BuildValue("(nN)", (Py_ssize_t)id, fields);
        obj = args ? load_call(L, "make_function", args) : NULL;
        Py_XDECREF(args);
        break;
    }
    default: return 0;
    }
    e = &L->entries[id];
    if (kind != HD_K_TUPLE) {
        if (obj == NULL) {
            if (!PyErr_Occurred()) {
                load_fail(L, "could not make object %zu", id);
            }
            return -1;
        }
        e->obj = obj;
        e->flags |= LOAD_F_FILLED;
    }
    if (kind == HD_K_TUPLE || kind == HD_K_FROZENSET || kind == HD_K_SLICE ||
        kind == HD_K_RANGE) {
        if (depth + 1 > LOAD_MAX_IMMUTABLE_DEPTH) {
            load_fail(L,
                      "object %zu: tuples (or frozensets, slices) nested "
                      "more than %d deep",
                      id, LOAD_MAX_IMMUTABLE_DEPTH);
            return -1;
        }
        e->depth = (uint16_t)(depth + 1);
    }
    return 0;
}

static int
load_push(LoaderObject *L, uint64_t id, int goal)
{
    if (id >= L->n) {
        return 0; /* lost: a placeholder, made when decoded */
    }
    load_entry *e = &L->entries[id];
    if (load_is_ready(e, goal)) {
        return 0;
    }
    if (e->flags & LOAD_F_VISITING) {
        load_fail(L,
                  "object %llu (%s record) contains itself through "
                  "immutable objects (tuples, frozensets, slices): a "
                  "corrupt or hostile file",
                  (unsigned long long)id, load_kind_name(e->kind));
        return -1;
    }
    if (!(e->flags & (LOAD_F_TUPLE | LOAD_F_LATE))) {
        /* a shell that does not exist: cannot happen after phase 2 */
        load_fail(L,
                  "object %llu (%s record) is referenced before it can "
                  "be made",
                  (unsigned long long)id, load_kind_name(e->kind));
        return -1;
    }
    if (load_grow((void **)&L->stack, L->sp, &L->stack_cap,
                  sizeof(load_task)) < 0) {
        return -1;
    }
    load_task *t = &L->stack[L->sp++];
    t->id = (uint32_t)id;
    t->goal = (uint8_t)goal;
    t->expanded = 0;
    return 0;
}

/* Make (or fill) object id and what it needs first, depth first with an
 * explicit stack.  A dependency met again while it is still being made
 * is a cycle through immutable objects: an error. */
static int
load_need(LoaderObject *L, size_t id, int goal)
{
    size_t base = L->sp;
    if (load_push(L, id, goal) < 0) {
        goto error;
    }
    while (L->sp > base) {
        load_task *t = &L->stack[L->sp - 1];
        size_t tid = t->id;
        load_entry *e = &L->entries[tid];
        if (load_is_ready(e, t->goal)) {
            if (t->expanded) {
                e->flags &= ~LOAD_F_VISITING;
            }
            L->sp--;
            continue;
        }
        if (!t->expanded) {
            if (e->flags & LOAD_F_VISITING) {
                load_fail(L,
                          "object %zu (%s record) contains itself "
                          "through immutable objects",
                          tid, load_kind_name(e->kind));
                goto error;
            }
            e->flags |= LOAD_F_VISITING;
            t->expanded = 1;
            if (load_deps(L, tid, load_push) < 0) {
                goto error;
            }
            continue;
        }
        if (load_action(L, tid) < 0) {
            load_wrap(L, tid);
            goto error;
        }
        L->entries[tid].flags &= ~LOAD_F_VISITING;
        L->sp--;
    }
    return 0;
error:
    while (L->sp > base) {
        L->entries[L->stack[L->sp - 1].id].flags &= ~LOAD_F_VISITING;
        L->sp--;
    }
    return -1;
}

/* The CLASS attributes of a builtin subclass instance. */
static int load_class_attrs(LoaderObject *L, size_t id);

/* Phases 2 and 3. */
static PyObject *
Loader_build(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    if (!L->read_done || L->built) {
        return load_fail(L, "build() must follow read(), once");
    }
    L->built = 1;
    /* a: types, in id order (a type's bases come before it) */
    for (size_t id = 0; id < L->n; id++) {
        if (L->entries[id].kind == HD_K_TYPE && load_make_type(L, id) < 0) {
            load_wrap(L, id);
            return NULL;
        }
    }
    /* b: shells */
    for (size_t id = 0; id < L->n; id++) {
        load_entry *e = &L->entries[id];
        if (e->obj == NULL && !(e->flags & LOAD_F_LATE) &&
            load_make_shell(L, id) < 0) {
            return NULL;
        }
    }
    /* c: contents */
    for (size_t id = 0; id < L->n; id++) {
        load_entry *e = &L->entries[id];
        int r = 0;
        if (e->flags & (LOAD_F_TUPLE | LOAD_F_LATE)) {
            if (!load_is_ready(e, LOAD_READY)) {
                r = load_need(L, id, LOAD_READY);
            }
        }
        else if (e->obj != NULL && !(e->flags & LOAD_F_FILLED)) {
            switch (e->kind) {
            case HD_K_LIST:
            case HD_K_DICT:
            case HD_K_SET: r = load_fill_container(L, id); break;
            case HD_K_INSTANCE: r = load_fill_instance(L, id); break;
            case HD_K_OPAQUE: r = load_fill_opaque(L, id); break;
            case HD_K_CELL: r = load_fill_cell(L, id); break;
            default: break;
            }
            if (r == 0 && !(e->flags & LOAD_F_PYFILL)) {
                L->entries[id].flags |= LOAD_F_FILLED;
            }
        }
        if (r < 0) {
            load_wrap(L, id);
            return NULL;
        }
    }
    /* d: attributes of instances of builtin subclasses */
    for (size_t id = 0; id < L->n; id++) {
        if (L->entries[id].pre && load_class_attrs(L, id) < 0) {
            load_wrap(L, id);
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------
 * Attributes set from a file, without running anything from it
 */

/* obj.name = value, where only C code can run: a member or getset
 * descriptor of a builtin type is used as such; anything else goes into
 * the instance __dict__ (when obj has one), whatever the class says.
 * __class__ and __dict__ are never set.  Returns 1 if set, 0 if it could
 * not be (nothing raised), -1 on a real error (memory). */
static int
load_setattr(PyObject *obj, PyObject *name, PyObject *value)
{
    if (!PyUnicode_Check(name)) {
        return 0;
    }
    if (PyUnicode_CompareWithASCIIString(name, "__class__") == 0 ||
        PyUnicode_CompareWithASCIIString(name, "__dict__") == 0) {
        return 0;
    }
    PyObject *descr = _PyType_Lookup(Py_TYPE(obj), name); /* borrowed */
    if (descr != NULL && (Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
                          Py_IS_TYPE(descr, &PyGetSetDescr_Type))) {
        Py_INCREF(descr);
        int r = Py_TYPE(descr)->tp_descr_set(descr, obj, value);
        Py_DECREF(descr);
        if (r == 0) {
            return 1;
        }
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    PyObject *dict = NULL;
    if (PyType_IsSubtype(Py_TYPE(obj), &SurrogateType)) {
        SurrogateObject *s = (SurrogateObject *)obj;
        if (s->dict == NULL) {
            s->dict = PyDict_New();
            if (s->dict == NULL) {
                return -1;
            }
        }
        dict = Py_NewRef(s->dict);
    }
    else {
        PyObject **dp = _PyObject_GetDictPtr(obj);
        if (dp == NULL) {
            /* 3.11+ objects with a managed dict and no dict pointer */
            if (Py_TYPE(obj)->tp_dictoffset == 0) {
                return 0;
            }
            dict = PyObject_GenericGetDict(obj, NULL);
            if (dict == NULL) {
                PyErr_Clear();
                return 0;
            }
        }
        else {
            if (*dp == NULL) {
                *dp = PyDict_New();
                if (*dp == NULL) {
                    return -1;
                }
            }
            dict = Py_NewRef(*dp);
        }
    }
    if (!PyDict_Check(dict)) {
        Py_DECREF(dict);
        return 0;
    }
    int r = PyDict_SetItem(dict, name, value);
    Py_DECREF(dict);
    return r < 0 ? -1 : 1;
}

static int
load_class_attrs(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    load_prefix *p = &L->prefixes[e->pre - 1];
    hd_mp_cur c = {p->raw, p->end};
    hd_mp_item it, arr;
    if (hd_mpread_skip(&c) < 0 || hd_mpread_next(&c, &it) < 0 ||
        hd_mpread_next(&c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        load_fail(L, "CLASS record is malformed");
        return -1;
    }
    if (it.type != HD_MP_UINT) {
        return 0;
    }
    PyObject *dict =
        load_attr_dict(L, id, it.u, &c, (uint32_t)arr.u, LOAD_STRICT);
    if (dict == NULL) {
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    PyObject *obj = L->entries[id].obj;
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (load_setattr(obj, k, v) < 0) {
            Py_DECREF(dict);
            return -1;
        }
    }
    Py_DECREF(dict);
    return 0;
}

/* ---------------------------------------------------------------------
 * The Loader type
 */

static int
Loader_init(LoaderObject *L, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {
        "path",           "offset",      "support",   "max_record_bytes",
        "max_body_bytes", "max_objects", "max_ratio", NULL};
    PyObject *path = NULL, *support;
    unsigned long long offset, max_body, max_objects = UINT64_MAX;
    unsigned long long max_ratio = 0;
    Py_ssize_t max_record;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&KOnK|KK:Loader", kwlist,
                                     PyUnicode_FSConverter, &path, &offset,
                                     &support, &max_record, &max_body,
                                     &max_objects, &max_ratio)) {
        return -1;
    }
    if (L->path != NULL) {
        Py_DECREF(path);
        PyErr_SetString(PyExc_RuntimeError, "Loader initialized twice");
        return -1;
    }
    L->path = PyMem_Malloc((size_t)PyBytes_GET_SIZE(path) + 1);
    if (L->path == NULL) {
        Py_DECREF(path);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(L->path, PyBytes_AS_STRING(path),
           (size_t)PyBytes_GET_SIZE(path) + 1);
    Py_DECREF(path);
    if (max_record < 16) {
        max_record = 16;
    }
    L->offset = offset;
    L->max_record = (size_t)max_record;
    L->max_body = max_body;
    L->max_objects = max_objects;
    L->max_ratio = max_ratio;
    L->support = Py_NewRef(support);
    L->error_type = PyObject_GetAttrString(support, "HeapdumpError");
    L->unbound = PyObject_GetAttrString(support, "UNBOUND");
    L->pending = PyObject_GetAttrString(support, "PENDING");
    L->empty_tuple = PyTuple_New(0);
    L->s_original_length = PyUnicode_InternFromString("original_length");
    L->cuts = PyDict_New();
    L->lost = PyDict_New();
    L->classes = PyMem_Calloc(64, sizeof(load_classslot));
    L->classes_mask = 63;
    L->last_object = -1;
    if (L->error_type == NULL || L->unbound == NULL || L->pending == NULL ||
        L->empty_tuple == NULL || L->s_original_length == NULL ||
        L->cuts == NULL || L->lost == NULL || L->classes == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return -1;
    }
    if (!PyType_Check(L->error_type) ||
        !PyType_IsSubtype((PyTypeObject *)L->error_type,
                          (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_TypeError,
                        "support.HeapdumpError must be an exception class");
        return -1;
    }
    return 0;
}

/* Free the objects table and the arena (what the loaded objects do not
 * need). */
static void
load_clear(LoaderObject *L)
{
    for (size_t i = 0; i < L->n; i++) {
        Py_CLEAR(L->entries[i].obj);
    }
    PyMem_Free(L->entries);
    L->entries = NULL;
    L->n = L->cap = 0;
    PyMem_Free(L->addrs);
    PyMem_Free(L->refcnts);
    PyMem_Free(L->sizes);
    L->addrs = NULL;
    L->refcnts = L->sizes = NULL;
    PyMem_Free(L->more);
    L->more = NULL;
    L->nmore = L->more_cap = 0;
    PyMem_Free(L->prefixes);
    L->prefixes = NULL;
    L->nprefixes = L->prefixes_cap = 0;
    for (size_t i = 0; i < L->nlayouts; i++) {
        Py_CLEAR(L->layouts[i].names_tuple);
        Py_CLEAR(L->layouts[i].cls);
        Py_CLEAR(L->layouts[i].type_obj);
    }
    PyMem_Free(L->layouts);
    L->layouts = NULL;
    L->nlayouts = L->layouts_cap = 0;
    PyMem_Free(L->others);
    L->others = NULL;
    L->nothers = L->others_cap = 0;
    while (L->arena != NULL) {
        load_chunk *next = L->arena->next;
        PyMem_Free(L->arena);
        L->arena = next;
    }
    if (L->classes != NULL) {
        for (size_t i = 0; i <= L->classes_mask; i++) {
            Py_CLEAR(L->classes[i].cls);
        }
        PyMem_Free(L->classes);
        L->classes = NULL;
    }
    PyMem_Free(L->stack);
    L->stack = NULL;
    L->sp = L->stack_cap = 0;
}

static void
Loader_dealloc(LoaderObject *L)
{
    load_clear(L);
    PyMem_Free(L->path);
    Py_CLEAR(L->support);
    Py_CLEAR(L->error_type);
    Py_CLEAR(L->unbound);
    Py_CLEAR(L->pending);
    Py_CLEAR(L->empty_tuple);
    Py_CLEAR(L->s_original_length);
    Py_CLEAR(L->cuts);
    Py_CLEAR(L->lost);
    Py_TYPE(L)->tp_free((PyObject *)L);
}

static PyObject *
Loader_close(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    load_clear(L);
    Py_RETURN_NONE;
}

static int
load_check_id(LoaderObject *L, Py_ssize_t id)
{
    if (id < 0 || (size_t)id >= L->n) {
        PyErr_Format(PyExc_IndexError, "no object %zd", id);
        return -1;
    }
    return 0;
}

static PyObject *
Loader_fields(LoaderObject *L, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"id", "soft", NULL};
    Py_ssize_t id;
    int soft = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n|p:fields", kwlist, &id,
                                     &soft)) {
        return NULL;
    }
    if (load_check_id(L, id) < 0) {
        return NULL;
    }
    PyObject *r = load_entry_fields(
        L, (size_t)id, soft ? LOAD_SOFT : LOAD_STRICT, UINT32_MAX);
    if (r == NULL) {
        load_wrap(L, (size_t)id);
    }
    return r;
}

static PyObject *
Loader_others(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < L->nothers; i++) {
        load_other *o = &L->others[i];
        PyObject *f = load_decode_fields(L, o->kind, o->raw, o->end,
                                         o->nfields, LOAD_STRICT, UINT32_MAX);
        PyObject *item = f ? Py_BuildValue("(iN)", o->kind, f) : NULL;
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

static PyObject *
Loader_objects(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New((Py_ssize_t)L->n);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < L->n; i++) {
        PyObject *o = L->entries[i].obj ? L->entries[i].obj : Py_None;
        PyList_SET_ITEM(list, (Py_ssize_t)i, Py_NewRef(o));
    }
    return list;
}

/* Ids of the records _load.py fills, in order, as (id, kind) pairs. */
static PyObject *
Loader_pyfill(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < L->n; i++) {
        load_entry *e = &L->entries[i];
        if (!(e->flags & LOAD_F_PYFILL) && e->kind != HD_K_FUNCTION) {
            continue;
        }
        PyObject *item = Py_BuildValue("(ni)", (Py_ssize_t)i, e->kind);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

static PyObject *
Loader_kinds(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)L->n);
    if (b == NULL) {
        return NULL;
    }
    char *p = PyBytes_AS_STRING(b);
    for (size_t i = 0; i < L->n; i++) {
        p[i] = (char)L->entries[i].kind;
    }
    return b;
}

static PyObject *
load_bytes_of(const void *p, size_t n)
{
    return PyBytes_FromStringAndSize(p ? (const char *)p : "",
                                     (Py_ssize_t)(n * 8));
}

static PyObject *
Loader_addresses(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    return load_bytes_of(L->addrs, L->n);
}

static PyObject *
Loader_refcounts(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    return load_bytes_of(L->refcnts, L->n);
}

static PyObject *
Loader_sizes(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    return load_bytes_of(L->sizes, L->n);
}

static PyObject *
Loader_layout(LoaderObject *L, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0 || (size_t)n >= L->nlayouts) {
        return load_fail(L, "layout %zd is not defined", n);
    }
    load_layout *l = &L->layouts[n];
    PyObject *names = load_layout_names(L, l, LOAD_STRICT);
    if (names == NULL) {
        return NULL;
    }
    PyObject *type_obj =
        l->type_id == LOAD_NO_ID
            ? Py_NewRef(Py_None)
            : load_ref(L, l->type_id, LOAD_EXIST, LOAD_STRICT);
    if (type_obj == NULL) {
        return NULL;
    }
    return Py_BuildValue("(NO)", type_obj, names);
}

static PyObject *
Loader_addr(LoaderObject *L, PyObject *arg)
{
    Py_ssize_t id = PyLong_AsSsize_t(arg);
    if (id == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (load_check_id(L, id) < 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLongLong((uint64_t)L->addrs[id]);
}

static PyObject *
Loader_get_truncated(LoaderObject *L, void *Py_UNUSED(c))
{
    return PyBool_FromLong(L->truncated);
}

static PyObject *
Loader_get_truncation(LoaderObject *L, void *Py_UNUSED(c))
{
    if (L->truncation == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(L->truncation);
}

static PyObject *
Loader_get_count(LoaderObject *L, void *which)
{
    switch ((intptr_t)which) {
    case 0: return PyLong_FromSize_t(L->n);
    case 1: return PyLong_FromUnsignedLongLong(L->records);
    case 2: return PyLong_FromUnsignedLongLong(L->body_bytes);
    case 3: return PyLong_FromUnsignedLongLong(L->file_bytes);
    case 5: return PyLong_FromUnsignedLongLong(L->after_trailer);
    default: return PyLong_FromSize_t(L->nlayouts);
    }
}

static PyObject *
Loader_get_cuts(LoaderObject *L, void *Py_UNUSED(c))
{
    return Py_NewRef(L->cuts);
}

static PyMethodDef Loader_methods[] = {
    {"read", (PyCFunction)Loader_read, METH_NOARGS,
     "read($self, /)\n--\n\nPhase 1: stream the body, keep its records."},
    {"build", (PyCFunction)Loader_build, METH_NOARGS,
     "build($self, /)\n--\n\nPhases 2 and 3: types, shells, contents."},
    {"fields", (PyCFunction)(void (*)(void))Loader_fields,
     METH_VARARGS | METH_KEYWORDS,
     "fields($self, /, id, soft=False)\n--\n\n"
     "The fields of object id's record, references resolved."},
    {"others", (PyCFunction)Loader_others, METH_NOARGS,
     "others($self, /)\n--\n\n"
     "[(kind, fields)] of the META, THREAD, SOURCE, ROOT, TRAILER and ERROR "
     "records, in file order."},
    {"objects", (PyCFunction)Loader_objects, METH_NOARGS,
     "objects($self, /)\n--\n\nThe list of objects, by id."},
    {"pyfill", (PyCFunction)Loader_pyfill, METH_NOARGS,
     "pyfill($self, /)\n--\n\n[(id, kind)] of the records _load fills."},
    {"kinds", (PyCFunction)Loader_kinds, METH_NOARGS,
     "kinds($self, /)\n--\n\nThe record kind of each id, as bytes."},
    {"addresses", (PyCFunction)Loader_addresses, METH_NOARGS,
     "addresses($self, /)\n--\n\nint64 addresses by id, native order."},
    {"refcounts", (PyCFunction)Loader_refcounts, METH_NOARGS,
     "refcounts($self, /)\n--\n\nuint64 reference counts by id."},
    {"sizes", (PyCFunction)Loader_sizes, METH_NOARGS,
     "sizes($self, /)\n--\n\nuint64 shallow sizes by id."},
    {"layout", (PyCFunction)Loader_layout, METH_O,
     "layout($self, n, /)\n--\n\n(type, names) of layout n."},
    {"addr", (PyCFunction)Loader_addr, METH_O,
     "addr($self, id, /)\n--\n\nThe original address of object id."},
    {"close", (PyCFunction)Loader_close, METH_NOARGS,
     "close($self, /)\n--\n\nFree the tables (the objects live on)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Loader_getset[] = {
    {"truncated", (getter)Loader_get_truncated, NULL, NULL, NULL},
    {"truncation", (getter)Loader_get_truncation, NULL, NULL, NULL},
    {"nobjects", (getter)Loader_get_count, NULL, NULL, (void *)0},
    {"records", (getter)Loader_get_count, NULL, NULL, (void *)1},
    {"body_bytes", (getter)Loader_get_count, NULL, NULL, (void *)2},
    {"file_bytes", (getter)Loader_get_count, NULL, NULL, (void *)3},
    {"nlayouts", (getter)Loader_get_count, NULL, NULL, (void *)4},
    {"after_trailer", (getter)Loader_get_count, NULL, NULL, (void *)5},
    {"cuts", (getter)Loader_get_cuts, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LoaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapdump._heapdump.Loader",
    .tp_doc = "Loader(path, offset, support, max_record_bytes, "
              "max_body_bytes, max_objects=2**64-1, max_ratio=0)\n--\n\n"
              "The C core of heapdump.load(); heapdump._load drives it.",
    .tp_basicsize = sizeof(LoaderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Loader_init,
    .tp_dealloc = (destructor)Loader_dealloc,
    .tp_methods = Loader_methods,
    .tp_getset = Loader_getset,
};

/* ---------------------------------------------------------------------
 * Surrogate: the type
 */

static int
Surrogate_traverse(SurrogateObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->dict);
    Py_VISIT(self->referents);
    if (Py_TYPE(self)->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        /* a subclass made by type(): subtype_traverse visits the type
         * only when the subclass adds its own traverse; ours is shared */
    }
    return 0;
}

static int
Surrogate_clear(SurrogateObject *self)
{
    Py_CLEAR(self->dict);
    Py_CLEAR(self->referents);
    return 0;
}

static void
Surrogate_dealloc(SurrogateObject *self)
{
    PyObject_GC_UnTrack(self);
    Surrogate_clear(self);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
}

static PyObject *
Surrogate_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj != NULL) {
        ((SurrogateObject *)obj)->oid = -1;
    }
    return obj;
}

/* <module.qualname object at 0xADDR> (+ " (opaque)"), from the class's
 * own names (never a __repr__ from the file). */
static PyObject *
Surrogate_repr(SurrogateObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject *mod = NULL, *qual = NULL, *r = NULL;
    qual = PyObject_GetAttrString((PyObject *)tp, "__qualname__");
    if (qual == NULL) {
        return NULL;
    }
    mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    if (mod == NULL) {
        PyErr_Clear();
    }
    /* %llx needs 3.12's PyUnicode_FromFormat: the address as text */
    char addr[64];
    snprintf(addr, sizeof(addr), "0x%llx%s", (unsigned long long)self->addr,
             self->opaque ? " (opaque)" : "");
    if (mod != NULL && PyUnicode_Check(mod) &&
        PyUnicode_CompareWithASCIIString(mod, "builtins") != 0) {
        r = PyUnicode_FromFormat("<%U.%S object at %s>", mod, qual, addr);
    }
    else {
        r = PyUnicode_FromFormat("<%S object at %s>", qual, addr);
    }
    Py_XDECREF(mod);
    Py_DECREF(qual);
    return r;
}

static PyGetSetDef Surrogate_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SurrogateType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapdump._heapdump.Surrogate",
    .tp_doc = "The base of the classes of loaded instances: holds their "
              "original address, id and (opaque objects) referents.",
    .tp_basicsize = sizeof(SurrogateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Surrogate_new,
    .tp_dealloc = (destructor)Surrogate_dealloc,
    .tp_traverse = (traverseproc)Surrogate_traverse,
    .tp_clear = (inquiry)Surrogate_clear,
    .tp_repr = (reprfunc)Surrogate_repr,
    .tp_getset = Surrogate_getset,
    .tp_dictoffset = offsetof(SurrogateObject, dict),
};

/* ---------------------------------------------------------------------
 * Module functions
 */

static PyObject *
load_surrogate_info(PyObject *Py_UNUSED(m), PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, &SurrogateType)) {
        Py_RETURN_NONE;
    }
    SurrogateObject *s = (SurrogateObject *)obj;
    return Py_BuildValue("(KLO)", (unsigned long long)s->addr,
                         (long long)s->oid, s->opaque ? Py_True : Py_False);
}

static PyObject *
load_surrogate_referents(PyObject *Py_UNUSED(m), PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, &SurrogateType) ||
        ((SurrogateObject *)obj)->referents == NULL) {
        Py_RETURN_NONE;
    }
    return Py_NewRef(((SurrogateObject *)obj)->referents);
}

static PyObject *
load_set_surrogate(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *obj, *refs = Py_None;
    long long addr, oid;
    int opaque = -1;
    if (!PyArg_ParseTuple(args, "OLL|Op:set_surrogate", &obj, &addr, &oid,
                          &refs, &opaque)) {
        return NULL;
    }
    if (!PyObject_TypeCheck(obj, &SurrogateType)) {
        PyErr_SetString(PyExc_TypeError, "not a surrogate");
        return NULL;
    }
    SurrogateObject *s = (SurrogateObject *)obj;
    s->addr = addr;
    s->oid = oid;
    if (refs != Py_None) {
        if (!PyTuple_Check(refs)) {
            PyErr_SetString(PyExc_TypeError, "referents must be a tuple");
            return NULL;
        }
        Py_XSETREF(s->referents, Py_NewRef(refs));
    }
    if (opaque >= 0) {
        s->opaque = opaque;
    }
    return Py_NewRef(Py_None);
}

static PyObject *
load_set_attr(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *obj, *name, *value;
    if (!PyArg_ParseTuple(args, "OOO:set_attr", &obj, &name, &value)) {
        return NULL;
    }
    int r = load_setattr(obj, name, value);
    if (r < 0) {
        return NULL;
    }
    return PyBool_FromLong(r);
}

static PyObject *
load_set_group(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *exc, *msg, *excs;
    if (!PyArg_ParseTuple(args, "OOO:set_group", &exc, &msg, &excs)) {
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030B0000
    if (!PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_BaseExceptionGroup)) {
        PyErr_SetString(PyExc_TypeError, "not an exception group");
        return NULL;
    }
    if (!PyUnicode_Check(msg) || !PyTuple_Check(excs)) {
        PyErr_SetString(PyExc_TypeError,
                        "set_group() needs a str and a tuple");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(excs); i++) {
        if (!PyExceptionInstance_Check(PyTuple_GET_ITEM(excs, i))) {
            PyErr_SetString(PyExc_TypeError,
                            "a member of an exception group is not an "
                            "exception");
            return NULL;
        }
    }
    PyBaseExceptionGroupObject *g = (PyBaseExceptionGroupObject *)exc;
    Py_XSETREF(g->msg, Py_NewRef(msg));
    Py_XSETREF(g->excs, Py_NewRef(excs));
    Py_RETURN_NONE;
#else
    (void)exc;
    (void)msg;
    (void)excs;
    PyErr_SetString(PyExc_TypeError,
                    "exception groups need Python 3.11 or later");
    return NULL;
#endif
}

static PyMethodDef load_functions[] = {
    {"surrogate_info", load_surrogate_info, METH_O,
     "surrogate_info($module, obj, /)\n--\n\n"
     "(address, id, opaque) of a loaded surrogate, or None."},
    {"surrogate_referents", load_surrogate_referents, METH_O,
     "surrogate_referents($module, obj, /)\n--\n\n"
     "The referents tuple of an opaque surrogate, or None."},
    {"set_surrogate", load_set_surrogate, METH_VARARGS,
     "set_surrogate($module, obj, addr, oid, referents=None, opaque=None,"
     " /)\n--\n\nSet the hidden fields of a surrogate."},
    {"set_attr", load_set_attr, METH_VARARGS,
     "set_attr($module, obj, name, value, /)\n--\n\n"
     "Set an attribute read from a file: C member/getset descriptors, else "
     "the instance __dict__; never Python code.  True if set."},
    {"set_group", load_set_group, METH_VARARGS,
     "set_group($module, exc, message, exceptions, /)\n--\n\n"
     "Give a loaded exception group its message and members."},
    {NULL, NULL, 0, NULL},
};

int
hd_load_init_module(PyObject *m)
{
    if (PyType_Ready(&SurrogateType) < 0 || PyType_Ready(&LoaderType) < 0) {
        return -1;
    }
    if (PyModule_AddObjectRef(m, "Surrogate", (PyObject *)&SurrogateType) <
            0 ||
        PyModule_AddObjectRef(m, "Loader", (PyObject *)&LoaderType) < 0) {
        return -1;
    }
    if (PyModule_AddFunctions(m, load_functions) < 0) {
        return -1;
    }
    return 0;
}
