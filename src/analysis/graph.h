/* graph.h: a dump as an object graph for heap analysis (what holds the
 * memory), built from the records without making any Python object for
 * them.
 *
 *   graph_build.c  one streaming pass over the body (stream.c, mpread.c):
 *                  dense ordinals, successor lists (CSR), a type per
 *                  object, sizes (graph_build.h: graph_roots.c the roots
 *                  as virtual nodes and the end of the build,
 *                  graph_store.c the arrays, grown and freed)
 *   dominators.c   the dominator tree (SEMI-NCA, Georgiadis, Tarjan and
 *                  Werneck's two-pass variant of Lengauer-Tarjan: linear
 *                  on the long chains of real heaps, where an iterative
 *                  data-flow algorithm takes a pass per element), retained
 *                  sizes, shortest paths from the roots (BFS)
 *   graph.c        heapdump._heapdump.Graph, the Python face of both
 *                  (graph_py.h: graph_query.c its queries, graph_fetch.c
 *                  the second passes that describe a few nodes and label
 *                  a few edges, graph_py.c their shared helpers)
 *
 * Nodes: the object records 0..n-1 (their ids), then virtual nodes n..
 * total-1: the super-root (n) and one group per root (a thread, a named
 * ROOT, the unreached objects of a heap-scope dump, and "unattributed":
 * what no root reaches through strong references).  Edges are the strong
 * references of the records; a WEAKREF's referent is kept apart (weak
 * edges never retain).  Edge labels are not stored: graph_fetch.c
 * derives the few it shows by reading the records again.
 *
 * Memory, per node: 14 bytes (kind, flags, type, size, offset) plus 4 per
 * edge after the build; the dominators need 20 more per node and 4 more
 * per edge while they run, and keep 16 (immediate dominator, retained
 * size, BFS parent).  No Python: the functions return 0 / -1 and say why
 * in g->error.
 */
#ifndef HEAPDUMP_GRAPH_H
#define HEAPDUMP_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#define HD_NONE UINT32_MAX

/* node flags */
#define HD_GF_CUT                                                             \
    0x01                    /* its record lost references: a cut container,   \
                               an OMITTED value */
#define HD_GF_IMMORTAL 0x02 /* 3.12+ immortal (shared) object */
#define HD_GF_VIRTUAL 0x04  /* the super-root or a root group */
#define HD_GF_LOWER                                                           \
    0x08                   /* retained size is a lower bound: its dominator   \
                              subtree holds a cut */
#define HD_GF_BIGSIZE 0x10 /* size is in the big-size table */

/* what a virtual node stands for */
enum hd_group_kind {
    HD_G_SUPER = 0,  /* the super-root */
    HD_G_THREAD = 1, /* a thread: all its frames */
    HD_G_ROOT = 2,   /* a ROOT record (exception, context, modules...) */
    HD_G_ROOTS = 3,  /* ROOTS records of a name (unreached) */
    HD_G_LEFT = 4,   /* what no root reaches through strong references */
};

typedef struct hd_graph_group {
    int kind;      /* enum hd_group_kind */
    char *name;    /* malloc'd: the thread's name, the root's name */
    uint64_t info; /* thread ident; otherwise 0 */
    uint32_t node; /* its node */
} hd_graph_group;

/* A type: a TYPE record, or a builtin kind's own type ("dict"). */
typedef struct hd_graph_type {
    char *name;       /* malloc'd, "module.qualname" ("dict" for builtins) */
    uint32_t ordinal; /* its TYPE record, or HD_NONE */
    uint64_t count;   /* objects of it (records and inline values) */
    uint64_t shallow; /* their own sizes (a container's inline values are
                         counted in their types) */
    uint64_t inline_count;
} hd_graph_type;

typedef struct hd_graph_bigsize {
    uint32_t node;
    uint64_t size;
} hd_graph_bigsize;

typedef struct hd_graph_layout {
    uint32_t type;    /* the type's ordinal, or HD_NONE */
    uint32_t nnames;  /* names of its attributes */
    size_t names_off; /* [names] msgpack array, in g->arena */
    size_t names_len;
} hd_graph_layout;

typedef struct hd_graph_frame {
    uint32_t frame;   /* a FRAME's ordinal */
    uint32_t back;    /* its caller, or HD_NONE */
    uint64_t globals; /* index into tgt of its globals edge, or UINT64_MAX */
    uint64_t locals;  /* ... of its locals mapping's edge (module frames) */
} hd_graph_frame;

typedef struct hd_graph_limits {
    size_t max_record;
    uint64_t max_body;
    uint64_t max_objects;
    uint64_t max_ratio;
} hd_graph_limits;

/* Called every so many records while the graph is built (progress):
 * returns 0 to go on, -1 to stop (g->error says "interrupted"). */
typedef int (*hd_graph_progress)(void *arg, uint64_t records,
                                 uint64_t file_bytes);

typedef struct hd_graph {
    uint32_t n;      /* object records */
    uint32_t total;  /* n + virtual nodes */
    uint32_t super;  /* the super-root: n */
    uint64_t nedges; /* strong edges, in tgt */
    uint32_t *off;   /* total + 1: node i's edges are tgt[off[i]..] */
    uint32_t *tgt;   /* nedges */
    uint8_t *kind;   /* total: record kind (0 for virtual nodes) */
    uint8_t *flags;  /* total: HD_GF_* */
    uint32_t *tix;   /* total: index into types */
    uint32_t *size;  /* total: own size + inline values (see HD_GF_BIGSIZE) */
    hd_graph_bigsize *big;
    size_t nbig, big_cap;
    uint32_t *weak; /* (source, referent) pairs of WEAKREF records */
    size_t nweak, weak_cap;

    hd_graph_type *types;
    size_t ntypes, types_cap;
    hd_graph_group *groups; /* the virtual nodes after the super-root */
    size_t ngroups, groups_cap;
    hd_graph_layout *layouts;
    size_t nlayouts, layouts_cap;
    hd_graph_frame *frames;
    size_t nframes, frames_cap;
    uint32_t *module_dicts; /* (module, dict) pairs */
    size_t nmodule_dicts, module_dicts_cap;
    unsigned char *arena; /* layout names, META and TRAILER bytes */
    size_t arena_len, arena_cap;
    size_t meta_off, meta_len;       /* META record fields, or len 0 */
    size_t trailer_off, trailer_len; /* TRAILER fields, or len 0 */

    /* inline values: counts and bytes per hd_inline_type */
    uint64_t inline_count[4], inline_bytes[4];
    uint64_t records, body_bytes, file_bytes, after_trailer;
    uint64_t cuts, omitted, redacted, lost_edges, errors;
    uint64_t shallow_total; /* sizes of everything */
    int trailer_seen;
    const char *truncation; /* static string, or NULL */
    int version_minor;      /* of the writer's Python: 12 for 3.12 */

    /* the analysis (dominators.c) */
    uint32_t *idom;       /* total: immediate dominator (super: itself) */
    uint64_t *retained;   /* total */
    uint32_t *bfs_parent; /* total: parent on a shortest path, HD_NONE for
                             the super-root */
    uint32_t *left;       /* the nodes the "unattributed" group holds */
    size_t nleft;
    uint32_t left_group; /* its node, or HD_NONE */
    uint32_t *dom_off;   /* total + 1: dominator tree children, largest */
    uint32_t *dom_kids;  /* retained first */

    char error[256];
    int oom;
} hd_graph;

/* graph_build.c: read the body of path from offset.  0, or -1 with
 * g->error set (g->oom for an allocation failure). */
int hd_graph_build(hd_graph *g, const char *path, uint64_t offset,
                   const hd_graph_limits *limits, hd_graph_progress progress,
                   void *progress_arg);

/* graph_store.c: what hd_graph_build made, freed (g zeroed). */
void hd_graph_free(hd_graph *g);
/* A node's size: its own and its inline values'. */
uint64_t hd_graph_size(const hd_graph *g, uint32_t node);
/* The group record of a virtual node, or NULL. */
const hd_graph_group *hd_graph_group_of(const hd_graph *g, uint32_t node);

/* dominators.c: immediate dominators, retained sizes (and the lower-bound
 * flags), BFS parents, the dominator tree's children.  0 or -1. */
int hd_dominators_compute(hd_graph *g);

#endif /* HEAPDUMP_GRAPH_H */
