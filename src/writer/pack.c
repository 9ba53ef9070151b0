/* pack.c: one object -> its msgpack record (docs/format.rst, "Object
 * records").  Each encode site names the record kind it writes.
 *
 * Objects are read through their C layout only: a dict subclass is read as
 * a dict, an instance through its instance dict and members, anything else
 * through tp_traverse.  No __repr__, __getattr__, descriptor, __eq__,
 * __hash__, __len__, __iter__ or __sizeof__ override ever runs.
 *
 * Contract: the caller holds the GIL with the cyclic GC disabled; nothing
 * here runs Python code or releases the GIL.  The only Python objects
 * created are the ints that builtin C __sizeof__ implementations return.
 */
#include "heapdump.h"
#include "natives.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <frameobject.h>

#define PK(d) (&(d)->pk)

/* The value of a non-object C member, written directly. */
static void
pack_member_scalar(hd_dumper *d, PyObject *obj, const PyMemberDef *m)
{
    const char *p = (const char *)obj + m->offset;
    switch (m->type) {
    case T_SHORT: hd_encode_int64(d, *(const short *)p); break;
    case T_INT: hd_encode_int64(d, *(const int *)p); break;
    case T_LONG: hd_encode_int64(d, *(const long *)p); break;
    case T_BYTE: hd_encode_int64(d, *(const signed char *)p); break;
    case T_UBYTE: hd_encode_int64(d, *(const unsigned char *)p); break;
    case T_UINT: hd_encode_int64(d, *(const unsigned int *)p); break;
    case T_USHORT: hd_encode_int64(d, *(const unsigned short *)p); break;
    case T_LONGLONG: hd_encode_int64(d, *(const long long *)p); break;
    case T_PYSSIZET: hd_encode_int64(d, *(const Py_ssize_t *)p); break;
    case T_ULONG:
    case T_ULONGLONG: {
        unsigned long long u = m->type == T_ULONG
                                   ? *(const unsigned long *)p
                                   : *(const unsigned long long *)p;
        if (u <= INT64_MAX) {
            hd_encode_int64(d, (int64_t)u);
        }
        else {
            unsigned char buf[9];
            for (int i = 0; i < 8; i++) {
                buf[i] = (unsigned char)(u >> (8 * i));
            }
            buf[8] = 0;
            msgpack_pack_ext_with_body(PK(d), buf, 9, HD_EXT_INT);
        }
        break;
    }
    case T_FLOAT: {
        float f;
        memcpy(&f, p, sizeof(f));
        msgpack_pack_double(PK(d), f);
        break;
    }
    case T_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof(v));
        msgpack_pack_double(PK(d), v);
        break;
    }
    case T_BOOL:
        if (*(const char *)p) {
            msgpack_pack_true(PK(d));
        }
        else {
            msgpack_pack_false(PK(d));
        }
        break;
    case T_CHAR: msgpack_pack_str_with_body(PK(d), p, 1); break;
    case T_STRING: {
        const char *s = *(const char *const *)p;
        if (s == NULL) {
            msgpack_pack_nil(PK(d));
        }
        else {
            hd_encode_cstr(d, s);
        }
        break;
    }
    default: msgpack_pack_nil(PK(d)); break;
    }
}

/* The attribute values of a layout, as pack_layout_of gathered them. */
static void
pack_layout_values(hd_dumper *d, PyObject *obj, const hd_layout *l,
                   PyObject *const *values)
{
    for (uint32_t i = 0; i < l->nslots; i++) {
        const hd_slot *s = &l->slots[i];
        PyObject *v = values[i];
        if (l->secret[i] && s->is_member && v == NULL) {
            /* a C scalar under a secret name: REDACTED ["", "member", 0,
             * "name", nil] */
            static const char payload[] = "\x95\xa0\xa6member\x00\xa4name\xc0";
            msgpack_pack_ext_with_body(PK(d), payload, sizeof(payload) - 1,
                                       HD_EXT_REDACTED);
            d->n_redacted++;
        }
        else if (l->secret[i]) {
            hd_walk_write(d, v, hd_walk_secret(d, v));
        }
        else if (s->is_member && v == NULL) {
            pack_member_scalar(d, obj, (const PyMemberDef *)s->key);
        }
        else {
            hd_walk_value(d, v);
        }
    }
}

/* The LAYOUT record of a new layout. */
static void
pack_layout(hd_dumper *d, const hd_layout *l)
{
    /* LAYOUT: [65, type, [names]] */
    msgpack_pack_array(PK(d), 3);
    msgpack_pack_uint8(PK(d), HD_R_LAYOUT);
    hd_walk_value(d, (PyObject *)l->type);
    msgpack_pack_array(PK(d), l->nslots);
    for (uint32_t i = 0; i < l->nslots; i++) {
        const hd_slot *s = &l->slots[i];
        if (s->is_member) {
            hd_encode_cstr(d, ((const PyMemberDef *)s->key)->name);
        }
        else if (PyUnicode_CheckExact((PyObject *)s->key)) {
            hd_encode_str(d, (PyObject *)s->key, -1);
        }
        else {
            hd_walk_value(d, (PyObject *)s->key);
        }
    }
    d->n_records++;
}

/* The layout of obj's attributes, its LAYOUT record written first when it
 * is new, and their values (*values, nslots of them, valid until the next
 * call); NULL when obj has none. */
static hd_layout *
pack_layout_of(hd_dumper *d, PyObject *obj, PyTypeObject *type,
               PyObject *const **values)
{
    int is_new;
    hd_layout *l = hd_walk_layout(d, obj, type, values, &is_new);
    if (is_new) {
        pack_layout(d, l);
    }
    return l;
}

/* -------------------------------------------------------------- headers */

/* The start of an object record: [kind, addr, refcnt, size, ...] with n
 * more fields.  addr is a delta from the previous object record's. */
static void
pack_header(hd_dumper *d, int kind, size_t n, uintptr_t addr,
            Py_ssize_t refcnt, Py_ssize_t size)
{
    msgpack_pack_array(PK(d), 4 + n);
    msgpack_pack_uint8(PK(d), (uint8_t)kind);
    msgpack_pack_int64(PK(d), (int64_t)(addr - d->last_addr));
    d->last_addr = addr;
    msgpack_pack_uint64(PK(d), (uint64_t)(refcnt < 0 ? 0 : refcnt));
    msgpack_pack_uint64(PK(d), (uint64_t)(size < 0 ? 0 : size));
    d->shallow_bytes += (uint64_t)(size < 0 ? 0 : size);
    d->n_records++;
}

/* The program's reference count of obj: less the references the heap
 * scope's GC iteration holds on the object it visits (walk.c). */
static Py_ssize_t
pack_refcnt(hd_dumper *d, PyObject *obj)
{
    Py_ssize_t n = Py_REFCNT(obj);
    return obj == d->visiting ? n - d->visiting_extra : n;
}

static void
pack_obj_header(hd_dumper *d, int kind, size_t n, PyObject *obj)
{
    pack_header(d, kind, n, (uintptr_t)obj, pack_refcnt(d, obj),
                hd_kinds_size(d, obj));
}

/* The same for the kinds whose attributes are written in the record
 * (INSTANCE, OPAQUE, EXCEPTION, FUNCTION): their storage is charged to
 * the object. */
static void
pack_obj_header_attrs(hd_dumper *d, int kind, size_t n, PyObject *obj)
{
    pack_header(d, kind, n, (uintptr_t)obj, pack_refcnt(d, obj),
                hd_kinds_size(d, obj) + hd_kinds_attr_storage(d, obj));
}

/* CUT: [67, original_length] before a shortened value. */
static void
pack_cut(hd_dumper *d, Py_ssize_t original)
{
    msgpack_pack_array(PK(d), 2);
    msgpack_pack_uint8(PK(d), HD_R_CUT);
    msgpack_pack_uint64(PK(d), (uint64_t)original);
    d->n_cuts++;
    d->n_records++;
}

/* CLASS: [66, type, layout, [values]] before an instance of a subclass of
 * a builtin type. */
static void
pack_class(hd_dumper *d, PyObject *obj)
{
    PyObject *const *vals;
    hd_layout *l = pack_layout_of(d, obj, Py_TYPE(obj), &vals);
    msgpack_pack_array(PK(d), 4);
    msgpack_pack_uint8(PK(d), HD_R_CLASS);
    hd_walk_value(d, (PyObject *)Py_TYPE(obj));
    if (l == NULL) {
        msgpack_pack_nil(PK(d));
        msgpack_pack_array(PK(d), 0);
    }
    else {
        msgpack_pack_uint32(PK(d), l->number);
        msgpack_pack_array(PK(d), l->nslots);
        pack_layout_values(d, obj, l, vals);
    }
    d->n_records++;
}

/* MORE: [68, v...] continuing the previous record's elements. */
static void
pack_more(hd_dumper *d, size_t n)
{
    msgpack_pack_array(PK(d), 1 + n);
    msgpack_pack_uint8(PK(d), HD_R_MORE);
    d->n_records++;
}

/* The number of elements written of a container of n: max_items. */
static Py_ssize_t
pack_limit(hd_dumper *d, Py_ssize_t n)
{
    if (d->limits.max_items >= 0 && n > d->limits.max_items) {
        pack_cut(d, n);
        return d->limits.max_items;
    }
    return n;
}

/* ------------------------------------------------------------ containers */

/* Room for n elements in the scratch arrays.  0 or -1 (out of memory). */
static int
pack_elems_reserve(hd_dumper *d, size_t n)
{
    if (n <= d->elems_cap) {
        return 0;
    }
    size_t cap = d->elems_cap ? d->elems_cap : 256;
    while (cap < n) {
        cap *= 2;
    }
    PyObject **e = realloc(d->elems, cap * sizeof(PyObject *));
    if (e != NULL) {
        d->elems = e;
    }
    int64_t *h = realloc(d->hows, cap * sizeof(int64_t));
    if (h != NULL) {
        d->hows = h;
    }
    if (e == NULL || h == NULL) {
        if (d->error == NULL) {
            d->error = "out of memory";
        }
        return -1;
    }
    d->elems_cap = cap;
    return 0;
}

/* Length of the run of consecutive ids starting at elements[i], to end. */
static size_t
pack_run_length(const hd_dumper *d, size_t i, size_t end)
{
    size_t j = i + 1;
    if (d->hows[i] < 0) {
        return 1;
    }
    while (j < end && d->hows[j] == d->hows[j - 1] + 1) {
        j++;
    }
    return j - i;
}

/* How many msgpack values elements [from, to) take: runs of HD_MIN_RUN
 * or more consecutive references are one ext 5 RUN. */
static size_t
pack_encoded_count(const hd_dumper *d, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t i = from; i < to; n++) {
        size_t run = pack_run_length(d, i, to);
        i += run >= HD_MIN_RUN ? run : 1;
    }
    return n;
}

/* A msgpack unsigned integer into buf; returns its length. */
static size_t
pack_uint_bytes(unsigned char *buf, uint64_t v)
{
    if (v < 128) {
        buf[0] = (unsigned char)v;
        return 1;
    }
    int n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    buf[0] = n == 1 ? 0xcc : n == 2 ? 0xcd : n == 4 ? 0xce : 0xcf;
    for (int i = 0; i < n; i++) {
        buf[1 + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    }
    return (size_t)n + 1;
}

/* Write elements [from, to) as values, runs as ext 5 RUN: payload the
 * first id and the count, two msgpack unsigned integers. */
static void
pack_write_elems(hd_dumper *d, size_t from, size_t to)
{
    for (size_t i = from; i < to;) {
        size_t run = pack_run_length(d, i, to);
        if (run >= HD_MIN_RUN) {
            unsigned char buf[18];
            size_t len = pack_uint_bytes(buf, (uint64_t)d->hows[i]);
            len += pack_uint_bytes(buf + len, run);
            msgpack_pack_ext_with_body(PK(d), buf, len, HD_EXT_RUN);
            i += run;
        }
        else {
            hd_walk_write(d, d->elems[i], d->hows[i]);
            i++;
        }
    }
}

/* TUPLE, LIST, SET, FROZENSET: [kind, addr, rc, size, v...] (+ MORE) */
static void
pack_sequence(hd_dumper *d, PyObject *obj, int kind)
{
    Py_ssize_t total;
    PyObject **items = NULL;
    if (kind == HD_K_TUPLE) {
        total = PyTuple_GET_SIZE(obj);
        items = ((PyTupleObject *)obj)->ob_item;
    }
    else if (kind == HD_K_LIST) {
        total = PyList_GET_SIZE(obj);
        items = ((PyListObject *)obj)->ob_item;
    }
    else {
        total = PySet_GET_SIZE(obj);
    }
    size_t n = (size_t)pack_limit(d, total);
    if (pack_elems_reserve(d, n) < 0) {
        n = 0;
    }
    /* classify first (queuing new objects: consecutive ids), then write */
    Py_ssize_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        PyObject *item = NULL;
        if (items != NULL) {
            item = items[i];
        }
        else if (!hd_pyversion_set_next(obj, &pos, &item)) {
            item = NULL;
        }
        d->elems[i] = item ? item : Py_None;
    }
    /* elements whose names look secret: a namedtuple's fields, the value
     * of a (name, value) pair such as ("Authorization", "Bearer ...") */
    uint64_t secret = 0;
    if (kind == HD_K_TUPLE && Py_TYPE(obj) != &PyTuple_Type) {
        secret = hd_walk_field_secrets(d, Py_TYPE(obj));
    }
    if ((kind == HD_K_TUPLE || kind == HD_K_LIST) && n == 2 &&
        hd_redact_header(&d->redact, d->elems[0])) {
        secret |= 2;
    }
    for (size_t i = 0; i < n; i++) {
        d->hows[i] = i < 64 && (secret >> i) & 1
                         ? hd_walk_secret(d, d->elems[i])
                         : hd_walk_classify(d, d->elems[i]);
    }
    for (size_t i = 0; i == 0 || i < n; i += HD_MAX_RECORD_ITEMS) {
        size_t end = n - i < HD_MAX_RECORD_ITEMS ? n : i + HD_MAX_RECORD_ITEMS;
        size_t count = pack_encoded_count(d, i, end);
        if (i == 0) {
            pack_obj_header(d, kind, count, obj);
        }
        else {
            pack_more(d, count);
        }
        pack_write_elems(d, i, end);
    }
}

/* An entry of the table pack_odict_order looks keys up in. */
typedef struct pack_key_index {
    uintptr_t key;
    size_t index;
} pack_key_index;

static int
pack_key_index_cmp(const void *a, const void *b)
{
    uintptr_t x = ((const pack_key_index *)a)->key;
    uintptr_t y = ((const pack_key_index *)b)->key;
    return (x > y) - (x < y);
}

/* Put the n keys and values in d->elems ([0, n) keys, [n, 2n) values, in
 * the dict table's order, which is the whole dict) in the order of the
 * OrderedDict obj, when it can be read (pyversion.c); else leave them.
 * Needs 4n elems and 2n hows of room.  Keys are matched by identity (the
 * list's keys are the table's objects): nothing is hashed or compared. */
static void
pack_odict_order(hd_dumper *d, PyObject *obj, size_t n)
{
    PyObject **order = d->elems + 2 * n; /* [2n, 3n): keys in order */
    if (hd_pyversion_odict_keys(obj, order, (Py_ssize_t)n) != (Py_ssize_t)n) {
        return;
    }
    pack_key_index *table = (pack_key_index *)d->hows; /* 2n int64s */
    for (size_t i = 0; i < n; i++) {
        table[i].key = (uintptr_t)d->elems[i];
        table[i].index = i;
    }
    qsort(table, n, sizeof(*table), pack_key_index_cmp);
    PyObject **values = d->elems + 3 * n; /* [3n, 4n): values in order */
    for (size_t j = 0; j < n; j++) {
        pack_key_index want = {(uintptr_t)order[j], 0};
        pack_key_index *at =
            bsearch(&want, table, n, sizeof(*table), pack_key_index_cmp);
        if (at == NULL) {
            return; /* not the table's keys: keep the table's order */
        }
        values[j] = d->elems[n + at->index];
    }
    memcpy(d->elems, order, 2 * n * sizeof(PyObject *));
}

/* DICT: [9, addr, rc, size, [keys], [values]] (+ MORE, [68, [keys],
 * [values]]).  An OrderedDict's in its own order (move_to_end). */
static void
pack_dict(hd_dumper *d, PyObject *obj)
{
    size_t n = (size_t)pack_limit(d, PyDict_GET_SIZE(obj));
    int odict = n > 1 && n == (size_t)PyDict_GET_SIZE(obj) && !d->no_alloc &&
                PyODict_Check(obj);
    if (odict && pack_elems_reserve(d, 4 * n) < 0) {
        odict = 0;
    }
    if (pack_elems_reserve(d, 2 * n) < 0) {
        n = 0;
    }
    Py_ssize_t pos = 0;
    size_t got = 0;
    PyObject *k, *v;
    while (got < n && PyDict_Next(obj, &pos, &k, &v)) {
        d->elems[got] = k;
        d->elems[n + got] = v;
        got++;
    }
    for (; got < n; got++) {
        /* a dict shorter than it said (cannot happen with the world
         * stopped, but the record must stay well formed) */
        d->elems[got] = d->elems[n + got] = Py_None;
    }
    if (odict) {
        pack_odict_order(d, obj, n);
    }
    for (size_t i = 0; i < n; i++) {
        d->hows[i] = hd_walk_classify(d, d->elems[i]);
    }
    for (size_t i = 0; i < n; i++) {
        d->hows[n + i] = hd_redact_name(&d->redact, d->elems[i])
                             ? hd_walk_secret(d, d->elems[n + i])
                             : hd_walk_classify(d, d->elems[n + i]);
    }
    for (size_t i = 0; i == 0 || i < n; i += HD_MAX_RECORD_ITEMS) {
        size_t end = n - i < HD_MAX_RECORD_ITEMS ? n : i + HD_MAX_RECORD_ITEMS;
        if (i == 0) {
            pack_obj_header(d, HD_K_DICT, 2, obj);
        }
        else {
            pack_more(d, 2);
        }
        msgpack_pack_array(PK(d), pack_encoded_count(d, i, end));
        pack_write_elems(d, i, end);
        msgpack_pack_array(PK(d), pack_encoded_count(d, n + i, n + end));
        pack_write_elems(d, n + i, n + end);
    }
}

/* ---------------------------------------------------------------- frames */

void
hd_pack_frame_ref(hd_dumper *d, hd_frame *f)
{
    if (f == NULL) {
        msgpack_pack_nil(PK(d));
        return;
    }
    int64_t id = hd_walk_frame_root(d, f);
    if (id < 0) {
        msgpack_pack_nil(PK(d));
    }
    else {
        msgpack_pack_uint64(PK(d), (uint64_t)id);
    }
}

/* FRAME: [24, addr, rc, size, code, back, globals, locals, lineno, lasti,
 * position, [v...]] */
static void
pack_frame(hd_dumper *d, void *key)
{
    hd_frame *f;
    PyObject *fo = NULL;
    if ((uintptr_t)key & HD_TAG_FRAME) {
        f = (hd_frame *)((uintptr_t)key & ~HD_TAG_FRAME);
    }
    else {
        fo = key;
        f = hd_pyversion_frame_of(fo);
    }
    hd_frame_info info;
    if (f == NULL || hd_pyversion_frame_info(f, &info) < 0) {
        /* a cleared frame: an empty record keeps the ids in step */
        pack_header(d, HD_K_FRAME, 8, (uintptr_t)key,
                    fo ? pack_refcnt(d, fo) : 0,
                    fo ? hd_kinds_size(d, fo) : 0);
        for (int i = 0; i < 7; i++) {
            msgpack_pack_nil(PK(d));
        }
        msgpack_pack_array(PK(d), 0);
        return;
    }
    d->n_frames++;
    if (fo != NULL) {
        pack_header(d, HD_K_FRAME, 8, (uintptr_t)fo, pack_refcnt(d, fo),
                    hd_kinds_size(d, fo));
    }
    else {
        pack_header(d, HD_K_FRAME, 8, (uintptr_t)f, 0, 0);
    }
    hd_walk_value(d, (PyObject *)info.code);
    hd_pack_frame_ref(d, hd_pyversion_frame_back(f));
    /* stacks only: code locations, no values */
    hd_walk_value(d, info.globals && !d->stacks_only ? info.globals : Py_None);
    hd_walk_value(d, info.locals && !d->stacks_only ? info.locals : Py_None);
    msgpack_pack_int(PK(d), info.lineno);
    msgpack_pack_int(PK(d), info.lasti);
    if (info.end_lineno >= 0) {
        msgpack_pack_array(PK(d), 3);
        msgpack_pack_int(PK(d), info.end_lineno);
        msgpack_pack_int(PK(d), info.col);
        msgpack_pack_int(PK(d), info.end_col);
    }
    else {
        msgpack_pack_nil(PK(d));
    }
    PyCodeObject *co = info.code;
    Py_ssize_t n = d->stacks_only ? 0 : hd_pyversion_code_nnames(co);
    if (n > info.nvalues) {
        n = info.nvalues;
    }
    msgpack_pack_array(PK(d), (size_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        int kind;
        PyObject *name = hd_pyversion_code_name_at(co, i, &kind);
        PyObject *v;
        int64_t iv;
        if (hd_pyversion_frame_slot(&info, i, &v, &iv) == HD_SLOT_INT) {
            /* an int held in the slot itself (no object, no size) */
            if (hd_redact_name(&d->redact, name)) {
                hd_encode_redacted_int(d, HD_WHY_NAME);
            }
            else {
                hd_encode_int64(d, iv);
            }
            continue;
        }
        if (v != NULL && (kind & (HD_CK_CELL | HD_CK_FREE)) &&
            PyCell_Check(v)) {
            v = PyCell_GET(v);
        }
        if (v != NULL && hd_redact_name(&d->redact, name)) {
            hd_walk_write(d, v, hd_walk_secret(d, v));
        }
        else {
            hd_walk_value(d, v); /* NULL: ext 2 UNBOUND */
        }
    }
}

/* CODE: [21, addr, rc, size, name, qualname, filename, firstlineno,
 * argcount, posonlyargcount, kwonlyargcount, flags, [names], [kinds]] */
static void
pack_code(hd_dumper *d, PyObject *obj)
{
    PyCodeObject *co = (PyCodeObject *)obj;
    pack_obj_header(d, HD_K_CODE, 10, obj);
    hd_encode_name(d, co->co_name);
    hd_encode_name(d, hd_pyversion_code_qualname(co));
    hd_encode_name(d, co->co_filename);
    msgpack_pack_int(PK(d), co->co_firstlineno);
    msgpack_pack_int(PK(d), co->co_argcount);
    msgpack_pack_int(PK(d), co->co_posonlyargcount);
    msgpack_pack_int(PK(d), co->co_kwonlyargcount);
    msgpack_pack_int(PK(d), co->co_flags);
    Py_ssize_t n = hd_pyversion_code_nnames(co);
    msgpack_pack_array(PK(d), (size_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        int kind;
        hd_encode_name(d, hd_pyversion_code_name_at(co, i, &kind));
    }
    msgpack_pack_array(PK(d), (size_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        int kind;
        hd_pyversion_code_name_at(co, i, &kind);
        msgpack_pack_int(PK(d), kind);
    }
    hd_walk_want_source(d, co->co_filename);
}

/* TRACEBACK: [25, addr, rc, size, frame, lineno, lasti, next, position] */
static void
pack_traceback(hd_dumper *d, PyObject *obj)
{
    PyTracebackObject *tb = (PyTracebackObject *)obj;
    pack_obj_header(d, HD_K_TRACEBACK, 5, obj);
    hd_walk_value(d, tb->tb_frame ? (PyObject *)tb->tb_frame : Py_None);
    int lineno = tb->tb_lineno, line = -1, end_line = -1, col = -1,
        end_col = -1;
    if (tb->tb_frame != NULL) {
        /* the code of a frame object outlives its execution (the frame's
         * own code reference), so tb_lasti is read against it */
        hd_frame *f = hd_pyversion_frame_of((PyObject *)tb->tb_frame);
        hd_frame_info info;
        if (f && hd_pyversion_frame_info(f, &info) == 0) {
            hd_pyversion_code_position(info.code, tb->tb_lasti, &line,
                                       &end_line, &col, &end_col);
        }
    }
    if (lineno < 0) {
        lineno = line; /* 3.11+ computes it lazily */
    }
    msgpack_pack_int(PK(d), lineno);
    msgpack_pack_int(PK(d), tb->tb_lasti);
    hd_walk_value(d, tb->tb_next ? (PyObject *)tb->tb_next : Py_None);
    if (end_line >= 0) {
        msgpack_pack_array(PK(d), 3);
        msgpack_pack_int(PK(d), end_line);
        msgpack_pack_int(PK(d), col);
        msgpack_pack_int(PK(d), end_col);
    }
    else {
        msgpack_pack_nil(PK(d));
    }
}

/* ------------------------------------------------- instances and others */

/* The layout number (or nil) and the [values] array of obj's attributes.
 * The layout must have been computed before the record header. */
static void
pack_attrs(hd_dumper *d, PyObject *obj, const hd_layout *l,
           PyObject *const *vals)
{
    if (l == NULL) {
        msgpack_pack_nil(PK(d));
        msgpack_pack_array(PK(d), 0);
        return;
    }
    msgpack_pack_uint32(PK(d), l->number);
    msgpack_pack_array(PK(d), l->nslots);
    pack_layout_values(d, obj, l, vals);
}

/* INSTANCE: [16, addr, rc, size, layout, v...], or with no attributes
 * [16, addr, rc, size, nil, type] */
static void
pack_instance(hd_dumper *d, PyObject *obj)
{
    PyObject *const *vals;
    hd_layout *l = pack_layout_of(d, obj, Py_TYPE(obj), &vals);
    if (l == NULL) {
        pack_obj_header_attrs(d, HD_K_INSTANCE, 2, obj);
        msgpack_pack_nil(PK(d));
        hd_walk_value(d, (PyObject *)Py_TYPE(obj));
        return;
    }
    pack_obj_header_attrs(d, HD_K_INSTANCE, 1 + l->nslots, obj);
    msgpack_pack_uint32(PK(d), l->number);
    pack_layout_values(d, obj, l, vals);
}

/* OPAQUE: [17, addr, rc, size, type, layout, [values], [referents]] */
static void
pack_opaque(hd_dumper *d, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *const *vals;
    hd_layout *l = pack_layout_of(d, obj, tp, &vals);
    /* referents as gc.get_referents sees them, less the type and the
     * instance dict (already written as attributes) */
    d->nrefs = 0;
    if (PyType_IS_GC(tp) && tp->tp_traverse != NULL) {
        tp->tp_traverse(obj, hd_walk_collect_ref, d);
    }
    size_t nrefs = d->nrefs;
    if (d->limits.max_items >= 0 && nrefs > (size_t)d->limits.max_items) {
        nrefs = (size_t)d->limits.max_items;
    }
    /* leave out the type and what was written as attributes: the
     * instance dict, and on 3.11+ the inline values it would hold */
    PyObject *dict = hd_pyversion_dict_object(obj);
    size_t keep = 0;
    for (size_t i = 0; i < nrefs; i++) {
        PyObject *r = d->refs[i];
        int drop = r == (PyObject *)tp || (dict != NULL && r == dict);
        for (size_t j = 0; !drop && l != NULL && j < l->nslots; j++) {
            drop = vals[j] == r;
        }
        if (drop) {
            d->refs[i] = NULL;
        }
        else {
            keep++;
        }
    }
    pack_obj_header_attrs(d, HD_K_OPAQUE, 4, obj);
    hd_walk_value(d, (PyObject *)tp);
    pack_attrs(d, obj, l, vals);
    msgpack_pack_array(PK(d), keep);
    for (size_t i = 0; i < nrefs; i++) {
        if (d->refs[i] != NULL) {
            hd_walk_value(d, d->refs[i]);
        }
    }
}

/* EXCEPTION: [26, addr, rc, size, type, args, traceback, cause, context,
 * suppress_context, layout, [values]] */
static void
pack_exception(hd_dumper *d, PyObject *obj)
{
    PyBaseExceptionObject *e = (PyBaseExceptionObject *)obj;
    PyObject *const *vals;
    hd_layout *l = pack_layout_of(d, obj, Py_TYPE(obj), &vals);
    pack_obj_header_attrs(d, HD_K_EXCEPTION, 8, obj);
    hd_walk_value(d, (PyObject *)Py_TYPE(obj));
    hd_walk_value(d, e->args ? e->args : Py_None);
    hd_walk_value(d, e->traceback ? e->traceback : Py_None);
    hd_walk_value(d, e->cause ? e->cause : Py_None);
    hd_walk_value(d, e->context ? e->context : Py_None);
    if (e->suppress_context) {
        msgpack_pack_true(PK(d));
    }
    else {
        msgpack_pack_false(PK(d));
    }
    pack_attrs(d, obj, l, vals);
}

/* TYPE: [15, addr, rc, size, name, qualname, module, metaclass, [bases],
 * base_kind, flags, firstlineno, [names], [values]] */
static void
pack_type(hd_dumper *d, PyObject *obj)
{
    PyTypeObject *tp = (PyTypeObject *)obj;
    int heap = (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) != 0;
    PyObject *dict = heap ? tp->tp_dict : NULL;
    PyObject *firstlineno = NULL;
    /* attributes: the class's own dict, less what the record says */
    Py_ssize_t nattrs = 0, pos = 0;
    PyObject *k, *v;
    while (dict && PyDict_Next(dict, &pos, &k, &v)) {
        if (PyUnicode_CheckExact(k)) {
            if (PyUnicode_CompareWithASCIIString(k, "__firstlineno__") == 0) {
                firstlineno = v;
                continue;
            }
            if (PyUnicode_CompareWithASCIIString(k, "__dict__") == 0 ||
                PyUnicode_CompareWithASCIIString(k, "__weakref__") == 0 ||
                PyUnicode_CompareWithASCIIString(k, "__module__") == 0 ||
                PyUnicode_CompareWithASCIIString(k, "__qualname__") == 0) {
                continue;
            }
        }
        nattrs++;
    }
    pack_obj_header(d, HD_K_TYPE, 10, obj);
    if (heap) {
        hd_encode_name(d, ((PyHeapTypeObject *)tp)->ht_name);
    }
    else {
        hd_encode_type_qualname(d, tp, 0);
    }
    hd_encode_type_qualname(d, tp, 0);
    hd_encode_type_qualname(d, tp, 1);
    hd_walk_value(d, (PyObject *)Py_TYPE(obj));
    PyObject *bases = tp->tp_bases;
    Py_ssize_t nb =
        bases && PyTuple_Check(bases) ? PyTuple_GET_SIZE(bases) : 0;
    msgpack_pack_array(PK(d), (size_t)nb);
    for (Py_ssize_t i = 0; i < nb; i++) {
        hd_walk_value(d, PyTuple_GET_ITEM(bases, i));
    }
    /* base_kind: how instances of the type are written */
    int base_kind = hd_kinds_of_type(tp);
    msgpack_pack_int(PK(d), base_kind);
    int flags = heap ? HD_TF_HEAPTYPE : 0;
    if (tp->tp_flags & Py_TPFLAGS_IS_ABSTRACT) {
        flags |= HD_TF_ABSTRACT;
    }
    msgpack_pack_int(PK(d), flags);
    if (firstlineno && PyLong_CheckExact(firstlineno)) {
        hd_encode_int(d, firstlineno);
    }
    else {
        msgpack_pack_nil(PK(d));
    }
    /* names, then values, in the same order */
    for (int pass = 0; pass < 2; pass++) {
        msgpack_pack_array(PK(d), (size_t)nattrs);
        pos = 0;
        while (dict && PyDict_Next(dict, &pos, &k, &v)) {
            if (PyUnicode_CheckExact(k) &&
                (PyUnicode_CompareWithASCIIString(k, "__firstlineno__") == 0 ||
                 PyUnicode_CompareWithASCIIString(k, "__dict__") == 0 ||
                 PyUnicode_CompareWithASCIIString(k, "__weakref__") == 0 ||
                 PyUnicode_CompareWithASCIIString(k, "__module__") == 0 ||
                 PyUnicode_CompareWithASCIIString(k, "__qualname__") == 0)) {
                continue;
            }
            if (pass == 0) {
                if (PyUnicode_CheckExact(k)) {
                    hd_encode_str(d, k, -1);
                }
                else {
                    hd_walk_value(d, k);
                }
            }
            else if (hd_redact_name(&d->redact, k)) {
                hd_walk_write(d, v, hd_walk_secret(d, v));
            }
            else {
                hd_walk_value(d, v);
            }
        }
    }
}

/* FUNCTION: [18, addr, rc, size, name, qualname, module, code, defaults,
 * kwdefaults, closure, layout, [values]] */
static void
pack_function(hd_dumper *d, PyObject *obj)
{
    PyFunctionObject *fn = (PyFunctionObject *)obj;
    PyObject *const *vals;
    hd_layout *l = pack_layout_of(d, obj, Py_TYPE(obj), &vals);
    pack_obj_header_attrs(d, HD_K_FUNCTION, 9, obj);
    hd_encode_name(d, fn->func_name);
    hd_encode_name(d, fn->func_qualname);
    hd_encode_name(d, fn->func_module);
    hd_walk_value(d, fn->func_code);
    hd_walk_value(d, fn->func_defaults ? fn->func_defaults : Py_None);
    hd_walk_value(d, fn->func_kwdefaults ? fn->func_kwdefaults : Py_None);
    hd_walk_value(d, fn->func_closure ? fn->func_closure : Py_None);
    pack_attrs(d, obj, l, vals);
}

/* CFUNCTION: [20, addr, rc, size, name, qualname, module, self] */
static void
pack_cfunction(hd_dumper *d, PyObject *obj)
{
    PyCFunctionObject *cf = (PyCFunctionObject *)obj;
    const char *name = cf->m_ml && cf->m_ml->ml_name ? cf->m_ml->ml_name : "?";
    PyObject *self = cf->m_self;
    pack_obj_header(d, HD_K_CFUNCTION, 4, obj);
    hd_encode_cstr(d, name);
    if (self != NULL && !PyModule_Check(self)) {
        char buf[256];
        const char *tn = PyType_Check(self) ? ((PyTypeObject *)self)->tp_name
                                            : Py_TYPE(self)->tp_name;
        const char *dot = strrchr(tn, '.');
        snprintf(buf, sizeof(buf), "%s.%s", dot ? dot + 1 : tn, name);
        hd_encode_cstr(d, buf);
    }
    else {
        hd_encode_cstr(d, name);
    }
    hd_encode_name(d, cf->m_module);
    hd_walk_value(d, self ? self : Py_None);
}

/* MODULE: [22, addr, rc, size, name, file, dict] */
static void
pack_module(hd_dumper *d, PyObject *obj)
{
    PyObject *dict = PyModule_GetDict(obj); /* borrowed, no call */
    PyObject *name = NULL, *file = NULL, *k, *v;
    Py_ssize_t pos = 0;
    while (dict && (name == NULL || file == NULL) &&
           PyDict_Next(dict, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k)) {
            continue;
        }
        if (PyUnicode_CompareWithASCIIString(k, "__name__") == 0) {
            name = v;
        }
        else if (PyUnicode_CompareWithASCIIString(k, "__file__") == 0) {
            file = v;
        }
    }
    pack_obj_header(d, HD_K_MODULE, 3, obj);
    hd_encode_name(d, name);
    hd_encode_name(d, file);
    /* the globals, in heap scope only: a frames-scope dump reaches the
     * modules its frames use, not all they hold */
    hd_walk_value(d,
                  dict != NULL && d->scope == HD_SCOPE_HEAP ? dict : Py_None);
}

/* GENERATOR: [27, addr, rc, size, type, flavor, name, qualname, frame,
 * state, code] */
static void
pack_generator(hd_dumper *d, PyObject *obj)
{
    PyObject *name, *qualname;
    const char *state = "closed";
    hd_frame *f = hd_pyversion_gen_frame(obj, &state);
    const char *flavor = PyCoro_CheckExact(obj)       ? "coroutine"
                         : PyAsyncGen_CheckExact(obj) ? "async_generator"
                                                      : "generator";
    PyObject *code = (PyObject *)hd_pyversion_gen_code(obj);
    pack_obj_header(d, HD_K_GENERATOR, 7, obj);
    hd_walk_value(d, (PyObject *)Py_TYPE(obj));
    hd_encode_cstr(d, flavor);
    hd_pyversion_gen_names(obj, &name, &qualname);
    hd_encode_name(d, name);
    hd_encode_name(d, qualname);
    hd_pack_frame_ref(d, f);
    hd_encode_cstr(d, state);
    hd_walk_value(d, code != NULL && PyCode_Check(code) ? code : Py_None);
}

/* ------------------------------------------------------------ the record */

/* INLINE: [75, str, bytes, int, float], the bytes of the values the
 * object record before (with its CLASS and MORE records) wrote inline,
 * when there were any. */
static void
pack_inline_sizes(hd_dumper *d)
{
    uint64_t any = 0;
    for (int i = 0; i < HD_INL_N; i++) {
        any |= d->inline_bytes[i];
    }
    if (any == 0) {
        return;
    }
    msgpack_pack_array(PK(d), 1 + HD_INL_N);
    msgpack_pack_uint8(PK(d), HD_R_INLINE);
    for (int i = 0; i < HD_INL_N; i++) {
        msgpack_pack_uint64(PK(d), d->inline_bytes[i]);
        d->shallow_bytes += d->inline_bytes[i];
    }
    d->n_records++;
}

static void pack_record_body(hd_dumper *d, void *entry);

/* The record of one queue entry. */
static void
pack_record(hd_dumper *d, void *entry)
{
    memset(d->inline_bytes, 0, sizeof(d->inline_bytes));
    pack_record_body(d, entry);
    pack_inline_sizes(d);
}

/* Write one record in a fatal dump, where the object may be unreadable:
 * a fault while reading it jumps back here (signals.c).  What the record
 * had written is taken back if it is still in the input buffer and made no
 * layout; the object becomes an UNREADABLE record.  Otherwise the walk
 * stops: the file ends with what it has. */
static void
pack_guarded_record(hd_dumper *d, size_t id)
{
    sigjmp_buf jb;
    size_t mark = d->w.in_len;
    uint64_t raw = d->w.raw_bytes, flushes = d->w.flushes;
    uint64_t records = d->n_records;
    size_t layouts = d->nlayouts;
    uintptr_t last_addr = d->last_addr;
    if (sigsetjmp(jb, 1) == 0) {
        hd_fault_jmp = &jb;
        pack_record(d, d->queue[id]);
        hd_fault_jmp = NULL;
        return;
    }
    hd_fault_jmp = NULL;
    if (d->w.flushes != flushes || d->nlayouts != layouts) {
        d->stopped = 1;
        return;
    }
    d->w.in_len = mark;
    d->w.raw_bytes = raw;
    d->n_records = records;
    d->last_addr = last_addr;
    /* UNREADABLE: [29, addr, 0, 0, reason] */
    msgpack_pack_array(&d->pk, 5);
    msgpack_pack_uint8(&d->pk, HD_K_UNREADABLE);
    msgpack_pack_int64(&d->pk,
                       (int64_t)((uintptr_t)d->queue[id] - d->last_addr));
    d->last_addr = (uintptr_t)d->queue[id];
    msgpack_pack_uint8(&d->pk, 0);
    msgpack_pack_uint8(&d->pk, 0);
    hd_encode_cstr(d, "a fault while reading it");
    d->n_records++;
    d->n_errors++;
}

void
hd_pack_run(hd_dumper *d)
{
    /* d->nqueued grows while records are written: breadth first */
    for (; d->next_record < d->nqueued && d->error == NULL; d->next_record++) {
        if (d->w.err_what != NULL || d->stopped) {
            break; /* the file failed, or a fault stopped the walk */
        }
        if (d->fatal) {
            pack_guarded_record(d, d->next_record);
        }
        else {
            pack_record(d, d->queue[d->next_record]);
        }
    }
}

static const hd_pack_pieces pack_pieces = {
    pack_layout_of, pack_obj_header_attrs, pack_attrs, pack_cut};

static void
pack_record_body(hd_dumper *d, void *entry)
{
    if ((uintptr_t)entry & HD_TAG_FRAME) {
        pack_frame(d, entry);
        return;
    }
    PyObject *obj = entry;
    int kind = hd_kinds_of(d, obj);
    if (hd_kinds_is_subclass(obj, kind)) {
        pack_class(d, obj);
    }
    switch (kind) {
    case HD_K_INT: /* INT: [1, addr, rc, size, v] */
        pack_obj_header(d, kind, 1, obj);
        hd_encode_int(d, obj);
        break;
    case HD_K_FLOAT: /* FLOAT: [2, addr, rc, size, f64] */
        pack_obj_header(d, kind, 1, obj);
        hd_encode_double(d, PyFloat_AS_DOUBLE(obj));
        break;
    case HD_K_COMPLEX: { /* COMPLEX: [3, addr, rc, size, real, imag] */
        Py_complex c = ((PyComplexObject *)obj)->cval;
        pack_obj_header(d, kind, 2, obj);
        msgpack_pack_double(PK(d), c.real);
        msgpack_pack_double(PK(d), c.imag);
        break;
    }
    case HD_K_STR: { /* STR: [4, addr, rc, size, s] */
        Py_ssize_t n = PyUnicode_GET_LENGTH(obj);
        Py_ssize_t max = d->limits.max_string;
        if (max >= 0 && n > max) {
            pack_cut(d, n);
        }
        pack_obj_header(d, kind, 1, obj);
        hd_encode_str(d, obj, max);
        break;
    }
    case HD_K_BYTES:       /* BYTES: [5, addr, rc, size, b] */
    case HD_K_BYTEARRAY: { /* BYTEARRAY: [6, addr, rc, size, b] */
        const char *p = kind == HD_K_BYTES ? PyBytes_AS_STRING(obj)
                                           : PyByteArray_AS_STRING(obj);
        Py_ssize_t n = kind == HD_K_BYTES ? PyBytes_GET_SIZE(obj)
                                          : PyByteArray_GET_SIZE(obj);
        Py_ssize_t max = d->limits.max_string;
        if (max >= 0 && n > max) {
            pack_cut(d, n);
            n = max;
        }
        pack_obj_header(d, kind, 1, obj);
        msgpack_pack_bin_with_body(PK(d), p, (size_t)n);
        break;
    }
    case HD_K_TUPLE:
    case HD_K_LIST:
    case HD_K_SET:
    case HD_K_FROZENSET: pack_sequence(d, obj, kind); break;
    case HD_K_DICT: pack_dict(d, obj); break;
    case HD_K_RANGE: { /* RANGE: [12, addr, rc, size, start, stop, step] */
        /* rangeobject's fields are ints: start, stop, step, length */
        PyObject **f = (PyObject **)((char *)obj + sizeof(PyObject));
        pack_obj_header(d, kind, 3, obj);
        hd_walk_value(d, f[0]);
        hd_walk_value(d, f[1]);
        hd_walk_value(d, f[2]);
        break;
    }
    case HD_K_SLICE: { /* SLICE: [13, addr, rc, size, start, stop, step] */
        PySliceObject *s = (PySliceObject *)obj;
        pack_obj_header(d, kind, 3, obj);
        hd_walk_value(d, s->start);
        hd_walk_value(d, s->stop);
        hd_walk_value(d, s->step);
        break;
    }
    case HD_K_SINGLETON: /* SINGLETON: [14, addr, rc, size, name] */
        pack_obj_header(d, kind, 1, obj);
        hd_encode_cstr(d, obj == Py_Ellipsis ? "Ellipsis" : "NotImplemented");
        break;
    case HD_K_TYPE: pack_type(d, obj); break;
    case HD_K_INSTANCE: pack_instance(d, obj); break;
    case HD_K_OPAQUE: pack_opaque(d, obj); break;
    case HD_K_NATIVE: /* natives.c, else (unexpected layout) OPAQUE */
        if (hd_natives_pack(d, obj, &pack_pieces) < 0) {
            pack_opaque(d, obj);
        }
        break;
    case HD_K_FUNCTION: pack_function(d, obj); break;
    case HD_K_METHOD: /* METHOD: [19, addr, rc, size, function, self] */
        pack_obj_header(d, kind, 2, obj);
        hd_walk_value(d, PyMethod_GET_FUNCTION(obj));
        hd_walk_value(d, PyMethod_GET_SELF(obj));
        break;
    case HD_K_CFUNCTION: pack_cfunction(d, obj); break;
    case HD_K_CODE: pack_code(d, obj); break;
    case HD_K_MODULE: pack_module(d, obj); break;
    case HD_K_CELL: /* CELL: [23, addr, rc, size, v] */
        pack_obj_header(d, kind, 1, obj);
        hd_walk_value(d, PyCell_GET(obj)); /* NULL: UNBOUND */
        break;
    case HD_K_FRAME: pack_frame(d, obj); break;
    case HD_K_TRACEBACK: pack_traceback(d, obj); break;
    case HD_K_EXCEPTION: pack_exception(d, obj); break;
    case HD_K_GENERATOR: pack_generator(d, obj); break;
    case HD_K_WEAKREF: { /* WEAKREF: [28, addr, rc, size, type, referent,
                            callback] */
        PyWeakReference *wr = (PyWeakReference *)obj;
        PyObject *ref = wr->wr_object;
        pack_obj_header(d, kind, 3, obj);
        hd_walk_value(d, (PyObject *)Py_TYPE(obj));
        hd_walk_value(d, ref == NULL || Py_REFCNT(ref) <= 0 ? Py_None : ref);
        hd_walk_value(d, wr->wr_callback ? wr->wr_callback : Py_None);
        break;
    }
    default: pack_opaque(d, obj); break;
    }
}
