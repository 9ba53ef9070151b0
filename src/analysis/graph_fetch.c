/* graph_fetch.c: the Graph's records read again (graph_py.h).  fetch()
 * describes a few nodes (address, reference count, size, and by kind a
 * length, a text preview, a name...) and finds where each of some
 * (source, target) edges is in its source's record (a field, an attribute
 * name, an index, a key, a local variable's name), for the reports'
 * labels; find_addresses() maps addresses to record ids.  One or two
 * streaming passes (stream.c), each record read with mpread.c's checks.
 */
#include "graph_py.h"

#include "reader/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_FETCH_PREVIEW 80 /* characters of a str shown */

/* ---------------------------------------------------------------------
 * fetch(): the records of a few nodes read again
 */

/* Field names per kind, one per schema field; "@attrs" is the values of
 * the layout in the field before, "@names" the values of the names in
 * the field before (TYPE), "[]" an array shown as name[i]. */
static const char *const *
graph_fetch_field_names(int kind)
{
    static const char *const type_[] = {
        "__name__",  "__qualname__", "__module__",  "__class__", "__bases__[]",
        "base_kind", "flags",        "firstlineno", "(names)",   "@names"};
    static const char *const opaque[] = {"__class__", "layout", "@attrs",
                                         "referent[]"};
    static const char *const function[] = {
        "__name__",    "__qualname__", "__module__",
        "__code__",    "__defaults__", "__kwdefaults__",
        "__closure__", "layout",       "@attrs"};
    static const char *const method[] = {"__func__", "__self__"};
    static const char *const cfunction[] = {"__name__", "__qualname__",
                                            "__module__", "__self__"};
    static const char *const cell[] = {"cell_contents"};
    static const char *const traceback[] = {"tb_frame", "tb_lineno",
                                            "tb_lasti", "tb_next", "position"};
    static const char *const exception[] = {
        "__class__", "args",        "__traceback__",
        "__cause__", "__context__", "__suppress_context__",
        "layout",    "@attrs"};
    static const char *const generator[] = {"__class__", "flavor",
                                            "__name__",  "__qualname__",
                                            "gi_frame",  "state"};
    static const char *const weakref[] = {"__class__", "(referent)",
                                          "__callback__"};
    static const char *const range[] = {"start", "stop", "step"};
    static const char *const module[] = {"__name__", "__file__", "__dict__"};
    static const char *const frame[] = {"f_code",   "f_back",   "f_globals",
                                        "f_locals", "f_lineno", "f_lasti",
                                        "position", "@locals"};
    switch (kind) {
    case HD_K_TYPE: return type_;
    case HD_K_OPAQUE: return opaque;
    case HD_K_FUNCTION: return function;
    case HD_K_METHOD: return method;
    case HD_K_CFUNCTION: return cfunction;
    case HD_K_CELL: return cell;
    case HD_K_TRACEBACK: return traceback;
    case HD_K_EXCEPTION: return exception;
    case HD_K_GENERATOR: return generator;
    case HD_K_WEAKREF: return weakref;
    case HD_K_RANGE:
    case HD_K_SLICE: return range;
    case HD_K_MODULE: return module;
    case HD_K_FRAME: return frame;
    default: return NULL;
    }
}

/* A pair being located: where target is in source's record. */
typedef struct {
    uint32_t src, dst;
    PyObject *where; /* a tuple, or NULL while not found */
    /* set when the label needs a second pass: a DICT key that is a
     * reference (its STR record), a FRAME's local (its CODE's names) */
    uint32_t need;     /* the record to read, or HD_NONE */
    uint64_t need_idx; /* the key's / local's index */
    int need_kind;     /* 1 key, 2 value, 3 local */
} graph_pair;

typedef struct {
    GraphObject *self;
    /* sorted wanted nodes (to describe) and the pairs sorted by source */
    uint32_t *want;
    size_t nwant, iwant;
    graph_pair *pairs;
    size_t npairs, ipair;
    PyObject *info; /* dict node -> dict */
    /* the container being read (its MORE records follow) */
    uint32_t cur_node;
    int cur_kind;
    uint64_t cur_items; /* elements so far */
    PyObject *cur_dict; /* its info dict (borrowed from info), or NULL */
    size_t cur_pair_lo, cur_pair_hi; /* its pairs */
} graph_fetch;

static int
graph_fetch_set(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL) {
        return -1;
    }
    int r = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return r;
}

static int
graph_fetch_pair_cmp(const void *a, const void *b)
{
    const graph_pair *p = a, *q = b;
    if (p->src != q->src) {
        return p->src < q->src ? -1 : 1;
    }
    return (p->dst > q->dst) - (p->dst < q->dst);
}

static int
graph_fetch_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The i-th element of a msgpack array at [p, end) (RUNs not expanded:
 * names arrays have none), as a Python value; None past its end. */
static PyObject *
graph_fetch_array_item(const unsigned char *p, const unsigned char *end,
                       uint64_t index)
{
    hd_mp_cur c = {p, end};
    hd_mp_item it;
    if (hd_mpread_next(&c, &it) < 0 || it.type != HD_MP_ARRAY ||
        index >= it.u) {
        Py_RETURN_NONE;
    }
    for (uint64_t i = 0; i < index; i++) {
        if (hd_mpread_skip(&c) < 0) {
            Py_RETURN_NONE;
        }
    }
    PyObject *v = hd_graph_py_plain(&c, 0);
    if (v == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return v;
}

/* A located edge: ("field", name), ("attr", name), ("item", i), ... */
static int
graph_fetch_found(graph_pair *pr, PyObject *where)
{
    if (where == NULL) {
        return -1;
    }
    if (pr->where == NULL) {
        pr->where = where;
    }
    else {
        Py_DECREF(where);
    }
    return 0;
}

/* Scan n values at c (the elements from index base): each pair of the
 * current node whose target they reference is located as (how, index).
 * Returns the number of elements read (RUNs expanded), or -1. */
static int64_t
graph_fetch_scan_values(graph_fetch *f, hd_mp_cur *c, uint64_t n,
                        uint64_t base, int how)
{
    uint64_t index = base;
    for (uint64_t i = 0; i < n; i++) {
        hd_mp_item it;
        if (hd_mpread_next(c, &it) < 0) {
            PyErr_SetString(hd_graph_py_error,
                            "malformed msgpack in a record");
            return -1;
        }
        uint64_t first = 0, count = 0;
        if (it.type == HD_MP_UINT) {
            first = it.u;
            count = 1;
        }
        else if (it.type == HD_MP_EXT && it.ext == HD_EXT_RUN) {
            hd_mp_cur rc = {it.data, it.data + it.u};
            hd_mp_item a, b;
            if (hd_mpread_next(&rc, &a) == 0 && hd_mpread_next(&rc, &b) == 0 &&
                a.type == HD_MP_UINT && b.type == HD_MP_UINT) {
                first = a.u;
                count = b.u;
            }
        }
        else if (it.type == HD_MP_ARRAY || it.type == HD_MP_MAP) {
            PyErr_SetString(hd_graph_py_error,
                            "an array where a value belongs");
            return -1;
        }
        for (size_t k = f->cur_pair_lo; k < f->cur_pair_hi && count > 0; k++) {
            graph_pair *pr = &f->pairs[k];
            if (pr->where == NULL && pr->need == HD_NONE && pr->dst >= first &&
                pr->dst - first < count) {
                uint64_t at = index + (pr->dst - first);
                if (how == 3) {
                    pr->need_kind = 3;
                    pr->need_idx = at;
                    continue;
                }
                if (graph_fetch_found(
                        pr, Py_BuildValue("(sK)", how == 1 ? "key" : "item",
                                          (unsigned long long)at)) < 0) {
                    return -1;
                }
                if (how == 1) {
                    pr->need_kind = 1;
                    pr->need_idx = at;
                }
            }
        }
        index += count ? count : 1;
    }
    return (int64_t)(index - base);
}

/* The key at index of a DICT's [keys] array at c (RUNs expanded): an
 * inline value, or a reference (its id, into *ref). */
static PyObject *
graph_fetch_key_at(hd_mp_cur c, uint64_t index, uint32_t *ref)
{
    hd_mp_item arr, it;
    *ref = HD_NONE;
    if (hd_mpread_next(&c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        Py_RETURN_NONE;
    }
    uint64_t at = 0;
    for (uint64_t i = 0; i < arr.u; i++) {
        const unsigned char *start = c.p;
        if (hd_mpread_next(&c, &it) < 0) {
            Py_RETURN_NONE;
        }
        uint64_t count = 1;
        if (it.type == HD_MP_EXT && it.ext == HD_EXT_RUN) {
            hd_mp_cur rc = {it.data, it.data + it.u};
            hd_mp_item a, b;
            if (hd_mpread_next(&rc, &a) == 0 && hd_mpread_next(&rc, &b) == 0 &&
                a.type == HD_MP_UINT && b.type == HD_MP_UINT) {
                if (index >= at && index < at + b.u) {
                    *ref = (uint32_t)(a.u + (index - at));
                    Py_RETURN_NONE;
                }
                count = b.u;
            }
        }
        else if (at == index) {
            if (it.type == HD_MP_UINT) {
                *ref = it.u < HD_NONE ? (uint32_t)it.u : HD_NONE;
                Py_RETURN_NONE;
            }
            hd_mp_cur one = {start, c.end};
            PyObject *v = hd_graph_py_plain(&one, 0);
            if (v == NULL) {
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            return v;
        }
        at += count;
    }
    Py_RETURN_NONE;
}

/* Locate the pairs of the current container in one record body (an
 * object record's fields or a MORE's). */
static int
graph_fetch_locate_container(graph_fetch *f, hd_mp_cur *c, uint32_t nfields)
{
    if (f->cur_kind != HD_K_DICT) {
        int64_t n = graph_fetch_scan_values(f, c, nfields, f->cur_items, 0);
        if (n < 0) {
            return -1;
        }
        f->cur_items += (uint64_t)n;
        return 0;
    }
    if (nfields < 2) {
        return 0;
    }
    hd_mp_cur keys = *c;
    hd_mp_item arr;
    if (hd_mpread_next(c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        return 0;
    }
    /* keys: a key that is the target */
    int64_t nk = graph_fetch_scan_values(f, c, arr.u, f->cur_items, 1);
    if (nk < 0 || hd_mpread_next(c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        return nk < 0 ? -1 : 0;
    }
    /* values: then the key beside it */
    size_t lo = f->cur_pair_lo, hi = f->cur_pair_hi;
    int64_t nv = graph_fetch_scan_values(f, c, arr.u, f->cur_items, 0);
    if (nv < 0) {
        return -1;
    }
    for (size_t k = lo; k < hi; k++) {
        graph_pair *pr = &f->pairs[k];
        if (pr->where == NULL || pr->need_kind != 0 ||
            !PyTuple_Check(pr->where) ||
            strcmp(PyUnicode_AsUTF8(PyTuple_GET_ITEM(pr->where, 0)), "item") !=
                0) {
            continue;
        }
        uint64_t at =
            PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(pr->where, 1));
        if (at < f->cur_items || at >= f->cur_items + (uint64_t)nv) {
            continue;
        }
        uint32_t ref;
        PyObject *key = graph_fetch_key_at(keys, at - f->cur_items, &ref);
        if (key == NULL) {
            return -1;
        }
        Py_DECREF(pr->where);
        pr->where =
            Py_BuildValue("(sKN)", "value", (unsigned long long)at, key);
        if (pr->where == NULL) {
            return -1;
        }
        if (ref != HD_NONE) {
            pr->need = ref;
            pr->need_kind = 2;
        }
    }
    /* a key found above: its own value is itself (inline keys have no
     * id, so a located key is a reference already) */
    for (size_t k = lo; k < hi; k++) {
        graph_pair *pr = &f->pairs[k];
        if (pr->need_kind == 1) {
            pr->need_kind = 0;
        }
    }
    f->cur_items += (uint64_t)nk;
    return 0;
}

/* The attribute name of value index i of a layout. */
static PyObject *
graph_fetch_layout_name(hd_graph *g, uint64_t layout, uint64_t i)
{
    if (layout >= g->nlayouts) {
        return PyUnicode_FromFormat("attribute %llu", (unsigned long long)i);
    }
    hd_graph_layout *l = &g->layouts[layout];
    return graph_fetch_array_item(g->arena + l->names_off,
                                  g->arena + l->names_off + l->names_len, i);
}

/* locate_fields() for an INSTANCE: [layout, values...], the layout's
 * type being its __class__.  0 or -1. */
static int
graph_fetch_locate_instance(graph_fetch *f, hd_mp_cur *c, uint32_t nfields)
{
    hd_graph *g = &f->self->g;
    size_t lo = f->cur_pair_lo, hi = f->cur_pair_hi;
    hd_mp_item it;
    if (nfields < 1 || hd_mpread_next(c, &it) < 0) {
        return 0;
    }
    if (it.type == HD_MP_NIL) {
        for (size_t k = lo; k < hi; k++) {
            if (graph_fetch_found(&f->pairs[k], Py_BuildValue("(ss)", "field",
                                                              "__class__")) <
                0) {
                return -1;
            }
        }
        return 0;
    }
    uint64_t layout = it.type == HD_MP_UINT ? it.u : UINT64_MAX;
    uint32_t type = layout < g->nlayouts ? g->layouts[layout].type : HD_NONE;
    for (uint32_t i = 0; i + 1 < nfields; i++) {
        uint32_t ref = HD_NONE;
        hd_mp_item v;
        if (hd_mpread_next(c, &v) < 0) {
            return 0;
        }
        if (v.type == HD_MP_UINT && v.u < HD_NONE) {
            ref = (uint32_t)v.u;
        }
        for (size_t k = lo; k < hi && ref != HD_NONE; k++) {
            if (f->pairs[k].dst == ref) {
                PyObject *name = graph_fetch_layout_name(g, layout, i);
                if (graph_fetch_found(&f->pairs[k],
                                      name
                                          ? Py_BuildValue("(sN)", "attr", name)
                                          : NULL) < 0) {
                    return -1;
                }
            }
        }
    }
    for (size_t k = lo; k < hi; k++) {
        if (f->pairs[k].dst == type &&
            graph_fetch_found(&f->pairs[k], Py_BuildValue("(ss)", "field",
                                                          "__class__")) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Locate the pairs of a non-container object record, by its fields. */
static int
graph_fetch_locate_fields(graph_fetch *f, int kind, hd_mp_cur *c,
                          uint32_t nfields, PyObject *info)
{
    hd_graph *g = &f->self->g;
    size_t lo = f->cur_pair_lo, hi = f->cur_pair_hi;
    const char *schema = hd_format_fields(kind);
    const char *const *names = graph_fetch_field_names(kind);
    uint64_t last_uint = UINT64_MAX; /* the layout field before "@attrs" */
    const unsigned char *last_array = NULL, *last_array_end = NULL;
    if (kind == HD_K_INSTANCE) {
        return graph_fetch_locate_instance(f, c, nfields);
    }
    if (schema == NULL || names == NULL) {
        return 0;
    }
    uint32_t i = 0;
    for (const char *s = schema; *s && i < nfields; s++) {
        if (*s == '|') {
            continue;
        }
        const char *name = names[i];
        const unsigned char *start = c->p;
        hd_mp_item it;
        if (hd_mpread_next(c, &it) < 0) {
            return 0;
        }
        if (*s == 'v' && it.type == HD_MP_UINT) {
            for (size_t k = lo; k < hi; k++) {
                if (f->pairs[k].dst == it.u &&
                    graph_fetch_found(&f->pairs[k],
                                      Py_BuildValue("(ss)", "field", name)) <
                        0) {
                    return -1;
                }
            }
            if (kind == HD_K_FRAME && i == 0 && info != NULL && it.u < g->n) {
                if (graph_fetch_set(info, "code",
                                    PyLong_FromUnsignedLongLong(it.u)) < 0) {
                    return -1;
                }
            }
        }
        else if ((*s == 'V' || *s == 'N') && it.type == HD_MP_ARRAY) {
            const unsigned char *arr_start = start;
            for (uint64_t j = 0; j < it.u; j++) {
                hd_mp_item v;
                if (hd_mpread_next(c, &v) < 0) {
                    return 0;
                }
                if (v.type != HD_MP_UINT) {
                    continue;
                }
                for (size_t k = lo; k < hi; k++) {
                    graph_pair *pr = &f->pairs[k];
                    if (pr->dst != v.u || pr->where != NULL) {
                        continue;
                    }
                    PyObject *where = NULL;
                    if (strcmp(name, "@attrs") == 0) {
                        PyObject *an =
                            graph_fetch_layout_name(g, last_uint, j);
                        where = an ? Py_BuildValue("(sN)", "attr", an) : NULL;
                    }
                    else if (strcmp(name, "@names") == 0) {
                        PyObject *an = graph_fetch_array_item(
                            last_array, last_array_end, j);
                        where = an ? Py_BuildValue("(sN)", "attr", an) : NULL;
                    }
                    else if (strcmp(name, "@locals") == 0) {
                        pr->need_kind = 3;
                        pr->need_idx = j;
                        continue;
                    }
                    else if (strcmp(name, "(names)") == 0) {
                        where = Py_BuildValue("(sK)", "attrname",
                                              (unsigned long long)j);
                    }
                    else {
                        size_t len = strlen(name);
                        where = Py_BuildValue(
                            "(ss#K)", "index", name,
                            (Py_ssize_t)(len > 2 ? len - 2 : len),
                            (unsigned long long)j);
                    }
                    if (graph_fetch_found(pr, where) < 0) {
                        return -1;
                    }
                }
            }
            last_array = arr_start;
            last_array_end = c->p;
        }
        else if (it.type == HD_MP_ARRAY || it.type == HD_MP_MAP) {
            c->p = start;
            if (hd_mpread_skip(c) < 0) {
                return 0;
            }
        }
        if (it.type == HD_MP_UINT) {
            last_uint = it.u;
        }
        else if (it.type == HD_MP_NIL) {
            last_uint = UINT64_MAX;
        }
        if (kind == HD_K_FRAME && i == 4 && info != NULL &&
            it.type == HD_MP_UINT &&
            graph_fetch_set(info, "lineno",
                            PyLong_FromUnsignedLongLong(it.u)) < 0) {
            return -1;
        }
        i++;
    }
    return 0;
}

/* What describe() says of an object record: its kind, address, refcnt,
 * size, and by kind a name, a length, a preview. */
static PyObject *
graph_fetch_describe(int kind, int64_t addr, uint64_t refcnt, uint64_t size,
                     hd_mp_cur c, uint32_t nfields)
{
    PyObject *d =
        Py_BuildValue("{s:i,s:L,s:K,s:K}", "kind", kind, "address",
                      (long long)addr, "refcnt", (unsigned long long)refcnt,
                      "size", (unsigned long long)size);
    if (d == NULL) {
        return NULL;
    }
    hd_mp_item it;
    switch (kind) {
    case HD_K_STR:
        if (nfields >= 1 && hd_mpread_next(&c, &it) == 0 &&
            it.type == HD_MP_STR) {
            /* a preview: at most GRAPH_FETCH_PREVIEW characters */
            size_t n = 0, chars = 0;
            while (n < it.u && chars < GRAPH_FETCH_PREVIEW) {
                unsigned char b = it.data[n];
                n += b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
                chars++;
            }
            if (n > it.u) {
                n = (size_t)it.u;
            }
            PyObject *s = PyUnicode_DecodeUTF8((const char *)it.data,
                                               (Py_ssize_t)n, "replace");
            if (graph_fetch_set(d, "text", s) < 0 ||
                graph_fetch_set(d, "truncated", PyBool_FromLong(n < it.u)) <
                    0) {
                Py_DECREF(d);
                return NULL;
            }
        }
        break;
    case HD_K_BYTES:
    case HD_K_BYTEARRAY:
        if (nfields >= 1 && hd_mpread_next(&c, &it) == 0 &&
            (it.type == HD_MP_BIN || it.type == HD_MP_STR) &&
            graph_fetch_set(d, "len", PyLong_FromUnsignedLongLong(it.u)) < 0) {
            Py_DECREF(d);
            return NULL;
        }
        break;
    case HD_K_INT:
    case HD_K_FLOAT:
        if (nfields >= 1) {
            PyObject *v = hd_graph_py_plain_quiet(&c);
            if (v == NULL) {
                break;
            }
            if (graph_fetch_set(d, "value", v) < 0) {
                Py_DECREF(d);
                return NULL;
            }
        }
        break;
    case HD_K_MODULE:
    case HD_K_FUNCTION:
    case HD_K_CFUNCTION:
    case HD_K_TYPE:
    case HD_K_CODE: {
        /* name, qualname (module, filename...) */
        PyObject *name = nfields >= 1 ? hd_graph_py_plain_quiet(&c) : NULL;
        PyObject *qual = nfields >= 2 ? hd_graph_py_plain_quiet(&c) : NULL;
        PyObject *third = nfields >= 3 ? hd_graph_py_plain_quiet(&c) : NULL;
        if (name != NULL && PyDict_SetItemString(d, "name", name) < 0) {
            goto fail;
        }
        if (qual != NULL && PyDict_SetItemString(d, "qualname", qual) < 0) {
            goto fail;
        }
        if (third != NULL && PyDict_SetItemString(d, "third", third) < 0) {
            goto fail;
        }
        if (kind == HD_K_CODE && nfields >= 4) {
            PyObject *line = hd_graph_py_plain_quiet(&c);
            if (line != NULL && graph_fetch_set(d, "firstlineno", line) < 0) {
                goto fail;
            }
        }
        Py_XDECREF(name);
        Py_XDECREF(qual);
        Py_XDECREF(third);
        break;
    fail:
        Py_XDECREF(name);
        Py_XDECREF(qual);
        Py_XDECREF(third);
        Py_DECREF(d);
        return NULL;
    }
    default: break;
    }
    return d;
}

/* A CODE record's local name at index (its [names], field 9). */
static PyObject *
graph_fetch_code_name(hd_mp_cur c, uint32_t nfields, uint64_t index)
{
    if (nfields < 10) {
        Py_RETURN_NONE;
    }
    for (int i = 0; i < 8; i++) {
        if (hd_mpread_skip(&c) < 0) {
            Py_RETURN_NONE;
        }
    }
    return graph_fetch_array_item(c.p, c.end, index);
}

/* An object record's header, as the passes read it. */
typedef struct {
    uint32_t node;
    int kind;
    int64_t addr;
    uint64_t refcnt, size;
    uint32_t nfields; /* after the header */
    int wanted;       /* a node to describe */
} graph_fetch_rec;

/* The second pass's work on a record r (fields at c): describe it if it
 * is wanted and not described yet, and finish the labels that wait for
 * it: a dict key's value, a frame's local name.  0 or -1. */
static int
graph_fetch_resolve(graph_fetch *f, const graph_fetch_rec *r, hd_mp_cur c)
{
    /* the records the first pass asked for: key values (STR,
     * INT...), CODE names */
    PyObject *info = NULL;
    if (r->wanted) {
        info = graph_fetch_describe(r->kind, r->addr, r->refcnt, r->size, c,
                                    r->nfields);
        PyObject *key = info ? PyLong_FromUnsignedLong(r->node) : NULL;
        int bad = key == NULL || (!PyDict_Contains(f->info, key) &&
                                  PyDict_SetItem(f->info, key, info) < 0);
        Py_XDECREF(key);
        if (bad) {
            Py_XDECREF(info);
            return -1;
        }
    }
    for (size_t k = 0; k < f->npairs; k++) {
        graph_pair *pr = &f->pairs[k];
        if (pr->need != r->node || pr->where == NULL) {
            continue;
        }
        if (pr->need_kind == 3) {
            PyObject *n = graph_fetch_code_name(c, r->nfields, pr->need_idx);
            Py_DECREF(pr->where);
            pr->where = n ? Py_BuildValue("(sN)", "local", n) : NULL;
        }
        else if (pr->need_kind == 2 && info != NULL) {
            PyObject *key = PyDict_GetItemString(info, "text");
            if (key == NULL) {
                key = PyDict_GetItemString(info, "value");
            }
            if (key != NULL) {
                PyObject *w = Py_BuildValue(
                    "(sOO)", "value", PyTuple_GET_ITEM(pr->where, 1), key);
                Py_DECREF(pr->where);
                pr->where = w;
            }
        }
        if (pr->where == NULL) {
            Py_XDECREF(info);
            return -1;
        }
    }
    Py_XDECREF(info);
    return 0;
}

/* The first pass's work on a record r (fields at c): describe it if it is
 * wanted, locate the pairs it is the source of (a container's go on in
 * its MORE records).  0 or -1. */
static int
graph_fetch_first(graph_fetch *f, const graph_fetch_rec *r, hd_mp_cur *c)
{
    PyObject *info = NULL;
    if (r->wanted) {
        info = graph_fetch_describe(r->kind, r->addr, r->refcnt, r->size, *c,
                                    r->nfields);
        PyObject *key = info ? PyLong_FromUnsignedLong(r->node) : NULL;
        int bad = key == NULL || PyDict_SetItem(f->info, key, info) < 0;
        Py_XDECREF(key);
        Py_XDECREF(info);
        if (bad) {
            return -1;
        }
    }
    size_t lo = f->ipair, hi = lo;
    while (hi < f->npairs && f->pairs[hi].src == r->node) {
        hi++;
    }
    f->cur_pair_lo = lo;
    f->cur_pair_hi = hi;
    f->cur_items = 0;
    f->cur_kind = 0;
    if (r->kind == HD_K_TUPLE || r->kind == HD_K_LIST || r->kind == HD_K_SET ||
        r->kind == HD_K_FROZENSET || r->kind == HD_K_DICT) {
        f->cur_node = r->node;
        f->cur_kind = r->kind;
        f->cur_dict = info; /* held by f->info */
        if (graph_fetch_locate_container(f, c, r->nfields) < 0) {
            return -1;
        }
    }
    else if (lo < hi || r->kind == HD_K_FRAME) {
        if (graph_fetch_locate_fields(f, r->kind, c, r->nfields, info) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The exception for a stream that failed (s->error). */
static void
graph_fetch_stream_fail(GraphObject *self, const hd_stream *s)
{
    if (s->error == HD_STREAM_ENOMEM) {
        PyErr_NoMemory();
    }
    else if (s->error == HD_STREAM_EIO) {
        errno = s->err_no;
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, self->path);
    }
    else {
        PyErr_SetString(hd_graph_py_error, s->message);
    }
}

/* One pass over the records: describe the wanted nodes, locate the
 * pairs of the current sources; or (second) resolve what the first one
 * left: the keys and local names.  0 or -1. */
static int
graph_fetch_pass(graph_fetch *f, int second)
{
    GraphObject *self = f->self;
    hd_stream s;
    hd_stream_init(&s);
    s.max_record = self->limits.max_record;
    s.max_body = self->limits.max_body;
    s.max_ratio = self->limits.max_ratio;
    int rc = -1;
    uint32_t ordinal = 0;
    int64_t addr = 0;
    f->iwant = 0;
    f->ipair = 0;
    f->cur_node = HD_NONE;
    if (hd_stream_open(&s, self->path, self->offset) < 0) {
        goto stream_error;
    }
    for (;;) {
        const unsigned char *rec;
        size_t len;
        int r = hd_stream_next(&s, &rec, &len);
        if (r < 0) {
            goto stream_error;
        }
        if (r == 0) {
            break;
        }
        hd_mp_cur c = {rec, rec + len};
        hd_mp_item it;
        if (hd_mpread_next(&c, &it) < 0 || it.type != HD_MP_ARRAY ||
            it.u < 1 || hd_mpread_next(&c, &it) < 0 || it.type != HD_MP_UINT) {
            break;
        }
        uint64_t kind = it.u;
        uint32_t nfields;
        {
            hd_mp_cur h = {rec, rec + len};
            hd_mp_item a;
            hd_mpread_next(&h, &a);
            nfields = a.u > UINT32_MAX ? UINT32_MAX : (uint32_t)a.u - 1;
        }
        if (kind == HD_R_TRAILER) {
            break;
        }
        if (kind == HD_R_MORE && f->cur_node != HD_NONE && !second) {
            if (graph_fetch_locate_container(f, &c, nfields) < 0) {
                goto done;
            }
            continue;
        }
        if (kind >= 64) {
            continue;
        }
        /* an object record */
        uint32_t node = ordinal++;
        hd_mp_item a, rcnt, sz;
        if (nfields < 3 || hd_mpread_next(&c, &a) < 0 ||
            hd_mpread_next(&c, &rcnt) < 0 || hd_mpread_next(&c, &sz) < 0) {
            break;
        }
        addr = (int64_t)((uint64_t)addr +
                         (uint64_t)(a.type == HD_MP_NEG ? a.i : (int64_t)a.u));
        nfields -= 3;
        if (f->cur_node != HD_NONE && f->cur_dict != NULL &&
            f->cur_kind != 0) {
            if (graph_fetch_set(f->cur_dict, "len",
                                PyLong_FromUnsignedLongLong(f->cur_items)) <
                0) {
                goto done;
            }
        }
        f->cur_node = HD_NONE;
        f->cur_dict = NULL;
        while (f->iwant < f->nwant && f->want[f->iwant] < node) {
            f->iwant++;
        }
        while (f->ipair < f->npairs && f->pairs[f->ipair].src < node) {
            f->ipair++;
        }
        int wanted = f->iwant < f->nwant && f->want[f->iwant] == node;
        int sourced = f->ipair < f->npairs && f->pairs[f->ipair].src == node;
        if (!wanted && !sourced) {
            continue;
        }
        graph_fetch_rec hdr = {node, (int)kind, addr,  rcnt.u,
                               sz.u, nfields,   wanted};
        if ((second ? graph_fetch_resolve(f, &hdr, c)
                    : graph_fetch_first(f, &hdr, &c)) < 0) {
            goto done;
        }
    }
    if (f->cur_node != HD_NONE && f->cur_dict != NULL &&
        graph_fetch_set(f->cur_dict, "len",
                        PyLong_FromUnsignedLongLong(f->cur_items)) < 0) {
        goto done;
    }
    rc = 0;
    goto done;
stream_error:
    graph_fetch_stream_fail(self, &s);
done:
    hd_stream_close(&s);
    return rc;
}

/* fetch()'s arguments into f: the nodes to describe (f->want) and the
 * pairs to locate (f->pairs), record nodes only.  0 or -1. */
static int
graph_fetch_args(graph_fetch *f, PyObject *nseq, PyObject *pseq)
{
    hd_graph *g = &f->self->g;
    Py_ssize_t nn = PySequence_Fast_GET_SIZE(nseq);
    Py_ssize_t np = PySequence_Fast_GET_SIZE(pseq);
    for (Py_ssize_t i = 0; i < nn; i++) {
        uint32_t v;
        if (hd_graph_py_node_arg(f->self, PySequence_Fast_GET_ITEM(nseq, i),
                                 &v) < 0) {
            return -1;
        }
        if (v < g->n) {
            f->want[f->nwant++] = v;
        }
    }
    for (Py_ssize_t i = 0; i < np; i++) {
        uint32_t a, b;
        PyObject *pr = PySequence_Fast_GET_ITEM(pseq, i);
        if (!PyTuple_Check(pr) || PyTuple_GET_SIZE(pr) != 2) {
            PyErr_SetString(PyExc_TypeError, "pairs are (source, target)");
            return -1;
        }
        if (hd_graph_py_node_arg(f->self, PyTuple_GET_ITEM(pr, 0), &a) < 0 ||
            hd_graph_py_node_arg(f->self, PyTuple_GET_ITEM(pr, 1), &b) < 0) {
            return -1;
        }
        if (a < g->n) {
            graph_pair *p = &f->pairs[f->npairs++];
            p->src = a;
            p->dst = b;
            p->need = HD_NONE;
        }
    }
    return 0;
}

/* After the first pass: the records the second one reads into f->want
 * (room for that many): the keys and CODE records the pairs wait for,
 * the CODE records of the frames described.  Returns how many. */
static size_t
graph_fetch_second_wants(graph_fetch *f, size_t room)
{
    hd_graph *g = &f->self->g;
    size_t nwant2 = 0;
    for (size_t k = 0; k < f->npairs; k++) {
        graph_pair *p = &f->pairs[k];
        if (p->need_kind == 3) {
            PyObject *key = PyLong_FromUnsignedLong(p->src);
            PyObject *info =
                key ? PyDict_GetItemWithError(f->info, key) : NULL;
            Py_XDECREF(key);
            PyObject *code = info ? PyDict_GetItemString(info, "code") : NULL;
            unsigned long c = code != NULL ? PyLong_AsUnsignedLong(code) : 0;
            if (code != NULL && PyErr_Occurred()) {
                PyErr_Clear();
            }
            else if (code != NULL && c < g->n) {
                p->need = (uint32_t)c;
                if (p->where == NULL) {
                    p->where = Py_BuildValue("(sK)", "localindex",
                                             (unsigned long long)p->need_idx);
                }
            }
        }
        if (p->need != HD_NONE && p->need < g->n) {
            f->want[nwant2++] = p->need;
        }
    }
    /* and the CODE records of the frames described, for their names (the
     * caller allocated room + 1 entries: nodes + pairs + 1) */
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(f->info, &pos, &k, &v)) {
        PyObject *code = PyDict_GetItemString(v, "code");
        if (code != NULL && PyLong_Check(code)) {
            unsigned long c = PyLong_AsUnsignedLong(code);
            if (PyErr_Occurred()) {
                PyErr_Clear();
            }
            else if (c < g->n && nwant2 < room) {
                f->want[nwant2++] = (uint32_t)c;
            }
        }
    }
    return nwant2;
}

/* fetch(nodes, pairs) -> (info, where): info maps each of nodes to a
 * dict (kind, address, refcnt, size, and by kind len, text, name,
 * qualname, code, lineno), and the CODE record of each frame among them
 * (its "code") to its own; where maps each (source, target) of pairs to
 * how source holds target: ("field", name), ("attr", name), ("item", i),
 * ("key", i), ("value", i, key), ("index", name, i), ("local", name),
 * ("attrname", i), or None when it was not found.  Virtual nodes are
 * left out of both.  One pass over the records, two when a dict key or a
 * local variable's name is in another record. */
PyObject *
hd_graph_fetch_records(GraphObject *self, PyObject *args)
{
    PyObject *nodes, *pairs_arg;
    graph_fetch f;
    PyObject *result = NULL, *where = NULL, *nseq = NULL, *pseq = NULL;
    memset(&f, 0, sizeof(f));
    f.self = self;
    if (!PyArg_ParseTuple(args, "OO:fetch", &nodes, &pairs_arg) ||
        hd_graph_py_check_built(self) < 0) {
        return NULL;
    }
    nseq = PySequence_Fast(nodes, "nodes must be a sequence");
    pseq =
        nseq ? PySequence_Fast(pairs_arg, "pairs must be a sequence") : NULL;
    if (pseq == NULL) {
        goto done;
    }
    Py_ssize_t nn = PySequence_Fast_GET_SIZE(nseq);
    Py_ssize_t np = PySequence_Fast_GET_SIZE(pseq);
    f.want = malloc(((size_t)nn + (size_t)np + 1) * sizeof(uint32_t));
    f.pairs = calloc((size_t)np + 1, sizeof(graph_pair));
    f.info = PyDict_New();
    if (f.want == NULL || f.pairs == NULL || f.info == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (graph_fetch_args(&f, nseq, pseq) < 0) {
        goto done;
    }
    qsort(f.want, f.nwant, sizeof(uint32_t), graph_fetch_u32_cmp);
    qsort(f.pairs, f.npairs, sizeof(graph_pair), graph_fetch_pair_cmp);
    if (graph_fetch_pass(&f, 0) < 0) {
        goto done;
    }
    /* a second pass for what the first found elsewhere: dict keys that
     * are records, and frames' local names (their CODE records) */
    size_t nwant2 = graph_fetch_second_wants(&f, (size_t)nn + (size_t)np);
    if (nwant2 > 0) {
        qsort(f.want, nwant2, sizeof(uint32_t), graph_fetch_u32_cmp);
        f.nwant = nwant2;
        if (graph_fetch_pass(&f, 1) < 0) {
            goto done;
        }
    }
    where = PyDict_New();
    for (size_t k = 0; where != NULL && k < f.npairs; k++) {
        graph_pair *p = &f.pairs[k];
        PyObject *key = Py_BuildValue("(II)", p->src, p->dst);
        if (key == NULL ||
            PyDict_SetItem(where, key, p->where ? p->where : Py_None) < 0) {
            Py_XDECREF(key);
            Py_CLEAR(where);
            break;
        }
        Py_DECREF(key);
    }
    if (where != NULL) {
        result = PyTuple_Pack(2, f.info, where);
    }
done:
    for (size_t k = 0; k < f.npairs; k++) {
        Py_XDECREF(f.pairs[k].where);
    }
    free(f.want);
    free(f.pairs);
    Py_XDECREF(f.info);
    Py_XDECREF(where);
    Py_XDECREF(nseq);
    Py_XDECREF(pseq);
    return result;
}

/* The ids of the object records at these addresses: {address: id}. */
PyObject *
hd_graph_fetch_addresses(GraphObject *self, PyObject *arg)
{
    PyObject *wanted = PySet_New(arg), *found = NULL;
    hd_stream s;
    if (wanted == NULL || hd_graph_py_check_built(self) < 0) {
        Py_XDECREF(wanted);
        return NULL;
    }
    hd_stream_init(&s);
    s.max_record = self->limits.max_record;
    s.max_body = self->limits.max_body;
    s.max_ratio = self->limits.max_ratio;
    found = PyDict_New();
    if (found == NULL || hd_stream_open(&s, self->path, self->offset) < 0) {
        goto fail;
    }
    uint32_t ordinal = 0;
    int64_t addr = 0;
    for (;;) {
        const unsigned char *rec;
        size_t len;
        int r = hd_stream_next(&s, &rec, &len);
        if (r < 0) {
            goto fail;
        }
        if (r == 0) {
            break;
        }
        hd_mp_cur c = {rec, rec + len};
        hd_mp_item it, a;
        if (hd_mpread_next(&c, &it) < 0 || hd_mpread_next(&c, &it) < 0 ||
            it.type != HD_MP_UINT || it.u >= 64) {
            continue;
        }
        if (hd_mpread_next(&c, &a) < 0) {
            break;
        }
        addr = (int64_t)((uint64_t)addr +
                         (uint64_t)(a.type == HD_MP_NEG ? a.i : (int64_t)a.u));
        PyObject *key = PyLong_FromLongLong((long long)addr);
        int in = key ? PySet_Contains(wanted, key) : -1;
        if (in > 0) {
            PyObject *v = PyLong_FromUnsignedLong(ordinal);
            if (v == NULL || PyDict_SetItem(found, key, v) < 0) {
                Py_XDECREF(v);
                Py_DECREF(key);
                goto fail;
            }
            Py_DECREF(v);
        }
        Py_XDECREF(key);
        if (in < 0) {
            goto fail;
        }
        ordinal++;
    }
    hd_stream_close(&s);
    Py_DECREF(wanted);
    return found;
fail:
    if (!PyErr_Occurred()) {
        PyErr_SetString(hd_graph_py_error,
                        s.message[0] ? s.message : "failed");
    }
    hd_stream_close(&s);
    Py_XDECREF(wanted);
    Py_XDECREF(found);
    return NULL;
}
