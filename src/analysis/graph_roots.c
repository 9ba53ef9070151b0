/* graph_roots.c: the roots of a dump as virtual nodes (graph.h): a group
 * per thread, per named ROOT and per name of ROOTS records, made while
 * graph_build.c reads them; and the end of the build: references to no
 * record dropped, a frame's globals given to their module, the
 * super-root, the groups and "unattributed" as nodes with their edges (a
 * thread holds each frame of its stack).  No Python.
 */
#include "graph_build.h"

#include <stdlib.h>
#include <string.h>

int
hd_graph_roots_group(build_ctx *c, int kind, const char *name, uint64_t info)
{
    hd_graph *g = c->g;
    if (hd_graph_store_grow(g, (void **)&g->groups, g->ngroups, &g->groups_cap,
                            sizeof(hd_graph_group)) < 0) {
        return -1;
    }
    if (g->ngroups >= c->held_cap) {
        size_t cap = c->held_cap ? c->held_cap * 2 : 16;
        build_u32s *h = realloc(c->held, cap * sizeof(build_u32s));
        uint32_t *f = realloc(c->thread_frame, cap * sizeof(uint32_t));
        if (h != NULL) {
            c->held = h;
        }
        if (f != NULL) {
            c->thread_frame = f;
        }
        if (h == NULL || f == NULL) {
            return hd_graph_store_oom(g);
        }
        memset(c->held + c->held_cap, 0,
               (cap - c->held_cap) * sizeof(build_u32s));
        c->held_cap = cap;
    }
    hd_graph_group *gr = &g->groups[g->ngroups];
    gr->kind = kind;
    gr->info = info;
    gr->node = HD_NONE;
    gr->name = strdup(name);
    if (gr->name == NULL) {
        return hd_graph_store_oom(g);
    }
    c->thread_frame[g->ngroups] = HD_NONE;
    g->ngroups++;
    return 0;
}

/* The group of ROOTS records of this name, made on first use. */
int
hd_graph_roots_named(build_ctx *c, const char *name, size_t *index)
{
    hd_graph *g = c->g;
    for (size_t i = 0; i < g->ngroups; i++) {
        if (g->groups[i].kind == HD_G_ROOTS &&
            strcmp(g->groups[i].name, name) == 0) {
            *index = i;
            return 0;
        }
    }
    if (hd_graph_roots_group(c, HD_G_ROOTS, name, 0) < 0) {
        return -1;
    }
    *index = g->ngroups - 1;
    return 0;
}

/* The references to no record made self-loops (counted as lost), weak
 * referents past the records dropped, frames' backs checked, and a
 * frame's globals (or a module body's locals) that are a module's dict
 * given to the module: the frame's edge becomes a self-loop. */
static void
graph_roots_check(hd_graph *g)
{
    uint32_t n = g->n;
    g->off[n] = (uint32_t)g->nedges;
    for (uint32_t v = 0; v < n; v++) {
        for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++) {
            if (g->tgt[e] >= n) {
                g->tgt[e] = v; /* a self-loop is no reference */
                g->lost_edges++;
            }
        }
    }
    for (size_t i = 0; i < g->nweak; i++) {
        if (g->weak[2 * i + 1] >= n) {
            g->weak[2 * i + 1] = HD_NONE;
        }
    }
    for (size_t i = 0; i < g->nframes; i++) {
        hd_graph_frame *f = &g->frames[i];
        if (f->back >= n) {
            f->back = HD_NONE;
        }
        uint64_t at[2] = {f->globals, f->locals};
        for (int k = 0; k < 2; k++) {
            if (at[k] == UINT64_MAX) {
                continue;
            }
            for (size_t j = 0; j < g->nmodule_dicts; j++) {
                if (g->module_dicts[2 * j + 1] == g->tgt[at[k]]) {
                    g->tgt[at[k]] = f->frame;
                    break;
                }
            }
        }
    }
}

/* The node arrays grown to total nodes (and off to total + 1), the
 * virtual ones after the records empty.  0 or -1. */
static int
graph_roots_nodes(hd_graph *g, uint32_t total)
{
    uint32_t n = g->n;
    size_t cap = total + 1;
    if (hd_graph_store_nodes(g, cap) < 0) {
        return -1;
    }
    g->super = n;
    g->total = total;
    for (uint32_t v = n; v < total; v++) {
        g->kind[v] = 0;
        g->flags[v] = HD_GF_VIRTUAL;
        g->tix[v] = 0;
        g->size[v] = 0;
    }
    for (size_t i = 0; i < g->ngroups; i++) {
        g->groups[i].node = n + 1 + (uint32_t)i;
    }
    return 0;
}

/* The caller of frame fr, by binary search in the frames (in order), or
 * HD_NONE. */
static uint32_t
graph_roots_back(const hd_graph *g, uint32_t fr)
{
    size_t lo = 0, hi = g->nframes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->frames[mid].frame < fr) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < g->nframes && g->frames[lo].frame == fr ? g->frames[lo].back
                                                        : HD_NONE;
}

/* The edges of the virtual nodes: the super-root holds every group, a
 * thread each frame of its stack, the others what they hold.  0 or -1. */
static int
graph_roots_edges(build_ctx *c)
{
    hd_graph *g = c->g;
    uint32_t n = g->n;
    /* the super-root's edges: every group */
    g->off[n] = (uint32_t)g->nedges;
    for (size_t i = 0; i < g->ngroups; i++) {
        if (hd_graph_store_edge(c, g->groups[i].node) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < g->ngroups; i++) {
        uint32_t node = g->groups[i].node;
        g->off[node] = (uint32_t)g->nedges;
        if (g->groups[i].kind == HD_G_THREAD) {
            /* a thread holds every frame of its stack, not only the
             * innermost: the callers are no frame's to retain */
            uint32_t fr = c->thread_frame[i];
            for (size_t depth = 0;
                 fr != HD_NONE && fr < n && depth <= g->nframes; depth++) {
                if (hd_graph_store_edge(c, fr) < 0) {
                    return -1;
                }
                fr = graph_roots_back(g, fr);
            }
        }
        else {
            build_u32s *h = &c->held[i];
            for (size_t j = 0; j < h->n; j++) {
                if (hd_graph_store_edge(c, h->v[j] < n ? h->v[j] : node) < 0) {
                    return -1;
                }
            }
        }
    }
    return 0;
}

/* After the pass (and graph_build.c's types of late TYPE records): the
 * references checked, the frames' globals (and a module body's locals) that
 * are a module's dict (the module holds them: the frame's edge is dropped so
 * that the module dominates them), the virtual nodes and their edges. */
int
hd_graph_roots_finish(build_ctx *c)
{
    hd_graph *g = c->g;
    uint32_t n = g->n;
    graph_roots_check(g);
    /* the virtual nodes: the super-root, each group, "unattributed" */
    if (hd_graph_roots_group(c, HD_G_LEFT, "unattributed", 0) < 0) {
        return -1;
    }
    size_t nv = 1 + g->ngroups;
    if ((uint64_t)n + nv >= HD_NONE) {
        return hd_graph_store_fail(g, "too many objects");
    }
    uint32_t total = n + (uint32_t)nv;
    if (graph_roots_nodes(g, total) < 0 || graph_roots_edges(c) < 0) {
        return -1;
    }
    g->off[total] = (uint32_t)g->nedges;
    /* give back what the doubling left over (the edges' slack is up to
     * half their array) */
    uint32_t *tt = realloc(g->tgt, (g->nedges ? g->nedges : 1) * 4);
    if (tt != NULL) {
        g->tgt = tt;
        c->edge_cap = g->nedges ? g->nedges : 1;
    }
    return 0;
}
