/* natives_decimal.c: decimal.Decimal (the C _decimal) as a NATIVE record
 * (natives.h), exact: read from the libmpdec number inside the object.
 *
 * _decimal's PyDecObject is {PyObject_HEAD; Py_hash_t hash; mpd_t dec;
 * mpd_uint_t data[4]}, and libmpdec's documented mpd_t (mpdecimal.h) is
 * {uint8_t flags; mpd_ssize_t exp, digits, len, alloc; mpd_uint_t
 * *data}, the coefficient in base 10**19 words, least significant first
 * (64-bit builds).  The mirror below is checked against the type's
 * tp_basicsize and name; any other layout (a 32-bit build, a future
 * change) leaves the Decimal opaque.
 *
 * State: [sign, digits, exponent]: sign 0 or 1, digits the coefficient
 * as a str of decimal digits ("" for infinity), exponent an int, or
 * "n" (NaN), "N" (sNaN), "F" (infinity), the letters Decimal's own
 * as_tuple() uses; the NaNs' digits are their payload.
 */
#include "natives.h"

#include <string.h>

#define PK(d) (&(d)->pk)

#define DEC_NEG 1
#define DEC_INF 2
#define DEC_NAN 4
#define DEC_SNAN 8
#define DEC_RDIGITS 19
#define DEC_RADIX UINT64_C(10000000000000000000)

typedef struct {
    uint8_t flags;
    Py_ssize_t exp;
    Py_ssize_t digits;
    Py_ssize_t len;
    Py_ssize_t alloc;
    uint64_t *data;
} decimal_mpd;

typedef struct {
    PyObject_HEAD Py_hash_t hash;
    decimal_mpd dec;
    uint64_t data[4];
} decimal_object;

/* The number of obj when it reads as one, else NULL. */
static const decimal_mpd *
decimal_number(PyObject *obj, PyTypeObject *base)
{
    if (sizeof(void *) != 8 || base == NULL ||
        base->tp_basicsize != (Py_ssize_t)sizeof(decimal_object) ||
        strcmp(base->tp_name, "decimal.Decimal") != 0) {
        return NULL;
    }
    const decimal_mpd *m = &((const decimal_object *)obj)->dec;
    if ((m->flags & (DEC_INF | DEC_NAN | DEC_SNAN)) &&
        (m->flags & DEC_INF || m->len < 1 || m->digits < 1)) {
        return m; /* infinity, or a NaN without payload: no digits */
    }
    if (m->data == NULL || m->len < 1 || m->len > m->alloc || m->digits < 1 ||
        m->digits > m->len * DEC_RDIGITS ||
        m->digits <= (m->len - 1) * DEC_RDIGITS) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < m->len; i++) {
        if (m->data[i] >= DEC_RADIX) {
            return NULL;
        }
    }
    return m;
}

/* The registered Decimal type obj derives from. */
static PyTypeObject *
decimal_base(PyObject *obj)
{
    PyTypeObject *want = hd_natives_type(HD_NK_DECIMAL);
    PyTypeObject *tp = Py_TYPE(obj);
    while (tp != NULL && tp != want) {
        tp = tp->tp_base;
    }
    return tp;
}

/* Write the coefficient's digits, most significant first, as a str:
 * len words of up to 19 digits, the top one without leading zeros. */
static void
decimal_digits(hd_dumper *d, const decimal_mpd *m)
{
    msgpack_pack_str(PK(d), (size_t)m->digits);
    char buf[DEC_RDIGITS];
    for (Py_ssize_t i = m->len - 1; i >= 0; i--) {
        uint64_t w = m->data[i];
        for (int j = DEC_RDIGITS - 1; j >= 0; j--) {
            buf[j] = (char)('0' + w % 10);
            w /= 10;
        }
        int skip = 0;
        if (i == m->len - 1) {
            skip = (int)(m->len * DEC_RDIGITS - m->digits);
        }
        msgpack_pack_str_body(PK(d), buf + skip, (size_t)(DEC_RDIGITS - skip));
    }
}

int
hd_natives_decimal_state(hd_dumper *d, PyObject *obj, int write)
{
    const decimal_mpd *m = decimal_number(obj, decimal_base(obj));
    if (m == NULL) {
        return -1;
    }
    Py_ssize_t max = d->limits.max_string;
    if (max >= 0 && m->digits > max) {
        return -1; /* never a shortened number: opaque */
    }
    if (!write) {
        return 0;
    }
    msgpack_pack_array(PK(d), 3);
    hd_encode_int64(d, m->flags & DEC_NEG ? 1 : 0);
    if (m->flags & DEC_INF) {
        msgpack_pack_str_with_body(PK(d), "", 0);
        msgpack_pack_str_with_body(PK(d), "F", 1);
        return 0;
    }
    if (m->len < 1 || m->digits < 1) {
        msgpack_pack_str_with_body(PK(d), "", 0); /* a bare NaN */
    }
    else {
        decimal_digits(d, m);
    }
    if (m->flags & (DEC_NAN | DEC_SNAN)) {
        msgpack_pack_str_with_body(PK(d), m->flags & DEC_SNAN ? "N" : "n", 1);
    }
    else {
        hd_encode_int64(d, (int64_t)m->exp);
    }
    return 0;
}
