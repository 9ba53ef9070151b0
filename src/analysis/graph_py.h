/* graph_py.h: what the files of heapdump._heapdump.Graph share (graph.h
 * is the graph itself, without Python).
 *
 *   graph.c        the type: building, analyze(), facts(), types(),
 *                  groups(), node(), memory(), the method table
 *   graph_query.c  the queries over the arrays: children(), top(),
 *                  path(), referrers(), successors(), of_type(),
 *                  histogram(), exact_retained()
 *   graph_fetch.c  the records read again: fetch(), find_addresses()
 *   graph_py.c     the helpers of all three: errors, argument checks,
 *                  plain msgpack data as Python values
 *
 * A Graph is used by one thread at a time, with the GIL held.
 */
#ifndef HEAPDUMP_GRAPH_PY_H
#define HEAPDUMP_GRAPH_PY_H

#include "heapdump.h"

#include "graph.h"
#include "reader/mpread.h"

typedef struct {
    PyObject_HEAD hd_graph g;
    char *path;
    uint64_t offset;
    hd_graph_limits limits;
    int analyzed;
} GraphObject;

/* graph_py.c */

/* heapdump.HeapdumpError, set by the first Graph() (graph.c): the
 * exception of a malformed file. */
extern PyObject *hd_graph_py_error;
/* Raise what self->g.error (or g.oom) says, unless an exception is set
 * already; returns NULL. */
PyObject *hd_graph_py_raise(GraphObject *self);
/* The msgpack value at c as a Python value (ints, bytes, str, lists,
 * dicts...), c moved past it; NULL with an exception (HeapdumpError for
 * malformed data, past a depth limit). */
PyObject *hd_graph_py_plain(hd_mp_cur *c, int depth);
/* The same, NULL without an exception when it fails (c moved past the
 * value, or to the end when it cannot be skipped). */
PyObject *hd_graph_py_plain_quiet(hd_mp_cur *c);
/* 0, or -1 with RuntimeError: the graph is not built / not analyzed. */
int hd_graph_py_check_built(GraphObject *self);
int hd_graph_py_check_analyzed(GraphObject *self);
/* A node number from arg into *node: 0, or -1 with IndexError or
 * TypeError. */
int hd_graph_py_node_arg(GraphObject *self, PyObject *arg, uint32_t *node);

/* graph_query.c: the methods of the same names (graph.c's table). */
PyObject *hd_graph_query_children(GraphObject *self, PyObject *arg);
PyObject *hd_graph_query_top(GraphObject *self, PyObject *arg);
PyObject *hd_graph_query_path(GraphObject *self, PyObject *arg);
PyObject *hd_graph_query_referrers(GraphObject *self, PyObject *arg);
PyObject *hd_graph_query_successors(GraphObject *self, PyObject *arg);
PyObject *hd_graph_query_of_type(GraphObject *self, PyObject *args);
PyObject *hd_graph_query_histogram(GraphObject *self, PyObject *args);
PyObject *hd_graph_query_exact_retained(GraphObject *self, PyObject *arg);

/* graph_fetch.c: fetch(nodes, pairs) and find_addresses(addresses). */
PyObject *hd_graph_fetch_records(GraphObject *self, PyObject *args);
PyObject *hd_graph_fetch_addresses(GraphObject *self, PyObject *arg);

#endif /* HEAPDUMP_GRAPH_PY_H */
