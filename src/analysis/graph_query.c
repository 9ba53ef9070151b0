/* graph_query.c: the Graph's queries over the arrays of the build and the
 * analysis (graph_py.h): dominator tree children, the largest objects,
 * shortest paths, referrers, successors, the objects of a type, the
 * histogram by type, and the exact retained size of a set of nodes.  They
 * read no record; each answers in C, in time linear in what it walks.
 */
#include "graph_py.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Queries
 */

static PyObject *
graph_query_u32_list(const uint32_t *v, size_t n)
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

static const uint64_t *graph_query_sort_key; /* for graph_query_by_retained */

static int
graph_query_by_retained(const void *a, const void *b)
{
    uint64_t x = graph_query_sort_key[*(const uint32_t *)a];
    uint64_t y = graph_query_sort_key[*(const uint32_t *)b];
    if (x != y) {
        return x < y ? 1 : -1;
    }
    uint32_t p = *(const uint32_t *)a, q = *(const uint32_t *)b;
    return (p > q) - (p < q);
}

/* Sort nodes by retained size, largest first (then by id).  The GIL is
 * held: the static key is safe. */
static void
graph_query_sort_retained(hd_graph *g, uint32_t *v, size_t n)
{
    graph_query_sort_key = g->retained;
    qsort(v, n, sizeof(uint32_t), graph_query_by_retained);
    graph_query_sort_key = NULL;
}

/* The dominator tree children of a node, largest retained first. */
PyObject *
hd_graph_query_children(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (hd_graph_py_check_analyzed(self) < 0 ||
        hd_graph_py_node_arg(self, arg, &v) < 0) {
        return NULL;
    }
    size_t n = g->dom_off[v + 1] - g->dom_off[v];
    uint32_t *kids = malloc((n ? n : 1) * sizeof(uint32_t));
    if (kids == NULL) {
        return PyErr_NoMemory();
    }
    memcpy(kids, g->dom_kids + g->dom_off[v], n * sizeof(uint32_t));
    graph_query_sort_retained(g, kids, n);
    PyObject *r = graph_query_u32_list(kids, n);
    free(kids);
    return r;
}

/* The n real objects of largest retained size (virtual nodes left out),
 * largest first: a bounded min-heap over all nodes. */
PyObject *
hd_graph_query_top(GraphObject *self, PyObject *arg)
{
    hd_graph *g = &self->g;
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if ((n < 0 && PyErr_Occurred()) || hd_graph_py_check_analyzed(self) < 0) {
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
    graph_query_sort_retained(g, heap, len);
    PyObject *list = graph_query_u32_list(heap, len);
    free(heap);
    return list;
}

/* The shortest path from the super-root to a node: [super, ..., node]. */
PyObject *
hd_graph_query_path(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (hd_graph_py_check_analyzed(self) < 0 ||
        hd_graph_py_node_arg(self, arg, &v) < 0) {
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
    PyObject *r = graph_query_u32_list(path + i, n - i);
    free(path);
    return r;
}

/* (strong referrers, weak referrers) of a node: a scan of every edge. */
PyObject *
hd_graph_query_referrers(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (hd_graph_py_check_analyzed(self) < 0 ||
        hd_graph_py_node_arg(self, arg, &v) < 0) {
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
PyObject *
hd_graph_query_successors(GraphObject *self, PyObject *arg)
{
    uint32_t v;
    hd_graph *g = &self->g;
    if (hd_graph_py_check_built(self) < 0 ||
        hd_graph_py_node_arg(self, arg, &v) < 0) {
        return NULL;
    }
    return graph_query_u32_list(g->tgt + g->off[v], g->off[v + 1] - g->off[v]);
}

/* The ids of the objects of a type (at most limit). */
PyObject *
hd_graph_query_of_type(GraphObject *self, PyObject *args)
{
    unsigned int t;
    Py_ssize_t limit = PY_SSIZE_T_MAX;
    hd_graph *g = &self->g;
    if (!PyArg_ParseTuple(args, "I|n:of_type", &t, &limit) ||
        hd_graph_py_check_built(self) < 0) {
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
PyObject *
hd_graph_query_histogram(GraphObject *self, PyObject *args)
{
    hd_graph *g = &self->g;
    unsigned int root = HD_NONE;
    if (!PyArg_ParseTuple(args, "|I:histogram", &root) ||
        hd_graph_py_check_analyzed(self) < 0) {
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
PyObject *
hd_graph_query_exact_retained(GraphObject *self, PyObject *arg)
{
    hd_graph *g = &self->g;
    if (hd_graph_py_check_analyzed(self) < 0) {
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
        if (hd_graph_py_node_arg(self, PySequence_Fast_GET_ITEM(seq, i), &v) <
            0) {
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
