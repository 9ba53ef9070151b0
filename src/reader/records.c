/* records.c: the loader's phase 1, read() (loader.h): the body streamed
 * record by record (stream.c), scalars made at once, every other record's
 * bytes kept for the later phases; and the fields of a record decoded as
 * Python objects (for _load.py and the callbacks).
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
 * Phase 1: records
 */

/* How a NATIVE record is made (format.h's HD_NATIVE_KINDS): a kind
 * filled later (a container, which may hold itself) gets a shell that
 * _load fills; the others are made from their state once what it
 * references is made.  c: the record's fields (type, native, ...). */
static uint8_t
records_native_flags(const hd_mp_cur *c)
{
    hd_mp_cur cc = *c;
    hd_mp_item it;
    if (hd_mpread_skip(&cc) < 0 || hd_mpread_next(&cc, &it) < 0 ||
        it.type != HD_MP_UINT) {
        return LOAD_F_LATE; /* malformed: make_native says so */
    }
#define RECORDS_NK_(name, n, filled)                                          \
    if (it.u == (n)) {                                                        \
        return (filled) ? LOAD_F_PYFILL : LOAD_F_LATE;                        \
    }
    HD_NATIVE_KINDS(RECORDS_NK_)
#undef RECORDS_NK_
    return LOAD_F_LATE; /* a kind this reader does not know */
}

/* A scalar object from its record: INT, FLOAT, COMPLEX, STR, BYTES,
 * BYTEARRAY, SINGLETON.  cls: a subclass to make (CLASS prefix, CUT), or
 * NULL for the builtin type itself. */
PyObject *
hd_records_scalar(LoaderObject *L, int kind, hd_mp_cur *c, uint32_t nfields,
                  PyTypeObject *cls)
{
    hd_mp_item it, it2;
    PyObject *v = NULL;
    if (nfields < (kind == HD_K_COMPLEX ? 2u : 1u) ||
        hd_mpread_next(c, &it) < 0) {
        return hd_decode_fail(L, "%s record is malformed",
                              hd_loader_kind_name(kind));
    }
    switch (kind) {
    case HD_K_INT:
        if (it.type == HD_MP_EXT && it.ext == HD_EXT_INT) {
            v = hd_decode_int_bytes(it.data, (size_t)it.u);
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
            v = hd_decode_str(&it);
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
            return hd_decode_fail(L,
                                  "SINGLETON record names no known singleton");
        }
        break;
    }
    if (v == NULL) {
        if (!PyErr_Occurred()) {
            hd_decode_fail(L, "%s record holds a value of the wrong type",
                           hd_loader_kind_name(kind));
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
PyTypeObject *
hd_records_cut_class(LoaderObject *L, int kind)
{
    PyObject *key = PyLong_FromLong(kind);
    PyObject *cls =
        key ? PyDict_GetItemWithError(HD_SUPPORT(L, cut_classes), key) : NULL;
    Py_XDECREF(key);
    if (cls == NULL) {
        if (!PyErr_Occurred()) {
            hd_decode_fail(L, "no class for a cut %s",
                           hd_loader_kind_name(kind));
        }
        return NULL;
    }
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "cut class is not a class");
        return NULL;
    }
    return (PyTypeObject *)cls; /* held by support.cut_classes */
}

int
hd_records_set_original_length(LoaderObject *L, PyObject *obj, size_t id)
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
 * array header, nfields fields after the 4 of the header).
 * size: one switch over the object record kinds (docs/format.rst), a
 * short case per kind. */
static int
records_object_record(LoaderObject *L, int kind, hd_mp_cur *c, uint32_t n,
                      const unsigned char *rec, size_t reclen)
{
    int64_t delta;
    uint64_t refcnt, size;
    (void)rec;
    (void)reclen;
    if (n < 4) {
        hd_decode_fail(L, "record %llu (%s object) has only %u fields",
                       (unsigned long long)L->records,
                       hd_loader_kind_name(kind), n);
        return -1;
    }
    if (hd_decode_int_field(L, c, &delta, "addr") < 0 ||
        hd_decode_uint_field(L, c, &refcnt, "refcnt") < 0 ||
        hd_decode_uint_field(L, c, &size, "size") < 0) {
        return -1;
    }
    if (L->n >= UINT32_MAX - 1 || L->n >= L->max_objects) {
        hd_decode_fail(L,
                       "the file holds more than max_objects (%llu) objects; "
                       "pass a larger max_objects to load it",
                       (unsigned long long)L->max_objects);
        return -1;
    }
    if (hd_decode_grow((void **)&L->entries, L->n, &L->cap,
                       sizeof(load_entry)) < 0) {
        return -1;
    }
    if (L->ids_cap < L->cap) {
        /* the per-id arrays follow the entries' capacity, grown with it
         * (geometrically: a realloc per record is quadratic where realloc
         * always moves, as under ASan) */
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
        L->ids_cap = cap;
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
                cls = hd_records_cut_class(L, kind);
                if (cls == NULL) {
                    return -1;
                }
            }
            e->obj = hd_records_scalar(L, kind, c, e->nfields, cls);
            if (e->obj == NULL) {
                hd_decode_wrap(L, id);
                return -1;
            }
            if (cls != NULL &&
                hd_records_set_original_length(L, e->obj, id) < 0) {
                hd_decode_wrap(L, id);
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
        if (hd_decode_count_elements(L, kind, &cc, e->nfields, &count) < 0) {
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
    case HD_K_NATIVE: e->flags |= records_native_flags(c); break;
    case HD_K_UNREADABLE: {
        /* [29, addr, 0, 0, reason]: what a crash dump could not read */
        PyObject *reason =
            e->nfields >= 1 ? hd_decode_data(L, c, 0) : Py_NewRef(Py_None);
        PyObject *args = reason
                             ? Py_BuildValue("(nLN)", (Py_ssize_t)id,
                                             (long long)L->last_addr, reason)
                             : NULL;
        PyObject *obj =
            args ? hd_decode_call(L, HD_CB_unreadable, args) : NULL;
        Py_XDECREF(args);
        if (obj == NULL) {
            hd_decode_wrap(L, id);
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
        e->obj = args ? hd_decode_call(L, HD_CB_unknown, args) : NULL;
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
            hd_decode_fail(L,
                           "record %llu: a CLASS record precedes a %s record, "
                           "which cannot have one",
                           (unsigned long long)L->records,
                           hd_loader_kind_name(kind));
            return -1;
        }
    }
    /* keep the fields for the later phases */
    size_t len = (size_t)(c->end - c->p);
    const unsigned char *raw = hd_decode_arena_copy(L, c->p, len);
    if (raw == NULL) {
        return -1;
    }
    e->raw = raw;
    e->raw_end = raw + len;
    return 0;
}

/* Make room for one more element (of sz bytes) in the array *arr of n
 * (capacity *cap), and copy the rest of the record at c into the arena:
 * [*raw, *end).  0, or -1 with an exception set. */
static int
records_keep(LoaderObject *L, const hd_mp_cur *c, void **arr, size_t n,
             size_t *cap, size_t sz, const unsigned char **raw,
             const unsigned char **end)
{
    if (hd_decode_grow(arr, n, cap, sz) < 0) {
        return -1;
    }
    size_t len = (size_t)(c->end - c->p);
    *raw = hd_decode_arena_copy(L, c->p, len);
    if (*raw == NULL) {
        return -1;
    }
    *end = *raw + len;
    return 0;
}

/* An other record [kind, fields...].
 * size: one switch over the other record kinds, a case per kind. */
static int
records_other_record(LoaderObject *L, int kind, hd_mp_cur *c, uint32_t n)
{
    uint32_t nf = n - 1;
    switch (kind) {
    case HD_R_LAYOUT: {
        /* [65, type, [names]] */
        uint64_t tid;
        hd_mp_item it;
        if (nf < 2 || hd_decode_value_ref(L, c, &tid) < 0) {
            if (!PyErr_Occurred()) {
                hd_decode_fail(L, "record %llu (LAYOUT) is malformed",
                               (unsigned long long)L->records);
            }
            return -1;
        }
        const unsigned char *start = c->p;
        if (hd_mpread_next(c, &it) < 0 || it.type != HD_MP_ARRAY) {
            hd_decode_fail(L, "record %llu (LAYOUT) has no array of names",
                           (unsigned long long)L->records);
            return -1;
        }
        if (hd_decode_skip_fields(L, c, (uint32_t)it.u) < 0) {
            return -1;
        }
        if (it.u > UINT32_MAX / 2) {
            hd_decode_fail(L, "LAYOUT record too long");
            return -1;
        }
        if (hd_decode_grow((void **)&L->layouts, L->nlayouts, &L->layouts_cap,
                           sizeof(load_layout)) < 0) {
            return -1;
        }
        const unsigned char *raw =
            hd_decode_arena_copy(L, start, (size_t)(c->p - start));
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
            hd_decode_fail(L, "record %llu (CLASS) is malformed",
                           (unsigned long long)L->records);
            return -1;
        }
        if (hd_decode_grow((void **)&L->prefixes, L->nprefixes,
                           &L->prefixes_cap, sizeof(load_prefix)) < 0) {
            return -1;
        }
        size_t len = (size_t)(c->end - c->p);
        const unsigned char *raw = hd_decode_arena_copy(L, c->p, len);
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
        if (nf < 1 || hd_decode_uint_field(L, c, &orig, "CUT length") < 0) {
            if (!PyErr_Occurred()) {
                hd_decode_fail(L, "record %llu (CUT) is malformed",
                               (unsigned long long)L->records);
            }
            return -1;
        }
        L->pending_cut = orig == UINT64_MAX ? orig : orig + 1;
        return 0;
    }
    case HD_R_MORE: {
        if (L->last_object < 0) {
            hd_decode_fail(L, "record %llu: MORE before any object record",
                           (unsigned long long)L->records);
            return -1;
        }
        load_entry *e = &L->entries[L->last_object];
        if (e->kind != HD_K_TUPLE && e->kind != HD_K_LIST &&
            e->kind != HD_K_DICT && e->kind != HD_K_SET &&
            e->kind != HD_K_FROZENSET) {
            hd_decode_fail(L, "record %llu: MORE after a %s record",
                           (unsigned long long)L->records,
                           hd_loader_kind_name(e->kind));
            return -1;
        }
        uint64_t count;
        hd_mp_cur cc = *c;
        if (hd_decode_count_elements(L, e->kind, &cc, nf, &count) < 0) {
            return -1;
        }
        if ((uint64_t)e->nitems + count > UINT32_MAX / 2) {
            hd_decode_fail(L, "a container of more than 2**31 elements");
            return -1;
        }
        const unsigned char *raw, *end;
        if (records_keep(L, c, (void **)&L->more, L->nmore, &L->more_cap,
                         sizeof(load_segment), &raw, &end) < 0) {
            return -1;
        }
        L->more[L->nmore++] =
            (load_segment){.raw = raw,
                           .end = end,
                           .n = nf,
                           .owner = (uint32_t)L->last_object};
        if (e->more == 0) {
            e->more = (uint32_t)L->nmore;
        }
        e->nitems += (uint32_t)count;
        return 0;
    }
    case HD_R_META:
    case HD_R_THREAD:
    case HD_R_TASK:
    case HD_R_SOURCE:
    case HD_R_ROOT:
    case HD_R_TRAILER:
    case HD_R_ERROR: {
        const unsigned char *raw, *end;
        if (records_keep(L, c, (void **)&L->others, L->nothers, &L->others_cap,
                         sizeof(load_other), &raw, &end) < 0) {
            return -1;
        }
        L->others[L->nothers++] = (load_other){
            .raw = raw, .end = end, .nfields = nf, .kind = (uint8_t)kind};
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
records_record(LoaderObject *L, const unsigned char *rec, size_t len)
{
    hd_mp_cur c = {rec, rec + len};
    hd_mp_item it;
    uint64_t kind;
    if (hd_mpread_next(&c, &it) < 0 || it.type != HD_MP_ARRAY || it.u < 1) {
        hd_decode_fail(L, "record %llu is not a msgpack array with a kind",
                       (unsigned long long)L->records);
        return -1;
    }
    uint64_t n = it.u;
    if (hd_mpread_next(&c, &it) < 0 || it.type != HD_MP_UINT || it.u == 0) {
        hd_decode_fail(L, "record %llu has no valid kind",
                       (unsigned long long)L->records);
        return -1;
    }
    kind = it.u;
    if (n > UINT32_MAX) {
        hd_decode_fail(L, "record %llu is too long",
                       (unsigned long long)L->records);
        return -1;
    }
    if (kind < 64) {
        return records_object_record(L, (int)kind, &c, (uint32_t)n, rec, len);
    }
    if (L->pending_pre && (kind != HD_R_CUT && kind != HD_R_LAYOUT)) {
        /* a CLASS must be followed by its object */
        if (kind == HD_R_CLASS || kind == HD_R_MORE) {
            hd_decode_fail(L,
                           "record %llu: a CLASS record is not followed by "
                           "its object",
                           (unsigned long long)L->records);
            return -1;
        }
    }
    return records_other_record(L, kind > 255 ? 255 : (int)kind, &c,
                                (uint32_t)n);
}

/* Raise the stream's failure: OSError naming the file, MemoryError, or
 * HeapdumpError with its message.  Returns -1. */
static int
records_stream_raise(LoaderObject *L, const hd_stream *s)
{
    switch (s->error) {
    case HD_STREAM_EIO:
        errno = s->err_no;
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, L->path);
        break;
    case HD_STREAM_ENOMEM: PyErr_NoMemory(); break;
    default: hd_decode_fail(L, "%s", s->message); break;
    }
    return -1;
}

/* Phase 1: read the body, keep what the later phases need, make scalars. */
PyObject *
hd_records_loader_read(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    hd_stream s;
    hd_stream_init(&s);
    if (L->read_done) {
        return hd_decode_fail(L, "read() was called already");
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
            records_stream_raise(L, &s);
            goto error;
        }
        if (r == 0) {
            if (s.truncation != NULL) {
                L->truncated = 1;
                L->truncation = s.truncation;
            }
            break;
        }
        if (records_record(L, rec, rlen) < 0) {
            goto error;
        }
        L->records++;
        if (L->trailer_seen) {
            /* TRAILER is last: read the rest of the stream only to check
             * it (the last frame's checksum) */
            if (hd_stream_drain(&s, &L->after_trailer) < 0) {
                records_stream_raise(L, &s);
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
        records_stream_raise(L, &s);
    }
    hd_stream_close(&s);
    return NULL;
}

/* ---------------------------------------------------------------------
 * Record fields as Python objects (for _load.py and the callbacks)
 */

/* An array of values (V) or of names (N: str as str, else a value). */
PyObject *
hd_records_value_array(LoaderObject *L, hd_mp_cur *c, int names, int goal,
                       int mode)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        return hd_decode_fail(L, "malformed msgpack array");
    }
    if (it.type == HD_MP_NIL) {
        Py_RETURN_NONE;
    }
    if (it.type != HD_MP_ARRAY) {
        return hd_decode_fail(L, "an array of values was expected");
    }
    if (it.u > (uint64_t)(c->end - c->p)) {
        return hd_decode_fail(L, "array longer than its record");
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
            return hd_decode_fail(L, "malformed msgpack value");
        }
        if (item.type == HD_MP_EXT && item.ext == HD_EXT_RUN) {
            /* tolerated here too: references to consecutive ids */
            uint64_t first, count;
            if (hd_decode_run(L, &item, &first, &count) < 0 ||
                (expanded += count) > HD_MAX_RECORD_ITEMS) {
                Py_DECREF(list);
                if (!PyErr_Occurred()) {
                    hd_decode_fail(L, "an array of more than %d values",
                                   HD_MAX_RECORD_ITEMS);
                }
                return NULL;
            }
            for (uint64_t j = 0; j < count; j++) {
                v = hd_decode_ref(L, first + j, goal, mode);
                if (v == NULL || PyList_Append(list, v) < 0) {
                    Py_XDECREF(v);
                    Py_DECREF(list);
                    return NULL;
                }
                Py_DECREF(v);
            }
            continue;
        }
        v = hd_decode_value_item(L, &item, goal, mode);
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
PyObject *
hd_records_decode_fields(LoaderObject *L, int kind, const unsigned char *raw,
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
        return hd_decode_fail(L, "a %s record has %u fields, %zu expected",
                              kind < 64 ? hd_loader_kind_name(kind) : "other",
                              nfields, required);
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
        case 'v': v = hd_decode_value(L, &c, LOAD_READY, mode); break;
        case 'V':
            v = hd_records_value_array(L, &c, 0, LOAD_READY, mode);
            break;
        case 'N':
            v = hd_records_value_array(L, &c, 1, LOAD_READY, mode);
            break;
        default: v = hd_decode_data(L, &c, 0); break;
        }
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    return list;
}

PyObject *
hd_records_entry_fields(LoaderObject *L, size_t id, int mode, uint32_t upto)
{
    load_entry *e = &L->entries[id];
    if (e->raw == NULL) {
        return PyList_New(0);
    }
    return hd_records_decode_fields(L, e->kind, e->raw, e->raw_end, e->nfields,
                                    mode, upto);
}
