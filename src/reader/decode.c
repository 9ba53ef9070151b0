/* decode.c: the loader's decoding of values (loader.h): errors, growth
 * helpers, scalars, plain data, the calls to the support object, and
 * references resolved to the objects of the table.
 *
 * Contract: caller holds the GIL; nothing from the file is executed.
 */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Errors
 */

/* Raise HeapdumpError(formatted).  Returns NULL. */
PyObject *
hd_decode_fail(LoaderObject *L, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, va);
    va_end(va);
    if (msg != NULL) {
        PyErr_SetObject(HD_SUPPORT(L, HeapdumpError), msg);
        Py_DECREF(msg);
    }
    return NULL;
}

/* Turn the exception being raised into a HeapdumpError saying which object
 * was being built, unless it already is one (or is a MemoryError or a
 * KeyboardInterrupt, which stay what they are).  The original is kept as
 * __cause__. */
void
hd_decode_wrap(LoaderObject *L, size_t id)
{
    PyObject *type, *value, *tb;
    if (!PyErr_Occurred() ||
        PyErr_ExceptionMatches(HD_SUPPORT(L, HeapdumpError)) ||
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
        "object %zu (%s record): %s: %S", id, hd_loader_kind_name(kind),
        type ? ((PyTypeObject *)type)->tp_name : "?", value ? value : Py_None);
    if (msg != NULL) {
        PyObject *err = PyObject_CallOneArg(HD_SUPPORT(L, HeapdumpError), msg);
        Py_DECREF(msg);
        if (err != NULL) {
            if (value != NULL) {
                Py_INCREF(value);
                PyException_SetCause(err, value);
            }
            PyErr_SetObject(HD_SUPPORT(L, HeapdumpError), err);
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
int
hd_decode_grow(void **arr, size_t n, size_t *cap, size_t sz)
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
const unsigned char *
hd_decode_arena_copy(LoaderObject *L, const unsigned char *src, size_t n)
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
PyObject *
hd_decode_int_bytes(const unsigned char *p, size_t n)
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
 * UTF-8 raises UnicodeDecodeError, which hd_decode_wrap() and _load turn into
 * HeapdumpError. */
PyObject *
hd_decode_str(const hd_mp_item *it)
{
    return PyUnicode_DecodeUTF8((const char *)it->data, (Py_ssize_t)it->u,
                                "surrogatepass");
}

/* ---------------------------------------------------------------------
 * Plain data (META, TRAILER, names, counts): msgpack as itself
 */

PyObject *
hd_decode_data(LoaderObject *L, hd_mp_cur *c, int depth)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        return hd_decode_fail(L, "malformed msgpack data");
    }
    switch (it.type) {
    case HD_MP_NIL: Py_RETURN_NONE;
    case HD_MP_BOOL: return PyBool_FromLong((long)it.u);
    case HD_MP_UINT: return PyLong_FromUnsignedLongLong(it.u);
    case HD_MP_NEG: return PyLong_FromLongLong(it.i);
    case HD_MP_FLOAT: return PyFloat_FromDouble(it.f);
    case HD_MP_STR: return hd_decode_str(&it);
    case HD_MP_BIN:
        return PyBytes_FromStringAndSize((const char *)it.data,
                                         (Py_ssize_t)it.u);
    case HD_MP_EXT:
        if (it.ext == HD_EXT_INT) {
            return hd_decode_int_bytes(it.data, (size_t)it.u);
        }
        return hd_decode_fail(L, "unexpected msgpack ext type %d in data",
                              it.ext);
    case HD_MP_ARRAY: {
        if (depth >= LOAD_DATA_DEPTH) {
            return hd_decode_fail(L, "data nested too deep");
        }
        if (it.u > (uint64_t)(c->end - c->p)) {
            return hd_decode_fail(L, "array longer than its record");
        }
        PyObject *list = PyList_New((Py_ssize_t)it.u);
        if (list == NULL) {
            return NULL;
        }
        for (uint64_t i = 0; i < it.u; i++) {
            PyObject *v = hd_decode_data(L, c, depth + 1);
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
            return hd_decode_fail(L, "data nested too deep");
        }
        if (it.u > (uint64_t)(c->end - c->p) / 2) {
            return hd_decode_fail(L, "map longer than its record");
        }
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            return NULL;
        }
        for (uint64_t i = 0; i < it.u; i++) {
            PyObject *k = hd_decode_data(L, c, depth + 1);
            PyObject *v = k ? hd_decode_data(L, c, depth + 1) : NULL;
            if (v == NULL || PyDict_SetItem(dict, k, v) < 0) {
                Py_XDECREF(k);
                Py_XDECREF(v);
                Py_DECREF(dict);
                if (!PyErr_ExceptionMatches(HD_SUPPORT(L, HeapdumpError))) {
                    PyErr_Clear();
                    hd_decode_fail(L, "a map key that is not hashable");
                }
                return NULL;
            }
            Py_DECREF(k);
            Py_DECREF(v);
        }
        return dict;
    }
    }
    return hd_decode_fail(L, "malformed msgpack data");
}

/* Read a non-negative integer field; -1 with HeapdumpError otherwise. */
int
hd_decode_uint_field(LoaderObject *L, hd_mp_cur *c, uint64_t *out,
                     const char *what)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        hd_decode_fail(L, "malformed msgpack in %s", what);
        return -1;
    }
    if (it.type == HD_MP_UINT) {
        *out = it.u;
        return 0;
    }
    if (it.type == HD_MP_EXT && it.ext == HD_EXT_INT && it.u <= 8) {
        PyObject *v = hd_decode_int_bytes(it.data, (size_t)it.u);
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
    hd_decode_fail(L, "%s is not a non-negative integer", what);
    return -1;
}

/* A signed integer field (msgpack int or ext INT of at most 8 bytes). */
int
hd_decode_int_field(LoaderObject *L, hd_mp_cur *c, int64_t *out,
                    const char *what)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        hd_decode_fail(L, "malformed msgpack in %s", what);
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
    hd_decode_fail(L, "%s is not an integer", what);
    return -1;
}

/* ---------------------------------------------------------------------
 * The support object's callbacks (protocol.h, fetched by load.c)
 */

PyObject *
hd_decode_call(LoaderObject *L, int cb, PyObject *args)
{
    return PyObject_Call(L->support_attrs[cb], args, NULL);
}

/* The placeholder for a reference to an id that no record defines (a
 * truncated file), one per id; in a complete file that is an error. */
static PyObject *
decode_lost(LoaderObject *L, uint64_t id)
{
    if (!L->truncated) {
        return hd_decode_fail(L,
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
    p = args ? hd_decode_call(L, HD_CB_lost, args) : NULL;
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
decode_marker(LoaderObject *L, const hd_mp_item *it)
{
    hd_mp_cur c = {it->data, it->data + it->u};
    PyObject *data = hd_decode_data(L, &c, LOAD_DATA_DEPTH - 4);
    if (data == NULL) {
        return NULL;
    }
    if (!PyList_Check(data) || PyList_GET_SIZE(data) < 3) {
        Py_DECREF(data);
        return hd_decode_fail(L, "malformed %s marker",
                              it->ext == HD_EXT_OMITTED ? "OMITTED"
                                                        : "REDACTED");
    }
    PyObject *args = PyList_AsTuple(data);
    Py_DECREF(data);
    if (args == NULL) {
        return NULL;
    }
    PyObject *r = hd_decode_call(
        L, it->ext == HD_EXT_OMITTED ? HD_CB_omitted : HD_CB_redacted, args);
    Py_DECREF(args);
    return r;
}

/* ---------------------------------------------------------------------
 * References and values
 */

/* The object with this id (new reference), made first when mode allows. */
PyObject *
hd_decode_ref(LoaderObject *L, uint64_t id, int goal, int mode)
{
    if (id >= L->n) {
        return decode_lost(L, id);
    }
    load_entry *e = &L->entries[id];
    if (!hd_loader_is_ready(e, goal)) {
        if (mode == LOAD_SOFT) {
            if (hd_loader_is_ready(e, LOAD_READY)) {
                return Py_NewRef(e->obj);
            }
            return Py_NewRef(HD_SUPPORT(L, PENDING));
        }
        if (mode == LOAD_DFS) {
            if (L->need(L, (size_t)id, goal) < 0) {
                return NULL;
            }
            e = &L->entries[id];
        }
        if (!hd_loader_is_ready(e, goal)) {
            return hd_decode_fail(
                L,
                "object %llu (%s record) is needed before it "
                "can be built: a cycle through immutable "
                "objects",
                (unsigned long long)id, hd_loader_kind_name(e->kind));
        }
    }
    return Py_NewRef(e->obj);
}

/* The value of an item already read (load_next); a new reference, or
 * NULL.  ext UNBOUND decodes as HD_SUPPORT(L, UNBOUND), which callers check
 * for. */
PyObject *
hd_decode_value_item(LoaderObject *L, const hd_mp_item *it, int goal, int mode)
{
    switch (it->type) {
    case HD_MP_UINT: return hd_decode_ref(L, it->u, goal, mode);
    case HD_MP_STR: return hd_decode_str(it);
    case HD_MP_NIL: Py_RETURN_NONE;
    case HD_MP_BOOL: return PyBool_FromLong((long)it->u);
    case HD_MP_FLOAT: return PyFloat_FromDouble(it->f);
    case HD_MP_BIN:
        return PyBytes_FromStringAndSize((const char *)it->data,
                                         (Py_ssize_t)it->u);
    case HD_MP_EXT:
        switch (it->ext) {
        case HD_EXT_INT: return hd_decode_int_bytes(it->data, (size_t)it->u);
        case HD_EXT_UNBOUND: return Py_NewRef(HD_SUPPORT(L, UNBOUND));
        case HD_EXT_OMITTED:
        case HD_EXT_REDACTED: return decode_marker(L, it);
        case HD_EXT_RUN:
            return hd_decode_fail(L,
                                  "a RUN outside the elements of a container");
        default:
            return hd_decode_fail(L, "unknown msgpack ext type %d in a value",
                                  it->ext);
        }
    case HD_MP_NEG:
        return hd_decode_fail(L, "a negative integer where a value belongs");
    default:
        return hd_decode_fail(L,
                              "a msgpack array or map where a value belongs");
    }
}

/* Decode one value at c (advancing it); a new reference, or NULL. */
PyObject *
hd_decode_value(LoaderObject *L, hd_mp_cur *c, int goal, int mode)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        return hd_decode_fail(L, "malformed msgpack value");
    }
    return hd_decode_value_item(L, &it, goal, mode);
}

/* ext 5 RUN's payload: first id and count. */
int
hd_decode_run(LoaderObject *L, const hd_mp_item *it, uint64_t *first,
              uint64_t *count)
{
    hd_mp_cur c = {it->data, it->data + it->u};
    hd_mp_item a, b;
    if (hd_mpread_next(&c, &a) < 0 || hd_mpread_next(&c, &b) < 0 ||
        a.type != HD_MP_UINT || b.type != HD_MP_UINT) {
        hd_decode_fail(L, "malformed RUN value");
        return -1;
    }
    if (b.u > HD_MAX_RECORD_ITEMS || a.u + b.u < a.u) {
        hd_decode_fail(L,
                       "a RUN of %llu references; a record holds at most %d",
                       (unsigned long long)b.u, HD_MAX_RECORD_ITEMS);
        return -1;
    }
    *first = a.u;
    *count = b.u;
    return 0;
}

/* Skip a value, reporting its reference (id) if it is one. */
int
hd_decode_value_ref(LoaderObject *L, hd_mp_cur *c, uint64_t *id)
{
    hd_mp_item it;
    const unsigned char *start = c->p;
    if (hd_mpread_next(c, &it) < 0) {
        hd_decode_fail(L, "malformed msgpack value");
        return -1;
    }
    if (it.type == HD_MP_ARRAY || it.type == HD_MP_MAP) {
        c->p = start;
        if (hd_mpread_skip(c) < 0) {
            hd_decode_fail(L, "malformed msgpack value");
            return -1;
        }
        *id = LOAD_NO_ID;
        return 0;
    }
    *id = it.type == HD_MP_UINT ? it.u : LOAD_NO_ID;
    return 0;
}

/* Skip n fields of a record. */
int
hd_decode_skip_fields(LoaderObject *L, hd_mp_cur *c, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (hd_mpread_skip(c) < 0) {
            hd_decode_fail(L, "malformed msgpack record");
            return -1;
        }
    }
    return 0;
}

/* Position it at the values of a segment (a record's fields). */
static int
decode_items_enter(LoaderObject *L, load_items *it, const unsigned char *raw,
                   const unsigned char *end, uint32_t nfields, uint32_t skip)
{
    hd_mp_item a;
    it->cur.p = raw;
    it->cur.end = end;
    if (it->which == 0) {
        if (skip > nfields) {
            hd_decode_fail(L, "a record with too few fields");
            return -1;
        }
        it->left = nfields - skip;
        return hd_decode_skip_fields(L, &it->cur, skip);
    }
    if (nfields < 2 ||
        (it->which == 2 && hd_decode_skip_fields(L, &it->cur, 1) < 0) ||
        hd_mpread_next(&it->cur, &a) < 0 || a.type != HD_MP_ARRAY ||
        a.u > (uint64_t)(it->cur.end - it->cur.p)) {
        if (!PyErr_Occurred()) {
            hd_decode_fail(L, "a DICT record without its [keys] and [values]");
        }
        return -1;
    }
    it->left = (uint32_t)a.u;
    return 0;
}

int
hd_decode_items_init(LoaderObject *L, load_items *it, size_t id, int which,
                     uint32_t skip)
{
    load_entry *e = &L->entries[id];
    memset(it, 0, sizeof(*it));
    it->owner = (uint32_t)id;
    it->seg = e->more;
    it->which = which;
    return decode_items_enter(L, it, e->raw, e->raw_end, e->nfields, skip);
}

/* The next element into *out (a RUN's references come as HD_MP_UINT
 * items).  Returns 1, 0 at the end, -1 on error. */
int
hd_decode_items_next(LoaderObject *L, load_items *it, hd_mp_item *out)
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
            if (decode_items_enter(L, it, s->raw, s->end, s->n, 0) < 0) {
                return -1;
            }
            continue;
        }
        it->left--;
        if (hd_mpread_next(&it->cur, out) < 0) {
            hd_decode_fail(L,
                           "malformed msgpack in the elements of a container");
            return -1;
        }
        if (out->type == HD_MP_ARRAY || out->type == HD_MP_MAP) {
            hd_decode_fail(L, "a msgpack array or map where a value belongs");
            return -1;
        }
        if (out->type == HD_MP_EXT && out->ext == HD_EXT_RUN) {
            if (hd_decode_run(L, out, &it->run_next, &it->run_left) < 0) {
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
decode_count_values(LoaderObject *L, hd_mp_cur *c, uint64_t n, uint64_t *count)
{
    hd_mp_item it;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *start = c->p;
        if (hd_mpread_next(c, &it) < 0) {
            hd_decode_fail(L,
                           "malformed msgpack in the elements of a container");
            return -1;
        }
        if (it.type == HD_MP_EXT && it.ext == HD_EXT_RUN) {
            uint64_t first, len;
            if (hd_decode_run(L, &it, &first, &len) < 0) {
                return -1;
            }
            total += len;
        }
        else if (it.type == HD_MP_ARRAY || it.type == HD_MP_MAP) {
            c->p = start;
            if (hd_mpread_skip(c) < 0) {
                hd_decode_fail(L, "malformed msgpack");
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
int
hd_decode_count_elements(LoaderObject *L, int kind, hd_mp_cur *c,
                         uint32_t nfields, uint64_t *count)
{
    if (kind != HD_K_DICT) {
        if (decode_count_values(L, c, nfields, count) < 0) {
            return -1;
        }
    }
    else {
        hd_mp_item a;
        uint64_t nk = 0, nv = 0;
        if (nfields < 2 || hd_mpread_next(c, &a) < 0 ||
            a.type != HD_MP_ARRAY || decode_count_values(L, c, a.u, &nk) < 0 ||
            hd_mpread_next(c, &a) < 0 || a.type != HD_MP_ARRAY ||
            decode_count_values(L, c, a.u, &nv) < 0) {
            if (!PyErr_Occurred()) {
                hd_decode_fail(L,
                               "record %llu: a DICT (or its MORE) without its "
                               "[keys] and [values] arrays",
                               (unsigned long long)L->records);
            }
            return -1;
        }
        if (nk != nv) {
            hd_decode_fail(
                L, "record %llu: a DICT with %llu keys and %llu values",
                (unsigned long long)L->records, (unsigned long long)nk,
                (unsigned long long)nv);
            return -1;
        }
        *count = nk;
    }
    if (*count > HD_MAX_RECORD_ITEMS) {
        hd_decode_fail(L,
                       "record %llu holds %llu elements; a record holds at "
                       "most %d",
                       (unsigned long long)L->records,
                       (unsigned long long)*count, HD_MAX_RECORD_ITEMS);
        return -1;
    }
    /* each element costs a pointer or more: count it against the body
     * budget as if it were a byte, so a few bytes of RUN cannot make
     * gigabytes of lists */
    L->elements += *count;
    if (L->elements > L->max_body) {
        hd_decode_fail(
            L,
            "the body holds more than max_body_bytes (%llu) "
            "container elements; pass a larger max_body_bytes to load "
            "it",
            (unsigned long long)L->max_body);
        return -1;
    }
    return 0;
}
