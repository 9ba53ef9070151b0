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

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <frameobject.h>

#define PK(d) (&(d)->pk)

static Py_ssize_t pack_generic_sizeof(PyObject *obj);
static Py_ssize_t pack_size(hd_dumper *d, PyObject *obj);

/* ------------------------------------------------------------- scalars */

void
hd_pack_int64(hd_dumper *d, int64_t v)
{
    /* ext 1 INT: little-endian two's complement, fewest bytes */
    unsigned char buf[8];
    int n = 1;
    while (n < 8) {
        int64_t lo = -((int64_t)1 << (8 * n - 1));
        int64_t hi = ((int64_t)1 << (8 * n - 1)) - 1;
        if (v >= lo && v <= hi) {
            break;
        }
        n++;
    }
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < n; i++) {
        buf[i] = (unsigned char)(u >> (8 * i));
    }
    msgpack_pack_ext_with_body(PK(d), buf, (size_t)n, HD_EXT_INT);
}

void
hd_pack_int(hd_dumper *d, PyObject *v)
{
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (!overflow) {
        hd_pack_int64(d, x);
        return;
    }
    /* a big int: its bytes, in a buffer of the right size */
    size_t n = hd_pyversion_long_nbytes(v);
    unsigned char small[64];
    unsigned char *buf = n <= sizeof(small) ? small : malloc(n);
    Py_ssize_t len = buf ? hd_pyversion_long_bytes(v, buf, n) : -1;
    if (len < 0) {
        if (d->error == NULL) {
            d->error = "out of memory";
        }
        msgpack_pack_nil(PK(d));
    }
    else {
        msgpack_pack_ext_with_body(PK(d), buf, (size_t)len, HD_EXT_INT);
    }
    if (buf != small) {
        free(buf);
    }
}

void
hd_pack_double(hd_dumper *d, double v)
{
    /* float 32 when it holds the value exactly (not for NaN, whose
     * payload bits it could change), else float 64 */
    float f = (float)v;
    if (v == v && (double)f == v && !signbit(v) == !signbit(f)) {
        msgpack_pack_float(PK(d), f);
    }
    else {
        msgpack_pack_double(PK(d), v);
    }
}

void
hd_pack_cstr(hd_dumper *d, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str_with_body(PK(d), s, n);
}

/* Bytes the UTF-8 (surrogatepass) of code points [start, end) takes. */
static size_t
pack_utf8_size(int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    size_t total = 0;
    for (Py_ssize_t i = start; i < end; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        total += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    }
    return total;
}

/* The UTF-8 (surrogatepass) of code points [start, end) as the body of a
 * msgpack str whose header was written, in pieces through a small
 * buffer. */
static void
pack_utf8_body(hd_dumper *d, int kind, const void *data, Py_ssize_t start,
               Py_ssize_t end)
{
    unsigned char buf[1024];
    size_t len = 0;
    for (Py_ssize_t i = start; i < end; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (len > sizeof(buf) - 4) {
            msgpack_pack_str_body(PK(d), buf, len);
            len = 0;
        }
        if (c < 0x80) {
            buf[len++] = (unsigned char)c;
        }
        else if (c < 0x800) {
            buf[len++] = (unsigned char)(0xc0 | (c >> 6));
            buf[len++] = (unsigned char)(0x80 | (c & 0x3f));
        }
        else if (c < 0x10000) {
            buf[len++] = (unsigned char)(0xe0 | (c >> 12));
            buf[len++] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
            buf[len++] = (unsigned char)(0x80 | (c & 0x3f));
        }
        else {
            buf[len++] = (unsigned char)(0xf0 | (c >> 18));
            buf[len++] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
            buf[len++] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
            buf[len++] = (unsigned char)(0x80 | (c & 0x3f));
        }
    }
    if (len > 0) {
        msgpack_pack_str_body(PK(d), buf, len);
    }
}

void
hd_pack_str(hd_dumper *d, PyObject *s, Py_ssize_t max)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (max >= 0 && n > max) {
        n = max;
    }
    if (PyUnicode_IS_ASCII(s)) {
        msgpack_pack_str_with_body(PK(d), PyUnicode_DATA(s), (size_t)n);
        return;
    }
    /* UTF-8 with lone surrogates kept (surrogatepass): first the exact
     * byte count */
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    msgpack_pack_str(PK(d), pack_utf8_size(kind, data, 0, n));
    pack_utf8_body(d, kind, data, 0, n);
}

/* A metadata string: a str object written inline, or nil. */
static void
pack_name(hd_dumper *d, PyObject *s)
{
    if (s != NULL && PyUnicode_Check(s)) {
        hd_pack_str(d, s, 1024);
    }
    else {
        msgpack_pack_nil(PK(d));
    }
}

void
hd_pack_inline(hd_dumper *d, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    int which;
    if (tp == &PyUnicode_Type) {
        hd_pack_str(d, obj, -1);
        which = HD_INL_STR;
    }
    else if (tp == &PyLong_Type) {
        hd_pack_int(d, obj);
        which = HD_INL_INT;
    }
    else if (tp == &PyFloat_Type) {
        hd_pack_double(d, PyFloat_AS_DOUBLE(obj));
        which = HD_INL_FLOAT;
    }
    else {
        msgpack_pack_bin_with_body(PK(d), PyBytes_AS_STRING(obj),
                                   (size_t)PyBytes_GET_SIZE(obj));
        which = HD_INL_BYTES;
    }
    /* its size goes into the INLINE record after this object record */
    d->inline_bytes[which] += (uint64_t)pack_size(d, obj);
}

/* The module and qualname of a type, as its __module__ and __qualname__
 * would say, read from the C layout (heap types: ht_module / the type
 * dict's __module__ entry; static types: tp_name). */
static void
pack_type_module_qualname(hd_dumper *d, PyTypeObject *tp, int want_module)
{
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
        if (!want_module) {
            pack_name(d, ht->ht_qualname);
            return;
        }
        PyObject *dict = tp->tp_dict;
        PyObject *k, *v, *mod = NULL;
        Py_ssize_t pos = 0;
        while (dict && PyDict_Next(dict, &pos, &k, &v)) {
            if (PyUnicode_CheckExact(k) &&
                PyUnicode_CompareWithASCIIString(k, "__module__") == 0) {
                mod = v;
                break;
            }
        }
        pack_name(d, mod);
        return;
    }
    const char *name = tp->tp_name;
    const char *dot = strrchr(name, '.');
    if (!want_module) {
        hd_pack_cstr(d, dot ? dot + 1 : name);
    }
    else if (dot) {
        msgpack_pack_str_with_body(PK(d), name, (size_t)(dot - name));
    }
    else {
        hd_pack_cstr(d, "builtins");
    }
}

/* A msgpack packer that only counts the bytes it would write: an ext's
 * payload is packed twice, once to learn its length for the ext header,
 * then for real, so that no buffer is allocated (the fatal mode writes
 * markers too). */
static int
pack_count_bytes(void *data, const char *buf, size_t len)
{
    (void)buf;
    *(size_t *)data += len;
    return 0;
}

/* OMITTED / REDACTED payloads begin [module, qualname, size] of obj. */
static void
pack_marker_head(hd_dumper *d, PyObject *obj, size_t n)
{
    msgpack_pack_array(PK(d), n);
    pack_type_module_qualname(d, Py_TYPE(obj), 1);
    pack_type_module_qualname(d, Py_TYPE(obj), 0);
    msgpack_pack_int64(PK(d), pack_size(d, obj));
}

void
hd_pack_omitted(hd_dumper *d, PyObject *obj, int ext)
{
    /* ext 3 OMITTED: [module, qualname, size] of a type, as msgpack, in
     * the ext payload */
    size_t len = 0;
    msgpack_packer saved = d->pk;
    msgpack_packer_init(&d->pk, &len, pack_count_bytes);
    pack_marker_head(d, obj, 3);
    d->pk = saved;
    msgpack_pack_ext(PK(d), len, (int8_t)ext);
    pack_marker_head(d, obj, 3);
}

/* The pieces of a partly hidden value: [kind, length, text, [[start,
 * length, why]...]].  text is what is kept, the pieces between the
 * hidden ones in order, of the first max_string code points (bytes) of
 * the value. */
static void
pack_masked(hd_dumper *d, PyObject *obj, const hd_hide_ranges *r)
{
    int is_str = PyUnicode_Check(obj), kind = 0;
    const void *data;
    Py_ssize_t n;
    int record;
    if (is_str) {
        kind = PyUnicode_KIND(obj);
        data = PyUnicode_DATA(obj);
        n = PyUnicode_GET_LENGTH(obj);
        record = HD_K_STR;
    }
    else if (PyBytes_Check(obj)) {
        data = PyBytes_AS_STRING(obj);
        n = PyBytes_GET_SIZE(obj);
        record = HD_K_BYTES;
    }
    else {
        data = PyByteArray_AS_STRING(obj);
        n = PyByteArray_GET_SIZE(obj);
        record = HD_K_BYTEARRAY;
    }
    Py_ssize_t limit = n;
    if (d->limits.max_string >= 0 && n > d->limits.max_string) {
        limit = d->limits.max_string;
    }
    msgpack_pack_array(PK(d), 4);
    msgpack_pack_uint8(PK(d), (uint8_t)record);
    msgpack_pack_int64(PK(d), n);
    /* the kept pieces, [at, r[i].start) then past the last hidden one */
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        Py_ssize_t at = 0;
        if (pass == 1) {
            if (is_str) {
                msgpack_pack_str(PK(d), total);
            }
            else {
                msgpack_pack_bin(PK(d), total);
            }
        }
        for (size_t i = 0; i <= r->n && at < limit; i++) {
            Py_ssize_t end = i < r->n ? r->r[i].start : limit;
            if (end > limit) {
                end = limit;
            }
            if (end > at && pass == 0) {
                total += is_str ? pack_utf8_size(kind, data, at, end)
                                : (size_t)(end - at);
            }
            else if (end > at && is_str) {
                pack_utf8_body(d, kind, data, at, end);
            }
            else if (end > at) {
                msgpack_pack_bin_body(PK(d), (const char *)data + at,
                                      (size_t)(end - at));
            }
            if (i < r->n) {
                at = r->r[i].end;
            }
        }
    }
    size_t holes = 0;
    while (holes < r->n && r->r[holes].start < limit) {
        holes++;
    }
    msgpack_pack_array(PK(d), holes);
    for (size_t i = 0; i < holes; i++) {
        msgpack_pack_array(PK(d), 3);
        msgpack_pack_int64(PK(d), r->r[i].start);
        msgpack_pack_int64(PK(d), r->r[i].end - r->r[i].start);
        hd_pack_cstr(d, hd_format_why_name(r->r[i].why));
    }
}

static void
pack_redacted_payload(hd_dumper *d, PyObject *obj, int why,
                      const hd_hide_ranges *ranges)
{
    pack_marker_head(d, obj, 5);
    hd_pack_cstr(d, hd_format_why_name(why));
    if (ranges != NULL) {
        pack_masked(d, obj, ranges);
    }
    else {
        msgpack_pack_nil(PK(d));
    }
}

/* REDACTED for an int that is no object (3.14+ keeps some in frame
 * slots, tagged): [builtins, int, 0, why, nil]. */
static void
pack_redacted_int_payload(hd_dumper *d, int why)
{
    msgpack_pack_array(PK(d), 5);
    hd_pack_cstr(d, "builtins");
    hd_pack_cstr(d, "int");
    msgpack_pack_int64(PK(d), 0);
    hd_pack_cstr(d, hd_format_why_name(why));
    msgpack_pack_nil(PK(d));
}

static void
pack_redacted_int(hd_dumper *d, int why)
{
    size_t len = 0;
    msgpack_packer saved = d->pk;
    msgpack_packer_init(&d->pk, &len, pack_count_bytes);
    pack_redacted_int_payload(d, why);
    d->pk = saved;
    msgpack_pack_ext(PK(d), len, HD_EXT_REDACTED);
    pack_redacted_int_payload(d, why);
    d->n_redacted++;
}

void
hd_pack_redacted(hd_dumper *d, PyObject *obj, int why,
                 const hd_hide_ranges *ranges)
{
    /* ext 4 REDACTED: [module, qualname, size, why, pieces] */
    size_t len = 0;
    msgpack_packer saved = d->pk;
    msgpack_packer_init(&d->pk, &len, pack_count_bytes);
    pack_redacted_payload(d, obj, why, ranges);
    d->pk = saved;
    msgpack_pack_ext(PK(d), len, HD_EXT_REDACTED);
    pack_redacted_payload(d, obj, why, ranges);
    if (ranges != NULL && d->limits.max_string >= 0) {
        Py_ssize_t n = PyUnicode_Check(obj) ? PyUnicode_GET_LENGTH(obj)
                       : PyBytes_Check(obj) ? PyBytes_GET_SIZE(obj)
                                            : PyByteArray_GET_SIZE(obj);
        d->n_cuts += n > d->limits.max_string;
    }
}

/* ---------------------------------------------------------------- sizes */

/* The builtin C __sizeof__ of the types whose size is not the generic
 * basicsize + itemsize * ob_size, found once in their method tables. */
static PyCFunction sizeof_dict, sizeof_list, sizeof_set, sizeof_bytearray,
    sizeof_str, sizeof_int, sizeof_object, sizeof_code, sizeof_type;

static PyCFunction
pack_find_sizeof(PyTypeObject *tp)
{
    for (PyMethodDef *m = tp->tp_methods; m && m->ml_name; m++) {
        if (strcmp(m->ml_name, "__sizeof__") == 0) {
            return m->ml_meth;
        }
    }
    return NULL;
}

int
hd_pack_init(void)
{
    sizeof_dict = pack_find_sizeof(&PyDict_Type);
    sizeof_list = pack_find_sizeof(&PyList_Type);
    sizeof_set = pack_find_sizeof(&PySet_Type);
    sizeof_bytearray = pack_find_sizeof(&PyByteArray_Type);
    sizeof_str = pack_find_sizeof(&PyUnicode_Type);
    sizeof_int = pack_find_sizeof(&PyLong_Type);
    sizeof_object = pack_find_sizeof(&PyBaseObject_Type);
    sizeof_code = pack_find_sizeof(&PyCode_Type);
    sizeof_type = pack_find_sizeof(&PyType_Type);
    return hd_kinds_init();
}

static Py_ssize_t
pack_call_sizeof(PyCFunction f, PyObject *obj)
{
    PyObject *r = f(obj, NULL);
    if (r == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t n = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    if (n < 0) {
        PyErr_Clear();
        return 0;
    }
    return n;
}

/* The generic size: basicsize + itemsize * ob_size. */
static Py_ssize_t
pack_generic_sizeof(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (PyLong_Check(obj)) {
        /* ob_size is not a length for ints on 3.12+ */
        return hd_pyversion_long_sizeof(obj);
    }
    Py_ssize_t size = tp->tp_basicsize;
    if (tp->tp_itemsize != 0) {
        Py_ssize_t n = Py_SIZE(obj);
        size += (n < 0 ? -n : n) * tp->tp_itemsize;
    }
    return size;
}

Py_ssize_t
hd_pack_sizeof(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyCFunction f = NULL;
    /* the commonest types without the int their __sizeof__ makes (the
     * same arithmetic as theirs); str and int have no GC header */
    if (tp == &PyUnicode_Type) {
        Py_ssize_t size = hd_pyversion_str_sizeof(obj);
        if (size >= 0) {
            return size;
        }
    }
    else if (tp == &PyLong_Type) {
        return hd_pyversion_long_sizeof(obj);
    }
    else if (tp == &PyList_Type) {
        return tp->tp_basicsize +
               ((PyListObject *)obj)->allocated *
                   (Py_ssize_t)sizeof(PyObject *) +
               hd_pyversion_preheader_size(obj);
    }
    if (PyDict_Check(obj)) {
        f = sizeof_dict;
    }
    else if (PyList_Check(obj)) {
        f = sizeof_list;
    }
    else if (PyAnySet_Check(obj)) {
        f = sizeof_set;
    }
    else if (PyByteArray_Check(obj)) {
        f = sizeof_bytearray;
    }
    else if (PyUnicode_Check(obj)) {
        f = sizeof_str;
    }
    else if (PyLong_Check(obj)) {
        f = sizeof_int;
    }
    else if (PyCode_Check(obj)) {
        f = sizeof_code;
    }
    else if (PyType_Check(obj)) {
        f = sizeof_type; /* static types are smaller than tp_basicsize */
    }
    else if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE || tp == &PyBaseObject_Type) {
        f = sizeof_object; /* includes 3.13's inline values */
    }
    Py_ssize_t size =
        f != NULL ? pack_call_sizeof(f, obj) : pack_generic_sizeof(obj);
    return size + hd_pyversion_preheader_size(obj);
}

/* hd_pack_sizeof, or in the signal modes (which create no Python object,
 * and the builtin __sizeof__ functions return one) the generic size plus
 * the pre-header. */
static Py_ssize_t
pack_size(hd_dumper *d, PyObject *obj)
{
    if (d->no_alloc) {
        return pack_generic_sizeof(obj) + hd_pyversion_preheader_size(obj);
    }
    return hd_pack_sizeof(obj);
}

/* The bytes of obj's attribute storage that its own size leaves out: its
 * instance dict when there is one (the dict gets no record of its own:
 * its items are the record's attributes), else 3.11+'s values. */
static Py_ssize_t
pack_attr_storage(hd_dumper *d, PyObject *obj)
{
    PyObject *dict = hd_pyversion_dict_object(obj);
    if (dict != NULL && PyDict_Check(dict)) {
        return pack_size(d, dict);
    }
    return hd_pyversion_values_bytes(obj);
}

/* ----------------------------------------------------------------- kinds */

/* The solid layout of an instance: 1 when every class up to object is
 * defined in Python, so the state is the instance dict and slots. */
static int
pack_is_plain_instance(PyTypeObject *tp)
{
    while (tp != NULL && tp != &PyBaseObject_Type) {
        if (!hd_kinds_python_class(tp)) { /* a C type, heap or not */
            return 0;
        }
        tp = tp->tp_base;
    }
    return 1;
}

/* Exact builtin types and their kinds, the common ones first. */
static const struct {
    PyTypeObject *type;
    int kind;
} pack_exact_kinds[] = {
    {&PyUnicode_Type, HD_K_STR},
    {&PyLong_Type, HD_K_INT},
    {&PyTuple_Type, HD_K_TUPLE},
    {&PyList_Type, HD_K_LIST},
    {&PyDict_Type, HD_K_DICT},
    {&PyFloat_Type, HD_K_FLOAT},
    {&PyBytes_Type, HD_K_BYTES},
    {&PyFunction_Type, HD_K_FUNCTION},
    {&PyCode_Type, HD_K_CODE},
    {&PyFrame_Type, HD_K_FRAME},
    {&PyTraceBack_Type, HD_K_TRACEBACK},
    {&PyModule_Type, HD_K_MODULE},
    {&PyMethod_Type, HD_K_METHOD},
    {&PyCFunction_Type, HD_K_CFUNCTION},
    {&PyCMethod_Type, HD_K_CFUNCTION},
    {&PyCell_Type, HD_K_CELL},
    {&PySet_Type, HD_K_SET},
    {&PyFrozenSet_Type, HD_K_FROZENSET},
    {&PyByteArray_Type, HD_K_BYTEARRAY},
    {&PyComplex_Type, HD_K_COMPLEX},
    {&PyRange_Type, HD_K_RANGE},
    {&PySlice_Type, HD_K_SLICE},
    {&PyGen_Type, HD_K_GENERATOR},
    {&PyCoro_Type, HD_K_GENERATOR},
    {&PyAsyncGen_Type, HD_K_GENERATOR},
};

/* Builtin types whose subclasses are written as the base kind + CLASS. */
static const struct {
    PyTypeObject *type;
    int kind;
} pack_base_kinds[] = {
    {&PyUnicode_Type, HD_K_STR},         {&PyLong_Type, HD_K_INT},
    {&PyTuple_Type, HD_K_TUPLE},         {&PyList_Type, HD_K_LIST},
    {&PyDict_Type, HD_K_DICT},           {&PyBytes_Type, HD_K_BYTES},
    {&PyFloat_Type, HD_K_FLOAT},         {&PySet_Type, HD_K_SET},
    {&PyFrozenSet_Type, HD_K_FROZENSET}, {&PyByteArray_Type, HD_K_BYTEARRAY},
    {&PyComplex_Type, HD_K_COMPLEX},
};

#define PACK_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The kind instances of tp are written as (TYPE records' base_kind). */
static int
pack_kind_of_type(PyTypeObject *tp)
{
    if (PyType_IsSubtype(tp, (PyTypeObject *)PyExc_BaseException)) {
        return HD_K_EXCEPTION;
    }
    if (PyType_IsSubtype(tp, &PyType_Type)) {
        return HD_K_TYPE;
    }
    for (size_t i = 0; i < PACK_COUNT(pack_base_kinds); i++) {
        if (PyType_IsSubtype(tp, pack_base_kinds[i].type)) {
            return pack_base_kinds[i].kind;
        }
    }
    if (PyType_IsSubtype(tp, &_PyWeakref_RefType)) {
        return HD_K_WEAKREF;
    }
    return pack_is_plain_instance(tp) ? HD_K_INSTANCE : HD_K_OPAQUE;
}

int
hd_pack_kind_of(hd_dumper *d, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == d->kind_cache_type) {
        return d->kind_cache_kind;
    }
    for (size_t i = 0; i < PACK_COUNT(pack_exact_kinds); i++) {
        if (tp == pack_exact_kinds[i].type) {
            return pack_exact_kinds[i].kind;
        }
    }
    if (obj == Py_Ellipsis || obj == Py_NotImplemented) {
        return HD_K_SINGLETON;
    }
    if (PyWeakref_Check(obj)) {
        return HD_K_WEAKREF;
    }
    /* the slow path, for classes: remember the last one */
    d->kind_cache_type = tp;
    d->kind_cache_kind = pack_kind_of_type(tp);
    return d->kind_cache_kind;
}

int
hd_pack_kind_is_subclass(PyObject *obj, int kind)
{
    PyTypeObject *tp = Py_TYPE(obj);
    switch (kind) {
    case HD_K_STR: return tp != &PyUnicode_Type;
    case HD_K_INT: return tp != &PyLong_Type && tp != &PyBool_Type;
    case HD_K_TUPLE: return tp != &PyTuple_Type;
    case HD_K_LIST: return tp != &PyList_Type;
    case HD_K_DICT: return tp != &PyDict_Type;
    case HD_K_BYTES: return tp != &PyBytes_Type;
    case HD_K_FLOAT: return tp != &PyFloat_Type;
    case HD_K_SET: return tp != &PySet_Type;
    case HD_K_FROZENSET: return tp != &PyFrozenSet_Type;
    case HD_K_BYTEARRAY: return tp != &PyByteArray_Type;
    case HD_K_COMPLEX: return tp != &PyComplex_Type;
    default: return 0;
    }
}

/* ------------------------------------------------------------- members */

int
hd_pack_member_readable(const PyMemberDef *m)
{
    switch (m->type) {
    case T_OBJECT:
    case T_OBJECT_EX:
    case T_SHORT:
    case T_INT:
    case T_LONG:
    case T_FLOAT:
    case T_DOUBLE:
    case T_STRING:
    case T_CHAR:
    case T_BYTE:
    case T_UBYTE:
    case T_UINT:
    case T_USHORT:
    case T_ULONG:
    case T_BOOL:
    case T_LONGLONG:
    case T_ULONGLONG:
    case T_PYSSIZET: return 1;
    default: return 0;
    }
}

/* The value of a non-object C member, written directly. */
static void
pack_member_scalar(hd_dumper *d, PyObject *obj, const PyMemberDef *m)
{
    const char *p = (const char *)obj + m->offset;
    switch (m->type) {
    case T_SHORT: hd_pack_int64(d, *(const short *)p); break;
    case T_INT: hd_pack_int64(d, *(const int *)p); break;
    case T_LONG: hd_pack_int64(d, *(const long *)p); break;
    case T_BYTE: hd_pack_int64(d, *(const signed char *)p); break;
    case T_UBYTE: hd_pack_int64(d, *(const unsigned char *)p); break;
    case T_UINT: hd_pack_int64(d, *(const unsigned int *)p); break;
    case T_USHORT: hd_pack_int64(d, *(const unsigned short *)p); break;
    case T_LONGLONG: hd_pack_int64(d, *(const long long *)p); break;
    case T_PYSSIZET: hd_pack_int64(d, *(const Py_ssize_t *)p); break;
    case T_ULONG:
    case T_ULONGLONG: {
        unsigned long long u = m->type == T_ULONG
                                   ? *(const unsigned long *)p
                                   : *(const unsigned long long *)p;
        if (u <= INT64_MAX) {
            hd_pack_int64(d, (int64_t)u);
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
            hd_pack_cstr(d, s);
        }
        break;
    }
    default: msgpack_pack_nil(PK(d)); break;
    }
}

/* The attribute values of a layout, gathered by hd_walk_layout. */
static void
pack_layout_values(hd_dumper *d, PyObject *obj, const hd_layout *l)
{
    for (uint32_t i = 0; i < l->nslots; i++) {
        const hd_slot *s = &l->slots[i];
        PyObject *v = d->scratch_vals[i];
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

void
hd_pack_layout(hd_dumper *d, const hd_layout *l)
{
    /* LAYOUT: [65, type, [names]] */
    msgpack_pack_array(PK(d), 3);
    msgpack_pack_uint8(PK(d), HD_R_LAYOUT);
    hd_walk_value(d, (PyObject *)l->type);
    msgpack_pack_array(PK(d), l->nslots);
    for (uint32_t i = 0; i < l->nslots; i++) {
        const hd_slot *s = &l->slots[i];
        if (s->is_member) {
            hd_pack_cstr(d, ((const PyMemberDef *)s->key)->name);
        }
        else if (PyUnicode_CheckExact((PyObject *)s->key)) {
            hd_pack_str(d, (PyObject *)s->key, -1);
        }
        else {
            hd_walk_value(d, (PyObject *)s->key);
        }
    }
    d->n_records++;
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
                pack_size(d, obj));
}

/* The same for the kinds whose attributes are written in the record
 * (INSTANCE, OPAQUE, EXCEPTION, FUNCTION): their storage is charged to
 * the object. */
static void
pack_obj_header_attrs(hd_dumper *d, int kind, size_t n, PyObject *obj)
{
    pack_header(d, kind, n, (uintptr_t)obj, pack_refcnt(d, obj),
                pack_size(d, obj) + pack_attr_storage(d, obj));
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
    hd_layout *l = hd_walk_layout(d, obj, Py_TYPE(obj));
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
        pack_layout_values(d, obj, l);
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
                    fo ? pack_refcnt(d, fo) : 0, fo ? pack_size(d, fo) : 0);
        for (int i = 0; i < 7; i++) {
            msgpack_pack_nil(PK(d));
        }
        msgpack_pack_array(PK(d), 0);
        return;
    }
    d->n_frames++;
    if (fo != NULL) {
        pack_header(d, HD_K_FRAME, 8, (uintptr_t)fo, pack_refcnt(d, fo),
                    pack_size(d, fo));
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
                pack_redacted_int(d, HD_WHY_NAME);
            }
            else {
                hd_pack_int64(d, iv);
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
    pack_name(d, co->co_name);
    pack_name(d, hd_pyversion_code_qualname(co));
    pack_name(d, co->co_filename);
    msgpack_pack_int(PK(d), co->co_firstlineno);
    msgpack_pack_int(PK(d), co->co_argcount);
    msgpack_pack_int(PK(d), co->co_posonlyargcount);
    msgpack_pack_int(PK(d), co->co_kwonlyargcount);
    msgpack_pack_int(PK(d), co->co_flags);
    Py_ssize_t n = hd_pyversion_code_nnames(co);
    msgpack_pack_array(PK(d), (size_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        int kind;
        pack_name(d, hd_pyversion_code_name_at(co, i, &kind));
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
pack_attrs(hd_dumper *d, PyObject *obj, const hd_layout *l)
{
    if (l == NULL) {
        msgpack_pack_nil(PK(d));
        msgpack_pack_array(PK(d), 0);
        return;
    }
    msgpack_pack_uint32(PK(d), l->number);
    msgpack_pack_array(PK(d), l->nslots);
    pack_layout_values(d, obj, l);
}

/* INSTANCE: [16, addr, rc, size, layout, v...], or with no attributes
 * [16, addr, rc, size, nil, type] */
static void
pack_instance(hd_dumper *d, PyObject *obj)
{
    hd_layout *l = hd_walk_layout(d, obj, Py_TYPE(obj));
    if (l == NULL) {
        pack_obj_header_attrs(d, HD_K_INSTANCE, 2, obj);
        msgpack_pack_nil(PK(d));
        hd_walk_value(d, (PyObject *)Py_TYPE(obj));
        return;
    }
    pack_obj_header_attrs(d, HD_K_INSTANCE, 1 + l->nslots, obj);
    msgpack_pack_uint32(PK(d), l->number);
    pack_layout_values(d, obj, l);
}

static int
pack_collect_ref(PyObject *o, void *arg)
{
    hd_dumper *d = arg;
    if (o == NULL) {
        return 0;
    }
    if (d->nrefs == d->refs_cap) {
        size_t cap = d->refs_cap ? d->refs_cap * 2 : 64;
        PyObject **r = realloc(d->refs, cap * sizeof(PyObject *));
        if (r == NULL) {
            return -1;
        }
        d->refs = r;
        d->refs_cap = cap;
    }
    d->refs[d->nrefs++] = o;
    return 0;
}

/* OPAQUE: [17, addr, rc, size, type, layout, [values], [referents]] */
static void
pack_opaque(hd_dumper *d, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    hd_layout *l = hd_walk_layout(d, obj, tp);
    /* referents as gc.get_referents sees them, less the type and the
     * instance dict (already written as attributes) */
    d->nrefs = 0;
    if (PyType_IS_GC(tp) && tp->tp_traverse != NULL) {
        tp->tp_traverse(obj, pack_collect_ref, d);
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
            drop = d->scratch_vals[j] == r;
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
    pack_attrs(d, obj, l);
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
    hd_layout *l = hd_walk_layout(d, obj, Py_TYPE(obj));
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
    pack_attrs(d, obj, l);
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
        pack_name(d, ((PyHeapTypeObject *)tp)->ht_name);
    }
    else {
        pack_type_module_qualname(d, tp, 0);
    }
    pack_type_module_qualname(d, tp, 0);
    pack_type_module_qualname(d, tp, 1);
    hd_walk_value(d, (PyObject *)Py_TYPE(obj));
    PyObject *bases = tp->tp_bases;
    Py_ssize_t nb =
        bases && PyTuple_Check(bases) ? PyTuple_GET_SIZE(bases) : 0;
    msgpack_pack_array(PK(d), (size_t)nb);
    for (Py_ssize_t i = 0; i < nb; i++) {
        hd_walk_value(d, PyTuple_GET_ITEM(bases, i));
    }
    /* base_kind: how instances of the type are written */
    int base_kind = pack_kind_of_type(tp);
    msgpack_pack_int(PK(d), base_kind);
    int flags = heap ? HD_TF_HEAPTYPE : 0;
    if (tp->tp_flags & Py_TPFLAGS_IS_ABSTRACT) {
        flags |= HD_TF_ABSTRACT;
    }
    msgpack_pack_int(PK(d), flags);
    if (firstlineno && PyLong_CheckExact(firstlineno)) {
        hd_pack_int(d, firstlineno);
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
                    hd_pack_str(d, k, -1);
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
    hd_layout *l = hd_walk_layout(d, obj, Py_TYPE(obj));
    pack_obj_header_attrs(d, HD_K_FUNCTION, 9, obj);
    pack_name(d, fn->func_name);
    pack_name(d, fn->func_qualname);
    pack_name(d, fn->func_module);
    hd_walk_value(d, fn->func_code);
    hd_walk_value(d, fn->func_defaults ? fn->func_defaults : Py_None);
    hd_walk_value(d, fn->func_kwdefaults ? fn->func_kwdefaults : Py_None);
    hd_walk_value(d, fn->func_closure ? fn->func_closure : Py_None);
    pack_attrs(d, obj, l);
}

/* CFUNCTION: [20, addr, rc, size, name, qualname, module, self] */
static void
pack_cfunction(hd_dumper *d, PyObject *obj)
{
    PyCFunctionObject *cf = (PyCFunctionObject *)obj;
    const char *name = cf->m_ml && cf->m_ml->ml_name ? cf->m_ml->ml_name : "?";
    PyObject *self = cf->m_self;
    pack_obj_header(d, HD_K_CFUNCTION, 4, obj);
    hd_pack_cstr(d, name);
    if (self != NULL && !PyModule_Check(self)) {
        char buf[256];
        const char *tn = PyType_Check(self) ? ((PyTypeObject *)self)->tp_name
                                            : Py_TYPE(self)->tp_name;
        const char *dot = strrchr(tn, '.');
        snprintf(buf, sizeof(buf), "%s.%s", dot ? dot + 1 : tn, name);
        hd_pack_cstr(d, buf);
    }
    else {
        hd_pack_cstr(d, name);
    }
    pack_name(d, cf->m_module);
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
    pack_name(d, name);
    pack_name(d, file);
    /* the globals, in heap scope only: a frames-scope dump reaches the
     * modules its frames use, not all they hold */
    hd_walk_value(d,
                  dict != NULL && d->scope == HD_SCOPE_HEAP ? dict : Py_None);
}

/* GENERATOR: [27, addr, rc, size, type, flavor, name, qualname, frame,
 * state] */
static void
pack_generator(hd_dumper *d, PyObject *obj)
{
    PyObject *name, *qualname;
    const char *state = "closed";
    hd_frame *f = hd_pyversion_gen_frame(obj, &state);
    const char *flavor = PyCoro_CheckExact(obj)       ? "coroutine"
                         : PyAsyncGen_CheckExact(obj) ? "async_generator"
                                                      : "generator";
    pack_obj_header(d, HD_K_GENERATOR, 6, obj);
    hd_walk_value(d, (PyObject *)Py_TYPE(obj));
    hd_pack_cstr(d, flavor);
    hd_pyversion_gen_names(obj, &name, &qualname);
    pack_name(d, name);
    pack_name(d, qualname);
    hd_pack_frame_ref(d, f);
    hd_pack_cstr(d, state);
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

void
hd_pack_record(hd_dumper *d, void *entry)
{
    memset(d->inline_bytes, 0, sizeof(d->inline_bytes));
    pack_record_body(d, entry);
    pack_inline_sizes(d);
}

static void
pack_record_body(hd_dumper *d, void *entry)
{
    if ((uintptr_t)entry & HD_TAG_FRAME) {
        pack_frame(d, entry);
        return;
    }
    PyObject *obj = entry;
    int kind = hd_pack_kind_of(d, obj);
    if (hd_pack_kind_is_subclass(obj, kind)) {
        pack_class(d, obj);
    }
    switch (kind) {
    case HD_K_INT: /* INT: [1, addr, rc, size, v] */
        pack_obj_header(d, kind, 1, obj);
        hd_pack_int(d, obj);
        break;
    case HD_K_FLOAT: /* FLOAT: [2, addr, rc, size, f64] */
        pack_obj_header(d, kind, 1, obj);
        hd_pack_double(d, PyFloat_AS_DOUBLE(obj));
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
        hd_pack_str(d, obj, max);
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
        hd_pack_cstr(d, obj == Py_Ellipsis ? "Ellipsis" : "NotImplemented");
        break;
    case HD_K_TYPE: pack_type(d, obj); break;
    case HD_K_INSTANCE: pack_instance(d, obj); break;
    case HD_K_OPAQUE: pack_opaque(d, obj); break;
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

/* ---------------------------------------------------------- plain data */

void
hd_pack_plain(hd_dumper *d, PyObject *obj, int depth)
{
    if (depth > 8 || obj == NULL || obj == Py_None) {
        msgpack_pack_nil(PK(d));
    }
    else if (obj == Py_True || obj == Py_False) {
        if (obj == Py_True) {
            msgpack_pack_true(PK(d));
        }
        else {
            msgpack_pack_false(PK(d));
        }
    }
    else if (PyLong_CheckExact(obj)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow) {
            msgpack_pack_nil(PK(d));
        }
        else {
            msgpack_pack_int64(PK(d), v);
        }
    }
    else if (PyFloat_CheckExact(obj)) {
        msgpack_pack_double(PK(d), PyFloat_AS_DOUBLE(obj));
    }
    else if (PyUnicode_CheckExact(obj)) {
        hd_pack_str(d, obj, -1);
    }
    else if (PyBytes_CheckExact(obj)) {
        msgpack_pack_bin_with_body(PK(d), PyBytes_AS_STRING(obj),
                                   (size_t)PyBytes_GET_SIZE(obj));
    }
    else if (PyList_CheckExact(obj) || PyTuple_CheckExact(obj)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
        PyObject **items = PySequence_Fast_ITEMS(obj);
        msgpack_pack_array(PK(d), (size_t)n);
        for (Py_ssize_t i = 0; i < n; i++) {
            hd_pack_plain(d, items[i], depth + 1);
        }
    }
    else if (PyDict_CheckExact(obj)) {
        msgpack_pack_map(PK(d), (size_t)PyDict_GET_SIZE(obj));
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            hd_pack_plain(d, k, depth + 1);
            hd_pack_plain(d, v, depth + 1);
        }
    }
    else {
        msgpack_pack_nil(PK(d));
    }
}

/* ------------------------------------------------------------- sources */

/* The text of a source file, read with open(2)/read(2) (no Python file
 * object: those release the GIL).  Returns a malloc'd buffer or NULL with
 * *why set. */
static char *
pack_read_file(const char *path, Py_ssize_t max, size_t *len, const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        close(fd);
        return NULL;
    }
    if (max >= 0 && st.st_size > max) {
        *why = "larger than the source limit";
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    size_t got = 0;
    while (buf && got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL) {
        *why = "out of memory";
        return NULL;
    }
    *len = got;
    return buf;
}

/* A file name as the bytes to open(2): UTF-8, with lone surrogates (from
 * undecodable bytes, PEP 383) turned back into the bytes they stand for.
 * No Python object is made (the signal modes read sources too).  Returns
 * 0 when it does not fit. */
static int
pack_fs_name(PyObject *name, char *out, size_t cap)
{
    int kind = PyUnicode_KIND(name);
    const void *data = PyUnicode_DATA(name);
    size_t len = 0;
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(name); i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (len + 5 >= cap) {
            return 0;
        }
        if (c >= 0xdc80 && c <= 0xdcff) {
            out[len++] = (char)(c - 0xdc00);
        }
        else if (c < 0x80) {
            out[len++] = (char)c;
        }
        else if (c < 0x800) {
            out[len++] = (char)(0xc0 | (c >> 6));
            out[len++] = (char)(0x80 | (c & 0x3f));
        }
        else if (c < 0x10000) {
            out[len++] = (char)(0xe0 | (c >> 12));
            out[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[len++] = (char)(0x80 | (c & 0x3f));
        }
        else {
            out[len++] = (char)(0xf0 | (c >> 18));
            out[len++] = (char)(0x80 | ((c >> 12) & 0x3f));
            out[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[len++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[len] = '\0';
    return 1;
}

void
hd_pack_sources(hd_dumper *d, Py_ssize_t max_bytes, PyObject *exc)
{
    /* SOURCE: [70, filename, text, error, [redactions]] */
    char path[4096];
    for (size_t i = 0; i < d->nfiles; i++) {
        PyObject *name = d->files[i];
        const char *why = NULL;
        char *text = NULL;
        size_t len = 0;
        if (hd_frozen_path(d, exc, name, path, sizeof(path))) {
            /* a frozen module's: the file it was frozen from (frozen.c) */
            text = pack_read_file(path, max_bytes, &len, &why);
        }
        else if (PyUnicode_GET_LENGTH(name) > 0 &&
                 PyUnicode_READ_CHAR(name, 0) == '<') {
            why = "not a file";
        }
        else if (!pack_fs_name(name, path, sizeof(path))) {
            why = "unencodable file name";
        }
        else {
            text = pack_read_file(path, max_bytes, &len, &why);
        }
        /* secret literals and hidden values masked (srcmask.c): the
         * text is not written when that cannot be done (out of memory, a
         * hostile text the rules would read too long) */
        hd_srcmask masks = {NULL, 0, 0};
        if (text != NULL &&
            hd_srcmask_run(&d->redact, d->hide, text, &len, &masks) < 0) {
            free(text);
            text = NULL;
            why = "its secrets could not be masked";
        }
        msgpack_pack_array(PK(d), 5);
        msgpack_pack_uint8(PK(d), HD_R_SOURCE);
        hd_pack_str(d, name, -1);
        if (text != NULL) {
            msgpack_pack_bin_with_body(PK(d), text, len);
            msgpack_pack_nil(PK(d));
        }
        else {
            msgpack_pack_nil(PK(d));
            hd_pack_cstr(d, why ? why : "unreadable");
        }
        /* the masked pieces: [[line, col, end_line, end_col, why]...] */
        msgpack_pack_array(PK(d), masks.n);
        for (size_t k = 0; k < masks.n; k++) {
            const struct hd_srcmask_piece *m = &masks.pieces[k];
            msgpack_pack_array(PK(d), 5);
            msgpack_pack_int32(PK(d), m->line);
            msgpack_pack_int32(PK(d), m->col);
            msgpack_pack_int32(PK(d), m->end_line);
            msgpack_pack_int32(PK(d), m->end_col);
            hd_pack_cstr(d, hd_format_why_name(m->why));
        }
        d->n_source_redacted += masks.n;
        hd_srcmask_free(&masks);
        free(text);
        d->n_records++;
    }
}
