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
#include "graph_build.h"

#include "reader/mpread.h"
#include "reader/stream.h"

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
            if (hd_graph_store_grow(g, (void **)&g->weak, g->nweak,
                                    &g->weak_cap, 2 * sizeof(uint32_t)) < 0) {
                return -1;
            }
            g->weak[2 * g->nweak] = node;
            g->weak[2 * g->nweak + 1] =
                it->u >= HD_NONE ? HD_NONE : (uint32_t)it->u;
            g->nweak++;
            return 0;
        }
        return hd_graph_store_edge(c, it->u);
    case HD_MP_STR: g->inline_count[HD_INL_STR]++; return 0;
    case HD_MP_BIN: g->inline_count[HD_INL_BYTES]++; return 0;
    case HD_MP_FLOAT: g->inline_count[HD_INL_FLOAT]++; return 0;
    case HD_MP_ARRAY:
    case HD_MP_MAP:
        return hd_graph_store_fail(g, "an array where a value belongs");
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
                return hd_graph_store_fail(g, "a malformed RUN value");
            }
            for (uint64_t i = 0; i < count; i++) {
                if (hd_graph_store_edge(c, first + i) < 0) {
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
        return hd_graph_store_fail(c->g, "malformed msgpack in a value");
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
        return hd_graph_store_fail(c->g,
                                   "malformed msgpack in an array of values");
    }
    if (it.type == HD_MP_NIL) {
        return 0;
    }
    if (it.type != HD_MP_ARRAY) {
        return hd_graph_store_fail(c->g,
                                   "a value where an array of them belongs");
    }
    for (uint64_t i = 0; i < it.u; i++) {
        hd_mp_item v;
        if (hd_mpread_next(cur, &v) < 0) {
            return hd_graph_store_fail(c->g, "malformed msgpack in an array");
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
    if (hd_graph_store_grow(g, (void **)&g->types, g->ntypes, &g->types_cap,
                            sizeof(hd_graph_type)) < 0) {
        return -1;
    }
    hd_graph_type *t = &g->types[g->ntypes];
    memset(t, 0, sizeof(*t));
    t->name = strdup(name);
    if (t->name == NULL) {
        return hd_graph_store_oom(g);
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
    if (hd_graph_store_push(c->g, &c->fix, node) < 0 ||
        hd_graph_store_push(c->g, &c->fix, type_ordinal) < 0) {
        return -1;
    }
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
        if (hd_graph_store_nodes(g, cap) < 0) {
            return -1;
        }
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
        return hd_graph_store_fail(
            g,
            "the file holds more than max_objects (%llu) "
            "objects; pass a larger max_objects to analyze it",
            (unsigned long long)c->limits->max_objects);
    }
    if (build_reserve(c) < 0) {
        return -1;
    }
    *node = g->n++;
    if (g->nedges > UINT32_MAX) {
        return hd_graph_store_fail(g, "more than 2**32 references");
    }
    g->off[*node] = (uint32_t)g->nedges;
    g->kind[*node] = 0;
    g->flags[*node] = 0;
    g->tix[*node] = 0;
    g->size[*node] = 0;
    return 0;
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
                return hd_graph_store_fail(c->g,
                                           "malformed msgpack in a record");
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
        return hd_graph_store_fail(g, "a TYPE record with %u fields", nfields);
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
    if (hd_graph_store_push(g, &c->type_ord, node) < 0 ||
        hd_graph_store_push(g, &c->type_idx, (uint32_t)g->ntypes) < 0 ||
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
        return hd_graph_store_fail(g, "a malformed INSTANCE record");
    }
    if (it.type == HD_MP_NIL) {
        /* [16, addr, rc, size, nil, type] */
        if (nfields >= 2) {
            return build_schema(c, cur, 1, node, "v", -1, 0);
        }
        return 0;
    }
    if (it.type != HD_MP_UINT || it.u >= g->nlayouts) {
        return hd_graph_store_fail(g,
                                   "an INSTANCE record names no known layout");
    }
    uint32_t type = g->layouts[it.u].type;
    if (build_set_type(c, node, type) < 0 ||
        (type != HD_NONE && hd_graph_store_edge(c, type) < 0)) {
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
        return hd_graph_store_fail(c->g,
                                   "a DICT record without [keys], [values]");
    }
    return build_array(c, cur, node, 0) < 0 ? -1
                                            : build_array(c, cur, node, 0);
}

/* FRAME: code, back, globals, locals, lineno, lasti, position, [v]. */
static int
build_frame(build_ctx *c, hd_mp_cur *cur, uint32_t nfields, uint32_t node)
{
    hd_graph *g = c->g;
    if (hd_graph_store_grow(g, (void **)&g->frames, g->nframes, &g->frames_cap,
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
        return hd_graph_store_fail(g, "a malformed MODULE record");
    }
    const unsigned char *at = cur->p;
    uint32_t dict = build_ref(cur);
    cur->p = at;
    if (dict != HD_NONE) {
        if (hd_graph_store_grow(g, (void **)&g->module_dicts, g->nmodule_dicts,
                                &g->module_dicts_cap,
                                2 * sizeof(uint32_t)) < 0) {
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
        return hd_graph_store_fail(g, "record %llu: a malformed object header",
                                   (unsigned long long)g->records);
    }
    if (hd_mpread_next(cur, &it) < 0 || it.type != HD_MP_UINT) {
        return hd_graph_store_fail(g, "record %llu: a malformed refcnt",
                                   (unsigned long long)g->records);
    }
    refcnt = it.u;
    if (hd_mpread_next(cur, &it) < 0 || it.type != HD_MP_UINT) {
        return hd_graph_store_fail(g, "record %llu: a malformed size",
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
    if (hd_graph_store_set_size(g, node, size) < 0) {
        return -1;
    }
    c->last_object = node;
    /* what a CLASS record before it said */
    if (c->pend_class) {
        if (build_set_type(c, node, c->pend_type) < 0) {
            return -1;
        }
        for (size_t i = 0; i < c->pend.n; i++) {
            if (hd_graph_store_edge(c, c->pend.v[i]) < 0) {
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
    case HD_K_NATIVE: /* 1.4: type, native, [state], layout, [values] */
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

/* A LAYOUT record: its type and names kept (g->layouts).  0 or -1. */
static int
build_layout(build_ctx *c, hd_mp_cur *cur, uint32_t nfields)
{
    hd_graph *g = c->g;
    /* [65, type, [names]] */
    if (hd_graph_store_grow(g, (void **)&g->layouts, g->nlayouts,
                            &g->layouts_cap, sizeof(hd_graph_layout)) < 0) {
        return -1;
    }
    hd_graph_layout *l = &g->layouts[g->nlayouts];
    l->type = nfields >= 1 ? build_ref(cur) : HD_NONE;
    const unsigned char *start = cur->p;
    hd_mp_item it;
    if (nfields < 2 || hd_mpread_next(cur, &it) < 0 ||
        it.type != HD_MP_ARRAY) {
        return hd_graph_store_fail(g, "record %llu: a malformed LAYOUT",
                                   (unsigned long long)g->records);
    }
    cur->p = start;
    if (hd_mpread_skip(cur) < 0 ||
        hd_graph_store_keep(g, start, (size_t)(cur->p - start),
                            &l->names_off) < 0) {
        return g->oom ? -1 : hd_graph_store_fail(g, "a malformed LAYOUT");
    }
    l->names_len = (size_t)(cur->p - start);
    l->nnames = it.u > UINT32_MAX ? UINT32_MAX : (uint32_t)it.u;
    g->nlayouts++;
    return 0;
}

/* A CLASS record: the type and references of the next object record
 * (c->pend).  0 or -1. */
static int
build_class(build_ctx *c, hd_mp_cur *cur, uint32_t nfields)
{
    hd_graph *g = c->g;
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
        if (hd_graph_store_push(g, &c->pend, g->tgt[i]) < 0) {
            return -1;
        }
    }
    g->nedges = mark;
    return 0;
}

/* An INLINE record: the inline values' bytes added to the last
 * object's size (and taken from its type's own).  0 or -1. */
static int
build_inline(build_ctx *c, hd_mp_cur *cur, uint32_t nfields)
{
    hd_graph *g = c->g;
    uint32_t node = c->last_object;
    uint64_t add = 0;
    for (uint32_t i = 0; i < nfields && i < 4; i++) {
        hd_mp_item it;
        if (hd_mpread_next(cur, &it) < 0 || it.type != HD_MP_UINT ||
            it.u > ((uint64_t)1 << 48)) {
            return hd_graph_store_fail(g, "record %llu: a malformed INLINE",
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
    return hd_graph_store_set_size(g, node, hd_graph_size(g, node) + add);
}

/* A THREAD record: a group, with its innermost frame.  0 or -1. */
static int
build_thread(build_ctx *c, hd_mp_cur *cur, uint32_t nfields)
{
    hd_graph *g = c->g;
    char name[BUILD_NAME_MAX];
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
    if (hd_graph_roots_group(c, HD_G_THREAD, name, ident) < 0) {
        return -1;
    }
    c->thread_frame[g->ngroups - 1] = frame;
    return 0;
}

/* A ROOTS record: its ids held by the group of its name.  0 or -1. */
static int
build_roots(build_ctx *c, hd_mp_cur *cur, uint32_t nfields)
{
    hd_graph *g = c->g;
    char name[BUILD_NAME_MAX];
    /* [74, name, v...] */
    size_t gi;
    if (nfields < 1) {
        return 0;
    }
    build_str(cur, name, sizeof(name));
    if (hd_graph_roots_named(c, name, &gi) < 0) {
        return -1;
    }
    for (uint32_t i = 1; i < nfields; i++) {
        uint32_t v = build_ref(cur);
        if (v != HD_NONE && hd_graph_store_push(g, &c->held[gi], v) < 0) {
            return -1;
        }
    }
    return 0;
}

/* A record that is not an object's (kind 64 and up; fields: its fields'
 * bytes), one case per kind, the longer ones in the functions above.
 * 0 or -1. */
static int
build_other(build_ctx *c, uint64_t kind, hd_mp_cur *cur, uint32_t nfields,
            const unsigned char *fields, size_t fields_len)
{
    hd_graph *g = c->g;
    char name[BUILD_NAME_MAX];
    switch (kind) {
    case HD_R_META:
        if (g->meta_len == 0 &&
            hd_graph_store_keep(g, fields, fields_len, &g->meta_off) == 0) {
            g->meta_len = fields_len;
            build_meta_version(g, fields, fields_len);
        }
        return g->oom ? -1 : 0;
    case HD_R_TRAILER:
        g->trailer_seen = 1;
        if (hd_graph_store_keep(g, fields, fields_len, &g->trailer_off) < 0) {
            return -1;
        }
        g->trailer_len = fields_len;
        return 0;
    case HD_R_LAYOUT: return build_layout(c, cur, nfields);
    case HD_R_CLASS: return build_class(c, cur, nfields);
    case HD_R_CUT: c->pend_cut = 1; return 0;
    case HD_R_MORE: {
        uint32_t node = c->last_object;
        if (node == HD_NONE || node != g->n - 1) {
            return hd_graph_store_fail(g,
                                       "record %llu: MORE after no container",
                                       (unsigned long long)g->records);
        }
        int k = g->kind[node];
        if (k != HD_K_TUPLE && k != HD_K_LIST && k != HD_K_SET &&
            k != HD_K_FROZENSET && k != HD_K_DICT) {
            return hd_graph_store_fail(
                g, "record %llu: MORE after a kind %d record",
                (unsigned long long)g->records, k);
        }
        return build_container(c, k, cur, nfields, node);
    }
    case HD_R_INLINE: return build_inline(c, cur, nfields);
    case HD_R_THREAD: return build_thread(c, cur, nfields);
    case HD_R_ROOT: {
        /* [71, name, v] */
        if (nfields < 2) {
            return 0;
        }
        build_str(cur, name, sizeof(name));
        uint32_t v = build_ref(cur);
        if (hd_graph_roots_group(c, HD_G_ROOT, name, 0) < 0) {
            return -1;
        }
        return v == HD_NONE
                   ? 0
                   : hd_graph_store_push(g, &c->held[g->ngroups - 1], v);
    }
    case HD_R_ROOTS: return build_roots(c, cur, nfields);
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
        return hd_graph_store_fail(g, "record %llu is not a msgpack array",
                                   (unsigned long long)g->records);
    }
    uint32_t nfields = (uint32_t)it.u - 1;
    if (hd_mpread_next(&cur, &it) < 0 || it.type != HD_MP_UINT || it.u == 0) {
        return hd_graph_store_fail(g, "record %llu has no valid kind",
                                   (unsigned long long)g->records);
    }
    if (it.u < 64) {
        return build_object(c, (int)it.u, &cur, nfields);
    }
    return build_other(c, it.u, &cur, nfields, cur.p,
                       (size_t)(cur.end - cur.p));
}

/* The nodes whose TYPE record came after them get its type. */
static void
build_fix_types(build_ctx *c)
{
    hd_graph *g = c->g;
    for (size_t i = 0; i + 1 < c->fix.n; i += 2) {
        uint32_t t = build_type_of(c, c->fix.v[i + 1]);
        if (t != HD_NONE) {
            g->tix[c->fix.v[i]] = t;
        }
    }
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
            hd_graph_store_fail(g, "interrupted");
            goto done;
        }
    }
    if (!g->trailer_seen && g->truncation == NULL) {
        g->truncation = "the body ends before its TRAILER record";
    }
    g->body_bytes = s.body_bytes;
    g->file_bytes = s.file_bytes;
    build_fix_types(&c);
    if (hd_graph_roots_finish(&c) < 0) {
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
        hd_graph_store_oom(g);
    }
    else {
        hd_graph_store_fail(g, "%s", s.message);
    }
done:
    hd_stream_close(&s);
    build_ctx_free(&c);
    return rc;
}
