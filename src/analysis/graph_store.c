/* graph_store.c: the arrays of a graph (graph.h) while it is built and
 * after: grown by doubling, appended to, a node's size (the big-size
 * table for those past 32 bits), the virtual nodes' groups, freed; and
 * the error of a build (graph_build.h).  No Python.
 */
#include "graph_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
hd_graph_store_fail(hd_graph *g, const char *fmt, ...)
{
    if (g->error[0] == '\0') {
        va_list va;
        va_start(va, fmt);
        vsnprintf(g->error, sizeof(g->error), fmt, va);
        va_end(va);
    }
    return -1;
}

int
hd_graph_store_oom(hd_graph *g)
{
    g->oom = 1;
    return hd_graph_store_fail(g, "out of memory");
}

/* Room for n + 1 elements of size sz in *arr.  0 or -1. */
int
hd_graph_store_grow(hd_graph *g, void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > SIZE_MAX / sz) {
        return hd_graph_store_oom(g);
    }
    void *p = realloc(*arr, ncap * sz);
    if (p == NULL) {
        return hd_graph_store_oom(g);
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Room for cap nodes in the per-node arrays (off has one more entry);
 * 0, or -1 with the graph's error set (what was already grown stays, and
 * is freed with the graph). */
int
hd_graph_store_nodes(hd_graph *g, size_t cap)
{
    void *a = realloc(g->off, (cap + 1) * sizeof(uint32_t));
    if (a != NULL) {
        g->off = a;
    }
    void *b = a ? realloc(g->kind, cap) : NULL;
    if (b != NULL) {
        g->kind = b;
    }
    void *f = b ? realloc(g->flags, cap) : NULL;
    if (f != NULL) {
        g->flags = f;
    }
    void *t = f ? realloc(g->tix, cap * sizeof(uint32_t)) : NULL;
    if (t != NULL) {
        g->tix = t;
    }
    void *s = t ? realloc(g->size, cap * sizeof(uint32_t)) : NULL;
    if (s == NULL) {
        return hd_graph_store_oom(g);
    }
    g->size = s;
    return 0;
}

int
hd_graph_store_push(hd_graph *g, build_u32s *a, uint32_t v)
{
    if (hd_graph_store_grow(g, (void **)&a->v, a->n, &a->cap,
                            sizeof(uint32_t)) < 0) {
        return -1;
    }
    a->v[a->n++] = v;
    return 0;
}

/* Copy n bytes into g's arena; their offset into *at. */
int
hd_graph_store_keep(hd_graph *g, const unsigned char *p, size_t n, size_t *at)
{
    while (g->arena_len + n > g->arena_cap) {
        size_t cap = g->arena_cap ? g->arena_cap * 2 : 65536;
        unsigned char *a = realloc(g->arena, cap);
        if (a == NULL) {
            return hd_graph_store_oom(g);
        }
        g->arena = a;
        g->arena_cap = cap;
    }
    memcpy(g->arena + g->arena_len, p, n);
    *at = g->arena_len;
    g->arena_len += n;
    return 0;
}

int
hd_graph_store_edge(build_ctx *c, uint64_t target)
{
    hd_graph *g = c->g;
    if (g->nedges == c->edge_cap) {
        uint64_t cap = c->edge_cap ? c->edge_cap * 2 : 1 << 16;
        if (cap > UINT32_MAX) {
            cap = UINT32_MAX;
        }
        if (g->nedges >= cap) {
            return hd_graph_store_fail(g, "more than 2**32 references");
        }
        uint32_t *t = realloc(g->tgt, (size_t)cap * sizeof(uint32_t));
        if (t == NULL) {
            return hd_graph_store_oom(g);
        }
        g->tgt = t;
        c->edge_cap = cap;
    }
    /* ids past 2**32 are no object's: checked with the others at the
     * end */
    g->tgt[g->nedges++] = target >= HD_NONE ? HD_NONE : (uint32_t)target;
    return 0;
}

int
hd_graph_store_set_size(hd_graph *g, uint32_t node, uint64_t size)
{
    if (size < UINT32_MAX) {
        g->size[node] = (uint32_t)size;
        return 0;
    }
    g->size[node] = UINT32_MAX;
    g->flags[node] |= HD_GF_BIGSIZE;
    /* nodes come in order: the table stays sorted (a node's size can
     * grow again with its INLINE record: then the last entry is it) */
    if (g->nbig > 0 && g->big[g->nbig - 1].node == node) {
        g->big[g->nbig - 1].size = size;
        return 0;
    }
    if (hd_graph_store_grow(g, (void **)&g->big, g->nbig, &g->big_cap,
                            sizeof(hd_graph_bigsize)) < 0) {
        return -1;
    }
    g->big[g->nbig].node = node;
    g->big[g->nbig].size = size;
    g->nbig++;
    return 0;
}

uint64_t
hd_graph_size(const hd_graph *g, uint32_t node)
{
    if (!(g->flags[node] & HD_GF_BIGSIZE)) {
        return g->size[node];
    }
    size_t lo = 0, hi = g->nbig;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->big[mid].node < node) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < g->nbig ? g->big[lo].size : UINT32_MAX;
}

const hd_graph_group *
hd_graph_group_of(const hd_graph *g, uint32_t node)
{
    if (node <= g->super || node >= g->total) {
        return NULL;
    }
    return &g->groups[node - g->super - 1];
}

void
hd_graph_free(hd_graph *g)
{
    free(g->off);
    free(g->tgt);
    free(g->kind);
    free(g->flags);
    free(g->tix);
    free(g->size);
    free(g->big);
    free(g->weak);
    for (size_t i = 0; i < g->ntypes; i++) {
        free(g->types[i].name);
    }
    free(g->types);
    for (size_t i = 0; i < g->ngroups; i++) {
        free(g->groups[i].name);
    }
    free(g->groups);
    free(g->layouts);
    free(g->frames);
    free(g->module_dicts);
    free(g->arena);
    free(g->idom);
    free(g->retained);
    free(g->bfs_parent);
    free(g->left);
    free(g->dom_off);
    free(g->dom_kids);
    memset(g, 0, sizeof(*g));
}
