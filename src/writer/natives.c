/* natives.c: the NATIVE record (natives.h), made of pack.c's pieces and
 * the families' states.
 */
#include "natives.h"

/* The native base type of obj (the registered type it derives from). */
static PyTypeObject *
natives_base(PyTypeObject *tp, int nk)
{
    while (tp != NULL && tp != hd_natives_type(nk)) {
        tp = tp->tp_base;
    }
    return tp;
}

/* The families' state steps (natives.h); write 2: what goes before the
 * record (a CUT), for the kinds that may be cut. */
static Py_ssize_t
natives_state(hd_dumper *d, int nk, PyObject *obj, int write)
{
    if (write == 2 && nk != HD_NK_DEQUE && nk != HD_NK_ARRAY &&
        nk != HD_NK_MEMORYVIEW && nk != HD_NK_BUFFER) {
        return 0;
    }
    switch (nk) {
    case HD_NK_DATETIME:
    case HD_NK_DATE:
    case HD_NK_TIME:
    case HD_NK_TIMEDELTA:
    case HD_NK_TIMEZONE:
    case HD_NK_ZONEINFO:
    case HD_NK_TZINFO: return hd_natives_datetime_state(d, nk, obj, write);
    case HD_NK_DECIMAL: return hd_natives_decimal_state(d, obj, write);
    case HD_NK_PATTERN: return hd_natives_pattern_state(d, obj, write);
    case HD_NK_MATCH: return hd_natives_match_state(d, obj, write);
    case HD_NK_FUTURE:
        return hd_natives_future_state(d, natives_base(Py_TYPE(obj), nk), obj,
                                       write);
    case HD_NK_DEQUE:
    case HD_NK_ARRAY:
        return hd_natives_seq_state(d, nk, natives_base(Py_TYPE(obj), nk), obj,
                                    write);
    case HD_NK_LOCK:
    case HD_NK_RLOCK:
        return hd_natives_lock_state(d, nk, natives_base(Py_TYPE(obj), nk),
                                     obj, write);
    case HD_NK_MEMORYVIEW:
    case HD_NK_BUFFER: return hd_natives_buffer_state(d, nk, obj, write);
    default: return -1;
    }
}

/* NATIVE: [30, addr, rc, size, type, native, [state...], layout,
 * [attribute values]] */
int
hd_natives_pack(hd_dumper *d, PyObject *obj, const hd_pack_pieces *p)
{
    PyTypeObject *tp = Py_TYPE(obj);
    int nk = hd_natives_kind_of_type(tp);
    if (nk == 0 || natives_state(d, nk, obj, 0) < 0) {
        return -1;
    }
    PyObject *const *vals;
    hd_layout *l = p->layout_of(d, obj, tp, &vals);
    Py_ssize_t cut = natives_state(d, nk, obj, 2);
    if (cut > 0) {
        p->cut(d, cut);
    }
    p->pack_header_attrs(d, HD_K_NATIVE, 5, obj);
    hd_walk_value(d, (PyObject *)tp);
    msgpack_pack_int(&d->pk, nk);
    natives_state(d, nk, obj, 1);
    p->attrs(d, obj, l, vals);
    return 0;
}
