/* natives_future.c: asyncio's C Future (_asyncio.Future) as a NATIVE
 * record (natives.h).  Its fields are read by the type's own C functions
 * (pyversion/asyncio.c): done() and cancelled() give its state, the
 * getters its result, exception, loop and cancel message.
 *
 * State (docs/format.rst, "Native kinds"):
 *   FUTURE  [state, result, exception, loop, cancel_msg, refs...]: state
 *           "pending", "cancelled" or "finished"; the four values nil
 *           when unset; refs the other objects the future references
 *           (its callbacks and their contexts, a source traceback: what
 *           tp_traverse visits besides the type, the instance dict and
 *           the four), unnamed, so that what it holds stays in the heap.
 *
 * Not in a fatal dump: done() raises (makes an exception object) on a
 * future whose __init__ never ran.
 */
#include "natives.h"
#include "pyversion/asyncio.h"

#define PK(d) (&(d)->pk)

/* Blank from d->refs[0, n) the first occurrence of each named field,
 * the type and the instance dict; returns how many are left. */
static size_t
future_other_refs(hd_dumper *d, PyObject *obj, const hd_future_fields *f,
                  size_t n)
{
    PyObject *named[] = {(PyObject *)Py_TYPE(obj),
                         f->result,
                         f->exception,
                         f->loop,
                         f->cancel_msg,
                         hd_pyversion_dict_object(obj)};
    size_t left = n;
    for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
        for (size_t i = 0; named[k] != NULL && i < n; i++) {
            if (d->refs[i] == named[k]) {
                d->refs[i] = NULL;
                left--;
                break;
            }
        }
    }
    return left;
}

int
hd_natives_future_state(hd_dumper *d, PyTypeObject *base, PyObject *obj,
                        int write)
{
    hd_future_fields f;
    if (d->fatal || hd_pyversion_future_fields(obj, base, &f) < 0) {
        return -1;
    }
    if (!write) {
        hd_pyversion_future_fields_clear(&f);
        return 0;
    }
    d->nrefs = 0;
    if (base->tp_traverse != NULL) {
        base->tp_traverse(obj, hd_walk_collect_ref, d);
    }
    size_t n = d->nrefs;
    if (d->limits.max_items >= 0 && n > (size_t)d->limits.max_items) {
        n = (size_t)d->limits.max_items;
    }
    if (n > HD_MAX_RECORD_ITEMS - 5) {
        n = HD_MAX_RECORD_ITEMS - 5;
    }
    size_t left = future_other_refs(d, obj, &f, n);
    msgpack_pack_array(PK(d), 5 + left);
    hd_encode_cstr(d, f.state);
    PyObject *vals[] = {f.result, f.exception, f.loop, f.cancel_msg};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        if (vals[i] != NULL) {
            hd_walk_value(d, vals[i]);
        }
        else {
            msgpack_pack_nil(PK(d));
        }
    }
    /* walking the values above queued them; d->refs is unchanged (a
     * value is written as a reference or inline, never traversed here) */
    for (size_t i = 0; i < n; i++) {
        if (d->refs[i] != NULL) {
            hd_walk_value(d, d->refs[i]);
        }
    }
    hd_pyversion_future_fields_clear(&f);
    return 0;
}
