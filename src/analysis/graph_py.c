/* graph_py.c: the helpers the files of heapdump._heapdump.Graph share
 * (graph_py.h): its errors, its argument checks, and plain msgpack data
 * (META, TRAILER, fetched fields) as Python values.
 */
#include "graph_py.h"

PyObject *hd_graph_py_error; /* HeapdumpError, set at first Graph() */

PyObject *
hd_graph_py_raise(GraphObject *self)
{
    if (self->g.oom) {
        return PyErr_NoMemory();
    }
    if (!PyErr_Occurred()) {
        PyErr_SetString(hd_graph_py_error ? hd_graph_py_error
                                          : PyExc_ValueError,
                        self->g.error);
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * Plain msgpack data -> Python (META, TRAILER, fetched fields)
 */

static PyObject *
graph_py_int_bytes(const unsigned char *p, size_t n)
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
            u |= ~(uint64_t)0 << (8 * n);
        }
        return PyLong_FromLongLong((long long)u);
    }
    return _PyLong_FromByteArray(p, n, 1, 1);
}

/* An item already read (scalars; arrays and maps read on from c). */
static PyObject *
graph_py_plain_item(hd_mp_cur *c, const hd_mp_item *it, int depth)
{
    switch (it->type) {
    case HD_MP_NIL: Py_RETURN_NONE;
    case HD_MP_BOOL: return PyBool_FromLong((long)it->u);
    case HD_MP_UINT: return PyLong_FromUnsignedLongLong(it->u);
    case HD_MP_NEG: return PyLong_FromLongLong(it->i);
    case HD_MP_FLOAT: return PyFloat_FromDouble(it->f);
    case HD_MP_STR:
        return PyUnicode_DecodeUTF8((const char *)it->data, (Py_ssize_t)it->u,
                                    "surrogatepass");
    case HD_MP_BIN:
        return PyBytes_FromStringAndSize((const char *)it->data,
                                         (Py_ssize_t)it->u);
    case HD_MP_EXT:
        if (it->ext == HD_EXT_INT) {
            return graph_py_int_bytes(it->data, (size_t)it->u);
        }
        Py_RETURN_NONE;
    case HD_MP_ARRAY: {
        if (depth > 32 || it->u > (uint64_t)(c->end - c->p)) {
            PyErr_SetString(hd_graph_py_error, "malformed msgpack data");
            return NULL;
        }
        PyObject *list = PyList_New((Py_ssize_t)it->u);
        for (uint64_t i = 0; list != NULL && i < it->u; i++) {
            PyObject *v = hd_graph_py_plain(c, depth + 1);
            if (v == NULL) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)i, v);
        }
        return list;
    }
    case HD_MP_MAP: {
        if (depth > 32 || it->u > (uint64_t)(c->end - c->p)) {
            PyErr_SetString(hd_graph_py_error, "malformed msgpack data");
            return NULL;
        }
        PyObject *dict = PyDict_New();
        for (uint64_t i = 0; dict != NULL && i < it->u; i++) {
            PyObject *k = hd_graph_py_plain(c, depth + 1);
            PyObject *v = k ? hd_graph_py_plain(c, depth + 1) : NULL;
            int bad = v == NULL || PyObject_Hash(k) == -1 ||
                      PyDict_SetItem(dict, k, v) < 0;
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (bad) {
                PyErr_Clear();
                Py_CLEAR(dict);
                PyErr_SetString(hd_graph_py_error, "malformed msgpack map");
            }
        }
        return dict;
    }
    default: Py_RETURN_NONE;
    }
}

PyObject *
hd_graph_py_plain(hd_mp_cur *c, int depth)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        PyErr_SetString(hd_graph_py_error, "malformed msgpack data");
        return NULL;
    }
    return graph_py_plain_item(c, &it, depth);
}

/* hd_graph_py_plain, or NULL with no exception when the bytes do not decode (a
 * damaged name: the description leaves it out).  c is then past the item
 * when it could be framed. */
PyObject *
hd_graph_py_plain_quiet(hd_mp_cur *c)
{
    const unsigned char *start = c->p;
    PyObject *v = hd_graph_py_plain(c, 0);
    if (v == NULL) {
        PyErr_Clear();
        c->p = start;
        if (hd_mpread_skip(c) < 0) {
            c->p = c->end;
        }
    }
    return v;
}

int
hd_graph_py_check_built(GraphObject *self)
{
    if (self->g.total == 0) {
        PyErr_SetString(PyExc_RuntimeError, "the graph is not built");
        return -1;
    }
    return 0;
}

int
hd_graph_py_check_analyzed(GraphObject *self)
{
    if (hd_graph_py_check_built(self) < 0) {
        return -1;
    }
    if (!self->analyzed) {
        PyErr_SetString(PyExc_RuntimeError, "call analyze() first");
        return -1;
    }
    return 0;
}

int
hd_graph_py_node_arg(GraphObject *self, PyObject *arg, uint32_t *node)
{
    unsigned long v = PyLong_AsUnsignedLong(arg);
    if (v == (unsigned long)-1 && PyErr_Occurred()) {
        return -1;
    }
    if (v >= self->g.total) {
        PyErr_Format(PyExc_IndexError, "no node %lu (the graph has %u)", v,
                     self->g.total);
        return -1;
    }
    *node = (uint32_t)v;
    return 0;
}
