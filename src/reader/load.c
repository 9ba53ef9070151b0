/* load.c: a dump's body -> Python objects, the C core of heapdump.load():
 * the Loader and Surrogate types and the module functions; the phases are
 * in decode.c, records.c, shells.c and fill.c (loader.h says how they
 * stack).
 *
 * heapdump/_load.py reads the MIME header block and drives a Loader:
 *
 *   1. read()   stream the body (stream.c: read(2) -> zstd -> one framed
 *               msgpack record at a time, read with mpread.c's bounds-
 *               checked reader).  Scalars (str, int,
 *               float, bytes...) become objects at once; every other record
 *               keeps its bytes in an arena for the later phases, since a
 *               record may reference objects whose records come later.
 *   2. build()  a. TYPE records in id order -> classes (_load's make_type),
 *               b. shells in id order: empty containers, surrogates with the
 *                  right class, CELL, model shells (Frame, Traceback...),
 *               c. fill in id order: list/dict/set items, instance
 *                  attributes; tuples, frozensets, ranges, slices,
 *                  functions and methods are built on demand, dependencies
 *                  first (an explicit stack, never C recursion), so that
 *                  nothing is hashed before it is complete and a cycle
 *                  through immutable objects is an error, not a crash,
 *               d. the attributes of instances of builtin subclasses.
 *   3. _load.py fills the rest (frames, tracebacks, exceptions, functions'
 *      attributes...) from fields(id), which decodes a record with its
 *      references resolved.
 *
 * The msgpack is read with mpread.c's bounds-checked reader (why one of
 * our own: mpread.c), and values are decoded straight into their Python
 * objects.
 *
 * Safety rules: nothing from the file is executed.  The only Python code
 * called is heapdump's own (_load/_surrogates callbacks); objects are made
 * with the tp_new/tp_alloc of builtin (static) base types and filled with
 * the C API of the builtin types, so no __new__, __init__, __setitem__,
 * __hash__ or descriptor from the file can run (a surrogate class never
 * gets dunder methods from the file in the first place).
 *
 * Memory: the decompressed window grows to about twice the largest record
 * (capped by max_record_bytes); the arena holds the bytes of the records
 * not yet turned into objects (capped by max_body_bytes in all).
 *
 * Threading: a Loader is used by one thread at a time, with the GIL held.
 */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * The protocol with the support object (protocol.h)
 */

#define LOAD_CB_NAME_(name, params, returns) #name,
static const char *const load_cb_names[HD_CB_COUNT] = {
    HD_LOADER_CALLBACKS(LOAD_CB_NAME_)};
#undef LOAD_CB_NAME_
#define LOAD_CB_PARAMS_(name, params, returns) params,
static const char *const load_cb_params[HD_CB_COUNT] = {
    HD_LOADER_CALLBACKS(LOAD_CB_PARAMS_)};
#undef LOAD_CB_PARAMS_

/* Fetch every attribute of protocol.h's table from support into
 * L->support_attrs, once; 0, or -1 with an error that names the first
 * one missing or of the wrong sort (a call that is not callable, a
 * class table that is not a dict, an error class that is not an
 * Exception). */
static int
load_protocol_fetch(LoaderObject *L, PyObject *support)
{
    for (int i = 0; i < HD_CB_COUNT; i++) {
        PyObject *v = PyObject_GetAttrString(support, load_cb_names[i]);
        if (v == NULL) {
            if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Format(PyExc_TypeError,
                             "the loader's support object has no %s "
                             "(src/reader/protocol.h)",
                             load_cb_names[i]);
            }
            return -1;
        }
        L->support_attrs[i] = v;
        if (load_cb_params[i] != NULL && !PyCallable_Check(v)) {
            PyErr_Format(PyExc_TypeError,
                         "the loader's support object's %s is not callable",
                         load_cb_names[i]);
            return -1;
        }
    }
    if (!PyDict_Check(HD_SUPPORT(L, cut_classes)) ||
        !PyDict_Check(HD_SUPPORT(L, shell_classes))) {
        PyErr_SetString(PyExc_TypeError,
                        "support.cut_classes and support.shell_classes must "
                        "be dicts");
        return -1;
    }
    PyObject *error_type = HD_SUPPORT(L, HeapdumpError);
    if (!PyType_Check(error_type) ||
        !PyType_IsSubtype((PyTypeObject *)error_type,
                          (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_TypeError,
                        "support.HeapdumpError must be an exception class");
        return -1;
    }
    return 0;
}

/* _heapdump.LOADER_CALLBACKS: ((name, parameters or None), ...) in the
 * table's order; a new reference or NULL. */
static PyObject *
load_protocol_table(void)
{
    PyObject *t = PyTuple_New(HD_CB_COUNT);
    for (int i = 0; t != NULL && i < HD_CB_COUNT; i++) {
        PyObject *row =
            Py_BuildValue("(sz)", load_cb_names[i], load_cb_params[i]);
        if (row == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, row);
    }
    return t;
}

/* ---------------------------------------------------------------------
 * The Loader type
 */

static int
Loader_init(LoaderObject *L, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {
        "path",           "offset",      "support",   "max_record_bytes",
        "max_body_bytes", "max_objects", "max_ratio", NULL};
    PyObject *path = NULL, *support;
    unsigned long long offset, max_body, max_objects = UINT64_MAX;
    unsigned long long max_ratio = 0;
    Py_ssize_t max_record;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&KOnK|KK:Loader", kwlist,
                                     PyUnicode_FSConverter, &path, &offset,
                                     &support, &max_record, &max_body,
                                     &max_objects, &max_ratio)) {
        return -1;
    }
    if (L->path != NULL) {
        Py_DECREF(path);
        PyErr_SetString(PyExc_RuntimeError, "Loader initialized twice");
        return -1;
    }
    L->path = PyMem_Malloc((size_t)PyBytes_GET_SIZE(path) + 1);
    if (L->path == NULL) {
        Py_DECREF(path);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(L->path, PyBytes_AS_STRING(path),
           (size_t)PyBytes_GET_SIZE(path) + 1);
    Py_DECREF(path);
    if (max_record < 16) {
        max_record = 16;
    }
    L->offset = offset;
    L->max_record = (size_t)max_record;
    L->max_body = max_body;
    L->max_objects = max_objects;
    L->max_ratio = max_ratio;
    L->need = hd_fill_need;
    if (load_protocol_fetch(L, support) < 0) {
        return -1;
    }
    L->empty_tuple = PyTuple_New(0);
    L->s_original_length = PyUnicode_InternFromString("original_length");
    L->cuts = PyDict_New();
    L->lost = PyDict_New();
    L->classes = PyMem_Calloc(64, sizeof(load_classslot));
    L->classes_mask = 63;
    L->last_object = -1;
    if (L->empty_tuple == NULL || L->s_original_length == NULL ||
        L->cuts == NULL || L->lost == NULL || L->classes == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return -1;
    }
    return 0;
}

/* Free the objects table and the arena (what the loaded objects do not
 * need). */
static void
load_clear(LoaderObject *L)
{
    for (size_t i = 0; i < L->n; i++) {
        Py_CLEAR(L->entries[i].obj);
    }
    PyMem_Free(L->entries);
    L->entries = NULL;
    L->n = L->cap = 0;
    PyMem_Free(L->addrs);
    PyMem_Free(L->refcnts);
    PyMem_Free(L->sizes);
    L->addrs = NULL;
    L->refcnts = L->sizes = NULL;
    L->ids_cap = 0;
    PyMem_Free(L->more);
    L->more = NULL;
    L->nmore = L->more_cap = 0;
    PyMem_Free(L->prefixes);
    L->prefixes = NULL;
    L->nprefixes = L->prefixes_cap = 0;
    for (size_t i = 0; i < L->nlayouts; i++) {
        Py_CLEAR(L->layouts[i].names_tuple);
        Py_CLEAR(L->layouts[i].cls);
        Py_CLEAR(L->layouts[i].type_obj);
    }
    PyMem_Free(L->layouts);
    L->layouts = NULL;
    L->nlayouts = L->layouts_cap = 0;
    PyMem_Free(L->others);
    L->others = NULL;
    L->nothers = L->others_cap = 0;
    while (L->arena != NULL) {
        load_chunk *next = L->arena->next;
        PyMem_Free(L->arena);
        L->arena = next;
    }
    if (L->classes != NULL) {
        for (size_t i = 0; i <= L->classes_mask; i++) {
            Py_CLEAR(L->classes[i].cls);
        }
        PyMem_Free(L->classes);
        L->classes = NULL;
    }
    PyMem_Free(L->stack);
    L->stack = NULL;
    L->sp = L->stack_cap = 0;
}

static void
Loader_dealloc(LoaderObject *L)
{
    load_clear(L);
    PyMem_Free(L->path);
    for (int i = 0; i < HD_CB_COUNT; i++) {
        Py_CLEAR(L->support_attrs[i]);
    }
    Py_CLEAR(L->empty_tuple);
    Py_CLEAR(L->s_original_length);
    Py_CLEAR(L->cuts);
    Py_CLEAR(L->lost);
    Py_TYPE(L)->tp_free((PyObject *)L);
}

static PyObject *
Loader_close(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    load_clear(L);
    Py_RETURN_NONE;
}

static int
load_check_id(LoaderObject *L, Py_ssize_t id)
{
    if (id < 0 || (size_t)id >= L->n) {
        PyErr_Format(PyExc_IndexError, "no object %zd", id);
        return -1;
    }
    return 0;
}

static PyObject *
Loader_fields(LoaderObject *L, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"id", "soft", NULL};
    Py_ssize_t id;
    int soft = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n|p:fields", kwlist, &id,
                                     &soft)) {
        return NULL;
    }
    if (load_check_id(L, id) < 0) {
        return NULL;
    }
    PyObject *r = hd_records_entry_fields(
        L, (size_t)id, soft ? LOAD_SOFT : LOAD_STRICT, UINT32_MAX);
    if (r == NULL) {
        hd_decode_wrap(L, (size_t)id);
    }
    return r;
}

/* Append item (a new reference, or NULL with an exception set) to list,
 * the reference given away either way.  0, or -1 with an exception. */
static int
load_append(PyObject *list, PyObject *item)
{
    int rc = item == NULL ? -1 : PyList_Append(list, item);
    Py_XDECREF(item);
    return rc;
}

static PyObject *
Loader_others(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < L->nothers; i++) {
        load_other *o = &L->others[i];
        PyObject *f = hd_records_decode_fields(
            L, o->kind, o->raw, o->end, o->nfields, LOAD_STRICT, UINT32_MAX);
        if (load_append(list, f ? Py_BuildValue("(iN)", o->kind, f) : NULL) <
            0) {
            Py_DECREF(list);
            return NULL;
        }
    }
    return list;
}

static PyObject *
Loader_objects(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New((Py_ssize_t)L->n);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < L->n; i++) {
        PyObject *o = L->entries[i].obj ? L->entries[i].obj : Py_None;
        PyList_SET_ITEM(list, (Py_ssize_t)i, Py_NewRef(o));
    }
    return list;
}

/* Ids of the records _load.py fills, in order, as (id, kind) pairs. */
static PyObject *
Loader_pyfill(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < L->n; i++) {
        load_entry *e = &L->entries[i];
        if (!(e->flags & LOAD_F_PYFILL) && e->kind != HD_K_FUNCTION) {
            continue;
        }
        if (load_append(list, Py_BuildValue("(ni)", (Py_ssize_t)i, e->kind)) <
            0) {
            Py_DECREF(list);
            return NULL;
        }
    }
    return list;
}

static PyObject *
Loader_kinds(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)L->n);
    if (b == NULL) {
        return NULL;
    }
    char *p = PyBytes_AS_STRING(b);
    for (size_t i = 0; i < L->n; i++) {
        p[i] = (char)L->entries[i].kind;
    }
    return b;
}

static PyObject *
load_bytes_of(const void *p, size_t n)
{
    return PyBytes_FromStringAndSize(p ? (const char *)p : "",
                                     (Py_ssize_t)(n * 8));
}

static PyObject *
Loader_addresses(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    return load_bytes_of(L->addrs, L->n);
}

static PyObject *
Loader_refcounts(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    return load_bytes_of(L->refcnts, L->n);
}

static PyObject *
Loader_sizes(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    return load_bytes_of(L->sizes, L->n);
}

static PyObject *
Loader_layout(LoaderObject *L, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0 || (size_t)n >= L->nlayouts) {
        return hd_decode_fail(L, "layout %zd is not defined", n);
    }
    load_layout *l = &L->layouts[n];
    PyObject *names = hd_fill_layout_names(L, l, LOAD_STRICT);
    if (names == NULL) {
        return NULL;
    }
    PyObject *type_obj =
        l->type_id == LOAD_NO_ID
            ? Py_NewRef(Py_None)
            : hd_decode_ref(L, l->type_id, LOAD_EXIST, LOAD_STRICT);
    if (type_obj == NULL) {
        return NULL;
    }
    return Py_BuildValue("(NO)", type_obj, names);
}

static PyObject *
Loader_addr(LoaderObject *L, PyObject *arg)
{
    Py_ssize_t id = PyLong_AsSsize_t(arg);
    if (id == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (load_check_id(L, id) < 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLongLong((uint64_t)L->addrs[id]);
}

static PyObject *
Loader_get_truncated(LoaderObject *L, void *Py_UNUSED(c))
{
    return PyBool_FromLong(L->truncated);
}

static PyObject *
Loader_get_truncation(LoaderObject *L, void *Py_UNUSED(c))
{
    if (L->truncation == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(L->truncation);
}

static PyObject *
Loader_get_count(LoaderObject *L, void *which)
{
    switch ((intptr_t)which) {
    case 0: return PyLong_FromSize_t(L->n);
    case 1: return PyLong_FromUnsignedLongLong(L->records);
    case 2: return PyLong_FromUnsignedLongLong(L->body_bytes);
    case 3: return PyLong_FromUnsignedLongLong(L->file_bytes);
    case 5: return PyLong_FromUnsignedLongLong(L->after_trailer);
    default: return PyLong_FromSize_t(L->nlayouts);
    }
}

static PyObject *
Loader_get_cuts(LoaderObject *L, void *Py_UNUSED(c))
{
    return Py_NewRef(L->cuts);
}

static PyMethodDef Loader_methods[] = {
    {"read", (PyCFunction)hd_records_loader_read, METH_NOARGS,
     "read($self, /)\n--\n\nPhase 1: stream the body, keep its records."},
    {"build", (PyCFunction)hd_fill_loader_build, METH_NOARGS,
     "build($self, /)\n--\n\nPhases 2 and 3: types, shells, contents."},
    {"fields", (PyCFunction)(void (*)(void))Loader_fields,
     METH_VARARGS | METH_KEYWORDS,
     "fields($self, /, id, soft=False)\n--\n\n"
     "The fields of object id's record, references resolved."},
    {"others", (PyCFunction)Loader_others, METH_NOARGS,
     "others($self, /)\n--\n\n"
     "[(kind, fields)] of the META, THREAD, SOURCE, ROOT, TRAILER and ERROR "
     "records, in file order."},
    {"objects", (PyCFunction)Loader_objects, METH_NOARGS,
     "objects($self, /)\n--\n\nThe list of objects, by id."},
    {"pyfill", (PyCFunction)Loader_pyfill, METH_NOARGS,
     "pyfill($self, /)\n--\n\n[(id, kind)] of the records _load fills."},
    {"kinds", (PyCFunction)Loader_kinds, METH_NOARGS,
     "kinds($self, /)\n--\n\nThe record kind of each id, as bytes."},
    {"addresses", (PyCFunction)Loader_addresses, METH_NOARGS,
     "addresses($self, /)\n--\n\nint64 addresses by id, native order."},
    {"refcounts", (PyCFunction)Loader_refcounts, METH_NOARGS,
     "refcounts($self, /)\n--\n\nuint64 reference counts by id."},
    {"sizes", (PyCFunction)Loader_sizes, METH_NOARGS,
     "sizes($self, /)\n--\n\nuint64 shallow sizes by id."},
    {"layout", (PyCFunction)Loader_layout, METH_O,
     "layout($self, n, /)\n--\n\n(type, names) of layout n."},
    {"addr", (PyCFunction)Loader_addr, METH_O,
     "addr($self, id, /)\n--\n\nThe original address of object id."},
    {"close", (PyCFunction)Loader_close, METH_NOARGS,
     "close($self, /)\n--\n\nFree the tables (the objects live on)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Loader_getset[] = {
    {"truncated", (getter)Loader_get_truncated, NULL, NULL, NULL},
    {"truncation", (getter)Loader_get_truncation, NULL, NULL, NULL},
    {"nobjects", (getter)Loader_get_count, NULL, NULL, (void *)0},
    {"records", (getter)Loader_get_count, NULL, NULL, (void *)1},
    {"body_bytes", (getter)Loader_get_count, NULL, NULL, (void *)2},
    {"file_bytes", (getter)Loader_get_count, NULL, NULL, (void *)3},
    {"nlayouts", (getter)Loader_get_count, NULL, NULL, (void *)4},
    {"after_trailer", (getter)Loader_get_count, NULL, NULL, (void *)5},
    {"cuts", (getter)Loader_get_cuts, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject hd_load_loader_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapdump._heapdump.Loader",
    .tp_doc = "Loader(path, offset, support, max_record_bytes, "
              "max_body_bytes, max_objects=2**64-1, max_ratio=0)\n--\n\n"
              "The C core of heapdump.load(); heapdump._load drives it.",
    .tp_basicsize = sizeof(LoaderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Loader_init,
    .tp_dealloc = (destructor)Loader_dealloc,
    .tp_methods = Loader_methods,
    .tp_getset = Loader_getset,
};

/* ---------------------------------------------------------------------
 * Surrogate: the type
 */

static int
Surrogate_traverse(SurrogateObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->dict);
    Py_VISIT(self->referents);
    if (Py_TYPE(self)->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        /* a subclass made by type(): subtype_traverse visits the type
         * only when the subclass adds its own traverse; ours is shared */
    }
    return 0;
}

static int
Surrogate_clear(SurrogateObject *self)
{
    Py_CLEAR(self->dict);
    Py_CLEAR(self->referents);
    return 0;
}

static void
Surrogate_dealloc(SurrogateObject *self)
{
    PyObject_GC_UnTrack(self);
    Surrogate_clear(self);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
}

static PyObject *
Surrogate_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj != NULL) {
        ((SurrogateObject *)obj)->oid = -1;
    }
    return obj;
}

/* <module.qualname object at 0xADDR> (+ " (opaque)"), from the class's
 * own names (never a __repr__ from the file). */
static PyObject *
Surrogate_repr(SurrogateObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject *mod = NULL, *qual = NULL, *r = NULL;
    qual = PyObject_GetAttrString((PyObject *)tp, "__qualname__");
    if (qual == NULL) {
        return NULL;
    }
    mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    if (mod == NULL) {
        PyErr_Clear();
    }
    /* %llx needs 3.12's PyUnicode_FromFormat: the address as text */
    char addr[64];
    snprintf(addr, sizeof(addr), "0x%llx%s", (unsigned long long)self->addr,
             self->opaque ? " (opaque)" : "");
    if (mod != NULL && PyUnicode_Check(mod) &&
        PyUnicode_CompareWithASCIIString(mod, "builtins") != 0) {
        r = PyUnicode_FromFormat("<%U.%S object at %s>", mod, qual, addr);
    }
    else {
        r = PyUnicode_FromFormat("<%S object at %s>", qual, addr);
    }
    Py_XDECREF(mod);
    Py_DECREF(qual);
    return r;
}

static PyGetSetDef Surrogate_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject hd_load_surrogate_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapdump._heapdump.Surrogate",
    .tp_doc = "The base of the classes of loaded instances: holds their "
              "original address, id and (opaque objects) referents.",
    .tp_basicsize = sizeof(SurrogateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Surrogate_new,
    .tp_dealloc = (destructor)Surrogate_dealloc,
    .tp_traverse = (traverseproc)Surrogate_traverse,
    .tp_clear = (inquiry)Surrogate_clear,
    .tp_repr = (reprfunc)Surrogate_repr,
    .tp_getset = Surrogate_getset,
    .tp_dictoffset = offsetof(SurrogateObject, dict),
};

/* ---------------------------------------------------------------------
 * Module functions
 */

static PyObject *
load_surrogate_info(PyObject *Py_UNUSED(m), PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, &hd_load_surrogate_type)) {
        Py_RETURN_NONE;
    }
    SurrogateObject *s = (SurrogateObject *)obj;
    return Py_BuildValue("(KLO)", (unsigned long long)s->addr,
                         (long long)s->oid, s->opaque ? Py_True : Py_False);
}

static PyObject *
load_surrogate_referents(PyObject *Py_UNUSED(m), PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, &hd_load_surrogate_type) ||
        ((SurrogateObject *)obj)->referents == NULL) {
        Py_RETURN_NONE;
    }
    return Py_NewRef(((SurrogateObject *)obj)->referents);
}

static PyObject *
load_set_surrogate(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *obj, *refs = Py_None;
    long long addr, oid;
    int opaque = -1;
    if (!PyArg_ParseTuple(args, "OLL|Op:set_surrogate", &obj, &addr, &oid,
                          &refs, &opaque)) {
        return NULL;
    }
    if (!PyObject_TypeCheck(obj, &hd_load_surrogate_type)) {
        PyErr_SetString(PyExc_TypeError, "not a surrogate");
        return NULL;
    }
    SurrogateObject *s = (SurrogateObject *)obj;
    s->addr = addr;
    s->oid = oid;
    if (refs != Py_None) {
        if (!PyTuple_Check(refs)) {
            PyErr_SetString(PyExc_TypeError, "referents must be a tuple");
            return NULL;
        }
        Py_XSETREF(s->referents, Py_NewRef(refs));
    }
    if (opaque >= 0) {
        s->opaque = opaque;
    }
    return Py_NewRef(Py_None);
}

static PyObject *
load_set_attr(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *obj, *name, *value;
    if (!PyArg_ParseTuple(args, "OOO:set_attr", &obj, &name, &value)) {
        return NULL;
    }
    int r = hd_fill_setattr(obj, name, value);
    if (r < 0) {
        return NULL;
    }
    return PyBool_FromLong(r);
}

static PyObject *
load_set_group(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *exc, *msg, *excs;
    if (!PyArg_ParseTuple(args, "OOO:set_group", &exc, &msg, &excs)) {
        return NULL;
    }
    /* not Py_RETURN_NONE: cppcheck, without Python's headers, would take
     * the function for one that falls off its end */
    return hd_shims_set_group(exc, msg, excs) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef load_functions[] = {
    {"surrogate_info", load_surrogate_info, METH_O,
     "surrogate_info($module, obj, /)\n--\n\n"
     "(address, id, opaque) of a loaded surrogate, or None."},
    {"surrogate_referents", load_surrogate_referents, METH_O,
     "surrogate_referents($module, obj, /)\n--\n\n"
     "The referents tuple of an opaque surrogate, or None."},
    {"set_surrogate", load_set_surrogate, METH_VARARGS,
     "set_surrogate($module, obj, addr, oid, referents=None, opaque=None,"
     " /)\n--\n\nSet the hidden fields of a surrogate."},
    {"set_attr", load_set_attr, METH_VARARGS,
     "set_attr($module, obj, name, value, /)\n--\n\n"
     "Set an attribute read from a file: C member/getset descriptors, else "
     "the instance __dict__; never Python code.  True if set."},
    {"set_group", load_set_group, METH_VARARGS,
     "set_group($module, exc, message, exceptions, /)\n--\n\n"
     "Give a loaded exception group its message and members."},
    {NULL, NULL, 0, NULL},
};

int
hd_load_init_module(PyObject *m)
{
    if (PyType_Ready(&hd_load_surrogate_type) < 0 ||
        PyType_Ready(&hd_load_loader_type) < 0) {
        return -1;
    }
    if (PyModule_AddObjectRef(m, "Surrogate",
                              (PyObject *)&hd_load_surrogate_type) < 0 ||
        PyModule_AddObjectRef(m, "Loader", (PyObject *)&hd_load_loader_type) <
            0) {
        return -1;
    }
    if (PyModule_AddFunctions(m, load_functions) < 0) {
        return -1;
    }
    PyObject *table = load_protocol_table();
    int r = table ? PyModule_AddObjectRef(m, "LOADER_CALLBACKS", table) : -1;
    Py_XDECREF(table);
    return r;
}
