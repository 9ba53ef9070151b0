/* hide_ac.c: the Aho-Corasick automaton of a hider (hide.h, and hide.c's
 * comment for its cost): built once over the patterns (GIL held, it
 * allocates), then run over values reading memory only (the walk and the
 * fatal-signal dump run it).
 */
#include "hide.h"

#include <stdlib.h>

/* ---------------------------------------------------------- building */

int
hd_hide_ac_build(hd_hider *h)
{
    size_t total = 0;
    int used[256] = {0};
    for (size_t i = 0; i < h->npats; i++) {
        const unsigned char *b = h->bytes + h->pats[i].offset;
        total += h->pats[i].len;
        for (uint32_t j = 0; j < h->pats[i].len; j++) {
            used[b[j]] = 1;
        }
    }
    h->ncls = 1;
    for (int c = 0; c < 256; c++) {
        h->cls[c] = used[c] ? (unsigned char)h->ncls++ : 0;
    }
    size_t maxstates = total + 1;
    if (maxstates * h->ncls > HIDE_MAX_TABLE) {
        return hide_too_big("the values hidden inside others");
    }
    uint32_t *go = calloc(maxstates * h->ncls, sizeof(uint32_t));
    int32_t *first = malloc(maxstates * sizeof(int32_t));
    int32_t *link = malloc(maxstates * sizeof(int32_t));
    uint32_t *fail = calloc(maxstates, sizeof(uint32_t));
    uint32_t *queue = malloc(maxstates * sizeof(uint32_t));
    if (!go || !first || !link || !fail || !queue) {
        free(go);
        free(first);
        free(link);
        free(fail);
        free(queue);
        PyErr_NoMemory();
        return -1;
    }
    uint32_t ncls = h->ncls, nstates = 1;
    first[0] = -1;
    /* the trie: go[state * ncls + class] is a child's number (0: none,
     * since the root is nobody's child) */
    for (size_t i = 0; i < h->npats; i++) {
        const unsigned char *b = h->bytes + h->pats[i].offset;
        uint32_t s = 0;
        for (uint32_t j = 0; j < h->pats[i].len; j++) {
            uint32_t *slot = &go[(size_t)s * ncls + h->cls[b[j]]];
            if (*slot == 0) {
                first[nstates] = -1;
                *slot = nstates++;
            }
            s = *slot;
        }
        /* patterns ending in s, in the order they were given */
        int32_t *tail = &first[s];
        while (*tail >= 0) {
            tail = &h->pats[*tail].next;
        }
        *tail = (int32_t)i;
    }
    /* breadth first: failure links, dictionary links, and the missing
     * transitions taken from the failure state's (already complete) row */
    size_t qh = 0, qt = 0;
    link[0] = -1;
    for (uint32_t c = 0; c < ncls; c++) {
        uint32_t t = go[c];
        if (t != 0) {
            fail[t] = 0;
            link[t] = -1;
            queue[qt++] = t;
        }
    }
    while (qh < qt) {
        uint32_t s = queue[qh++];
        for (uint32_t c = 0; c < ncls; c++) {
            uint32_t *slot = &go[(size_t)s * ncls + c];
            uint32_t t = *slot;
            uint32_t via = go[(size_t)fail[s] * ncls + c];
            if (t != 0) {
                fail[t] = via;
                link[t] = first[via] >= 0 ? (int32_t)via : link[via];
                queue[qt++] = t;
            }
            else {
                *slot = via;
            }
        }
    }
    /* rows hold the next row's offset, flagged when it has outputs */
    for (size_t k = 0; k < (size_t)nstates * ncls; k++) {
        uint32_t t = go[k];
        uint32_t out = first[t] >= 0 || link[t] >= 0 ? HIDE_OUT : 0;
        go[k] = t * ncls | out;
    }
    free(fail);
    free(queue);
    uint32_t *shrunk = realloc(go, (size_t)nstates * ncls * sizeof(uint32_t));
    h->delta = shrunk ? shrunk : go;
    h->first = first;
    h->link = link;
    h->nstates = nstates;
    return 0;
}

/* ----------------------------------------------------------- running */

/* The outputs of state st, met at the end of the value unit ci (the code
 * point or byte index that the last fed byte belongs to). */
static int
hide_ac_outputs(const hd_hider *h, hide_view *v, uint32_t st, Py_ssize_t ci,
                hide_emit emit, void *arg)
{
    for (int32_t s = (int32_t)st; s >= 0; s = h->link[s]) {
        for (int32_t pi = h->first[s]; pi >= 0; pi = h->pats[pi].next) {
            const hide_pattern *p = &h->pats[pi];
            Py_ssize_t end = ci + 1, start, rs, re;
            start = v->is_str ? end - (Py_ssize_t)p->nchars - p->starts_cont
                              : end - (Py_ssize_t)p->len;
            if (start < 0) {
                start = 0;
            }
            int ok = 0;
            switch (p->rule) {
            case HIDE_SECRET:
                rs = start;
                re = end;
                ok = 1;
                break;
            default:
                ok = hd_hide_rules_apply(v, p, start, end, &rs, &re);
                break;
            }
            if (ok && emit(arg, rs, re, p->why) < 0) {
                return -1;
            }
            if (v->budget < 0) {
                return -1; /* hd_hide_value hides the whole value */
            }
        }
    }
    return 0;
}

int
hd_hide_ac_run(const hd_hider *h, hide_view *v, hide_emit emit, void *arg)
{
    const uint32_t *delta = h->delta;
    const unsigned char *cls = h->cls;
    uint32_t row = 0, ncls = h->ncls;
    if (v->kind == PyUnicode_1BYTE_KIND && (v->ascii || !v->is_str)) {
        const unsigned char *p = v->data;
        for (Py_ssize_t i = 0; i < v->n; i++) {
            uint32_t t = delta[row + cls[p[i]]];
            row = t & ~HIDE_OUT;
            if ((t & HIDE_OUT) &&
                hide_ac_outputs(h, v, row / ncls, i, emit, arg) < 0) {
                return -1;
            }
        }
        return 0;
    }
    for (Py_ssize_t i = 0; i < v->n; i++) {
        unsigned char buf[4];
        int nb = hide_utf8(hide_at(v, i), buf);
        for (int k = 0; k < nb; k++) {
            uint32_t t = delta[row + cls[buf[k]]];
            row = t & ~HIDE_OUT;
            if ((t & HIDE_OUT) &&
                hide_ac_outputs(h, v, row / ncls, i, emit, arg) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int
hd_hide_ac_may_hold(const hd_hider *h, const hide_view *v)
{
    if (h->pairs_all || (v->is_str && !v->ascii)) {
        return 1;
    }
    const unsigned char *p = v->data, *first = h->pair_first;
    Py_ssize_t n = v->n - 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (first[p[i]]) {
            size_t pair = (size_t)p[i] << 8 | p[i + 1];
            if ((h->pairs[pair >> 3] >> (pair & 7)) & 1) {
                return 1;
            }
        }
    }
    return 0;
}
