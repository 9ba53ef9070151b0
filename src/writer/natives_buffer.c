/* natives_buffer.c: memoryview and the C buffer exporters (ctypes
 * arrays and structures, mmap.mmap, numpy.ndarray, pickle.PickleBuffer)
 * as NATIVE records (natives.h).
 *
 *   MEMORYVIEW  [format, itemsize, readonly, nbytes, data, obj, ndim,
 *               shape..., strides...]: the view's Py_buffer, read
 *               through PyMemoryView_GET_BUFFER (no call); obj the
 *               exporter
 *   BUFFER      the same, obj nil: the buffer the exporter's own C
 *               bf_getbuffer gives for PyBUF_RECORDS_RO, released right
 *               after
 *
 * data is the bytes of the items in C order (a strided view is read
 * item by item; a view without strides is C-contiguous, and its strides
 * are written as such), cut at max_string bytes on an item boundary (a CUT
 * with the original nbytes before the record).  A view with suboffsets, more
 * than 64 dimensions, or items of format 'O' (object pointers: numpy's
 * object arrays) is not written (the object stays opaque).
 *
 * Which exporters: the C types named in natives_types.c's
 * natives_exporters, found by tp_name at the end of the chain of Python
 * classes over them.  Their
 * bf_getbuffer/bf_releasebuffer are C functions that run no Python code
 * and are called directly from that C type (never through the object's
 * own type, whose slots a Python class with __buffer__ or
 * __release_buffer__ would have replaced).  Other C exporters stay
 * opaque: a C type's getbuffer may be compiled user code (a Cython
 * class's __getbuffer__).  Not in a fatal dump.
 */
#include "natives.h"

#include <string.h>

#define PK(d) (&(d)->pk)

/* Whether the view can be written: its shape, strides and format read. */
static int
buffer_view_ok(const Py_buffer *v)
{
    if (v->itemsize < 1 || v->len < 0 || v->ndim < 0 || v->ndim > 64 ||
        v->suboffsets != NULL || (v->buf == NULL && v->len > 0) ||
        (v->ndim > 0 && v->shape == NULL)) {
        return 0;
    }
    if (v->format != NULL && strchr(v->format, 'O') != NULL) {
        return 0; /* object pointers: addresses, not values */
    }
    Py_ssize_t n = 1;
    for (int i = 0; i < v->ndim; i++) {
        if (v->shape[i] < 0) {
            return 0;
        }
        n *= v->shape[i];
    }
    return n * v->itemsize == v->len;
}

/* The bytes of the items written: all, or max_string's worth of whole
 * items. */
static Py_ssize_t
buffer_keep(hd_dumper *d, const Py_buffer *v)
{
    Py_ssize_t keep = v->len;
    if (d->limits.max_string >= 0 && keep > d->limits.max_string) {
        keep = d->limits.max_string / v->itemsize * v->itemsize;
    }
    return keep;
}

/* The first keep bytes of the items in C order, as the body of a bin
 * already begun: one piece when C-contiguous, else item by item. */
static void
buffer_data(hd_dumper *d, const Py_buffer *v, Py_ssize_t keep)
{
    if (v->ndim == 0 || v->strides == NULL || PyBuffer_IsContiguous(v, 'C')) {
        msgpack_pack_bin_body(PK(d), v->buf, (size_t)keep);
        return;
    }
    Py_ssize_t idx[64] = {0};
    for (Py_ssize_t done = 0; done < keep; done += v->itemsize) {
        const char *p = v->buf;
        for (int i = 0; i < v->ndim; i++) {
            p += idx[i] * v->strides[i];
        }
        msgpack_pack_bin_body(PK(d), p, (size_t)v->itemsize);
        for (int i = v->ndim - 1; i >= 0; i--) {
            if (++idx[i] < v->shape[i]) {
                break;
            }
            idx[i] = 0;
        }
    }
}

static void
buffer_ints(hd_dumper *d, int n, const Py_ssize_t *a)
{
    for (int i = 0; i < n; i++) {
        hd_encode_int64(d, a[i]);
    }
}

/* The record's values (natives.h's write steps 1 and 2): the state
 * array, obj (the memoryview's exporter, nil for BUFFER) in its place. */
static Py_ssize_t
buffer_write(hd_dumper *d, const Py_buffer *v, int write, PyObject *obj)
{
    Py_ssize_t keep = buffer_keep(d, v);
    if (write == 2) {
        return keep < v->len ? v->len : 0;
    }
    msgpack_pack_array(PK(d), 7 + 2 * (size_t)v->ndim);
    const char *fmt = v->format != NULL ? v->format : "B";
    msgpack_pack_str_with_body(PK(d), fmt, strlen(fmt));
    hd_encode_int64(d, v->itemsize);
    if (v->readonly) {
        msgpack_pack_true(PK(d));
    }
    else {
        msgpack_pack_false(PK(d));
    }
    hd_encode_int64(d, v->len);
    msgpack_pack_bin(PK(d), (size_t)keep);
    buffer_data(d, v, keep);
    if (obj != NULL) {
        hd_walk_value(d, obj);
    }
    else {
        msgpack_pack_nil(PK(d));
    }
    hd_encode_int64(d, v->ndim);
    buffer_ints(d, v->ndim, v->shape);
    if (v->strides != NULL) {
        buffer_ints(d, v->ndim, v->strides);
        return 0;
    }
    /* none given (ctypes): C-contiguous, as the protocol says */
    Py_ssize_t stride = v->itemsize, strides[64];
    for (int i = v->ndim - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= v->shape[i];
    }
    buffer_ints(d, v->ndim, strides);
    return 0;
}

static Py_ssize_t
buffer_memoryview(hd_dumper *d, PyObject *obj, int write)
{
    if (!PyMemoryView_Check(obj) ||
        (((PyMemoryViewObject *)obj)->flags & _Py_MEMORYVIEW_RELEASED)) {
        return -1; /* released: its buffer is gone */
    }
    const Py_buffer *v = PyMemoryView_GET_BUFFER(obj);
    if (!buffer_view_ok(v)) {
        return -1;
    }
    return write != 0
               ? buffer_write(d, v, write, v->obj != NULL ? v->obj : Py_None)
               : 0;
}

static Py_ssize_t
buffer_exporter(hd_dumper *d, PyObject *obj, int write)
{
    PyTypeObject *base = hd_natives_buffer_exporter(Py_TYPE(obj));
    if (base == NULL || d->fatal) {
        return -1;
    }
    PyBufferProcs *bp = base->tp_as_buffer;
    Py_buffer view;
    memset(&view, 0, sizeof(view));
    if (bp->bf_getbuffer(obj, &view, PyBUF_RECORDS_RO) < 0) {
        PyErr_Clear(); /* a closed mmap, a request it refuses */
        return -1;
    }
    int ok = buffer_view_ok(&view);
    Py_ssize_t cut = 0;
    if (ok && write != 0) {
        cut = buffer_write(d, &view, write, NULL);
    }
    if (bp->bf_releasebuffer != NULL) {
        bp->bf_releasebuffer(obj, &view);
    }
    /* the view's reference; obj lives on: the dumped program holds it */
    Py_CLEAR(view.obj);
    return ok ? cut : -1;
}

Py_ssize_t
hd_natives_buffer_state(hd_dumper *d, int nk, PyObject *obj, int write)
{
    return nk == HD_NK_MEMORYVIEW ? buffer_memoryview(d, obj, write)
                                  : buffer_exporter(d, obj, write);
}
