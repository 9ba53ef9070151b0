/* natives_seq.c: collections.deque and array.array as NATIVE records
 * (natives.h).
 *
 *   DEQUE  [maxlen, v...]: maxlen nil when unbounded (stdlib.c reads it),
 *          then the items in order: what deque's tp_traverse visits, less
 *          the type that a heap type's traverse visits first
 *   ARRAY  [typecode, itemsize, big_endian, items]: items the raw bytes
 *          of the items, in the dumping machine's byte order, read
 *          through the buffer protocol of array.array itself (its C
 *          bf_getbuffer, never a subclass's __buffer__)
 *
 * Both are cut at max_items (the array's bytes also at max_string): a
 * CUT record with the original number of items comes before.
 */
#include "natives.h"

#include "pyversion/stdlib.h"

#include <stdlib.h>
#include <string.h>

#define PK(d) (&(d)->pk)

/* The deque's items into d->refs[*first, *first + Py_SIZE): 0, or -1
 * when its traverse does not give them. */
static int
seq_deque_items(hd_dumper *d, PyTypeObject *base, PyObject *dq, size_t *first)
{
    Py_ssize_t n = Py_SIZE(dq);
    d->nrefs = 0;
    if (base->tp_traverse == NULL ||
        base->tp_traverse(dq, hd_walk_collect_ref, d) != 0) {
        return -1;
    }
    /* 3.12+: a heap type's traverse visits the type first */
    *first = d->nrefs == (size_t)n + 1 && d->refs[0] == (PyObject *)Py_TYPE(dq)
                 ? 1
                 : 0;
    return d->nrefs - *first == (size_t)n ? 0 : -1;
}

/* The items of a container of n written: max_items (and, for the
 * array, max_string bytes of itemsize each); one record holds at most
 * HD_MAX_RECORD_ITEMS values. */
static Py_ssize_t
seq_limit(hd_dumper *d, Py_ssize_t n, Py_ssize_t itemsize)
{
    Py_ssize_t keep = n;
    if (d->limits.max_items >= 0 && keep > d->limits.max_items) {
        keep = d->limits.max_items;
    }
    if (itemsize > 0 && d->limits.max_string >= 0 &&
        keep > d->limits.max_string / itemsize) {
        keep = d->limits.max_string / itemsize;
    }
    if (itemsize == 0 && keep > HD_MAX_RECORD_ITEMS - 1) {
        keep = HD_MAX_RECORD_ITEMS - 1;
    }
    return keep;
}

static int
seq_deque(hd_dumper *d, PyTypeObject *base, PyObject *dq, int write)
{
    Py_ssize_t maxlen;
    size_t first;
    if (hd_stdlib_deque_maxlen(dq, &maxlen) < 0) {
        return -1;
    }
    Py_ssize_t n = Py_SIZE(dq), keep = seq_limit(d, n, 0);
    if (write == 2) {
        return keep < n ? (int)n : 0;
    }
    /* the items again when writing: the layout written in between may
     * have used d->refs (nothing else changed: the world stands still) */
    if (seq_deque_items(d, base, dq, &first) < 0) {
        return -1;
    }
    if (write == 0) {
        return 0;
    }
    msgpack_pack_array(PK(d), 1 + (size_t)keep);
    if (maxlen < 0) {
        msgpack_pack_nil(PK(d));
    }
    else {
        hd_encode_int64(d, maxlen);
    }
    /* d->refs is not touched by writing values */
    for (Py_ssize_t i = 0; i < keep; i++) {
        hd_walk_value(d, d->refs[first + (size_t)i]);
    }
    return 0;
}

/* The array's buffer, through array.array's own bf_getbuffer: 0, or -1
 * (nothing held).  Release it with seq_array_release. */
static int
seq_array_view(PyTypeObject *base, PyObject *arr, Py_buffer *view)
{
    PyBufferProcs *bp = base->tp_as_buffer;
    if (bp == NULL || bp->bf_getbuffer == NULL) {
        return -1;
    }
    memset(view, 0, sizeof(*view));
    if (bp->bf_getbuffer(arr, view, PyBUF_FORMAT | PyBUF_ND) < 0) {
        PyErr_Clear(); /* array's raises only on a bad request */
        return -1;
    }
    if (view->format == NULL || strlen(view->format) != 1 ||
        view->itemsize < 1 || view->len < 0 || view->len % view->itemsize) {
        if (bp->bf_releasebuffer != NULL) {
            bp->bf_releasebuffer(arr, view);
        }
        Py_CLEAR(view->obj);
        return -1;
    }
    return 0;
}

static void
seq_array_release(PyTypeObject *base, PyObject *arr, Py_buffer *view)
{
    if (base->tp_as_buffer->bf_releasebuffer != NULL) {
        base->tp_as_buffer->bf_releasebuffer(arr, view);
    }
    /* the view's reference (array's getbuffer takes one); the array
     * lives on: the dumped program holds it */
    Py_CLEAR(view->obj);
}

static int
seq_array(hd_dumper *d, PyTypeObject *base, PyObject *arr, int write)
{
    Py_buffer view;
    if (seq_array_view(base, arr, &view) < 0) {
        return -1;
    }
    char typecode = hd_stdlib_array_typecode(arr, view.itemsize);
    if (typecode == 0) {
        seq_array_release(base, arr, &view);
        return -1;
    }
    Py_ssize_t n = view.len / view.itemsize;
    Py_ssize_t keep = seq_limit(d, n, view.itemsize);
    int r = 0;
    if (write == 2 && keep < n) {
        r = (int)n; /* the caller writes the CUT */
    }
    else if (write == 1) {
        msgpack_pack_array(PK(d), 4);
        msgpack_pack_str_with_body(PK(d), &typecode, 1);
        hd_encode_int64(d, view.itemsize);
#if PY_BIG_ENDIAN
        msgpack_pack_true(PK(d));
#else
        msgpack_pack_false(PK(d));
#endif
        msgpack_pack_bin_with_body(PK(d), view.buf,
                                   (size_t)(keep * view.itemsize));
    }
    seq_array_release(base, arr, &view);
    return r;
}

int
hd_natives_seq_state(hd_dumper *d, int nk, PyTypeObject *base, PyObject *obj,
                     int write)
{
    if (base == NULL) {
        return -1;
    }
    return nk == HD_NK_DEQUE ? seq_deque(d, base, obj, write)
                             : seq_array(d, base, obj, write);
}
