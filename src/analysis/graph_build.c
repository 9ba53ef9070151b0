/* graph_build.c: a dump's records -> the object graph (graph.h), in one
 * streaming pass and without making a Python object per record.
 *
 * Each object record becomes a node: its kind, its type (the TYPE record
 * it names, or its builtin kind's), its size (the record's, plus the
 * values it wrote inline: the INLINE record after it), and its strong
 * references, read by the record's schema (schema.c): a msgpack unsigned
 * integer in a value position is a reference, a RUN is consecutive ones.
 * A WEAKREF's referent goes to the weak edges instead.  The roots (THREAD,
 * ROOT and ROOTS records) become virtual nodes after the objects.
 *
 * Hostile files: every read goes through mpread.c's bounds checks and
 * stream.c's limits; a reference to an id no record defines (a truncated
 * file, a damaged one) is dropped and counted (lost_edges), never
 * followed.  Memory is the arrays of graph.h, grown by doubling.
 */
#include "heapdump.h"

#include "graph.h"
#include "reader/mpread.h"
#include "reader/stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUILD_PROGRESS_EVERY ((uint64_t)1 << 20) /* records */
#define BUILD_NAME_MAX 400                       /* bytes of a type name */

/* the builtin kinds' type names: types[kind] for kind 1..29 */
static const char *const build_kind_types[] = {
    "?",
    "int",
    "float",
    "complex",
    "str",
    "bytes",
    "bytearray",
    "tuple",
    "list",
    "dict",
    "set",
    "frozenset",
    "range",
    "slice",
    "(singleton)",
    "type",
    "object",
    "(opaque)",
    "function",
    "method",
    "builtin_function_or_method",
    "code",
    "module",
    "cell",
    "frame",
    "traceback",
    "BaseException",
    "generator",
    "weakref",
    "(unreadable)",
    "(unknown kind)",
};
#define BUILD_NKINDS 31 /* entries above; the last for unknown kinds */
#define BUILD_UNKNOWN 30

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

static int
build_fail(hd_graph *g, const char *fmt, ...)
{
    if (g->error[0] == '\0') {
        va_list va;
        va_start(va, fmt);
        vsnprintf(g->error, sizeof(g->error), fmt, va);
        va_end(va);
    }
    return -1;
}

static int
build_oom(hd_graph *g)
{
    g->oom = 1;
    return build_fail(g, "out of memory");
}

/* Room for n + 1 elements of size sz in *arr.  0 or -1. */
static int
build_grow(hd_graph *g, void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > SIZE_MAX / sz) {
        return build_oom(g);
    }
    void *p = realloc(*arr, ncap * sz);
    if (p == NULL) {
        return build_oom(g);
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

static int
build_push(hd_graph *g, build_u32s *a, uint32_t v)
{
    if (build_grow(g, (void **)&a->v, a->n, &a->cap, sizeof(uint32_t)) < 0) {
        return -1;
    }
    a->v[a->n++] = v;
    return 0;
}

/* Copy n bytes into g's arena; their offset into *at. */
static int
build_keep(hd_graph *g, const unsigned char *p, size_t n, size_t *at)
{
    while (g->arena_len + n > g->arena_cap) {
        size_t cap = g->arena_cap ? g->arena_cap * 2 : 65536;
        unsigned char *a = realloc(g->arena, cap);
        if (a == NULL) {
            return build_oom(g);
        }
        g->arena = a;
        g->arena_cap = cap;
    }
    memcpy(g->arena + g->arena_len, p, n);
    *at = g->arena_len;
    g->arena_len += n;
    return 0;
}

static int
build_edge(build_ctx *c, uint64_t target)
{
    hd_graph *g = c->g;
    if (g->nedges == c->edge_cap) {
        uint64_t cap = c->edge_cap ? c->edge_cap * 2 : 1 << 16;
        if (cap > UINT32_MAX) {
            cap = UINT32_MAX;
        }
        if (g->nedges >= cap) {
            return build_fail(g, "more than 2**32 references");
        }
        uint32_t *t = realloc(g->tgt, (size_t)cap * sizeof(uint32_t));
        if (t == NULL) {
            return build_oom(g);
        }
        g->tgt = t;
        c->edge_cap = cap;
    }
    /* ids past 2**32 are no object's: checked with the others at the
     * end */
    g->tgt[g->nedges++] = target >= HD_NONE ? HD_NONE : (uint32_t)target;
    return 0;
}

/* ------------------------------------------------------------- values */

/* ext 5 RUN's payload: first id and count. */
static int
build_run(const hd_mp_item *it, uint64_t *first, uint64_t *count)
{
    hd_mp_cur c = {it->data, it->data + it->u};
    hd_mp_item a, b;
    if (hd_mpread_next(&c, &a) < 0 || hd_mpread_next(&c, &b) < 0 ||
        a.type != HD_MP_UINT || b.type != HD_MP_UINT ||
        b.u > HD_MAX_RECORD_ITEMS || a.u + b.u < a.u) {
        return -1;
    }
    *first = a.u;
    *count = b.u;
    return 0;
}

/* One value already read into it, of the object node: a reference is an
 * edge (weak: into the weak edges), a RUN its edges, an inline value is
 * counted, an OMITTED value cuts the node.  Arrays and maps are no values
 * (an error). */
static int
build_item(build_ctx *c, const hd_mp_item *it, uint32_t node, int weak)
{
    hd_graph *g = c->g;
    switch (it->type) {
    case HD_MP_UINT:
        if (weak) {
            if (build_grow(g, (void **)&g->weak, g->nweak, &g->weak_cap,
                           2 * sizeof(uint32_t)) < 0) {
                return -1;
            }
            g->weak[2 * g->nweak] = node;
            g->weak[2 * g->nweak + 1] =
                it->u >= HD_NONE ? HD_NONE : (uint32_t)it->u;
            g->nweak++;
            return 0;
        }
        return build_edge(c, it->u);
    case HD_MP_STR: g->inline_count[HD_INL_STR]++; return 0;
    case HD_MP_BIN: g->inline_count[HD_INL_BYTES]++; return 0;
    case HD_MP_FLOAT: g->inline_count[HD_INL_FLOAT]++; return 0;
    case HD_MP_ARRAY:
    case HD_MP_MAP: return build_fail(g, "an array where a value belongs");
    case HD_MP_EXT:
        switch (it->ext) {
        case HD_EXT_INT: g->inline_count[HD_INL_INT]++; return 0;
        case HD_EXT_OMITTED:
            g->omitted++;
            if (node != HD_NONE) {
                g->flags[node] |= HD_GF_CUT;
            }
            return 0;
        case HD_EXT_REDACTED: g->redacted++; return 0;
        case HD_EXT_RUN: {
            uint64_t first, count;
            if (build_run(it, &first, &count) < 0) {
                return build_fail(g, "a malformed RUN value");
            }
            for (uint64_t i = 0; i < count; i++) {
                if (build_edge(c, first + i) < 0) {
                    return -1;
                }
            }
            return 0;
        }
        default: return 0;
        }
    default: return 0; /* nil, bool, a negative int: no object */
    }
}

static int
build_value(build_ctx *c, hd_mp_cur *cur, uint32_t node, int weak)
{
    hd_mp_item it;
    if (hd_mpread_next(cur, &it) < 0) {
        return build_fail(c->g, "malformed msgpack in a value");
    }
    return build_item(c, &it, node, weak);
}

/* n values in a row. */
static int
build_values(build_ctx *c, hd_mp_cur *cur, uint64_t n, uint32_t node)
{
    for (uint64_t i = 0; i < n; i++) {
        if (build_value(c, cur, node, 0) < 0) {
            return -1;
        }
    }
    return 0;
}

/* An array of values (names: a str in it is a name, not a value). */
static int
build_array(build_ctx *c, hd_mp_cur *cur, uint32_t node, int names)
{
    hd_mp_item it;
    if (hd_mpread_next(cur, &it) < 0) {
        return build_fail(c->g, "malformed msgpack in an array of values");
    }
    if (it.type == HD_MP_NIL) {
        return 0;
    }
    if (it.type != HD_MP_ARRAY) {
        return build_fail(c->g, "a value where an array of them belongs");
    }
    for (uint64_t i = 0; i < it.u; i++) {
        hd_mp_item v;
        if (hd_mpread_next(cur, &v) < 0) {
            return build_fail(c->g, "malformed msgpack in an array");
        }
        if (names && v.type == HD_MP_STR) {
            continue;
        }
        if (build_item(c, &v, node, 0) < 0) {
            return -1;
        }
    }
    return 0;
}

/* A reference read from a field, or HD_NONE. */
static uint32_t
build_ref(hd_mp_cur *cur)
{
    hd_mp_item it;
    const unsigned char *start = cur->p;
    if (hd_mpread_next(cur, &it) < 0) {
        return HD_NONE;
    }
    if (it.type == HD_MP_ARRAY || it.type == HD_MP_MAP) {
        cur->p = start;
        hd_mpread_skip(cur);
        return HD_NONE;
    }
    return it.type == HD_MP_UINT && it.u < HD_NONE ? (uint32_t)it.u : HD_NONE;
}

/* A str field into buf (cut, NUL-terminated); "" when it is not one. */
static void
build_str(hd_mp_cur *cur, char *buf, size_t cap)
{
    hd_mp_item it;
    buf[0] = '\0';
    const unsigned char *start = cur->p;
    if (hd_mpread_next(cur, &it) < 0) {
        return;
    }
    if (it.type == HD_MP_ARRAY || it.type == HD_MP_MAP) {
        cur->p = start;
        hd_mpread_skip(cur);
        return;
    }
    if (it.type == HD_MP_STR) {
        size_t n = it.u < cap - 1 ? (size_t)it.u : cap - 1;
        memcpy(buf, it.data, n);
        buf[n] = '\0';
    }
}

/* -------------------------------------------------------------- types */

static int
build_add_type(hd_graph *g, const char *name, uint32_t ordinal)
{
    if (build_grow(g, (void **)&g->types, g->ntypes, &g->types_cap,
                   sizeof(hd_graph_type)) < 0) {
        return -1;
    }
    hd_graph_type *t = &g->types[g->ntypes];
    memset(t, 0, sizeof(*t));
    t->name = strdup(name);
    if (t->name == NULL) {
        return build_oom(g);
    }
    t->ordinal = ordinal;
    g->ntypes++;
    return 0;
}

/* The type index of the TYPE record with this ordinal, or HD_NONE when
 * it was not read (yet). */
static uint32_t
build_type_of(build_ctx *c, uint32_t ordinal)
{
    size_t lo = 0, hi = c->type_ord.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->type_ord.v[mid] < ordinal) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    if (lo < c->type_ord.n && c->type_ord.v[lo] == ordinal) {
        return c->type_idx.v[lo];
    }
    return HD_NONE;
}

/* Give node the type of the TYPE record type_ordinal (its builtin kind's
 * when there is none). */
static int
build_set_type(build_ctx *c, uint32_t node, uint32_t type_ordinal)
{
    if (type_ordinal == HD_NONE) {
        return 0;
    }
    uint32_t t = build_type_of(c, type_ordinal);
    if (t != HD_NONE) {
        c->g->tix[node] = t;
        return 0;
    }
    /* a type whose record comes later: resolved at the end */
    if (build_push(c->g, &c->fix, node) < 0 ||
        build_push(c->g, &c->fix, type_ordinal) < 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- groups */

static int
build_group(build_ctx *c, int kind, const char *name, uint64_t info)
{
    hd_graph *g = c->g;
    if (build_grow(g, (void **)&g->groups, g->ngroups, &g->groups_cap,
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
            return build_oom(g);
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
        return build_oom(g);
    }
    c->thread_frame[g->ngroups] = HD_NONE;
    g->ngroups++;
    return 0;
}

/* The group of ROOTS records of this name, made on first use. */
static int
build_roots_group(build_ctx *c, const char *name, size_t *index)
{
    hd_graph *g = c->g;
    for (size_t i = 0; i < g->ngroups; i++) {
        if (g->groups[i].kind == HD_G_ROOTS &&
            strcmp(g->groups[i].name, name) == 0) {
            *index = i;
            return 0;
        }
    }
    if (build_group(c, HD_G_ROOTS, name, 0) < 0) {
        return -1;
    }
    *index = g->ngroups - 1;
    return 0;
}

/* ------------------------------------------------------------ records */

/* Room in the node arrays for one more node than there are (the first
 * call makes them: they exist even for a file of no object). */
static int
build_reserve(build_ctx *c)
{
    hd_graph *g = c->g;
    if (g->n == c->node_cap) {
        size_t cap = c->node_cap ? c->node_cap * 2 : 1 << 14;
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
            return build_oom(g);
        }
        g->size = s;
        c->node_cap = cap;
    }
    return 0;
}

/* Room for one more node; its arrays zeroed. */
static int
build_node(build_ctx *c, uint32_t *node)
{
    hd_graph *g = c->g;
    if ((uint64_t)g->n >= c->limits->max_objects || g->n >= HD_NONE - 64) {
        return build_fail(g,
                          "the file holds more than max_objects (%llu) "
                          "objects; pass a larger max_objects to analyze it",
                          (unsigned long long)c->limits->max_objects);
    }
    if (build_reserve(c) < 0) {
        return -1;
    }
    *node = g->n++;
    if (g->nedges > UINT32_MAX) {
        return build_fail(g, "more than 2**32 references");
    }
    g->off[*node] = (uint32_t)g->nedges;
    g->kind[*node] = 0;
    g->flags[*node] = 0;
    g->tix[*node] = 0;
    g->size[*node] = 0;
    return 0;
}

static int
build_set_size(hd_graph *g, uint32_t node, uint64_t size)
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
    if (build_grow(g, (void **)&g->big, g->nbig, &g->big_cap,
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

/* The fields of a record by its schema: every 'v', 'V' and 'N' is read
 * for references.  weak_field: the index of a field whose reference is
 * weak (WEAKREF's referent), or -1.  type_field: the index of the field
 * naming the object's type, or -1. */
static int
build_schema(build_ctx *c, hd_mp_cur *cur, uint32_t nfields, uint32_t node,
             const char *schema, int weak_field, int type_field)
{
    uint32_t i = 0;
    for (const char *s = schema; *s && i < nfields; s++) {
        if (*s == '|') {
            continue;
        }
        if ((int)i == type_field) {
            const unsigned char *at = cur->p;
            uint32_t t = build_ref(cur);
            if (build_set_type(c, node, t) < 0) {
                return -1;
            }
            cur->p = at; /* read again below as the edge it also is */
        }
        switch (*s) {
        case 'v':
            if (build_value(c, cur, node, (int)i == weak_field) < 0) {
                return -1;
            }
            break;
        case 'V':
        case 'N':
            if (build_array(c, cur, node, *s == 'N') < 0) {
                return -1;
            }
            break;
        default:
            if (hd_mpread_skip(cur) < 0) {
                return build_fail(c->g, "malformed msgpack in a record");
            }
        }
        i++;
    }
    return 0;
}

static int
build_type_record(build_ctx *c, hd_mp_cur *cur, uint32_t nfields,
                  uint32_t node)
{
    hd_graph *g = c->g;
    char name[BUILD_NAME_MAX], qualname[BUILD_NAME_MAX],
        module[BUILD_NAME_MAX], full[2 * BUILD_NAME_MAX + 2];
    if (nfields < 3) {
        return build_fail(g, "a TYPE record with %u fields", nfields);
    }
    build_str(cur, name, sizeof(name));
    build_str(cur, qualname, sizeof(qualname));
    build_str(cur, module, sizeof(module));
    if (qualname[0] == '\0') {
        memcpy(qualname, name, sizeof(name));
    }
    if (module[0] == '\0' || strcmp(module, "builtins") == 0) {
        snprintf(full, sizeof(full), "%s", qualname);
    }
    else {
        snprintf(full, sizeof(full), "%s.%s", module, qualname);
    }
    if (build_push(g, &c->type_ord, node) < 0 ||
        build_push(g, &c->type_idx, (uint32_t)g->ntypes) < 0 ||
        build_add_type(g, full, node) < 0) {
        return -1;
    }
    /* the rest: metaclass (its type is this class's), bases, attributes */
    return build_schema(c, cur, nfields - 3, node, "vVdddNV", -1, 0);
}

static int
build_instance(build_ctx *c, hd_mp_cur *cur, uint32_t nfields, uint32_t node)
{
    hd_graph *g = c->g;
    hd_mp_item it;
    if (nfields < 1 || hd_mpread_next(cur, &it) < 0) {
        return build_fail(g, "a malformed INSTANCE record");
    }
    if (it.type == HD_MP_NIL) {
        /* [16, addr, rc, size, nil, type] */
        if (nfields >= 2) {
            return build_schema(c, cur, 1, node, "v", -1, 0);
        }
        return 0;
    }
    if (it.type != HD_MP_UINT || it.u >= g->nlayouts) {
        return build_fail(g, "an INSTANCE record names no known layout");
    }
    uint32_t type = g->layouts[it.u].type;
    if (build_set_type(c, node, type) < 0 ||
        (type != HD_NONE && build_edge(c, type) < 0)) {
        return -1;
    }
    return build_values(c, cur, nfields - 1, node);
}

static int
build_container(build_ctx *c, int kind, hd_mp_cur *cur, uint32_t nfields,
                uint32_t node)
{
    if (kind != HD_K_DICT) {
        return build_values(c, cur, nfields, node);
    }
    if (nfields < 2) {
        return build_fail(c->g, "a DICT record without [keys], [values]");
    }
    return build_array(c, cur, node, 0) < 0 ? -1
                                            : build_array(c, cur, node, 0);
}

/* FRAME: code, back, globals, locals, lineno, lasti, position, [v]. */
static int
build_frame(build_ctx *c, hd_mp_cur *cur, uint32_t nfields, uint32_t node)
{
    hd_graph *g = c->g;
    if (build_grow(g, (void **)&g->frames, g->nframes, &g->frames_cap,
                   sizeof(hd_graph_frame)) < 0) {
        return -1;
    }
    hd_graph_frame *f = &g->frames[g->nframes++];
    f->frame = node;
    f->back = HD_NONE;
    f->globals = f->locals = UINT64_MAX;
    if (nfields < 4) {
        return build_schema(c, cur, nfields, node, "vvvvdddV", -1, -1);
    }
    if (build_value(c, cur, node, 0) < 0) { /* code */
        return -1;
    }
    const unsigned char *at = cur->p;
    f->back = build_ref(cur);
    cur->p = at;
    if (build_value(c, cur, node, 0) < 0) { /* back */
        return -1;
    }
    uint64_t before = g->nedges;
    if (build_value(c, cur, node, 0) < 0) { /* globals */
        return -1;
    }
    if (g->nedges == before + 1) {
        f->globals = before;
    }
    before = g->nedges;
    if (build_value(c, cur, node, 0) < 0) { /* locals */
        return -1;
    }
    if (g->nedges == before + 1) {
        f->locals = before;
    }
    return build_schema(c, cur, nfields - 4, node, "dddV", -1, -1);
}

static int
build_module(build_ctx *c, hd_mp_cur *cur, uint32_t nfields, uint32_t node)
{
    hd_graph *g = c->g;
    if (nfields < 3) {
        return 0; /* a 1.1 MODULE, or frames scope: no dict */
    }
    if (hd_mpread_skip(cur) < 0 || hd_mpread_skip(cur) < 0) {
        return build_fail(g, "a malformed MODULE record");
    }
    const unsigned char *at = cur->p;
    uint32_t dict = build_ref(cur);
    cur->p = at;
    if (dict != HD_NONE) {
        if (build_grow(g, (void **)&g->module_dicts, g->nmodule_dicts,
                       &g->module_dicts_cap, 2 * sizeof(uint32_t)) < 0) {
            return -1;
        }
        g->module_dicts[2 * g->nmodule_dicts] = node;
        g->module_dicts[2 * g->nmodule_dicts + 1] = dict;
        g->nmodule_dicts++;
    }
    return build_value(c, cur, node, 0);
}

static int
build_object(build_ctx *c, int kind, hd_mp_cur *cur, uint32_t nfields)
{
    hd_graph *g = c->g;
    hd_mp_item it;
    uint64_t refcnt, size;
    uint32_t node = 0;
    if (nfields < 3 || hd_mpread_next(cur, &it) < 0 ||
        (it.type != HD_MP_UINT && it.type != HD_MP_NEG)) {
        return build_fail(g, "record %llu: a malformed object header",
                          (unsigned long long)g->records);
    }
    if (hd_mpread_next(cur, &it) < 0 || it.type != HD_MP_UINT) {
        return build_fail(g, "record %llu: a malformed refcnt",
                          (unsigned long long)g->records);
    }
    refcnt = it.u;
    if (hd_mpread_next(cur, &it) < 0 || it.type != HD_MP_UINT) {
        return build_fail(g, "record %llu: a malformed size",
                          (unsigned long long)g->records);
    }
    size = it.u;
    if (build_node(c, &node) < 0) {
        return -1;
    }
    nfields -= 3;
    g->kind[node] = (uint8_t)kind;
    g->tix[node] =
        kind > 0 && kind < BUILD_UNKNOWN ? (uint32_t)kind : BUILD_UNKNOWN;
    if (g->version_minor >= 12 && refcnt >= ((uint64_t)1 << 31)) {
        g->flags[node] |= HD_GF_IMMORTAL;
    }
    if (build_set_size(g, node, size) < 0) {
        return -1;
    }
    c->last_object = node;
    /* what a CLASS record before it said */
    if (c->pend_class) {
        if (build_set_type(c, node, c->pend_type) < 0) {
            return -1;
        }
        for (size_t i = 0; i < c->pend.n; i++) {
            if (build_edge(c, c->pend.v[i]) < 0) {
                return -1;
            }
        }
        c->pend.n = 0;
        c->pend_class = 0;
    }
    int cut = c->pend_cut;
    c->pend_cut = 0;
    switch (kind) {
    case HD_K_INT:
    case HD_K_FLOAT:
    case HD_K_COMPLEX:
    case HD_K_STR:
    case HD_K_BYTES:
    case HD_K_BYTEARRAY:
    case HD_K_SINGLETON:
    case HD_K_CODE:
    case HD_K_UNREADABLE: return 0; /* no references */
    case HD_K_TUPLE:
    case HD_K_LIST:
    case HD_K_SET:
    case HD_K_FROZENSET:
    case HD_K_DICT:
        if (cut) {
            g->flags[node] |= HD_GF_CUT;
        }
        return build_container(c, kind, cur, nfields, node);
    case HD_K_TYPE: return build_type_record(c, cur, nfields, node);
    case HD_K_INSTANCE: return build_instance(c, cur, nfields, node);
    case HD_K_FRAME: return build_frame(c, cur, nfields, node);
    case HD_K_MODULE: return build_module(c, cur, nfields, node);
    case HD_K_OPAQUE:
    case HD_K_EXCEPTION:
    case HD_K_GENERATOR:
        return build_schema(c, cur, nfields, node, hd_format_fields(kind), -1,
                            0);
    case HD_K_WEAKREF:
        return build_schema(c, cur, nfields, node, hd_format_fields(kind), 1,
                            0);
    default: {
        const char *schema = hd_format_fields(kind);
        if (schema == NULL) {
            return 0; /* a kind this reader does not know: no edges */
        }
        return build_schema(c, cur, nfields, node, schema, -1, -1);
    }
    }
}

/* The "version_info" of the META map: the writer's Python's minor. */
static void
build_meta_version(hd_graph *g, const unsigned char *p, size_t len)
{
    hd_mp_cur cur = {p, p + len};
    hd_mp_item it, k, v;
    if (hd_mpread_next(&cur, &it) < 0 || it.type != HD_MP_MAP) {
        return;
    }
    for (uint64_t i = 0; i < it.u; i++) {
        if (hd_mpread_next(&cur, &k) < 0) {
            return;
        }
        if (k.type == HD_MP_STR && k.u == 12 &&
            memcmp(k.data, "version_info", 12) == 0) {
            hd_mp_item major, minor;
            if (hd_mpread_next(&cur, &v) == 0 && v.type == HD_MP_ARRAY &&
                v.u >= 2 && hd_mpread_next(&cur, &major) == 0 &&
                hd_mpread_next(&cur, &minor) == 0 &&
                major.type == HD_MP_UINT && minor.type == HD_MP_UINT &&
                major.u == 3 && minor.u < 1000) {
                g->version_minor = (int)minor.u;
            }
            return;
        }
        if (hd_mpread_skip(&cur) < 0) {
            return;
        }
    }
}

static int
build_other(build_ctx *c, uint64_t kind, hd_mp_cur *cur, uint32_t nfields,
            const unsigned char *fields, size_t fields_len)
{
    hd_graph *g = c->g;
    char name[BUILD_NAME_MAX];
    switch (kind) {
    case HD_R_META:
        if (g->meta_len == 0 &&
            build_keep(g, fields, fields_len, &g->meta_off) == 0) {
            g->meta_len = fields_len;
            build_meta_version(g, fields, fields_len);
        }
        return g->oom ? -1 : 0;
    case HD_R_TRAILER:
        g->trailer_seen = 1;
        if (build_keep(g, fields, fields_len, &g->trailer_off) < 0) {
            return -1;
        }
        g->trailer_len = fields_len;
        return 0;
    case HD_R_LAYOUT: {
        /* [65, type, [names]] */
        if (build_grow(g, (void **)&g->layouts, g->nlayouts, &g->layouts_cap,
                       sizeof(hd_graph_layout)) < 0) {
            return -1;
        }
        hd_graph_layout *l = &g->layouts[g->nlayouts];
        l->type = nfields >= 1 ? build_ref(cur) : HD_NONE;
        const unsigned char *start = cur->p;
        hd_mp_item it;
        if (nfields < 2 || hd_mpread_next(cur, &it) < 0 ||
            it.type != HD_MP_ARRAY) {
            return build_fail(g, "record %llu: a malformed LAYOUT",
                              (unsigned long long)g->records);
        }
        cur->p = start;
        if (hd_mpread_skip(cur) < 0 ||
            build_keep(g, start, (size_t)(cur->p - start), &l->names_off) <
                0) {
            return g->oom ? -1 : build_fail(g, "a malformed LAYOUT");
        }
        l->names_len = (size_t)(cur->p - start);
        l->nnames = it.u > UINT32_MAX ? UINT32_MAX : (uint32_t)it.u;
        g->nlayouts++;
        return 0;
    }
    case HD_R_CLASS: {
        /* [66, type, layout, [values]]: of the next object record */
        c->pend.n = 0;
        c->pend_class = 1;
        const unsigned char *at = cur->p;
        c->pend_type = nfields >= 1 ? build_ref(cur) : HD_NONE;
        cur->p = at;
        /* its references go to the next node: collect them as edges of
         * no node, then move them to c->pend */
        uint64_t mark = g->nedges;
        if (build_schema(c, cur, nfields, HD_NONE, "vdV", -1, -1) < 0) {
            return -1;
        }
        for (uint64_t i = mark; i < g->nedges; i++) {
            if (build_push(g, &c->pend, g->tgt[i]) < 0) {
                return -1;
            }
        }
        g->nedges = mark;
        return 0;
    }
    case HD_R_CUT: c->pend_cut = 1; return 0;
    case HD_R_MORE: {
        uint32_t node = c->last_object;
        if (node == HD_NONE || node != g->n - 1) {
            return build_fail(g, "record %llu: MORE after no container",
                              (unsigned long long)g->records);
        }
        int k = g->kind[node];
        if (k != HD_K_TUPLE && k != HD_K_LIST && k != HD_K_SET &&
            k != HD_K_FROZENSET && k != HD_K_DICT) {
            return build_fail(g, "record %llu: MORE after a kind %d record",
                              (unsigned long long)g->records, k);
        }
        return build_container(c, k, cur, nfields, node);
    }
    case HD_R_INLINE: {
        uint32_t node = c->last_object;
        uint64_t add = 0;
        for (uint32_t i = 0; i < nfields && i < 4; i++) {
            hd_mp_item it;
            if (hd_mpread_next(cur, &it) < 0 || it.type != HD_MP_UINT ||
                it.u > ((uint64_t)1 << 48)) {
                return build_fail(g, "record %llu: a malformed INLINE",
                                  (unsigned long long)g->records);
            }
            g->inline_bytes[i] += it.u;
            add += it.u;
        }
        if (node == HD_NONE || add == 0) {
            return 0;
        }
        /* the types' own sizes leave the inline values out */
        g->types[g->tix[node]].shallow -= add;
        return build_set_size(g, node, hd_graph_size(g, node) + add);
    }
    case HD_R_THREAD: {
        /* [69, ident, native_id, name, is_current, is_main, frame] */
        hd_mp_item it;
        uint64_t ident = 0;
        if (nfields >= 1 && hd_mpread_next(cur, &it) == 0 &&
            it.type == HD_MP_UINT) {
            ident = it.u;
        }
        if (nfields < 6 || hd_mpread_skip(cur) < 0) {
            return 0;
        }
        build_str(cur, name, sizeof(name));
        if (name[0] == '\0') {
            snprintf(name, sizeof(name), "%llu", (unsigned long long)ident);
        }
        if (hd_mpread_skip(cur) < 0 || hd_mpread_skip(cur) < 0) {
            return 0;
        }
        uint32_t frame = build_ref(cur);
        if (build_group(c, HD_G_THREAD, name, ident) < 0) {
            return -1;
        }
        c->thread_frame[g->ngroups - 1] = frame;
        return 0;
    }
    case HD_R_ROOT: {
        /* [71, name, v] */
        if (nfields < 2) {
            return 0;
        }
        build_str(cur, name, sizeof(name));
        uint32_t v = build_ref(cur);
        if (build_group(c, HD_G_ROOT, name, 0) < 0) {
            return -1;
        }
        return v == HD_NONE ? 0 : build_push(g, &c->held[g->ngroups - 1], v);
    }
    case HD_R_ROOTS: {
        /* [74, name, v...] */
        size_t gi;
        if (nfields < 1) {
            return 0;
        }
        build_str(cur, name, sizeof(name));
        if (build_roots_group(c, name, &gi) < 0) {
            return -1;
        }
        for (uint32_t i = 1; i < nfields; i++) {
            uint32_t v = build_ref(cur);
            if (v != HD_NONE && build_push(g, &c->held[gi], v) < 0) {
                return -1;
            }
        }
        return 0;
    }
    case HD_R_ERROR: g->errors++; return 0;
    default: return 0; /* SOURCE, and kinds of later versions */
    }
}

static int
build_record(build_ctx *c, const unsigned char *rec, size_t len)
{
    hd_graph *g = c->g;
    hd_mp_cur cur = {rec, rec + len};
    hd_mp_item it;
    if (hd_mpread_next(&cur, &it) < 0 || it.type != HD_MP_ARRAY || it.u < 1 ||
        it.u > UINT32_MAX) {
        return build_fail(g, "record %llu is not a msgpack array",
                          (unsigned long long)g->records);
    }
    uint32_t nfields = (uint32_t)it.u - 1;
    if (hd_mpread_next(&cur, &it) < 0 || it.type != HD_MP_UINT || it.u == 0) {
        return build_fail(g, "record %llu has no valid kind",
                          (unsigned long long)g->records);
    }
    if (it.u < 64) {
        return build_object(c, (int)it.u, &cur, nfields);
    }
    return build_other(c, it.u, &cur, nfields, cur.p,
                       (size_t)(cur.end - cur.p));
}

/* After the pass: the references checked, the types of late TYPE
 * records, the frames' globals (and a module body's locals) that are a
 * module's dict (the module holds them: the frame's edge is dropped so
 * that the module dominates them), the virtual nodes and their edges. */
static int
build_finish(build_ctx *c)
{
    hd_graph *g = c->g;
    uint32_t n = g->n;
    for (size_t i = 0; i + 1 < c->fix.n; i += 2) {
        uint32_t t = build_type_of(c, c->fix.v[i + 1]);
        if (t != HD_NONE) {
            g->tix[c->fix.v[i]] = t;
        }
    }
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
    /* the virtual nodes: the super-root, each group, "unattributed" */
    if (build_group(c, HD_G_LEFT, "unattributed", 0) < 0) {
        return -1;
    }
    size_t nv = 1 + g->ngroups;
    if ((uint64_t)n + nv >= HD_NONE) {
        return build_fail(g, "too many objects");
    }
    uint32_t total = n + (uint32_t)nv;
    size_t cap = total + 1;
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
        return build_oom(g);
    }
    g->size = s;
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
    /* the super-root's edges: every group */
    g->off[n] = (uint32_t)g->nedges;
    for (size_t i = 0; i < g->ngroups; i++) {
        if (build_edge(c, g->groups[i].node) < 0) {
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
                if (build_edge(c, fr) < 0) {
                    return -1;
                }
                /* its back, by binary search in the frames (in order) */
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
                fr = lo < g->nframes && g->frames[lo].frame == fr
                         ? g->frames[lo].back
                         : HD_NONE;
            }
        }
        else {
            build_u32s *h = &c->held[i];
            for (size_t j = 0; j < h->n; j++) {
                if (build_edge(c, h->v[j] < n ? h->v[j] : node) < 0) {
                    return -1;
                }
            }
        }
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

static void
build_ctx_free(build_ctx *c)
{
    free(c->pend.v);
    free(c->type_ord.v);
    free(c->type_idx.v);
    free(c->fix.v);
    for (size_t i = 0; i < c->held_cap; i++) {
        free(c->held[i].v);
    }
    free(c->held);
    free(c->thread_frame);
}

int
hd_graph_build(hd_graph *g, const char *path, uint64_t offset,
               const hd_graph_limits *limits, hd_graph_progress progress,
               void *progress_arg)
{
    build_ctx c;
    hd_stream s;
    int rc = -1;
    memset(&c, 0, sizeof(c));
    c.g = g;
    c.limits = limits;
    c.last_object = HD_NONE;
    c.pend_type = HD_NONE;
    hd_stream_init(&s);
    s.max_record = limits->max_record;
    s.max_body = limits->max_body;
    s.max_ratio = limits->max_ratio;
    g->left_group = HD_NONE;
    for (int k = 0; k < BUILD_NKINDS; k++) {
        if (build_add_type(g, build_kind_types[k], HD_NONE) < 0) {
            goto done;
        }
    }
    if (build_reserve(&c) < 0) {
        goto done;
    }
    if (hd_stream_open(&s, path, offset) < 0) {
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
            g->truncation = s.truncation;
            break;
        }
        if (build_record(&c, rec, len) < 0) {
            goto done;
        }
        g->records++;
        if (g->trailer_seen) {
            if (hd_stream_drain(&s, &g->after_trailer) < 0) {
                goto stream_error;
            }
            g->truncation = s.truncation;
            break;
        }
        if (progress != NULL && g->records % BUILD_PROGRESS_EVERY == 0 &&
            progress(progress_arg, g->records, s.file_bytes) < 0) {
            build_fail(g, "interrupted");
            goto done;
        }
    }
    if (!g->trailer_seen && g->truncation == NULL) {
        g->truncation = "the body ends before its TRAILER record";
    }
    g->body_bytes = s.body_bytes;
    g->file_bytes = s.file_bytes;
    if (build_finish(&c) < 0) {
        goto done;
    }
    /* the types' counts and sizes (records; inline values by type) */
    for (uint32_t v = 0; v < g->n; v++) {
        hd_graph_type *t = &g->types[g->tix[v]];
        t->count++;
        t->shallow += hd_graph_size(g, v); /* less the inline values: the
                                              INLINE records took them off */
        g->shallow_total += hd_graph_size(g, v);
    }
    static const int inline_kind[4] = {HD_K_STR, HD_K_BYTES, HD_K_INT,
                                       HD_K_FLOAT};
    for (int i = 0; i < 4; i++) {
        hd_graph_type *t = &g->types[inline_kind[i]];
        t->count += g->inline_count[i];
        t->inline_count += g->inline_count[i];
        t->shallow += g->inline_bytes[i];
    }
    rc = 0;
    goto done;
stream_error:
    if (s.error == HD_STREAM_ENOMEM) {
        build_oom(g);
    }
    else {
        build_fail(g, "%s", s.message);
    }
done:
    hd_stream_close(&s);
    build_ctx_free(&c);
    return rc;
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
