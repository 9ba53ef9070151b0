/* graph.c: heapdump._heapdump.Graph, the heap analysis' C face (graph.h).
 *
 *   Graph(path, offset, max_record, max_body, max_objects, max_ratio,
 *         progress=None)   build the graph (graph_build.c)
 *   g.analyze()            dominators, retained sizes, BFS (dominators.c)
 *   g.facts(), g.types(), g.groups(), g.node(v), g.memory()
 *                          what the build counted, here
 *   g.histogram(), g.top(n), g.children(v), g.path(v), g.referrers(v),
 *   g.successors(v), g.of_type(t), g.exact_retained(nodes)
 *                          queries over the arrays, answered in C
 *                          (graph_query.c)
 *   g.fetch(nodes, pairs)  one or two more passes over the records: what
 *                          the nodes are (address, reference count, name,
 *                          length...) and where each (source, target) edge
 *                          is in its source (a key, an index, an attribute
 *                          name, a local variable's name), for labels; and
 *   g.find_addresses(a)    the ids of the records at some addresses
 *                          (graph_fetch.c)
 *
 * graph_py.h holds what these files share.  heapdump/_heap.py turns the
 * answers into the reports.  Nothing here runs anything from the file;
 * the records are read with mpread.c's checks.  A Graph is used by one
 * thread at a time, with the GIL held.
 */
#include "graph_py.h"

#include <stdlib.h>
#include <string.h>

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
    if (hd_graph_py_error == NULL) {
        /* heapdump.HeapdumpError: imported on first use (the module is
         * made before heapdump._model is) */
        PyObject *model = PyImport_ImportModule("heapdump._model");
        hd_graph_py_error =
            model ? PyObject_GetAttrString(model, "HeapdumpError") : NULL;
        Py_XDECREF(model);
        if (hd_graph_py_error == NULL) {
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
        hd_graph_py_raise(self);
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

static PyObject *
Graph_analyze(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    if (hd_graph_py_check_built(self) < 0) {
        return NULL;
    }
    if (!self->analyzed) {
        if (hd_dominators_compute(&self->g) < 0) {
            return hd_graph_py_raise(self);
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
        meta = hd_graph_py_plain(&c, 0);
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
        trailer = hd_graph_py_plain(&c, 0);
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
    if (hd_graph_py_check_built(self) < 0 ||
        hd_graph_py_node_arg(self, arg, &v) < 0) {
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
    {"children", (PyCFunction)hd_graph_query_children, METH_O,
     "A node's dominator tree children, largest retained first."},
    {"top", (PyCFunction)hd_graph_query_top, METH_O,
     "The n objects of largest retained size, largest first."},
    {"path", (PyCFunction)hd_graph_query_path, METH_O,
     "The shortest path from the super-root to a node."},
    {"referrers", (PyCFunction)hd_graph_query_referrers, METH_O,
     "(strong, weak) referrers of a node."},
    {"successors", (PyCFunction)hd_graph_query_successors, METH_O,
     "The strong references of a node."},
    {"of_type", (PyCFunction)hd_graph_query_of_type, METH_VARARGS,
     "of_type(type, limit=...): the objects of a type."},
    {"histogram", (PyCFunction)hd_graph_query_histogram, METH_VARARGS,
     "histogram(root=super): [(type, count, shallow, retained, lower)]."},
    {"exact_retained", (PyCFunction)hd_graph_query_exact_retained, METH_O,
     "(bytes, objects) the roots no longer reach without these nodes."},
    {"fetch", (PyCFunction)hd_graph_fetch_records, METH_VARARGS,
     "fetch(nodes, pairs) -> (info, where): the records read again."},
    {"find_addresses", (PyCFunction)hd_graph_fetch_addresses, METH_O,
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
