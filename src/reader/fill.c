/* fill.c: the loader's phase 3 (loader.h): contents filled in id order;
 * tuples, frozensets, ranges, slices, functions and methods built on
 * demand, dependencies first (an explicit stack, never C recursion); and
 * attributes set from a file without running anything from it.
 *
 * Contract: caller holds the GIL; no __new__, __init__, __setitem__,
 * __hash__ or descriptor from the file runs.
 */
#include "loader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Phase 3: contents, and the objects made from them
 */

/* The instance attributes of a layout, as a tuple (decoded at first use;
 * names that are not str are values, resolved as dict keys). */
PyObject *
hd_fill_layout_names(LoaderObject *L, load_layout *l, int mode)
{
    if (l->names_tuple != NULL) {
        return l->names_tuple;
    }
    hd_mp_cur c = {l->names, l->names_end};
    PyObject *list = hd_records_value_array(L, &c, 1, LOAD_READY, mode);
    if (list == NULL) {
        return NULL;
    }
    if (list == Py_None) {
        Py_DECREF(list);
        list = PyList_New(0);
        if (list == NULL) {
            return NULL;
        }
    }
    l->names_tuple = PyList_AsTuple(list);
    Py_DECREF(list);
    return l->names_tuple;
}

/* A dict of the attributes: names of layout ln and values at it. */
static PyObject *
fill_attr_dict(LoaderObject *L, size_t id, uint64_t ln, hd_mp_cur *c,
               uint32_t nvalues, int mode)
{
    if (ln >= L->nlayouts) {
        return hd_decode_fail(L,
                              "object %zu names layout %llu, which is not "
                              "defined before it",
                              id, (unsigned long long)ln);
    }
    load_layout *l = &L->layouts[ln];
    PyObject *names = hd_fill_layout_names(L, l, mode);
    if (names == NULL) {
        return NULL;
    }
    if ((size_t)PyTuple_GET_SIZE(names) != nvalues) {
        return hd_decode_fail(
            L,
            "object %zu has %u attribute values for a layout "
            "of %zd names",
            id, nvalues, PyTuple_GET_SIZE(names));
    }
    PyObject *dict = _PyDict_NewPresized((Py_ssize_t)nvalues);
    if (dict == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < nvalues; i++) {
        PyObject *v = hd_decode_value(L, c, LOAD_EXIST, mode);
        if (v == NULL) {
            Py_DECREF(dict);
            return NULL;
        }
        if (v != HD_SUPPORT(L, UNBOUND) &&
            PyDict_SetItem(dict, PyTuple_GET_ITEM(names, i), v) < 0) {
            Py_DECREF(v);
            Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(v);
    }
    return dict;
}

static int
fill_fill_instance(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    hd_mp_item it;
    if (hd_mpread_next(&c, &it) < 0) {
        hd_decode_fail(L, "INSTANCE record is malformed");
        return -1;
    }
    if (it.type != HD_MP_UINT) {
        return 0; /* no attributes */
    }
    PyObject *dict = fill_attr_dict(L, id, it.u, &c, e->nfields - 1, LOAD_DFS);
    if (dict == NULL) {
        return -1;
    }
    SurrogateObject *s = (SurrogateObject *)L->entries[id].obj;
    Py_XSETREF(s->dict, dict);
    return 0;
}

static int
fill_fill_opaque(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    hd_mp_item it, arr;
    if (hd_mpread_skip(&c) < 0 || hd_mpread_next(&c, &it) < 0 ||
        hd_mpread_next(&c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        hd_decode_fail(L, "OPAQUE record is malformed");
        return -1;
    }
    PyObject *dict = NULL;
    if (it.type == HD_MP_UINT) {
        dict = fill_attr_dict(L, id, it.u, &c, (uint32_t)arr.u, LOAD_DFS);
        if (dict == NULL) {
            return -1;
        }
    }
    else if (arr.u != 0 || it.type != HD_MP_NIL) {
        hd_decode_fail(L, "OPAQUE record has values without a layout");
        return -1;
    }
    PyObject *refs = hd_records_value_array(L, &c, 0, LOAD_EXIST, LOAD_DFS);
    if (refs == NULL) {
        Py_XDECREF(dict);
        return -1;
    }
    PyObject *t = refs == Py_None ? PyTuple_New(0) : PyList_AsTuple(refs);
    Py_DECREF(refs);
    if (t == NULL) {
        Py_XDECREF(dict);
        return -1;
    }
    SurrogateObject *s = (SurrogateObject *)L->entries[id].obj;
    Py_XSETREF(s->dict, dict);
    Py_XSETREF(s->referents, t);
    return 0;
}

/* LIST, DICT, SET (and their subclasses): the elements. */
static int
fill_fill_container(LoaderObject *L, size_t id)
{
    load_items its, vals;
    hd_mp_item item;
    load_entry *e = &L->entries[id];
    int kind = e->kind, r;
    PyObject *obj = e->obj;
    if (hd_decode_items_init(L, &its, id, kind == HD_K_DICT ? 1 : 0, 0) < 0) {
        return -1;
    }
    if (kind == HD_K_LIST && PyList_CheckExact(obj)) {
        /* the exact size at once, items set in place: nothing has seen
         * the empty list yet */
        size_t cap = e->nitems ? e->nitems : 1;
        PyObject **items = PyMem_New(PyObject *, cap);
        size_t n = 0;
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        while ((r = hd_decode_items_next(L, &its, &item)) > 0) {
            PyObject *v =
                n < cap ? hd_decode_value_item(L, &item, LOAD_EXIST, LOAD_DFS)
                        : NULL;
            if (v == NULL || v == HD_SUPPORT(L, UNBOUND)) {
                Py_XDECREF(v);
                r = -1;
                if (!PyErr_Occurred()) {
                    hd_decode_fail(L, "an UNBOUND value in a list, or more "
                                      "elements than counted");
                }
                break;
            }
            items[n++] = v;
        }
        if (r < 0) {
            while (n > 0) {
                Py_DECREF(items[--n]);
            }
            PyMem_Free(items);
            return -1;
        }
        PyListObject *list = (PyListObject *)obj;
        PyObject **old = list->ob_item;
        list->ob_item = items;
        Py_SET_SIZE(list, (Py_ssize_t)n);
        list->allocated = (Py_ssize_t)cap;
        PyMem_Free(old);
        return 0;
    }
    if (kind == HD_K_LIST || kind == HD_K_SET) {
        int goal = kind == HD_K_SET ? LOAD_READY : LOAD_EXIST;
        while ((r = hd_decode_items_next(L, &its, &item)) > 0) {
            PyObject *v = hd_decode_value_item(L, &item, goal, LOAD_DFS);
            if (v == NULL || v == HD_SUPPORT(L, UNBOUND) ||
                (kind == HD_K_LIST ? PyList_Append(obj, v)
                                   : PySet_Add(obj, v)) < 0) {
                Py_XDECREF(v);
                if (!PyErr_Occurred()) {
                    hd_decode_fail(L, "an UNBOUND value in a %s",
                                   hd_loader_kind_name(kind));
                }
                return -1;
            }
            Py_DECREF(v);
        }
        return r;
    }
    /* DICT: builtin subclasses of dict with their own C bookkeeping
     * (OrderedDict) through their mp_ass_subscript; the exact dict and
     * the classes made by the loader (no __setitem__) through
     * PyDict_SetItem. */
    PyMappingMethods *mp = Py_TYPE(obj)->tp_as_mapping;
    int generic =
        !PyDict_CheckExact(obj) && mp != NULL &&
        mp->mp_ass_subscript != PyDict_Type.tp_as_mapping->mp_ass_subscript &&
        hd_shells_static_base(Py_TYPE(obj)) != &PyDict_Type;
    if (hd_decode_items_init(L, &vals, id, 2, 0) < 0) {
        return -1;
    }
    while ((r = hd_decode_items_next(L, &its, &item)) > 0) {
        PyObject *k = hd_decode_value_item(L, &item, LOAD_READY, LOAD_DFS);
        PyObject *v = NULL;
        if (k != NULL) {
            r = hd_decode_items_next(L, &vals, &item);
            if (r > 0) {
                v = hd_decode_value_item(L, &item, LOAD_EXIST, LOAD_DFS);
            }
            else if (r == 0) {
                hd_decode_fail(L, "a DICT with fewer values than keys");
            }
        }
        if (v == NULL || k == HD_SUPPORT(L, UNBOUND) ||
            v == HD_SUPPORT(L, UNBOUND)) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (!PyErr_Occurred()) {
                hd_decode_fail(L, "an UNBOUND key or value in a dict");
            }
            return -1;
        }
        r = generic ? PyObject_SetItem(obj, k, v) : PyDict_SetItem(obj, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0) {
            return -1;
        }
    }
    return r;
}

static int
fill_fill_cell(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    if (e->nfields < 1) {
        hd_decode_fail(L, "CELL record is malformed");
        return -1;
    }
    PyObject *v = hd_decode_value(L, &c, LOAD_EXIST, LOAD_DFS);
    if (v == NULL) {
        return -1;
    }
    int r = 0;
    if (v != HD_SUPPORT(L, UNBOUND)) {
        r = PyCell_Set(L->entries[id].obj, v);
    }
    Py_DECREF(v);
    return r;
}

/* The references a late or tuple-like object needs before it is made, and
 * at what goal: calls push(L, dep, goal) for each. */
typedef int (*load_dep_fn)(LoaderObject *L, uint64_t dep, int goal);

static int
fill_deps(LoaderObject *L, size_t id, load_dep_fn push)
{
    load_entry *e = &L->entries[id];
    uint64_t ref;
    switch (e->kind) {
    case HD_K_TUPLE:
    case HD_K_FROZENSET: {
        load_items its;
        hd_mp_item item;
        int r;
        if (hd_decode_items_init(L, &its, id, 0, 0) < 0) {
            return -1;
        }
        while ((r = hd_decode_items_next(L, &its, &item)) > 0) {
            if (item.type == HD_MP_UINT && push(L, item.u, LOAD_READY) < 0) {
                return -1;
            }
        }
        return r;
    }
    case HD_K_RANGE:
    case HD_K_SLICE:
    case HD_K_METHOD: {
        hd_mp_cur c = {e->raw, e->raw_end};
        uint32_t n = e->kind == HD_K_METHOD ? 2 : 3;
        if (e->nfields < n) {
            hd_decode_fail(L, "%s record is malformed",
                           hd_loader_kind_name(e->kind));
            return -1;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (hd_decode_value_ref(L, &c, &ref) < 0) {
                return -1;
            }
            if (ref != LOAD_NO_ID &&
                push(L, ref,
                     e->kind == HD_K_METHOD ? LOAD_EXIST : LOAD_READY) < 0) {
                return -1;
            }
        }
        return 0;
    }
    case HD_K_FUNCTION: {
        /* name, qualname, module, code, defaults, kwdefaults, closure */
        hd_mp_cur c = {e->raw, e->raw_end};
        if (e->nfields < 7) {
            hd_decode_fail(L, "FUNCTION record is malformed");
            return -1;
        }
        if (hd_decode_skip_fields(L, &c, 3) < 0 ||
            hd_decode_value_ref(L, &c, &ref) < 0) {
            return -1;
        }
        if (ref != LOAD_NO_ID && push(L, ref, LOAD_EXIST) < 0) {
            return -1;
        }
        if (hd_decode_skip_fields(L, &c, 2) < 0 ||
            hd_decode_value_ref(L, &c, &ref) < 0) {
            return -1;
        }
        if (ref != LOAD_NO_ID && push(L, ref, LOAD_READY) < 0) {
            return -1;
        }
        return 0;
    }
    case HD_K_NATIVE: {
        /* the references of its state: type, native, [state...] */
        hd_mp_cur c = {e->raw, e->raw_end};
        hd_mp_item it;
        if (e->nfields < 3 || hd_decode_skip_fields(L, &c, 2) < 0 ||
            hd_mpread_next(&c, &it) < 0 || it.type != HD_MP_ARRAY) {
            hd_decode_fail(L, "NATIVE record is malformed");
            return -1;
        }
        for (uint64_t i = 0; i < it.u; i++) {
            if (hd_decode_value_ref(L, &c, &ref) < 0) {
                return -1;
            }
            if (ref != LOAD_NO_ID && push(L, ref, LOAD_READY) < 0) {
                return -1;
            }
        }
        return 0;
    }
    default: return 0;
    }
}

/* The depth of immutable nesting below a value (for the hash bound). */
static uint16_t
fill_depth_of(LoaderObject *L, PyObject *v, uint64_t ref)
{
    (void)v;
    if (ref != LOAD_NO_ID && ref < L->n) {
        return L->entries[ref].depth;
    }
    return 0;
}

/* The deepest immutable nesting below a value met so far, *depth, raised
 * to that of the value whose reference is ref. */
static void
fill_deepen(LoaderObject *L, PyObject *v, uint64_t ref, uint16_t *depth)
{
    uint16_t d = fill_depth_of(L, v, ref);
    if (d > *depth) {
        *depth = d;
    }
}

/* Fill tuple id (its shell, e->obj) with its elements, marking it FILLED;
 * *depth: the deepest nesting below them.  0, or -1 with an error. */
static int
fill_tuple(LoaderObject *L, size_t id, uint16_t *depth)
{
    load_entry *e = &L->entries[id];
    load_items its;
    hd_mp_item item;
    int r;
    if (hd_decode_items_init(L, &its, id, 0, 0) < 0) {
        return -1;
    }
    PyObject *t = e->obj;
    Py_ssize_t i = 0, n = PyTuple_GET_SIZE(t);
    while ((r = hd_decode_items_next(L, &its, &item)) > 0) {
        PyObject *v = hd_decode_value_item(L, &item, LOAD_READY, LOAD_STRICT);
        if (v == NULL) {
            return -1;
        }
        if (v == HD_SUPPORT(L, UNBOUND) || i >= n) {
            Py_DECREF(v);
            hd_decode_fail(L, "an UNBOUND value in a tuple, or more elements "
                              "than counted");
            return -1;
        }
        fill_deepen(L, v, item.type == HD_MP_UINT ? item.u : LOAD_NO_ID,
                    depth);
        PyTuple_SET_ITEM(t, i, v);
        i++;
    }
    if (r < 0) {
        return -1;
    }
    if (i != n) {
        hd_decode_fail(L, "a tuple shorter than its records said");
        return -1;
    }
    e = &L->entries[id];
    e->flags |= LOAD_F_FILLED;
    return 0;
}

/* The class of frozenset id when it is not frozenset itself (its prefix
 * names one, or it was cut): *cls, else NULL.  0, or -1 with an error. */
static int
fill_frozenset_class(LoaderObject *L, size_t id, PyTypeObject **cls)
{
    load_entry *e = &L->entries[id];
    *cls = NULL;
    if (e->pre) {
        load_prefix *p = &L->prefixes[e->pre - 1];
        hd_mp_cur pc = {p->raw, p->end};
        uint64_t tid;
        if (hd_shells_type_field(L, &pc, &tid) < 0 ||
            (*cls = hd_shells_class_for(L, tid, e->kind)) == NULL) {
            return -1;
        }
    }
    else if (e->flags & LOAD_F_CUT) {
        *cls = hd_records_cut_class(L, e->kind);
        if (*cls == NULL) {
            return -1;
        }
    }
    return 0;
}

/* Make frozenset id (or its subclass's instance) from its elements:
 * *obj, NULL when making it failed; *depth as in fill_tuple.  -1 (with an
 * error) when its records could not be read, else 0. */
static int
fill_frozenset(LoaderObject *L, size_t id, PyObject **obj, uint16_t *depth)
{
    load_entry *e = &L->entries[id];
    load_items its;
    hd_mp_item item;
    int r;
    if (hd_decode_items_init(L, &its, id, 0, 0) < 0) {
        return -1;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return -1;
    }
    while ((r = hd_decode_items_next(L, &its, &item)) > 0) {
        PyObject *v = hd_decode_value_item(L, &item, LOAD_READY, LOAD_STRICT);
        if (v == NULL || v == HD_SUPPORT(L, UNBOUND) ||
            PyList_Append(list, v) < 0) {
            Py_XDECREF(v);
            if (!PyErr_Occurred()) {
                hd_decode_fail(L, "an UNBOUND value in a frozenset");
            }
            r = -1;
            break;
        }
        Py_DECREF(v);
        fill_deepen(L, NULL, item.type == HD_MP_UINT ? item.u : LOAD_NO_ID,
                    depth);
    }
    PyTypeObject *cls = NULL;
    if (r < 0 || fill_frozenset_class(L, id, &cls) < 0) {
        Py_DECREF(list);
        return -1;
    }
    if (cls == NULL) {
        *obj = PyFrozenSet_New(list);
    }
    else {
        PyObject *args = PyTuple_Pack(1, list);
        *obj = args ? PyFrozenSet_Type.tp_new(cls, args, NULL) : NULL;
        Py_XDECREF(args);
        if (*obj != NULL && e->pre == 0 &&
            hd_records_set_original_length(L, *obj, id) < 0) {
            Py_CLEAR(*obj);
        }
    }
    Py_DECREF(list);
    return 0;
}

/* Make range or slice id (kind) from its three values; *depth as in
 * fill_tuple.  NULL when it failed. */
static PyObject *
fill_range_slice(LoaderObject *L, size_t id, int kind, uint16_t *depth)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    PyObject *v[3] = {NULL, NULL, NULL}, *obj = NULL;
    int ok = 1;
    for (int i = 0; i < 3 && ok; i++) {
        uint64_t ref;
        hd_mp_cur peek = c;
        ok = hd_decode_value_ref(L, &peek, &ref) == 0 &&
             (v[i] = hd_decode_value(L, &c, LOAD_READY, LOAD_STRICT)) != NULL;
        if (ok) {
            fill_deepen(L, v[i], ref, depth);
        }
    }
    if (ok && kind == HD_K_RANGE) {
        if (!PyLong_Check(v[0]) || !PyLong_Check(v[1]) ||
            !PyLong_Check(v[2])) {
            hd_decode_fail(L, "RANGE record with a value that is not an int");
        }
        else {
            obj = PyObject_CallFunctionObjArgs((PyObject *)&PyRange_Type, v[0],
                                               v[1], v[2], NULL);
        }
    }
    else if (ok) {
        for (int i = 0; i < 3; i++) {
            if (v[i] == HD_SUPPORT(L, UNBOUND)) {
                Py_SETREF(v[i], Py_NewRef(Py_None));
            }
        }
        obj = PySlice_New(v[0], v[1], v[2]);
    }
    Py_XDECREF(v[0]);
    Py_XDECREF(v[1]);
    Py_XDECREF(v[2]);
    return obj;
}

/* Make bound method id (an unbound one: its function); NULL when it
 * failed. */
static PyObject *
fill_method(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    PyObject *obj = NULL;
    PyObject *f = hd_decode_value(L, &c, LOAD_EXIST, LOAD_STRICT);
    PyObject *self =
        f ? hd_decode_value(L, &c, LOAD_EXIST, LOAD_STRICT) : NULL;
    if (self != NULL) {
        if (self == Py_None || self == HD_SUPPORT(L, UNBOUND)) {
            /* an unbound method cannot be rebuilt: the function */
            obj = Py_NewRef(f);
        }
        else {
            obj = PyMethod_New(f, self);
        }
    }
    Py_XDECREF(f);
    Py_XDECREF(self);
    return obj;
}

/* Make function id through heapdump._load's make_function: *obj, NULL when
 * that failed.  -1 (with an error) when its fields could not be read, else
 * 0. */
static int
fill_function(LoaderObject *L, size_t id, PyObject **obj)
{
    PyObject *fields = hd_records_entry_fields(L, id, LOAD_SOFT, 9);
    if (fields == NULL) {
        return -1;
    }
    PyObject *args = Py_BuildValue("(nN)", (Py_ssize_t)id, fields);
    *obj = args ? hd_decode_call(L, HD_CB_make_function, args) : NULL;
    Py_XDECREF(args);
    return 0;
}

/* Make a late object / fill a tuple, its dependencies being ready: the
 * kind's step above, then the object kept (FILLED) and, for the
 * immutable containers, their nesting depth checked and kept.  0 (also
 * for a kind with nothing late), or -1 with an error. */
static int
fill_action(LoaderObject *L, size_t id)
{
    int kind = L->entries[id].kind;
    uint16_t depth = 0;
    PyObject *obj = NULL;
    switch (kind) {
    case HD_K_TUPLE:
        if (fill_tuple(L, id, &depth) < 0) {
            return -1;
        }
        break;
    case HD_K_FROZENSET:
        if (fill_frozenset(L, id, &obj, &depth) < 0) {
            return -1;
        }
        break;
    case HD_K_RANGE:
    case HD_K_SLICE: obj = fill_range_slice(L, id, kind, &depth); break;
    case HD_K_METHOD: obj = fill_method(L, id); break;
    case HD_K_FUNCTION:
        if (fill_function(L, id, &obj) < 0) {
            return -1;
        }
        break;
    case HD_K_NATIVE: {
        /* made from its state: make_native(oid, [type, native, state]) */
        PyObject *fields = hd_records_entry_fields(L, id, LOAD_STRICT, 3);
        PyObject *args =
            fields ? Py_BuildValue("(nN)", (Py_ssize_t)id, fields) : NULL;
        obj = args ? hd_decode_call(L, HD_CB_make_native, args) : NULL;
        Py_XDECREF(args);
        break;
    }
    default: return 0;
    }
    load_entry *e = &L->entries[id];
    if (kind != HD_K_TUPLE) {
        if (obj == NULL) {
            if (!PyErr_Occurred()) {
                hd_decode_fail(L, "could not make object %zu", id);
            }
            return -1;
        }
        e->obj = obj;
        e->flags |= LOAD_F_FILLED;
    }
    if (kind == HD_K_TUPLE || kind == HD_K_FROZENSET || kind == HD_K_SLICE ||
        kind == HD_K_RANGE) {
        if (depth + 1 > LOAD_MAX_IMMUTABLE_DEPTH) {
            hd_decode_fail(L,
                           "object %zu: tuples (or frozensets, slices) nested "
                           "more than %d deep",
                           id, LOAD_MAX_IMMUTABLE_DEPTH);
            return -1;
        }
        e->depth = (uint16_t)(depth + 1);
    }
    return 0;
}

static int
fill_push(LoaderObject *L, uint64_t id, int goal)
{
    if (id >= L->n) {
        return 0; /* lost: a placeholder, made when decoded */
    }
    load_entry *e = &L->entries[id];
    if (hd_loader_is_ready(e, goal)) {
        return 0;
    }
    if (e->flags & LOAD_F_VISITING) {
        hd_decode_fail(L,
                       "object %llu (%s record) contains itself through "
                       "immutable objects (tuples, frozensets, slices): a "
                       "corrupt or hostile file",
                       (unsigned long long)id, hd_loader_kind_name(e->kind));
        return -1;
    }
    if (!(e->flags & (LOAD_F_TUPLE | LOAD_F_LATE))) {
        /* a shell that does not exist: cannot happen after phase 2 */
        hd_decode_fail(L,
                       "object %llu (%s record) is referenced before it can "
                       "be made",
                       (unsigned long long)id, hd_loader_kind_name(e->kind));
        return -1;
    }
    if (hd_decode_grow((void **)&L->stack, L->sp, &L->stack_cap,
                       sizeof(load_task)) < 0) {
        return -1;
    }
    load_task *t = &L->stack[L->sp++];
    t->id = (uint32_t)id;
    t->goal = (uint8_t)goal;
    t->expanded = 0;
    return 0;
}

/* Make (or fill) object id and what it needs first, depth first with an
 * explicit stack.  A dependency met again while it is still being made
 * is a cycle through immutable objects: an error. */
int
hd_fill_need(LoaderObject *L, size_t id, int goal)
{
    size_t base = L->sp;
    if (fill_push(L, id, goal) < 0) {
        goto error;
    }
    while (L->sp > base) {
        load_task *t = &L->stack[L->sp - 1];
        size_t tid = t->id;
        load_entry *e = &L->entries[tid];
        if (hd_loader_is_ready(e, t->goal)) {
            if (t->expanded) {
                e->flags &= ~LOAD_F_VISITING;
            }
            L->sp--;
            continue;
        }
        if (!t->expanded) {
            if (e->flags & LOAD_F_VISITING) {
                hd_decode_fail(L,
                               "object %zu (%s record) contains itself "
                               "through immutable objects",
                               tid, hd_loader_kind_name(e->kind));
                goto error;
            }
            e->flags |= LOAD_F_VISITING;
            t->expanded = 1;
            if (fill_deps(L, tid, fill_push) < 0) {
                goto error;
            }
            continue;
        }
        if (fill_action(L, tid) < 0) {
            hd_decode_wrap(L, tid);
            goto error;
        }
        L->entries[tid].flags &= ~LOAD_F_VISITING;
        L->sp--;
    }
    return 0;
error:
    while (L->sp > base) {
        L->entries[L->stack[L->sp - 1].id].flags &= ~LOAD_F_VISITING;
        L->sp--;
    }
    return -1;
}

/* The CLASS attributes of a builtin subclass instance; the attributes
 * of a NATIVE record. */
static int fill_class_attrs(LoaderObject *L, size_t id);
static int fill_native_attrs(LoaderObject *L, size_t id);

/* Phases 2 and 3. */
PyObject *
hd_fill_loader_build(LoaderObject *L, PyObject *Py_UNUSED(ignored))
{
    if (!L->read_done || L->built) {
        return hd_decode_fail(L, "build() must follow read(), once");
    }
    L->built = 1;
    /* a: types, in id order (a type's bases come before it) */
    for (size_t id = 0; id < L->n; id++) {
        if (L->entries[id].kind == HD_K_TYPE &&
            hd_shells_make_type(L, id) < 0) {
            hd_decode_wrap(L, id);
            return NULL;
        }
    }
    /* b: shells */
    for (size_t id = 0; id < L->n; id++) {
        load_entry *e = &L->entries[id];
        if (e->obj == NULL && !(e->flags & LOAD_F_LATE) &&
            hd_shells_make_shell(L, id) < 0) {
            return NULL;
        }
    }
    /* c: contents */
    for (size_t id = 0; id < L->n; id++) {
        load_entry *e = &L->entries[id];
        int r = 0;
        if (e->flags & (LOAD_F_TUPLE | LOAD_F_LATE)) {
            if (!hd_loader_is_ready(e, LOAD_READY)) {
                r = hd_fill_need(L, id, LOAD_READY);
            }
        }
        else if (e->obj != NULL && !(e->flags & LOAD_F_FILLED)) {
            switch (e->kind) {
            case HD_K_LIST:
            case HD_K_DICT:
            case HD_K_SET: r = fill_fill_container(L, id); break;
            case HD_K_INSTANCE: r = fill_fill_instance(L, id); break;
            case HD_K_OPAQUE: r = fill_fill_opaque(L, id); break;
            case HD_K_CELL: r = fill_fill_cell(L, id); break;
            default: break;
            }
            if (r == 0 && !(e->flags & LOAD_F_PYFILL)) {
                L->entries[id].flags |= LOAD_F_FILLED;
            }
        }
        if (r < 0) {
            hd_decode_wrap(L, id);
            return NULL;
        }
    }
    /* d: attributes of instances of builtin subclasses, and of native
     * objects (a Python subclass's instance dict) */
    for (size_t id = 0; id < L->n; id++) {
        if ((L->entries[id].pre && fill_class_attrs(L, id) < 0) ||
            (L->entries[id].kind == HD_K_NATIVE &&
             fill_native_attrs(L, id) < 0)) {
            hd_decode_wrap(L, id);
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------
 * Attributes set from a file, without running anything from it
 */

/* obj.name = value, where only C code can run: a member or getset
 * descriptor of a builtin type is used as such; anything else goes into
 * the instance __dict__ (when obj has one), whatever the class says.
 * __class__ and __dict__ are never set.  Returns 1 if set, 0 if it could
 * not be (nothing raised), -1 on a real error (memory). */
int
hd_fill_setattr(PyObject *obj, PyObject *name, PyObject *value)
{
    if (!PyUnicode_Check(name)) {
        return 0;
    }
    if (PyUnicode_CompareWithASCIIString(name, "__class__") == 0 ||
        PyUnicode_CompareWithASCIIString(name, "__dict__") == 0) {
        return 0;
    }
    PyObject *descr = _PyType_Lookup(Py_TYPE(obj), name); /* borrowed */
    if (descr != NULL && (Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
                          Py_IS_TYPE(descr, &PyGetSetDescr_Type))) {
        Py_INCREF(descr);
        int r = Py_TYPE(descr)->tp_descr_set(descr, obj, value);
        Py_DECREF(descr);
        if (r == 0) {
            return 1;
        }
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    PyObject *dict = NULL;
    if (PyType_IsSubtype(Py_TYPE(obj), &hd_load_surrogate_type)) {
        SurrogateObject *s = (SurrogateObject *)obj;
        if (s->dict == NULL) {
            s->dict = PyDict_New();
            if (s->dict == NULL) {
                return -1;
            }
        }
        dict = Py_NewRef(s->dict);
    }
    else {
        PyObject **dp = _PyObject_GetDictPtr(obj);
        if (dp == NULL) {
            /* 3.11+ objects with a managed dict and no dict pointer */
            if (Py_TYPE(obj)->tp_dictoffset == 0) {
                return 0;
            }
            dict = PyObject_GenericGetDict(obj, NULL);
            if (dict == NULL) {
                PyErr_Clear();
                return 0;
            }
        }
        else {
            if (*dp == NULL) {
                *dp = PyDict_New();
                if (*dp == NULL) {
                    return -1;
                }
            }
            dict = Py_NewRef(*dp);
        }
    }
    if (!PyDict_Check(dict)) {
        Py_DECREF(dict);
        return 0;
    }
    int r = PyDict_SetItem(dict, name, value);
    Py_DECREF(dict);
    return r < 0 ? -1 : 1;
}

/* Set on object id the attributes of a record's layout item and values
 * array (read from c): nothing when the layout is nil. */
static int
fill_layout_attrs(LoaderObject *L, size_t id, const hd_mp_item *layout,
                  hd_mp_cur *c, const hd_mp_item *values)
{
    if (layout->type != HD_MP_UINT) {
        return 0;
    }
    PyObject *dict =
        fill_attr_dict(L, id, layout->u, c, (uint32_t)values->u, LOAD_STRICT);
    if (dict == NULL) {
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    PyObject *obj = L->entries[id].obj;
    while (obj != NULL && PyDict_Next(dict, &pos, &k, &v)) {
        if (hd_fill_setattr(obj, k, v) < 0) {
            Py_DECREF(dict);
            return -1;
        }
    }
    Py_DECREF(dict);
    return 0;
}

static int
fill_class_attrs(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    load_prefix *p = &L->prefixes[e->pre - 1];
    hd_mp_cur c = {p->raw, p->end};
    hd_mp_item it, arr;
    if (hd_mpread_skip(&c) < 0 || hd_mpread_next(&c, &it) < 0 ||
        hd_mpread_next(&c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        hd_decode_fail(L, "CLASS record is malformed");
        return -1;
    }
    return fill_layout_attrs(L, id, &it, &c, &arr);
}

/* NATIVE: [type, native, [state], layout, [attribute values]]: the
 * attributes set on the object made from it (what is not settable, on
 * a real object of a C type, is left). */
static int
fill_native_attrs(LoaderObject *L, size_t id)
{
    load_entry *e = &L->entries[id];
    hd_mp_cur c = {e->raw, e->raw_end};
    hd_mp_item it, arr;
    if (e->nfields < 5) {
        return 0; /* no attributes */
    }
    if (hd_decode_skip_fields(L, &c, 3) < 0 || hd_mpread_next(&c, &it) < 0 ||
        hd_mpread_next(&c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        hd_decode_fail(L, "NATIVE record is malformed");
        return -1;
    }
    return fill_layout_attrs(L, id, &it, &c, &arr);
}
