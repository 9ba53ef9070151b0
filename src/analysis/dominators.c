/* dominators.c: the dominator tree of the object graph, retained sizes and
 * shortest paths from the roots (graph.h).
 *
 * Dominators by SEMI-NCA (Georgiadis, Tarjan and Werneck, "Finding
 * dominators in practice", 2006): a depth-first numbering, semidominators
 * computed in reverse preorder with path compression (as Lengauer-Tarjan
 * does), then each immediate dominator as the nearest common ancestor of
 * its DFS parent and its semidominator in the tree built so far.  Every
 * step is a loop with an explicit stack: no C recursion, whatever the
 * depth of the heap (a linked list of a million nodes is a DFS a million
 * deep).
 *
 * Memory, the phases in order (e: edges per node):
 *   DFS            the graph (14 + 4e bytes per node), preorder, vertex,
 *                  parent, edge cursors and the stack (20)
 *   predecessors   in preorder numbers (4 + 4e); then the successors are
 *                  dropped, to be rebuilt from the predecessors at the end
 *   semidominators semi, label, idom (12), over the predecessors
 *   successors     rebuilt (4 + 4e), then the predecessors are dropped
 *   retained, BFS  8 + 4 per node kept, 4 for the queue
 * so at most 30 + 8e bytes per node, and 30 + 4e kept afterwards.
 *
 * Retained size: a node's own size plus its dominator subtree's; a
 * subtree with a cut (a container cut by a limit, an OMITTED value)
 * makes every retained size above it a lower bound (HD_GF_LOWER).
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
dom_oom(hd_graph *g)
{
    g->oom = 1;
    snprintf(g->error, sizeof(g->error), "out of memory");
    return -1;
}

static uint32_t *
dom_array(size_t n)
{
    return malloc((n ? n : 1) * sizeof(uint32_t));
}

/* The "unattributed" group's node: the last group. */
static uint32_t
dom_left(const hd_graph *g)
{
    for (size_t i = g->ngroups; i-- > 0;) {
        if (g->groups[i].kind == HD_G_LEFT) {
            return g->groups[i].node;
        }
    }
    return HD_NONE;
}

/* Depth-first numbering from the super-root.  The "unattributed" group
 * (the super-root's last child, so entered once everything the roots
 * reach is numbered) takes every node still unnumbered, in id order, as
 * its child: what no root reaches through strong references.  Those
 * children are listed in *left.  Returns the number of nodes numbered, or
 * HD_NONE out of memory. */
static uint32_t
dom_dfs(hd_graph *g, uint32_t *pre, uint32_t *vertex, uint32_t *parent,
        uint32_t **left, size_t *nleft)
{
    uint32_t total = g->total, lgroup = dom_left(g);
    uint32_t *cursor = dom_array(total); /* by preorder number */
    uint32_t *stack = dom_array(total);  /* preorder numbers */
    size_t left_cap = 0;
    uint32_t num = 0;
    size_t sp = 0;
    *left = NULL;
    *nleft = 0;
    if (cursor == NULL || stack == NULL) {
        goto oom;
    }
    for (uint32_t v = 0; v < total; v++) {
        pre[v] = HD_NONE;
    }
    pre[g->super] = 0;
    vertex[0] = g->super;
    parent[0] = 0;
    cursor[0] = g->off[g->super];
    stack[sp++] = 0;
    num = 1;
    while (sp > 0) {
        uint32_t p = stack[sp - 1], v = vertex[p], w = HD_NONE;
        if (v == lgroup) {
            /* the cursor runs over the object ids */
            while (cursor[p] < g->n && pre[cursor[p]] != HD_NONE) {
                cursor[p]++;
            }
            if (cursor[p] < g->n) {
                w = cursor[p]++;
                if (*nleft == left_cap) {
                    left_cap = left_cap ? left_cap * 2 : 1024;
                    uint32_t *l = realloc(*left, left_cap * sizeof(uint32_t));
                    if (l == NULL) {
                        goto oom;
                    }
                    *left = l;
                }
                (*left)[(*nleft)++] = w;
            }
        }
        else {
            while (cursor[p] < g->off[v + 1]) {
                uint32_t t = g->tgt[cursor[p]++];
                if (pre[t] == HD_NONE) {
                    w = t;
                    break;
                }
            }
        }
        if (w == HD_NONE) {
            sp--;
            continue;
        }
        pre[w] = num;
        vertex[num] = w;
        parent[num] = p;
        cursor[num] = w == lgroup ? 0 : g->off[w];
        stack[sp++] = num;
        num++;
    }
    free(cursor);
    free(stack);
    return num;
oom:
    free(cursor);
    free(stack);
    free(*left);
    *left = NULL;
    return HD_NONE;
}

/* The predecessors of every node in preorder numbers: psrc[poff[i] ..
 * poff[i + 1]) are the preorder numbers of the nodes with an edge to the
 * node numbered i (self-loops left out; the unattributed group's edges
 * are to its children). */
static int
dom_preds(const hd_graph *g, const uint32_t *pre, const uint32_t *left,
          size_t nleft, uint32_t lgroup, uint32_t **poff_out,
          uint32_t **psrc_out)
{
    uint32_t total = g->total;
    uint32_t *poff = calloc((size_t)total + 1, sizeof(uint32_t));
    if (poff == NULL) {
        return -1;
    }
    uint64_t m = 0;
    for (uint32_t v = 0; v < total; v++) {
        for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++) {
            uint32_t w = g->tgt[e];
            if (w != v) {
                poff[pre[w]]++;
                m++;
            }
        }
    }
    for (size_t i = 0; i < nleft; i++) {
        poff[pre[left[i]]]++;
        m++;
    }
    uint32_t *psrc = malloc((m ? m : 1) * sizeof(uint32_t));
    if (psrc == NULL || m > UINT32_MAX) {
        free(poff);
        free(psrc);
        return -1;
    }
    /* counts -> end positions; filled backwards -> start positions */
    uint64_t run = 0;
    for (uint32_t i = 0; i < total; i++) {
        run += poff[i];
        poff[i] = (uint32_t)run;
    }
    poff[total] = (uint32_t)run;
    for (uint32_t v = 0; v < total; v++) {
        uint32_t pv = pre[v];
        for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++) {
            uint32_t w = g->tgt[e];
            if (w != v) {
                psrc[--poff[pre[w]]] = pv;
            }
        }
    }
    for (size_t i = 0; i < nleft; i++) {
        psrc[--poff[pre[left[i]]]] = pre[lgroup];
    }
    *poff_out = poff;
    *psrc_out = psrc;
    return 0;
}

/* EVAL with path compression, as LLVM's SemiNCA writes it: ancestor links
 * are the DFS parents of the nodes numbered last or later (the linked
 * ones), compressed in place; label[v] is the node of least semi on v's
 * path.  stack: room for the longest path (total entries). */
static inline uint32_t
dom_eval(uint32_t v, uint32_t last, uint32_t *anc, uint32_t *label,
         const uint32_t *semi, uint32_t *stack)
{
    if (anc[v] < last) {
        return label[v];
    }
    size_t sp = 0;
    do {
        stack[sp++] = v;
        v = anc[v];
    } while (anc[v] >= last);
    /* v is the root of the linked tree: compress the path below it */
    uint32_t p = v, plabel = label[p];
    do {
        v = stack[--sp];
        anc[v] = anc[p];
        if (semi[plabel] < semi[label[v]]) {
            label[v] = plabel;
        }
        else {
            plabel = label[v];
        }
        p = v;
    } while (sp > 0);
    return label[v];
}

/* Semidominators then immediate dominators, in preorder numbers: idom[i]
 * for i > 0 (idom[0] = 0).  parent is the DFS parents, destroyed
 * (compressed). */
static int
dom_seminca(uint32_t n, uint32_t *parent, const uint32_t *poff,
            const uint32_t *psrc, uint32_t *idom)
{
    uint32_t *semi = dom_array(n), *label = dom_array(n);
    uint32_t *stack = dom_array(n);
    if (semi == NULL || label == NULL || stack == NULL) {
        free(semi);
        free(label);
        free(stack);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        semi[i] = i;
        label[i] = i;
        idom[i] = parent[i];
    }
    for (uint32_t i = n; i-- > 1;) {
        uint32_t s = parent[i];
        for (uint32_t e = poff[i]; e < poff[i + 1]; e++) {
            uint32_t u = dom_eval(psrc[e], i + 1, parent, label, semi, stack);
            if (semi[u] < s) {
                s = semi[u];
            }
        }
        semi[i] = s;
    }
    idom[0] = 0;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t c = idom[i];
        while (c > semi[i]) {
            c = idom[c];
        }
        idom[i] = c;
    }
    free(semi);
    free(label);
    free(stack);
    return 0;
}

/* The successors again (node numbers), from the predecessors. */
static int
dom_successors(hd_graph *g, const uint32_t *vertex, const uint32_t *poff,
               const uint32_t *psrc)
{
    uint32_t total = g->total;
    uint64_t m = poff[total];
    uint32_t *off = calloc((size_t)total + 1, sizeof(uint32_t));
    uint32_t *tgt = malloc((m ? m : 1) * sizeof(uint32_t));
    if (off == NULL || tgt == NULL) {
        free(off);
        free(tgt);
        return -1;
    }
    for (uint32_t i = 0; i < total; i++) {
        for (uint32_t e = poff[i]; e < poff[i + 1]; e++) {
            off[vertex[psrc[e]]]++;
        }
    }
    uint64_t run = 0;
    for (uint32_t v = 0; v < total; v++) {
        run += off[v];
        off[v] = (uint32_t)run;
    }
    off[total] = (uint32_t)run;
    /* filled backwards: each row ends up in increasing preorder of its
     * targets */
    for (uint32_t i = total; i-- > 0;) {
        for (uint32_t e = poff[i + 1]; e-- > poff[i];) {
            tgt[--off[vertex[psrc[e]]]] = vertex[i];
        }
    }
    g->off = off;
    g->tgt = tgt;
    g->nedges = m;
    return 0;
}

/* Breadth first from the super-root: a shortest path to every node. */
static int
dom_bfs(hd_graph *g)
{
    uint32_t total = g->total;
    uint32_t *parent = dom_array(total), *queue = dom_array(total);
    if (parent == NULL || queue == NULL) {
        free(parent);
        free(queue);
        return -1;
    }
    for (uint32_t v = 0; v < total; v++) {
        parent[v] = HD_NONE;
    }
    size_t head = 0, tail = 0;
    parent[g->super] = g->super;
    queue[tail++] = g->super;
    while (head < tail) {
        uint32_t u = queue[head++];
        for (uint32_t e = g->off[u]; e < g->off[u + 1]; e++) {
            uint32_t w = g->tgt[e];
            if (parent[w] == HD_NONE) {
                parent[w] = u;
                queue[tail++] = w;
            }
        }
    }
    parent[g->super] = HD_NONE;
    free(queue);
    g->bfs_parent = parent;
    return 0;
}

/* The dominator tree's children lists (unsorted). */
static int
dom_children(hd_graph *g)
{
    uint32_t total = g->total;
    uint32_t *off = calloc((size_t)total + 1, sizeof(uint32_t));
    uint32_t *kids = dom_array(total);
    if (off == NULL || kids == NULL) {
        free(off);
        free(kids);
        return -1;
    }
    for (uint32_t v = 0; v < total; v++) {
        if (v != g->super) {
            off[g->idom[v]]++;
        }
    }
    uint32_t run = 0;
    for (uint32_t v = 0; v < total; v++) {
        run += off[v];
        off[v] = run;
    }
    off[total] = run;
    for (uint32_t v = total; v-- > 0;) {
        if (v != g->super) {
            kids[--off[g->idom[v]]] = v;
        }
    }
    g->dom_off = off;
    g->dom_kids = kids;
    return 0;
}

int
hd_dominators_compute(hd_graph *g)
{
    uint32_t total = g->total;
    uint32_t *pre = dom_array(total), *vertex = dom_array(total);
    uint32_t *parent = dom_array(total), *idom = NULL;
    uint32_t *poff = NULL, *psrc = NULL, *left = NULL;
    uint64_t *ret = NULL;
    size_t nleft = 0;
    int rc = -1;
    if (pre == NULL || vertex == NULL || parent == NULL) {
        goto oom;
    }
    uint32_t lgroup = dom_left(g);
    uint32_t num = dom_dfs(g, pre, vertex, parent, &left, &nleft);
    if (num == HD_NONE) {
        goto oom;
    }
    if (num != total) {
        snprintf(g->error, sizeof(g->error),
                 "%u of %u nodes are not reached from the super-root",
                 total - num, total);
        goto done;
    }
    if (dom_preds(g, pre, left, nleft, lgroup, &poff, &psrc) < 0) {
        goto oom;
    }
    g->left = left;
    g->nleft = nleft;
    g->left_group = lgroup;
    left = NULL;
    free(pre);
    pre = NULL;
    /* the successors are rebuilt from the predecessors below */
    free(g->off);
    free(g->tgt);
    g->off = NULL;
    g->tgt = NULL;
    idom = dom_array(total);
    if (idom == NULL || dom_seminca(total, parent, poff, psrc, idom) < 0) {
        goto oom;
    }
    free(parent);
    parent = NULL;
    if (dom_successors(g, vertex, poff, psrc) < 0) {
        goto oom;
    }
    free(poff);
    free(psrc);
    poff = psrc = NULL;
    /* immediate dominators in node numbers */
    g->idom = dom_array(total);
    if (g->idom == NULL) {
        goto oom;
    }
    for (uint32_t i = 0; i < total; i++) {
        g->idom[vertex[i]] = vertex[idom[i]];
    }
    /* retained sizes: each node's size added to its dominator's, in
     * reverse preorder (a dominator precedes what it dominates) */
    ret = malloc((size_t)total * sizeof(uint64_t));
    if (ret == NULL) {
        goto oom;
    }
    for (uint32_t i = 0; i < total; i++) {
        ret[i] = hd_graph_size(g, vertex[i]);
        if (g->flags[vertex[i]] & HD_GF_CUT) {
            g->flags[vertex[i]] |= HD_GF_LOWER;
        }
    }
    for (uint32_t i = total; i-- > 1;) {
        ret[idom[i]] += ret[i];
        if (g->flags[vertex[i]] & HD_GF_LOWER) {
            g->flags[vertex[idom[i]]] |= HD_GF_LOWER;
        }
    }
    free(idom);
    idom = NULL;
    g->retained = malloc((size_t)total * sizeof(uint64_t));
    if (g->retained == NULL) {
        goto oom;
    }
    for (uint32_t i = 0; i < total; i++) {
        g->retained[vertex[i]] = ret[i];
    }
    free(ret);
    ret = NULL;
    free(vertex);
    vertex = NULL;
    if (dom_bfs(g) < 0 || dom_children(g) < 0) {
        goto oom;
    }
    rc = 0;
    goto done;
oom:
    dom_oom(g);
done:
    free(pre);
    free(vertex);
    free(parent);
    free(idom);
    free(poff);
    free(psrc);
    free(left);
    free(ret);
    return rc;
}
