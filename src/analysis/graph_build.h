/* graph_build.h: what the files that build the graph (graph.h) share.
 *
 *   graph_build.c  the streaming pass: each record read by its schema
 *                  into nodes, types, sizes, edges, roots
 *   graph_roots.c  the roots as groups, and the end of the build: the
 *                  references checked, the virtual nodes and their edges
 *   graph_store.c  the graph's arrays: grown, appended to, freed; the
 *                  error of a build
 *
 * Each calls only those below it.  No Python.
 */
#ifndef HEAPDUMP_GRAPH_BUILD_H
#define HEAPDUMP_GRAPH_BUILD_H

#include "heapdump.h"

#include "graph.h"

/* A growable array of uint32. */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} build_u32s;

typedef struct {
    hd_graph *g;
    const hd_graph_limits *limits;
    size_t node_cap;
    uint64_t edge_cap;
    uint32_t last_object; /* for MORE and INLINE, or HD_NONE */
    /* what a CLASS and a CUT record say of the next object record */
    build_u32s pend;
    uint32_t pend_type;
    int pend_class, pend_cut;
    /* TYPE records: (ordinal, type index), in ordinal order */
    build_u32s type_ord, type_idx;
    /* nodes whose type record was not read yet: (node, ordinal) */
    build_u32s fix;
    /* per group: the nodes it holds (ROOTS ids, a ROOT's value), and the
     * innermost frame of a thread */
    build_u32s *held;
    size_t held_cap;
    uint32_t *thread_frame;
} build_ctx;

/* graph_store.c */

/* Say why the build fails in g->error (the first reason is kept):
 * returns -1. */
int hd_graph_store_fail(hd_graph *g, const char *fmt, ...);
/* The same for an allocation failure (g->oom set): returns -1. */
int hd_graph_store_oom(hd_graph *g);
/* Room for n + 1 elements of size sz in *arr (capacity *cap, doubled as
 * needed).  0 or -1. */
int hd_graph_store_grow(hd_graph *g, void **arr, size_t n, size_t *cap,
                        size_t sz);
/* Append v to a.  0 or -1. */
int hd_graph_store_push(hd_graph *g, build_u32s *a, uint32_t v);
/* Room for cap nodes in the per-node arrays; 0 or -1. */
int hd_graph_store_nodes(hd_graph *g, size_t cap);
/* Copy n bytes into g's arena; their offset into *at.  0 or -1. */
int hd_graph_store_keep(hd_graph *g, const unsigned char *p, size_t n,
                        size_t *at);
/* Append an edge to target (of the node being read; an id past 2**32 is
 * kept as HD_NONE, checked at the end).  0 or -1. */
int hd_graph_store_edge(build_ctx *c, uint64_t target);
/* A node's size, in the big-size table when it does not fit 32 bits.
 * 0 or -1. */
int hd_graph_store_set_size(hd_graph *g, uint32_t node, uint64_t size);

/* graph_roots.c */

/* A new group (virtual node) of this kind, name and info; its held
 * nodes and thread frame empty.  0 or -1. */
int hd_graph_roots_group(build_ctx *c, int kind, const char *name,
                         uint64_t info);
/* The group of ROOTS records of this name, made on first use: its index
 * into *index.  0 or -1. */
int hd_graph_roots_named(build_ctx *c, const char *name, size_t *index);
/* The end of the build: references checked, module dicts given to their
 * modules, the virtual nodes and their edges.  0 or -1. */
int hd_graph_roots_finish(build_ctx *c);

#endif /* HEAPDUMP_GRAPH_BUILD_H */
