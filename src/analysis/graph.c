/* graph.c: heapdump._heapdump.Graph, the heap analysis' C face (graph.h).
 *
 *   Graph(path, offset, max_record, max_body, max_objects, max_ratio,
 *         progress=None)   build the graph (graph_build.c)
 *   g.analyze()            dominators, retained sizes, BFS (dominators.c)
 *   g.histogram(), g.top(n), g.children(v), g.path(v), g.referrers(v),
 *   g.subtree(v), g.of_type(t), g.exact_retained(nodes), g.node(v) ...
 *                          queries over the arrays, answered in C
 *   g.fetch(nodes, pairs)  one or two more passes over the records: what
 *                          the nodes are (address, reference count, name,
 *                          length...) and where each (source, target) edge
 *                          is in its source (a key, an index, an attribute
 *                          name, a local variable's name), for labels
 *
 * heapdump/_heap.py turns these into the reports.  Nothing here runs
 * anything from the file; the records are read with mpread.c's checks.
 * A Graph is used by one thread at a time, with the GIL held.
 */
#include "heapdump.h"

#include "graph.h"
#include "reader/mpread.h"
#include "reader/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_PREVIEW 80 /* characters of a str shown */
#define GRAPH_NAME_MAX 400

typedef struct {
    PyObject_HEAD hd_graph g;
    char *path;
    uint64_t offset;
    hd_graph_limits limits;
    int analyzed;
} GraphObject;

static PyObject *graph_error; /* HeapdumpError, set at init */

static PyObject *
graph_raise(GraphObject *self)
{
    if (self->g.oom) {
        return PyErr_NoMemory();
    }
    if (!PyErr_Occurred()) {
        PyErr_SetString(graph_error ? graph_error : PyExc_ValueError,
                        self->g.error);
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * Plain msgpack data -> Python (META, TRAILER, fetched fields)
 */

static PyObject *
graph_int_bytes(const unsigned char *p, size_t n)
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
static PyObject *graph_plain(hd_mp_cur *c, int depth);

static PyObject *
graph_plain_item(hd_mp_cur *c, const hd_mp_item *it, int depth)
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
            return graph_int_bytes(it->data, (size_t)it->u);
        }
        Py_RETURN_NONE;
    case HD_MP_ARRAY: {
        if (depth > 32 || it->u > (uint64_t)(c->end - c->p)) {
            PyErr_SetString(graph_error, "malformed msgpack data");
            return NULL;
        }
        PyObject *list = PyList_New((Py_ssize_t)it->u);
        for (uint64_t i = 0; list != NULL && i < it->u; i++) {
            PyObject *v = graph_plain(c, depth + 1);
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
            PyErr_SetString(graph_error, "malformed msgpack data");
            return NULL;
        }
        PyObject *dict = PyDict_New();
        for (uint64_t i = 0; dict != NULL && i < it->u; i++) {
            PyObject *k = graph_plain(c, depth + 1);
            PyObject *v = k ? graph_plain(c, depth + 1) : NULL;
            int bad = v == NULL || PyObject_Hash(k) == -1 ||
                      PyDict_SetItem(dict, k, v) < 0;
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (bad) {
                PyErr_Clear();
                Py_CLEAR(dict);
                PyErr_SetString(graph_error, "malformed msgpack map");
            }
        }
        return dict;
    }
    default: Py_RETURN_NONE;
    }
}

static PyObject *
graph_plain(hd_mp_cur *c, int depth)
{
    hd_mp_item it;
    if (hd_mpread_next(c, &it) < 0) {
        PyErr_SetString(graph_error, "malformed msgpack data");
        return NULL;
    }
    return graph_plain_item(c, &it, depth);
}

/* graph_plain, or NULL with no exception when the bytes do not decode (a
 * damaged name: the description leaves it out).  c is then past the item
 * when it could be framed. */
static PyObject *
graph_plain_quiet(hd_mp_cur *c)
{
    const unsigned char *start = c->p;
    PyObject *v = graph_plain(c, 0);
    if (v == NULL) {
        PyErr_Clear();
        c->p = start;
        if (hd_mpread_skip(c) < 0) {
            c->p = c->end;
        }
    }
    return v;
}

/* ---------------------------------------------------------------------
 * Building
 */

static int
graph_progress(void *arg, uint64_t records, uint64_t file_bytes)
{
    PyObject *r = PyObject_CallFunction((PyObject *)arg, "KK",
                                        (unsigned long long)records,
                                        (unsigned long long)file_bytes);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int
Graph_init(GraphObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {
        "path",        "offset",    "max_record_bytes", "max_body_bytes",
        "max_objects", "max_ratio", "progress",         NULL};
    PyObject *path = NULL, *progress = Py_None;
    unsigned long long offset = 0, max_record = 0, max_body = 0,
                       max_objects = 0, max_ratio = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&KKKKK|O:Graph", kwlist,
                                     PyUnicode_FSConverter, &path, &offset,
                                     &max_record, &max_body, &max_objects,
                                     &max_ratio, &progress)) {
        return -1;
    }
    if (self->path != NULL) {
        Py_DECREF(path);
        PyErr_SetString(PyExc_RuntimeError, "Graph.__init__ called twice");
        return -1;
    }
    if (graph_error == NULL) {
        /* heapdump.HeapdumpError: imported on first use (the module is
         * made before heapdump._model is) */
        PyObject *model = PyImport_ImportModule("heapdump._model");
        graph_error =
            model ? PyObject_GetAttrString(model, "HeapdumpError") : NULL;
        Py_XDECREF(model);
        if (graph_error == NULL) {
            Py_DECREF(path);
            return -1;
        }
    }
    self->path = strdup(PyBytes_AS_STRING(path));
    Py_DECREF(path);
    if (self->path == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->offset = offset;
    self->limits.max_record =
        max_record > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)max_record;
    self->limits.max_body = max_body;
    self->limits.max_objects = max_objects;
    self->limits.max_ratio = max_ratio;
    if (hd_graph_build(&self->g, self->path, offset, &self->limits,
                       progress == Py_None ? NULL : graph_progress,
                       progress) < 0) {
        if (self->g.error[0] == '\0') {
            snprintf(self->g.error, sizeof(self->g.error), "failed");
        }
        graph_raise(self);
        hd_graph_free(&self->g);
        return -1;
    }
    return 0;
}

static void
Graph_dealloc(GraphObject *self)
{
    hd_graph_free(&self->g);
    free(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
graph_check_built(GraphObject *self)
{
    if (self->g.total == 0) {
        PyErr_SetString(PyExc_RuntimeError, "the graph is not built");
        return -1;
    }
    return 0;
}

static int
graph_check_analyzed(GraphObject *self)
{
    if (graph_check_built(self) < 0) {
        return -1;
    }
    if (!self->analyzed) {
        PyErr_SetString(PyExc_RuntimeError, "call analyze() first");
        return -1;
    }
    return 0;
}

static int
graph_node_arg(GraphObject *self, PyObject *arg, uint32_t *node)
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

static PyObject *
Graph_analyze(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    if (graph_check_built(self) < 0) {
        return NULL;
    }
    if (!self->analyzed) {
        if (hd_dominators_compute(&self->g) < 0) {
            return graph_raise(self);
        }
        self->analyzed = 1;
    }
    return Py_NewRef(Py_None);
}

/* ---------------------------------------------------------------------
 * Facts
 */

static PyObject *
Graph_facts(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    hd_graph *g = &self->g;
    PyObject *meta = NULL, *trailer = NULL, *r = NULL;
    if (g->meta_len > 0) {
        hd_mp_cur c = {g->arena + g->meta_off,
                       g->arena + g->meta_off + g->meta_len};
        meta = graph_plain(&c, 0);
        if (meta == NULL) {
            PyErr_Clear();
            meta = Py_NewRef(Py_None);
        }
    }
    else {
        meta = Py_NewRef(Py_None);
    }
    if (g->trailer_len > 0) {
        hd_mp_cur c = {g->arena + g->trailer_off,
                       g->arena + g->trailer_off + g->trailer_len};
        trailer = graph_plain(&c, 0);
        if (trailer == NULL) {
            PyErr_Clear();
            trailer = Py_NewRef(Py_None);
        }
    }
    else {
        trailer = Py_NewRef(Py_None);
    }
    r = Py_BuildValue(
        "{s:I,s:I,s:I,s:K,s:n,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:z,"
        "s:i,s:(KKKK),s:(KKKK),s:O,s:O,s:i}",
        "objects", g->n, "nodes", g->total, "super", g->super, "edges",
        (unsigned long long)g->nedges, "weak_edges", (Py_ssize_t)g->nweak,
        "records", (unsigned long long)g->records, "body_bytes",
        (unsigned long long)g->body_bytes, "file_bytes",
        (unsigned long long)g->file_bytes, "after_trailer",
        (unsigned long long)g->after_trailer, "cuts",
        (unsigned long long)g->cuts, "omitted", (unsigned long long)g->omitted,
        "redacted", (unsigned long long)g->redacted, "lost_edges",
        (unsigned long long)g->lost_edges, "errors",
        (unsigned long long)g->errors, "shallow",
        (unsigned long long)g->shallow_total, "truncation", g->truncation,
        "version_minor", g->version_minor, "inline_count",
        (unsigned long long)g->inline_count[0],
        (unsigned long long)g->inline_count[1],
        (unsigned long long)g->inline_count[2],
        (unsigned long long)g->inline_count[3], "inline_bytes",
        (unsigned long long)g->inline_bytes[0],
        (unsigned long long)g->inline_bytes[1],
        (unsigned long long)g->inline_bytes[2],
        (unsigned long long)g->inline_bytes[3], "meta", meta, "trailer",
        trailer, "analyzed", self->analyzed);
    Py_DECREF(meta);
    Py_DECREF(trailer);
    return r;
}

static PyObject *
Graph_types(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    hd_graph *g = &self->g;
    PyObject *list = PyList_New((Py_ssize_t)g->ntypes);
    for (size_t i = 0; list != NULL && i < g->ntypes; i++) {
        hd_graph_type *t = &g->types[i];
        PyObject *ord = t->ordinal == HD_NONE
                            ? Py_NewRef(Py_None)
                            : PyLong_FromUnsignedLong(t->ordinal);
        /* names come from the file: a damaged one is not UTF-8 */
        PyObject *name =
            ord ? PyUnicode_DecodeUTF8(t->name, (Py_ssize_t)strlen(t->name),
                                       "replace")
                : NULL;
        if (name == NULL) {
            Py_XDECREF(ord);
        }
        PyObject *row =
            name ? Py_BuildValue("(NNKKK)", name, ord,
                                 (unsigned long long)t->count,
                                 (unsigned long long)t->shallow,
                                 (unsigned long long)t->inline_count)
                 : NULL;
        if (row == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    return list;
}

static PyObject *
Graph_groups(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    hd_graph *g = &self->g;
    static const char *const kinds[] = {"super", "thread", "root", "roots",
                                        "unattributed"};
    PyObject *list = PyList_New((Py_ssize_t)g->ngroups);
    for (size_t i = 0; list != NULL && i < g->ngroups; i++) {
        hd_graph_group *gr = &g->groups[i];
        PyObject *name = PyUnicode_DecodeUTF8(
            gr->name, (Py_ssize_t)strlen(gr->name), "replace");
        PyObject *row =
            name ? Py_BuildValue("(sNKI)", kinds[gr->kind], name,
                                 (unsigned long long)gr->info, gr->node)
                 : NULL;
        if (row == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    return list;
}

/* (kind, type, flags, size, retained, idom, bfs_parent) of a node
 * (size: its own and its inline values'); the last three are None before
 * analyze(). */
static PyObject *
Graph_node(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (graph_check_built(self) < 0 || graph_node_arg(self, arg, &v) < 0) {
        return NULL;
    }
    if (!self->analyzed) {
        return Py_BuildValue("(iIiKOOO)", g->kind[v], g->tix[v], g->flags[v],
                             (unsigned long long)hd_graph_size(g, v), Py_None,
                             Py_None, Py_None);
    }
    uint32_t bp = g->bfs_parent[v];
    PyObject *parent =
        bp == HD_NONE ? Py_NewRef(Py_None) : PyLong_FromUnsignedLong(bp);
    if (parent == NULL) {
        return NULL;
    }
    return Py_BuildValue("(iIiKKIN)", g->kind[v], g->tix[v], g->flags[v],
                         (unsigned long long)hd_graph_size(g, v),
                         (unsigned long long)g->retained[v], g->idom[v],
                         parent);
}

/* ---------------------------------------------------------------------
 * Queries
 */

static PyObject *
graph_u32_list(const uint32_t *v, size_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        PyObject *x = PyLong_FromUnsignedLong(v[i]);
        if (x == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, x);
    }
    return list;
}

static const uint64_t *graph_sort_key; /* for graph_by_retained */

static int
graph_by_retained(const void *a, const void *b)
{
    uint64_t x = graph_sort_key[*(const uint32_t *)a];
    uint64_t y = graph_sort_key[*(const uint32_t *)b];
    if (x != y) {
        return x < y ? 1 : -1;
    }
    uint32_t p = *(const uint32_t *)a, q = *(const uint32_t *)b;
    return (p > q) - (p < q);
}

/* Sort nodes by retained size, largest first (then by id).  The GIL is
 * held: the static key is safe. */
static void
graph_sort_retained(hd_graph *g, uint32_t *v, size_t n)
{
    graph_sort_key = g->retained;
    qsort(v, n, sizeof(uint32_t), graph_by_retained);
    graph_sort_key = NULL;
}

/* The dominator tree children of a node, largest retained first. */
static PyObject *
Graph_children(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (graph_check_analyzed(self) < 0 || graph_node_arg(self, arg, &v) < 0) {
        return NULL;
    }
    size_t n = g->dom_off[v + 1] - g->dom_off[v];
    uint32_t *kids = malloc((n ? n : 1) * sizeof(uint32_t));
    if (kids == NULL) {
        return PyErr_NoMemory();
    }
    memcpy(kids, g->dom_kids + g->dom_off[v], n * sizeof(uint32_t));
    graph_sort_retained(g, kids, n);
    PyObject *r = graph_u32_list(kids, n);
    free(kids);
    return r;
}

/* The n real objects of largest retained size (virtual nodes left out),
 * largest first: a bounded min-heap over all nodes. */
static PyObject *
Graph_top(GraphObject *self, PyObject *arg)
{
    hd_graph *g = &self->g;
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if ((n < 0 && PyErr_Occurred()) || graph_check_analyzed(self) < 0) {
        return NULL;
    }
    if (n < 0) {
        n = 0;
    }
    if ((size_t)n > g->n) {
        n = (Py_ssize_t)g->n;
    }
    uint32_t *heap = malloc(((size_t)n + 1) * sizeof(uint32_t));
    if (heap == NULL) {
        return PyErr_NoMemory();
    }
    size_t len = 0;
    const uint64_t *r = g->retained;
    for (uint32_t v = 0; v < g->n && n > 0; v++) {
        if (len < (size_t)n) {
            size_t i = len++;
            heap[i] = v;
            while (i > 0 && r[heap[(i - 1) / 2]] > r[heap[i]]) {
                uint32_t t = heap[i];
                heap[i] = heap[(i - 1) / 2];
                heap[(i - 1) / 2] = t;
                i = (i - 1) / 2;
            }
        }
        else if (r[v] > r[heap[0]]) {
            heap[0] = v;
            size_t i = 0;
            for (;;) {
                size_t l = 2 * i + 1, s = i;
                if (l < len && r[heap[l]] < r[heap[s]]) {
                    s = l;
                }
                if (l + 1 < len && r[heap[l + 1]] < r[heap[s]]) {
                    s = l + 1;
                }
                if (s == i) {
                    break;
                }
                uint32_t t = heap[i];
                heap[i] = heap[s];
                heap[s] = t;
                i = s;
            }
        }
    }
    graph_sort_retained(g, heap, len);
    PyObject *list = graph_u32_list(heap, len);
    free(heap);
    return list;
}

/* The shortest path from the super-root to a node: [super, ..., node]. */
static PyObject *
Graph_path(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (graph_check_analyzed(self) < 0 || graph_node_arg(self, arg, &v) < 0) {
        return NULL;
    }
    size_t n = 0;
    for (uint32_t u = v; u != HD_NONE && n <= g->total; u = g->bfs_parent[u]) {
        n++;
    }
    uint32_t *path = malloc(n * sizeof(uint32_t));
    if (path == NULL) {
        return PyErr_NoMemory();
    }
    size_t i = n;
    for (uint32_t u = v; u != HD_NONE && i > 0; u = g->bfs_parent[u]) {
        path[--i] = u;
    }
    PyObject *r = graph_u32_list(path + i, n - i);
    free(path);
    return r;
}

/* (strong referrers, weak referrers) of a node: a scan of every edge. */
static PyObject *
Graph_referrers(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (graph_check_analyzed(self) < 0 || graph_node_arg(self, arg, &v) < 0) {
        return NULL;
    }
    PyObject *strong = PyList_New(0), *weak = PyList_New(0);
    if (strong == NULL || weak == NULL) {
        goto error;
    }
    for (uint32_t u = 0; u < g->total; u++) {
        for (uint32_t e = g->off[u]; e < g->off[u + 1]; e++) {
            if (g->tgt[e] == v && u != v) {
                PyObject *x = PyLong_FromUnsignedLong(u);
                int bad = x == NULL || PyList_Append(strong, x) < 0;
                Py_XDECREF(x);
                if (bad) {
                    goto error;
                }
            }
        }
    }
    for (size_t i = 0; i < g->nweak; i++) {
        if (g->weak[2 * i + 1] == v) {
            PyObject *x = PyLong_FromUnsignedLong(g->weak[2 * i]);
            int bad = x == NULL || PyList_Append(weak, x) < 0;
            Py_XDECREF(x);
            if (bad) {
                goto error;
            }
        }
    }
    return Py_BuildValue("(NN)", strong, weak);
error:
    Py_XDECREF(strong);
    Py_XDECREF(weak);
    return NULL;
}

/* The strong successors of a node (its references). */
static PyObject *
Graph_successors(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (graph_check_built(self) < 0 || graph_node_arg(self, arg, &v) < 0) {
        return NULL;
    }
    return graph_u32_list(g->tgt + g->off[v], g->off[v + 1] - g->off[v]);
}

/* The ids of the objects of a type (at most limit). */
static PyObject *
Graph_of_type(GraphObject *self, PyObject *args)
{
    unsigned int t;
    Py_ssize_t limit = PY_SSIZE_T_MAX;
    hd_graph *g = &self->g;
    if (!PyArg_ParseTuple(args, "I|n:of_type", &t, &limit) ||
        graph_check_built(self) < 0) {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    for (uint32_t v = 0; list != NULL && v < g->n && limit > 0; v++) {
        if (g->tix[v] == t) {
            PyObject *x = PyLong_FromUnsignedLong(v);
            if (x == NULL || PyList_Append(list, x) < 0) {
                Py_CLEAR(list);
            }
            Py_XDECREF(x);
            limit--;
        }
    }
    return list;
}

/* Per type: (count, shallow, retained of its top members, whether that
 * is a lower bound), over the whole graph or a node's dominator subtree
 * (there, shallow counts the containers' inline values in theirs):
 * a walk of the dominator tree that counts, per type, the members on the
 * current path, so that a member under another member of its type is
 * not counted twice (MAT's "minimum retained size" of a set). */
static PyObject *
Graph_histogram(GraphObject *self, PyObject *args)
{
    hd_graph *g = &self->g;
    unsigned int root = HD_NONE;
    if (!PyArg_ParseTuple(args, "|I:histogram", &root) ||
        graph_check_analyzed(self) < 0) {
        return NULL;
    }
    if (root == HD_NONE) {
        root = g->super;
    }
    if (root >= g->total) {
        PyErr_SetString(PyExc_IndexError, "no such node");
        return NULL;
    }
    size_t nt = g->ntypes;
    uint64_t *count = calloc(nt, sizeof(uint64_t));
    uint64_t *shallow = calloc(nt, sizeof(uint64_t));
    uint64_t *ret = calloc(nt, sizeof(uint64_t));
    uint32_t *onpath = calloc(nt, sizeof(uint32_t));
    uint8_t *lower = calloc(nt, 1);
    /* an explicit stack of (node, next child index) */
    uint32_t *stack = malloc(2 * (size_t)g->total * sizeof(uint32_t) + 8);
    PyObject *list = NULL;
    if (!count || !shallow || !ret || !onpath || !lower || !stack) {
        PyErr_NoMemory();
        goto done;
    }
    size_t sp = 0;
    stack[sp++] = root;
    stack[sp++] = g->dom_off[root];
    if (!(g->flags[root] & HD_GF_VIRTUAL)) {
        uint32_t t = g->tix[root];
        count[t]++;
        shallow[t] += hd_graph_size(g, root);
        ret[t] += g->retained[root];
        lower[t] |= (g->flags[root] & HD_GF_LOWER) != 0;
        onpath[t]++;
    }
    while (sp > 0) {
        uint32_t v = stack[sp - 2], next = stack[sp - 1];
        if (next < g->dom_off[v + 1]) {
            stack[sp - 1] = next + 1;
            uint32_t w = g->dom_kids[next];
            if (!(g->flags[w] & HD_GF_VIRTUAL)) {
                uint32_t t = g->tix[w];
                count[t]++;
                shallow[t] += hd_graph_size(g, w);
                if (onpath[t] == 0) {
                    ret[t] += g->retained[w];
                    lower[t] |= (g->flags[w] & HD_GF_LOWER) != 0;
                }
                onpath[t]++;
            }
            stack[sp++] = w;
            stack[sp++] = g->dom_off[w];
        }
        else {
            sp -= 2;
            if (!(g->flags[v] & HD_GF_VIRTUAL)) {
                onpath[g->tix[v]]--;
            }
        }
    }
    if (root == g->super) {
        /* the whole heap: the types' own sizes, and the values written
         * inline as objects of their own types (held by their containers:
         * their retained size is theirs) */
        static const int kinds[4] = {HD_K_STR, HD_K_BYTES, HD_K_INT,
                                     HD_K_FLOAT};
        for (size_t t = 0; t < nt; t++) {
            count[t] = g->types[t].count;
            shallow[t] = g->types[t].shallow;
        }
        for (int i = 0; i < 4; i++) {
            ret[kinds[i]] += g->inline_bytes[i];
        }
    }
    list = PyList_New(0);
    for (size_t t = 0; list != NULL && t < nt; t++) {
        if (count[t] == 0) {
            continue;
        }
        PyObject *row = Py_BuildValue(
            "(nKKKO)", (Py_ssize_t)t, (unsigned long long)count[t],
            (unsigned long long)shallow[t], (unsigned long long)ret[t],
            lower[t] ? Py_True : Py_False);
        if (row == NULL || PyList_Append(list, row) < 0) {
            Py_CLEAR(list);
        }
        Py_XDECREF(row);
    }
done:
    free(count);
    free(shallow);
    free(ret);
    free(onpath);
    free(lower);
    free(stack);
    return list;
}

/* The exact retained size of a set of nodes: everything the super-root
 * no longer reaches when they are gone.  One BFS, O(nodes + edges).
 * Returns (bytes, objects). */
static PyObject *
Graph_exact_retained(GraphObject *self, PyObject *arg)
{
    hd_graph *g = &self->g;
    if (graph_check_analyzed(self) < 0) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(arg, "a sequence of node ids");
    if (seq == NULL) {
        return NULL;
    }
    uint8_t *mark = calloc(g->total, 1); /* 1 removed, 2 reached */
    uint32_t *queue = malloc((size_t)g->total * sizeof(uint32_t));
    PyObject *r = NULL;
    if (mark == NULL || queue == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        uint32_t v;
        if (graph_node_arg(self, PySequence_Fast_GET_ITEM(seq, i), &v) < 0) {
            goto done;
        }
        if (v != g->super) {
            mark[v] = 1;
        }
    }
    size_t head = 0, tail = 0;
    mark[g->super] = 2;
    queue[tail++] = g->super;
    while (head < tail) {
        uint32_t u = queue[head++];
        for (uint32_t e = g->off[u]; e < g->off[u + 1]; e++) {
            uint32_t w = g->tgt[e];
            if (mark[w] == 0) {
                mark[w] = 2;
                queue[tail++] = w;
            }
        }
    }
    uint64_t bytes = 0, objects = 0;
    for (uint32_t v = 0; v < g->n; v++) {
        if (mark[v] != 2) {
            bytes += hd_graph_size(g, v);
            objects++;
        }
    }
    r = Py_BuildValue("(KK)", (unsigned long long)bytes,
                      (unsigned long long)objects);
done:
    free(mark);
    free(queue);
    Py_DECREF(seq);
    return r;
}

/* ---------------------------------------------------------------------
 * fetch(): the records of a few nodes read again
 */

/* Field names per kind, one per schema field; "@attrs" is the values of
 * the layout in the field before, "@names" the values of the names in
 * the field before (TYPE), "[]" an array shown as name[i]. */
static const char *const *
graph_field_names(int kind)
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
graph_set(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL) {
        return -1;
    }
    int r = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return r;
}

static int
graph_pair_cmp(const void *a, const void *b)
{
    const graph_pair *p = a, *q = b;
    if (p->src != q->src) {
        return p->src < q->src ? -1 : 1;
    }
    return (p->dst > q->dst) - (p->dst < q->dst);
}

static int
graph_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The i-th element of a msgpack array at [p, end) (RUNs not expanded:
 * names arrays have none), as a Python value; None past its end. */
static PyObject *
graph_array_item(const unsigned char *p, const unsigned char *end,
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
    PyObject *v = graph_plain(&c, 0);
    if (v == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return v;
}

/* A located edge: ("field", name), ("attr", name), ("item", i), ... */
static int
graph_found(graph_pair *pr, PyObject *where)
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
graph_scan_values(graph_fetch *f, hd_mp_cur *c, uint64_t n, uint64_t base,
                  int how)
{
    uint64_t index = base;
    for (uint64_t i = 0; i < n; i++) {
        hd_mp_item it;
        if (hd_mpread_next(c, &it) < 0) {
            PyErr_SetString(graph_error, "malformed msgpack in a record");
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
            PyErr_SetString(graph_error, "an array where a value belongs");
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
                if (graph_found(
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
graph_key_at(hd_mp_cur c, uint64_t index, uint32_t *ref)
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
            PyObject *v = graph_plain(&one, 0);
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
graph_locate_container(graph_fetch *f, hd_mp_cur *c, uint32_t nfields)
{
    if (f->cur_kind != HD_K_DICT) {
        int64_t n = graph_scan_values(f, c, nfields, f->cur_items, 0);
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
    int64_t nk = graph_scan_values(f, c, arr.u, f->cur_items, 1);
    if (nk < 0 || hd_mpread_next(c, &arr) < 0 || arr.type != HD_MP_ARRAY) {
        return nk < 0 ? -1 : 0;
    }
    /* values: then the key beside it */
    size_t lo = f->cur_pair_lo, hi = f->cur_pair_hi;
    int64_t nv = graph_scan_values(f, c, arr.u, f->cur_items, 0);
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
        PyObject *key = graph_key_at(keys, at - f->cur_items, &ref);
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
graph_layout_name(hd_graph *g, uint64_t layout, uint64_t i)
{
    if (layout >= g->nlayouts) {
        return PyUnicode_FromFormat("attribute %llu", (unsigned long long)i);
    }
    hd_graph_layout *l = &g->layouts[layout];
    return graph_array_item(g->arena + l->names_off,
                            g->arena + l->names_off + l->names_len, i);
}

/* Locate the pairs of a non-container object record, by its fields. */
static int
graph_locate_fields(graph_fetch *f, int kind, hd_mp_cur *c, uint32_t nfields,
                    PyObject *info)
{
    hd_graph *g = &f->self->g;
    size_t lo = f->cur_pair_lo, hi = f->cur_pair_hi;
    const char *schema = hd_format_fields(kind);
    const char *const *names = graph_field_names(kind);
    uint64_t last_uint = UINT64_MAX; /* the layout field before "@attrs" */
    const unsigned char *last_array = NULL, *last_array_end = NULL;
    if (kind == HD_K_INSTANCE) {
        hd_mp_item it;
        if (nfields < 1 || hd_mpread_next(c, &it) < 0) {
            return 0;
        }
        if (it.type == HD_MP_NIL) {
            for (size_t k = lo; k < hi; k++) {
                if (graph_found(&f->pairs[k],
                                Py_BuildValue("(ss)", "field", "__class__")) <
                    0) {
                    return -1;
                }
            }
            return 0;
        }
        uint64_t layout = it.type == HD_MP_UINT ? it.u : UINT64_MAX;
        uint32_t type =
            layout < g->nlayouts ? g->layouts[layout].type : HD_NONE;
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
                    PyObject *name = graph_layout_name(g, layout, i);
                    if (graph_found(&f->pairs[k],
                                    name ? Py_BuildValue("(sN)", "attr", name)
                                         : NULL) < 0) {
                        return -1;
                    }
                }
            }
        }
        for (size_t k = lo; k < hi; k++) {
            if (f->pairs[k].dst == type &&
                graph_found(&f->pairs[k],
                            Py_BuildValue("(ss)", "field", "__class__")) < 0) {
                return -1;
            }
        }
        return 0;
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
                    graph_found(&f->pairs[k],
                                Py_BuildValue("(ss)", "field", name)) < 0) {
                    return -1;
                }
            }
            if (kind == HD_K_FRAME && i == 0 && info != NULL && it.u < g->n) {
                if (graph_set(info, "code",
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
                        PyObject *an = graph_layout_name(g, last_uint, j);
                        where = an ? Py_BuildValue("(sN)", "attr", an) : NULL;
                    }
                    else if (strcmp(name, "@names") == 0) {
                        PyObject *an =
                            graph_array_item(last_array, last_array_end, j);
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
                    if (graph_found(pr, where) < 0) {
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
            graph_set(info, "lineno", PyLong_FromUnsignedLongLong(it.u)) < 0) {
            return -1;
        }
        i++;
    }
    return 0;
}

/* What describe() says of an object record: its kind, address, refcnt,
 * size, and by kind a name, a length, a preview. */
static PyObject *
graph_describe(int kind, int64_t addr, uint64_t refcnt, uint64_t size,
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
            /* a preview: at most GRAPH_PREVIEW characters */
            size_t n = 0, chars = 0;
            while (n < it.u && chars < GRAPH_PREVIEW) {
                unsigned char b = it.data[n];
                n += b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
                chars++;
            }
            if (n > it.u) {
                n = (size_t)it.u;
            }
            PyObject *s = PyUnicode_DecodeUTF8((const char *)it.data,
                                               (Py_ssize_t)n, "replace");
            if (graph_set(d, "text", s) < 0 ||
                graph_set(d, "truncated", PyBool_FromLong(n < it.u)) < 0) {
                Py_DECREF(d);
                return NULL;
            }
        }
        break;
    case HD_K_BYTES:
    case HD_K_BYTEARRAY:
        if (nfields >= 1 && hd_mpread_next(&c, &it) == 0 &&
            (it.type == HD_MP_BIN || it.type == HD_MP_STR) &&
            graph_set(d, "len", PyLong_FromUnsignedLongLong(it.u)) < 0) {
            Py_DECREF(d);
            return NULL;
        }
        break;
    case HD_K_INT:
    case HD_K_FLOAT:
        if (nfields >= 1) {
            PyObject *v = graph_plain_quiet(&c);
            if (v == NULL) {
                break;
            }
            if (graph_set(d, "value", v) < 0) {
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
        PyObject *name = nfields >= 1 ? graph_plain_quiet(&c) : NULL;
        PyObject *qual = nfields >= 2 ? graph_plain_quiet(&c) : NULL;
        PyObject *third = nfields >= 3 ? graph_plain_quiet(&c) : NULL;
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
            PyObject *line = graph_plain_quiet(&c);
            if (line != NULL && graph_set(d, "firstlineno", line) < 0) {
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
graph_code_name(hd_mp_cur c, uint32_t nfields, uint64_t index)
{
    if (nfields < 10) {
        Py_RETURN_NONE;
    }
    for (int i = 0; i < 8; i++) {
        if (hd_mpread_skip(&c) < 0) {
            Py_RETURN_NONE;
        }
    }
    return graph_array_item(c.p, c.end, index);
}

/* One pass over the records: describe the wanted nodes, locate the
 * pairs of the current sources; or (second) resolve what the first one
 * left: the keys and local names.  0 or -1. */
static int
graph_pass(graph_fetch *f, int second)
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
            if (graph_locate_container(f, &c, nfields) < 0) {
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
            if (graph_set(f->cur_dict, "len",
                          PyLong_FromUnsignedLongLong(f->cur_items)) < 0) {
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
        if (second) {
            /* the records the first pass asked for: key values (STR,
             * INT...), CODE names */
            PyObject *info = NULL;
            if (wanted) {
                info =
                    graph_describe((int)kind, addr, rcnt.u, sz.u, c, nfields);
                PyObject *key = info ? PyLong_FromUnsignedLong(node) : NULL;
                int bad =
                    key == NULL || (!PyDict_Contains(f->info, key) &&
                                    PyDict_SetItem(f->info, key, info) < 0);
                Py_XDECREF(key);
                if (bad) {
                    Py_XDECREF(info);
                    goto done;
                }
            }
            for (size_t k = 0; k < f->npairs; k++) {
                graph_pair *pr = &f->pairs[k];
                if (pr->need != node || pr->where == NULL) {
                    continue;
                }
                if (pr->need_kind == 3) {
                    PyObject *n = graph_code_name(c, nfields, pr->need_idx);
                    Py_DECREF(pr->where);
                    pr->where = n ? Py_BuildValue("(sN)", "local", n) : NULL;
                }
                else if (pr->need_kind == 2 && info != NULL) {
                    PyObject *key = PyDict_GetItemString(info, "text");
                    if (key == NULL) {
                        key = PyDict_GetItemString(info, "value");
                    }
                    if (key != NULL) {
                        PyObject *w =
                            Py_BuildValue("(sOO)", "value",
                                          PyTuple_GET_ITEM(pr->where, 1), key);
                        Py_DECREF(pr->where);
                        pr->where = w;
                    }
                }
                if (pr->where == NULL) {
                    Py_XDECREF(info);
                    goto done;
                }
            }
            Py_XDECREF(info);
            continue;
        }
        PyObject *info = NULL;
        if (wanted) {
            info = graph_describe((int)kind, addr, rcnt.u, sz.u, c, nfields);
            PyObject *key = info ? PyLong_FromUnsignedLong(node) : NULL;
            int bad = key == NULL || PyDict_SetItem(f->info, key, info) < 0;
            Py_XDECREF(key);
            Py_XDECREF(info);
            if (bad) {
                goto done;
            }
        }
        size_t lo = f->ipair, hi = lo;
        while (hi < f->npairs && f->pairs[hi].src == node) {
            hi++;
        }
        f->cur_pair_lo = lo;
        f->cur_pair_hi = hi;
        f->cur_items = 0;
        f->cur_kind = 0;
        if (kind == HD_K_TUPLE || kind == HD_K_LIST || kind == HD_K_SET ||
            kind == HD_K_FROZENSET || kind == HD_K_DICT) {
            f->cur_node = node;
            f->cur_kind = (int)kind;
            f->cur_dict = info; /* held by f->info */
            if (graph_locate_container(f, &c, nfields) < 0) {
                goto done;
            }
        }
        else if (lo < hi || kind == HD_K_FRAME) {
            if (graph_locate_fields(f, (int)kind, &c, nfields, info) < 0) {
                goto done;
            }
        }
    }
    if (f->cur_node != HD_NONE && f->cur_dict != NULL &&
        graph_set(f->cur_dict, "len",
                  PyLong_FromUnsignedLongLong(f->cur_items)) < 0) {
        goto done;
    }
    rc = 0;
    goto done;
stream_error:
    if (s.error == HD_STREAM_ENOMEM) {
        PyErr_NoMemory();
    }
    else if (s.error == HD_STREAM_EIO) {
        errno = s.err_no;
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, self->path);
    }
    else {
        PyErr_SetString(graph_error, s.message);
    }
done:
    hd_stream_close(&s);
    return rc;
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
static PyObject *
Graph_fetch(GraphObject *self, PyObject *args)
{
    PyObject *nodes, *pairs_arg;
    hd_graph *g = &self->g;
    graph_fetch f;
    PyObject *result = NULL, *where = NULL, *nseq = NULL, *pseq = NULL;
    memset(&f, 0, sizeof(f));
    f.self = self;
    if (!PyArg_ParseTuple(args, "OO:fetch", &nodes, &pairs_arg) ||
        graph_check_built(self) < 0) {
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
    for (Py_ssize_t i = 0; i < nn; i++) {
        uint32_t v;
        if (graph_node_arg(self, PySequence_Fast_GET_ITEM(nseq, i), &v) < 0) {
            goto done;
        }
        if (v < g->n) {
            f.want[f.nwant++] = v;
        }
    }
    for (Py_ssize_t i = 0; i < np; i++) {
        uint32_t a, b;
        PyObject *pr = PySequence_Fast_GET_ITEM(pseq, i);
        if (!PyTuple_Check(pr) || PyTuple_GET_SIZE(pr) != 2) {
            PyErr_SetString(PyExc_TypeError, "pairs are (source, target)");
            goto done;
        }
        if (graph_node_arg(self, PyTuple_GET_ITEM(pr, 0), &a) < 0 ||
            graph_node_arg(self, PyTuple_GET_ITEM(pr, 1), &b) < 0) {
            goto done;
        }
        if (a < g->n) {
            graph_pair *p = &f.pairs[f.npairs++];
            p->src = a;
            p->dst = b;
            p->need = HD_NONE;
        }
    }
    qsort(f.want, f.nwant, sizeof(uint32_t), graph_u32_cmp);
    qsort(f.pairs, f.npairs, sizeof(graph_pair), graph_pair_cmp);
    if (graph_pass(&f, 0) < 0) {
        goto done;
    }
    /* a second pass for what the first found elsewhere: dict keys that
     * are records, and frames' local names (their CODE records) */
    size_t nwant2 = 0;
    for (size_t k = 0; k < f.npairs; k++) {
        graph_pair *p = &f.pairs[k];
        if (p->need_kind == 3) {
            PyObject *key = PyLong_FromUnsignedLong(p->src);
            PyObject *info = key ? PyDict_GetItemWithError(f.info, key) : NULL;
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
            f.want[nwant2++] = p->need;
        }
    }
    /* and the CODE records of the frames described, for their names (room:
     * nn + np + 1 entries were allocated) */
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(f.info, &pos, &k, &v)) {
        PyObject *code = PyDict_GetItemString(v, "code");
        if (code != NULL && PyLong_Check(code)) {
            unsigned long c = PyLong_AsUnsignedLong(code);
            if (PyErr_Occurred()) {
                PyErr_Clear();
            }
            else if (c < g->n && nwant2 < (size_t)nn + (size_t)np) {
                f.want[nwant2++] = (uint32_t)c;
            }
        }
    }
    if (nwant2 > 0) {
        qsort(f.want, nwant2, sizeof(uint32_t), graph_u32_cmp);
        f.nwant = nwant2;
        if (graph_pass(&f, 1) < 0) {
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
static PyObject *
Graph_find_addresses(GraphObject *self, PyObject *arg)
{
    PyObject *wanted = PySet_New(arg), *found = NULL;
    hd_stream s;
    if (wanted == NULL || graph_check_built(self) < 0) {
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
        PyErr_SetString(graph_error, s.message[0] ? s.message : "failed");
    }
    hd_stream_close(&s);
    Py_XDECREF(wanted);
    Py_XDECREF(found);
    return NULL;
}

/* Bytes of memory the graph holds now (its arrays). */
static PyObject *
Graph_memory(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    hd_graph *g = &self->g;
    uint64_t t = g->total, b = 0;
    b += (t + 1) * 4 + g->nedges * 4; /* off, tgt */
    b += t * (1 + 1 + 4 + 4);         /* kind, flags, tix, size */
    b += g->nweak * 8 + g->nbig * 16 + g->arena_cap;
    if (self->analyzed) {
        b += t * (4 + 8 + 4) + g->nleft * 4 + (t + 1) * 4 + t * 4;
    }
    return PyLong_FromUnsignedLongLong(b);
}

static PyMethodDef Graph_methods[] = {
    {"analyze", (PyCFunction)Graph_analyze, METH_NOARGS,
     "Compute the dominators, retained sizes and shortest paths."},
    {"facts", (PyCFunction)Graph_facts, METH_NOARGS,
     "Counts, the META and TRAILER records, how the file ended."},
    {"types", (PyCFunction)Graph_types, METH_NOARGS,
     "[(name, TYPE record id or None, count, shallow, inline count)]."},
    {"groups", (PyCFunction)Graph_groups, METH_NOARGS,
     "[(kind, name, info, node)] of the virtual root groups."},
    {"node", (PyCFunction)Graph_node, METH_O,
     "(kind, type, flags, size, retained, idom, bfs_parent) of a node."},
    {"children", (PyCFunction)Graph_children, METH_O,
     "A node's dominator tree children, largest retained first."},
    {"top", (PyCFunction)Graph_top, METH_O,
     "The n objects of largest retained size, largest first."},
    {"path", (PyCFunction)Graph_path, METH_O,
     "The shortest path from the super-root to a node."},
    {"referrers", (PyCFunction)Graph_referrers, METH_O,
     "(strong, weak) referrers of a node."},
    {"successors", (PyCFunction)Graph_successors, METH_O,
     "The strong references of a node."},
    {"of_type", (PyCFunction)Graph_of_type, METH_VARARGS,
     "of_type(type, limit=...): the objects of a type."},
    {"histogram", (PyCFunction)Graph_histogram, METH_VARARGS,
     "histogram(root=super): [(type, count, shallow, retained, lower)]."},
    {"exact_retained", (PyCFunction)Graph_exact_retained, METH_O,
     "(bytes, objects) the roots no longer reach without these nodes."},
    {"fetch", (PyCFunction)Graph_fetch, METH_VARARGS,
     "fetch(nodes, pairs) -> (info, where): the records read again."},
    {"find_addresses", (PyCFunction)Graph_find_addresses, METH_O,
     "{address: id} of the object records at these addresses."},
    {"memory", (PyCFunction)Graph_memory, METH_NOARGS,
     "Bytes the graph's arrays take."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GraphType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "heapdump._heapdump.Graph",
    .tp_basicsize = sizeof(GraphObject),
    .tp_dealloc = (destructor)Graph_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Graph(path, offset, max_record_bytes, max_body_bytes, "
              "max_objects, max_ratio, progress=None)\n--\n\n"
              "The object graph of a dump, for heap analysis (graph.h).",
    .tp_methods = Graph_methods,
    .tp_init = (initproc)Graph_init,
    .tp_new = PyType_GenericNew,
};

int
hd_graph_init_module(PyObject *m)
{
    if (PyType_Ready(&GraphType) < 0) {
        return -1;
    }
    if (PyModule_AddObjectRef(m, "Graph", (PyObject *)&GraphType) < 0) {
        return -1;
    }
    /* the node flags of graph.h, for heapdump/_heap.py */
    if (PyModule_AddIntConstant(m, "GF_CUT", HD_GF_CUT) < 0 ||
        PyModule_AddIntConstant(m, "GF_IMMORTAL", HD_GF_IMMORTAL) < 0 ||
        PyModule_AddIntConstant(m, "GF_VIRTUAL", HD_GF_VIRTUAL) < 0 ||
        PyModule_AddIntConstant(m, "GF_LOWER", HD_GF_LOWER) < 0) {
        return -1;
    }
    return 0;
}
