/* shells.c: the loader's phase 2 (loader.h): classes made by the support
 * object from TYPE records, the Surrogate C base of loaded instances, and
 * the shells (empty containers, surrogates, cells, model objects) in id
 * order.
 *
 * Contract: caller holds the GIL; objects are made with the tp_new /
 * tp_alloc of builtin (static) base types only.
 */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Classes
 */

static PyTypeObject *
shells_builtin_of_kind(int kind)
{
    switch (kind) {
    case HD_K_INT: return &PyLong_Type;
    case HD_K_FLOAT: return &PyFloat_Type;
    case HD_K_COMPLEX: return &PyComplex_Type;
    case HD_K_STR: return &PyUnicode_Type;
    case HD_K_BYTES: return &PyBytes_Type;
    case HD_K_BYTEARRAY: return &PyByteArray_Type;
    case HD_K_TUPLE: return &PyTuple_Type;
    case HD_K_LIST: return &PyList_Type;
    case HD_K_DICT: return &PyDict_Type;
    case HD_K_SET: return &PySet_Type;
    case HD_K_FROZENSET: return &PyFrozenSet_Type;
    case HD_K_INSTANCE:
    case HD_K_OPAQUE: return &hd_load_surrogate_type;
    case HD_K_EXCEPTION: return (PyTypeObject *)PyExc_BaseException;
    default: return NULL;
    }
}

/* The class to make a record of this kind as, for the type with this id
 * (support.class_for(type_id, type, kind), cached).  Borrowed. */
PyTypeObject *
hd_shells_class_for(LoaderObject *L, uint64_t type_id, int kind)
{
    uint64_t key =
        ((type_id == LOAD_NO_ID ? (uint64_t)UINT32_MAX : type_id) << 6 |
         (uint64_t)kind) +
        1;
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & L->classes_mask;
    while (L->classes[i].key != 0) {
        if (L->classes[i].key == key) {
            return (PyTypeObject *)L->classes[i].cls;
        }
        i = (i + 1) & L->classes_mask;
    }
    PyObject *type_obj;
    if (type_id == LOAD_NO_ID) {
        type_obj = Py_NewRef(Py_None);
    }
    else {
        type_obj = hd_decode_ref(L, type_id, LOAD_EXIST, LOAD_SOFT);
        if (type_obj == NULL) {
            return NULL;
        }
    }
    PyObject *args = Py_BuildValue(
        "(LNi)", type_id == LOAD_NO_ID ? -1LL : (long long)type_id, type_obj,
        kind);
    PyObject *cls = args ? hd_decode_call(L, HD_CB_class_for, args) : NULL;
    Py_XDECREF(args);
    if (cls == NULL) {
        return NULL;
    }
    PyTypeObject *want = shells_builtin_of_kind(kind);
    if (!PyType_Check(cls) ||
        (want != NULL && !PyType_IsSubtype((PyTypeObject *)cls, want))) {
        Py_DECREF(cls);
        hd_decode_fail(L, "class_for() gave no valid class for a %s",
                       hd_loader_kind_name(kind));
        return NULL;
    }
    /* keep it; grow the table at half full */
    if ((L->nclasses + 1) * 2 > L->classes_mask + 1) {
        size_t ncap = (L->classes_mask + 1) * 2;
        load_classslot *nt = PyMem_Calloc(ncap, sizeof(load_classslot));
        if (nt == NULL) {
            Py_DECREF(cls);
            PyErr_NoMemory();
            return NULL;
        }
        for (size_t j = 0; j <= L->classes_mask; j++) {
            if (L->classes[j].key != 0) {
                size_t k =
                    (size_t)(L->classes[j].key * 0x9E3779B97F4A7C15ull) &
                    (ncap - 1);
                while (nt[k].key != 0) {
                    k = (k + 1) & (ncap - 1);
                }
                nt[k] = L->classes[j];
            }
        }
        PyMem_Free(L->classes);
        L->classes = nt;
        L->classes_mask = ncap - 1;
        i = (size_t)(key * 0x9E3779B97F4A7C15ull) & L->classes_mask;
        while (L->classes[i].key != 0) {
            i = (i + 1) & L->classes_mask;
        }
    }
    L->classes[i].key = key;
    L->classes[i].cls = cls; /* owned by the table */
    L->nclasses++;
    return (PyTypeObject *)cls;
}

/* The type id a value field refers to, reading it at c. */
int
hd_shells_type_field(LoaderObject *L, hd_mp_cur *c, uint64_t *tid)
{
    return hd_decode_value_ref(L, c, tid);
}

/* The first builtin (static) type in cls's base chain: its tp_new and
 * tp_alloc are C code. */
PyTypeObject *
hd_shells_static_base(PyTypeObject *cls)
{
    while (cls != NULL && (cls->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        cls = cls->tp_base;
    }
    return cls;
}

/* ---------------------------------------------------------------------
 * Surrogates: the C base of the classes of loaded instances
 */

static PyObject *
shells_surrogate_new_of(PyTypeObject *cls, int64_t addr, int64_t oid)
{
    PyObject *obj = cls->tp_alloc(cls, 0);
    if (obj == NULL) {
        return NULL;
    }
    SurrogateObject *s = (SurrogateObject *)obj;
    s->addr = addr;
    s->oid = oid;
    return obj;
}

/* ---------------------------------------------------------------------
 * Phase 2: types, then shells
 */

int
hd_shells_make_type(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    /* name .. [attribute names]: the values come later (phase 3) */
    PyObject *fields = hd_records_entry_fields(L, id, LOAD_SOFT, 9);
    if (fields == NULL) {
        return -1;
    }
    PyObject *args = Py_BuildValue("(nN)", (Py_ssize_t)id, fields);
    PyObject *cls = args ? hd_decode_call(L, HD_CB_make_type, args) : NULL;
    Py_XDECREF(args);
    if (cls == NULL) {
        return -1;
    }
    e->obj = cls;
    e->flags |= LOAD_F_FILLED;
    return 0;
}

/* The class for the INSTANCE record id, from its layout or type. */
static PyTypeObject *
shells_instance_class(LoaderObject *L, size_t id, hd_mp_cur *c)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        hd_decode_fail(L, "INSTANCE record is malformed");
        return NULL;
    }
    if (it.type == HD_MP_NIL) {
        uint64_t tid;
        if (L->entries[id].nfields < 2 ||
            hd_shells_type_field(L, c, &tid) < 0) {
            if (!PyErr_Occurred()) {
                hd_decode_fail(L,
                               "INSTANCE record with no layout has no type");
            }
            return NULL;
        }
        return hd_shells_class_for(L, tid, HD_K_INSTANCE);
    }
    if (it.type != HD_MP_UINT || it.u >= L->nlayouts) {
        hd_decode_fail(L,
                       "INSTANCE record names layout %llu, not defined before "
                       "it",
                       it.type == HD_MP_UINT ? (unsigned long long)it.u : 0);
        return NULL;
    }
    load_layout *l = &L->layouts[it.u];
    if (l->cls == NULL) {
        PyTypeObject *cls = hd_shells_class_for(L, l->type_id, HD_K_INSTANCE);
        if (cls == NULL) {
            return NULL;
        }
        l->cls = Py_NewRef((PyObject *)cls);
    }
    return (PyTypeObject *)l->cls;
}

/* The shell of entry id (phase 2): an empty container, a surrogate of
 * the right class, a cell, a model shell made by the support object.
 * size: one switch over the record kinds, a case per kind. */
int
hd_shells_make_shell(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    int kind = e->kind;
    PyTypeObject *cls = NULL;
    PyObject *obj = NULL;

    if (e->pre) {
        load_prefix *p = &L->prefixes[e->pre - 1];
        hd_mp_cur pc = {p->raw, p->end};
        uint64_t tid;
        if (hd_shells_type_field(L, &pc, &tid) < 0) {
            return -1;
        }
        cls = hd_shells_class_for(L, tid, kind);
        if (cls == NULL) {
            return -1;
        }
    }
    else if ((e->flags & LOAD_F_CUT) &&
             (kind == HD_K_TUPLE || kind == HD_K_LIST || kind == HD_K_DICT ||
              kind == HD_K_SET || kind == HD_K_FROZENSET)) {
        cls = hd_records_cut_class(L, kind);
        if (cls == NULL) {
            return -1;
        }
    }

    switch (kind) {
    case HD_K_INT:
    case HD_K_FLOAT:
    case HD_K_COMPLEX:
    case HD_K_STR:
    case HD_K_BYTES:
    case HD_K_BYTEARRAY:
        /* only scalars of subclasses get here (CLASS) */
        obj = hd_records_scalar(L, kind, &c, e->nfields, cls);
        if (obj != NULL) {
            e->flags |= LOAD_F_FILLED;
        }
        break;
    case HD_K_TUPLE:
        if (cls == NULL) {
            obj = PyTuple_New((Py_ssize_t)e->nitems);
        }
        else {
            /* a tuple subclass: allocated with its items NULL, filled
             * in phase 3 before anything can see it */
            obj = hd_pyversion_tuple_alloc(cls, (Py_ssize_t)e->nitems);
        }
        break;
    case HD_K_LIST:
        if (cls == NULL) {
            obj = PyList_New(0);
        }
        else {
            obj = PyList_Type.tp_new(cls, L->empty_tuple, NULL);
        }
        break;
    case HD_K_DICT:
        if (cls == NULL) {
            /* sized for its keys at once (nitems: counted in the file):
             * a big dict is not grown step by step, each step inserting
             * every key again (_PyDict_NewPresized: exported, 3.9+) */
            obj = e->nitems > 8 ? _PyDict_NewPresized((Py_ssize_t)e->nitems)
                                : PyDict_New();
        }
        else {
            PyTypeObject *base = hd_shells_static_base(cls);
            obj = base->tp_new(cls, L->empty_tuple, NULL);
        }
        break;
    case HD_K_SET:
        if (cls == NULL) {
            obj = PySet_New(NULL);
        }
        else {
            obj = PySet_Type.tp_new(cls, L->empty_tuple, NULL);
        }
        break;
    case HD_K_INSTANCE:
        cls = shells_instance_class(L, id, &c);
        if (cls != NULL) {
            obj = shells_surrogate_new_of(cls, L->addrs[id], (int64_t)id);
        }
        break;
    case HD_K_OPAQUE: {
        uint64_t tid;
        if (e->nfields < 4 || hd_shells_type_field(L, &c, &tid) < 0) {
            if (!PyErr_Occurred()) {
                hd_decode_fail(L, "OPAQUE record is malformed");
            }
            break;
        }
        cls = hd_shells_class_for(L, tid, HD_K_OPAQUE);
        if (cls != NULL) {
            obj = shells_surrogate_new_of(cls, L->addrs[id], (int64_t)id);
            if (obj != NULL) {
                ((SurrogateObject *)obj)->opaque = 1;
            }
        }
        break;
    }
    case HD_K_EXCEPTION: {
        uint64_t tid;
        if (e->nfields < 1 || hd_shells_type_field(L, &c, &tid) < 0) {
            if (!PyErr_Occurred()) {
                hd_decode_fail(L, "EXCEPTION record is malformed");
            }
            break;
        }
        cls = hd_shells_class_for(L, tid, HD_K_EXCEPTION);
        if (cls == NULL) {
            break;
        }
        PyTypeObject *base = hd_shells_static_base(cls);
        if (hd_shims_group_shell(cls, base, L->empty_tuple, &obj)) {
            break;
        }
        obj = base->tp_new(cls, L->empty_tuple, NULL);
        break;
    }
    case HD_K_CELL: obj = PyCell_New(NULL); break;
    case HD_K_NATIVE: {
        /* a container's shell (the other natives are LATE: fill.c), an
         * empty one that _load fills: make_native(oid, [type, native]) */
        PyObject *fields = hd_records_entry_fields(L, id, LOAD_SOFT, 2);
        PyObject *args =
            fields ? Py_BuildValue("(nN)", (Py_ssize_t)id, fields) : NULL;
        obj = args ? hd_decode_call(L, HD_CB_make_native, args) : NULL;
        Py_XDECREF(args);
        break;
    }
    case HD_K_CODE: {
        PyObject *fields = hd_records_entry_fields(L, id, LOAD_SOFT, 10);
        if (fields == NULL) {
            break;
        }
        PyObject *args = Py_BuildValue("(nN)", (Py_ssize_t)id, fields);
        obj = args ? hd_decode_call(L, HD_CB_make_code, args) : NULL;
        Py_XDECREF(args);
        if (obj != NULL) {
            e->flags |= LOAD_F_FILLED;
        }
        break;
    }
    case HD_K_FRAME:
    case HD_K_TRACEBACK:
    case HD_K_CFUNCTION:
    case HD_K_MODULE:
    case HD_K_GENERATOR:
    case HD_K_WEAKREF: {
        /* a shell of heapdump's own class for the kind, filled by _load */
        PyObject *key = PyLong_FromLong(kind);
        PyObject *k =
            key ? PyDict_GetItemWithError(HD_SUPPORT(L, shell_classes), key)
                : NULL;
        Py_XDECREF(key);
        if (k == NULL || !PyType_Check(k)) {
            if (!PyErr_Occurred()) {
                hd_decode_fail(L, "no shell class for %s",
                               hd_loader_kind_name(kind));
            }
            break;
        }
        cls = (PyTypeObject *)k;
        PyTypeObject *base = hd_shells_static_base(cls);
        if (PyType_IsSubtype(cls, &hd_load_surrogate_type)) {
            obj = shells_surrogate_new_of(cls, L->addrs[id], (int64_t)id);
        }
        else {
            obj = base->tp_new(cls, L->empty_tuple, NULL);
        }
        break;
    }
    default: return 0;
    }
    if (obj == NULL) {
        if (!PyErr_Occurred()) {
            hd_decode_fail(L, "could not make object %zu", id);
        }
        hd_decode_wrap(L, id);
        return -1;
    }
    e = &L->entries[id];
    e->obj = obj;
    if ((e->flags & LOAD_F_CUT) && cls != NULL && e->pre == 0 &&
        kind != HD_K_INSTANCE && kind != HD_K_OPAQUE) {
        if (hd_records_set_original_length(L, obj, id) < 0) {
            hd_decode_wrap(L, id);
            return -1;
        }
    }
    return 0;
}
