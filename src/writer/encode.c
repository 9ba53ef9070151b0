/* encode.c: the scalars and markers of the format (docs/format.rst,
 * "Values"): ints, floats, str as surrogatepass UTF-8, inline values, and
 * the OMITTED and REDACTED markers.  The bottom of the writer's stack with
 * kinds.c: it calls nothing of walk.c or pack.c.
 *
 * Contract: the caller holds the GIL; nothing here runs Python code, and
 * the only Python objects created are those of kinds.c's sizes.
 */
#include "heapdump.h"

#include <math.h>
#include <string.h>

#define PK(d) (&(d)->pk)

void
hd_encode_int64(hd_dumper *d, int64_t v)
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
hd_encode_int(hd_dumper *d, PyObject *v)
{
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (!overflow) {
        hd_encode_int64(d, x);
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
hd_encode_double(hd_dumper *d, double v)
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
hd_encode_cstr(hd_dumper *d, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str_with_body(PK(d), s, n);
}

/* Bytes the UTF-8 (surrogatepass) of code points [start, end) takes. */
static size_t
encode_utf8_size(int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
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
encode_utf8_body(hd_dumper *d, int kind, const void *data, Py_ssize_t start,
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
hd_encode_str(hd_dumper *d, PyObject *s, Py_ssize_t max)
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
    msgpack_pack_str(PK(d), encode_utf8_size(kind, data, 0, n));
    encode_utf8_body(d, kind, data, 0, n);
}

/* A metadata string: a str object written inline, or nil. */
void
hd_encode_name(hd_dumper *d, PyObject *s)
{
    if (s != NULL && PyUnicode_Check(s)) {
        hd_encode_str(d, s, 1024);
    }
    else {
        msgpack_pack_nil(PK(d));
    }
}

void
hd_encode_inline(hd_dumper *d, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    int which;
    if (tp == &PyUnicode_Type) {
        hd_encode_str(d, obj, -1);
        which = HD_INL_STR;
    }
    else if (tp == &PyLong_Type) {
        hd_encode_int(d, obj);
        which = HD_INL_INT;
    }
    else if (tp == &PyFloat_Type) {
        hd_encode_double(d, PyFloat_AS_DOUBLE(obj));
        which = HD_INL_FLOAT;
    }
    else {
        msgpack_pack_bin_with_body(PK(d), PyBytes_AS_STRING(obj),
                                   (size_t)PyBytes_GET_SIZE(obj));
        which = HD_INL_BYTES;
    }
    /* its size goes into the INLINE record after this object record */
    d->inline_bytes[which] += (uint64_t)hd_kinds_size(d, obj);
}

/* The module and qualname of a type, as its __module__ and __qualname__
 * would say, read from the C layout (heap types: ht_module / the type
 * dict's __module__ entry; static types: tp_name). */
void
hd_encode_type_qualname(hd_dumper *d, PyTypeObject *tp, int want_module)
{
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
        if (!want_module) {
            hd_encode_name(d, ht->ht_qualname);
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
        hd_encode_name(d, mod);
        return;
    }
    const char *name = tp->tp_name;
    const char *dot = strrchr(name, '.');
    if (!want_module) {
        hd_encode_cstr(d, dot ? dot + 1 : name);
    }
    else if (dot) {
        msgpack_pack_str_with_body(PK(d), name, (size_t)(dot - name));
    }
    else {
        hd_encode_cstr(d, "builtins");
    }
}

/* A msgpack packer that only counts the bytes it would write: an ext's
 * payload is packed twice, once to learn its length for the ext header,
 * then for real, so that no buffer is allocated (the fatal mode writes
 * markers too). */
static int
encode_count_bytes(void *data, const char *buf, size_t len)
{
    (void)buf;
    *(size_t *)data += len;
    return 0;
}

/* OMITTED / REDACTED payloads begin [module, qualname, size] of obj. */
static void
encode_marker_head(hd_dumper *d, PyObject *obj, size_t n)
{
    msgpack_pack_array(PK(d), n);
    hd_encode_type_qualname(d, Py_TYPE(obj), 1);
    hd_encode_type_qualname(d, Py_TYPE(obj), 0);
    msgpack_pack_int64(PK(d), hd_kinds_size(d, obj));
}

void
hd_encode_omitted(hd_dumper *d, PyObject *obj, int ext)
{
    /* ext 3 OMITTED: [module, qualname, size] of a type, as msgpack, in
     * the ext payload */
    size_t len = 0;
    msgpack_packer saved = d->pk;
    msgpack_packer_init(&d->pk, &len, encode_count_bytes);
    encode_marker_head(d, obj, 3);
    d->pk = saved;
    msgpack_pack_ext(PK(d), len, (int8_t)ext);
    encode_marker_head(d, obj, 3);
}

/* The pieces of a partly hidden value: [kind, length, text, [[start,
 * length, why]...]].  text is what is kept, the pieces between the
 * hidden ones in order, of the first max_string code points (bytes) of
 * the value. */
static void
encode_masked(hd_dumper *d, PyObject *obj, const hd_hide_ranges *r)
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
                total += is_str ? encode_utf8_size(kind, data, at, end)
                                : (size_t)(end - at);
            }
            else if (end > at && is_str) {
                encode_utf8_body(d, kind, data, at, end);
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
        hd_encode_cstr(d, hd_format_why_name(r->r[i].why));
    }
}

static void
encode_redacted_payload(hd_dumper *d, PyObject *obj, int why,
                        const hd_hide_ranges *ranges)
{
    encode_marker_head(d, obj, 5);
    hd_encode_cstr(d, hd_format_why_name(why));
    if (ranges != NULL) {
        encode_masked(d, obj, ranges);
    }
    else {
        msgpack_pack_nil(PK(d));
    }
}

/* REDACTED for an int that is no object (3.14+ keeps some in frame
 * slots, tagged): [builtins, int, 0, why, nil]. */
static void
encode_redacted_int_payload(hd_dumper *d, int why)
{
    msgpack_pack_array(PK(d), 5);
    hd_encode_cstr(d, "builtins");
    hd_encode_cstr(d, "int");
    msgpack_pack_int64(PK(d), 0);
    hd_encode_cstr(d, hd_format_why_name(why));
    msgpack_pack_nil(PK(d));
}

void
hd_encode_redacted_int(hd_dumper *d, int why)
{
    size_t len = 0;
    msgpack_packer saved = d->pk;
    msgpack_packer_init(&d->pk, &len, encode_count_bytes);
    encode_redacted_int_payload(d, why);
    d->pk = saved;
    msgpack_pack_ext(PK(d), len, HD_EXT_REDACTED);
    encode_redacted_int_payload(d, why);
    d->n_redacted++;
}

void
hd_encode_redacted(hd_dumper *d, PyObject *obj, int why,
                   const hd_hide_ranges *ranges)
{
    /* ext 4 REDACTED: [module, qualname, size, why, pieces] */
    size_t len = 0;
    msgpack_packer saved = d->pk;
    msgpack_packer_init(&d->pk, &len, encode_count_bytes);
    encode_redacted_payload(d, obj, why, ranges);
    d->pk = saved;
    msgpack_pack_ext(PK(d), len, HD_EXT_REDACTED);
    encode_redacted_payload(d, obj, why, ranges);
    if (ranges != NULL && d->limits.max_string >= 0) {
        Py_ssize_t n = PyUnicode_Check(obj) ? PyUnicode_GET_LENGTH(obj)
                       : PyBytes_Check(obj) ? PyBytes_GET_SIZE(obj)
                                            : PyByteArray_GET_SIZE(obj);
        d->n_cuts += n > d->limits.max_string;
    }
}

/* ---------------------------------------------------------- plain data */

void
hd_encode_plain(hd_dumper *d, PyObject *obj, int depth)
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
        hd_encode_str(d, obj, -1);
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
            hd_encode_plain(d, items[i], depth + 1);
        }
    }
    else if (PyDict_CheckExact(obj)) {
        msgpack_pack_map(PK(d), (size_t)PyDict_GET_SIZE(obj));
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            hd_encode_plain(d, k, depth + 1);
            hd_encode_plain(d, v, depth + 1);
        }
    }
    else {
        msgpack_pack_nil(PK(d));
    }
}
