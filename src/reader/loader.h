/* loader.h: the loader's state and the contract between its files
 * (src/reader/), each calling only those before it in this list:
 *
 *   decode.c   errors, growth, scalars, plain data, the calls to the
 *              support object (heapdump._load's _Builder, through
 *              protocol.h's table only), references and values
 *   records.c  phase 1 (read(): the records, streamed) and the fields of
 *              a record as Python objects
 *   shells.c   classes, the Surrogate C base, phase 2 (types, shells)
 *   fill.c     phase 3 (contents, and what is made from them), attributes
 *              set without running anything from the file
 *   load.c     the Loader and Surrogate types, the module functions
 *
 * The one call back up the list, decode.c resolving a reference to an
 * object not built yet, goes through LoaderObject.need (fill.c's
 * hd_fill_need, set by load.c).  Caller holds the GIL everywhere.
 */
#ifndef HEAPDUMP_LOADER_H
#define HEAPDUMP_LOADER_H

#include "heapdump.h"
#include "mpread.h"
#include "protocol.h"
#include "stream.h"

/* ---------------------------------------------------------------------
 * Constants
 */

#define LOAD_ARENA_CHUNK ((size_t)1 << 20)
#define LOAD_DATA_DEPTH 32 /* nesting of plain data */
/* Tuples (and frozensets, slices) nested deeper than this are refused:
 * hashing them recurses in C once per level. */
#define LOAD_MAX_IMMUTABLE_DEPTH 1000
#define LOAD_NO_ID UINT64_MAX

/* A value of the support object (protocol.h), borrowed: HD_SUPPORT(L,
 * UNBOUND) */
#define HD_SUPPORT(L, name) ((L)->support_attrs[HD_CB_##name])

/* entry states and flags */
#define LOAD_F_CUT 0x01      /* a CUT record preceded it */
#define LOAD_F_TUPLE 0x02    /* tuple-like: exists before it is filled */
#define LOAD_F_FILLED 0x04   /* its contents are in */
#define LOAD_F_VISITING 0x08 /* on the dependency stack */
#define LOAD_F_PYFILL 0x10   /* _load.py fills it from fields() */
#define LOAD_F_LATE 0x20     /* made in phase c, from its contents */

/* goals of a reference */
#define LOAD_EXIST 0 /* the object must exist (its identity is enough) */
#define LOAD_READY 1 /* ... and be complete enough to be hashed */

/* how references are resolved while decoding */
#define LOAD_DFS 0    /* build what is missing (phase c, top level) */
#define LOAD_STRICT 1 /* everything needed must already be there */
#define LOAD_SOFT 2   /* what is not there yet decodes as PENDING */

/* ---------------------------------------------------------------------
 * The loader's state
 */

typedef struct load_entry {
    PyObject *obj;            /* owned; NULL until made */
    const unsigned char *raw; /* the fields after the header */
    const unsigned char *raw_end;
    uint32_t nfields; /* fields after the header */
    uint32_t nitems;  /* containers: elements, with MORE */
    uint32_t more;    /* first MORE segment + 1, or 0 */
    uint32_t pre;     /* CLASS prefix + 1, or 0 */
    uint16_t depth;   /* nesting of immutables (hash depth) */
    uint8_t kind;
    uint8_t flags;
} load_entry;

typedef struct {
    const unsigned char *raw, *end;
    uint32_t n;
    uint32_t owner; /* the entry it continues */
} load_segment;

typedef struct {
    const unsigned char *raw, *end; /* CLASS fields: type, layout, [v] */
    uint32_t nfields;
} load_prefix;

typedef struct {
    const unsigned char *names, *names_end; /* the [names] array */
    uint64_t type_id;                       /* the type's id, or LOAD_NO_ID */
    uint32_t nnames;
    PyObject *names_tuple; /* decoded at first use */
    PyObject *cls;         /* the class of its INSTANCE records */
    PyObject *type_obj;    /* the loaded type (for fields()) */
} load_layout;

typedef struct {
    const unsigned char *raw, *end;
    uint32_t nfields;
    uint8_t kind;
} load_other;

typedef struct {
    uint32_t id;
    uint8_t goal;
    uint8_t expanded;
} load_task;

typedef struct load_chunk {
    struct load_chunk *next;
    size_t used, cap;
    unsigned char data[];
} load_chunk;

/* a (type id, kind) -> class cache */
typedef struct {
    uint64_t key; /* (type id << 6 | kind) + 1; 0 empty */
    PyObject *cls;
} load_classslot;

typedef struct LoaderObject {
    PyObject_HEAD
        /* configuration */
        char *path;
    uint64_t offset; /* where the body starts in the file */
    size_t max_record;
    uint64_t max_body;
    uint64_t max_objects;
    uint64_t max_ratio; /* 0: no check */
    /* the support object's attributes, protocol.h's table in its order
     * (HD_SUPPORT(L, name) reads one) */
    PyObject *support_attrs[HD_CB_COUNT];
    PyObject *empty_tuple;
    PyObject *s_original_length;

    /* the objects */
    load_entry *entries;
    size_t n, cap;
    int64_t *addrs; /* addrs, refcnts, sizes: ids_cap entries each */
    uint64_t *refcnts, *sizes;
    size_t ids_cap;
    load_segment *more;
    size_t nmore, more_cap;
    load_prefix *prefixes;
    size_t nprefixes, prefixes_cap;
    load_layout *layouts;
    size_t nlayouts, layouts_cap;
    load_other *others;
    size_t nothers, others_cap;
    load_chunk *arena;
    PyObject *cuts; /* dict: id -> original length */
    PyObject *lost; /* dict: id -> placeholder */
    load_classslot *classes;
    size_t classes_mask, nclasses;
    load_task *stack;
    size_t sp, stack_cap;

    /* phase 1 state */
    int64_t last_addr;
    uint64_t pending_cut; /* + 1; 0: none */
    uint32_t pending_pre; /* CLASS prefix + 1; 0: none */
    int64_t last_object;  /* for MORE; -1 none */
    uint64_t records;
    uint64_t elements; /* container elements, RUNs expanded */
    uint64_t body_bytes;
    uint64_t after_trailer; /* body bytes after the TRAILER */
    uint64_t file_bytes;
    int truncated;
    int trailer_seen;
    const char *truncation; /* how it ended early */
    int read_done, built;
    /* builds entry id up to goal, its dependencies first: fill.c's
     * hd_fill_need, set by load.c (decode.c resolves references through
     * it without knowing the builder) */
    int (*need)(struct LoaderObject *L, size_t id, int goal);
} LoaderObject;

extern PyTypeObject hd_load_loader_type;
extern PyTypeObject hd_load_surrogate_type;

/* A record kind's name for the messages ("unknown" for a kind no list
 * holds). */
static inline const char *
hd_loader_kind_name(int kind)
{
    const char *name = hd_format_kind_name(kind);
    return name != NULL && kind < HD_FIRST_OTHER ? name : "unknown";
}

/* Whether entry e is there for goal (LOAD_EXIST: made; LOAD_READY: and
 * complete enough to be hashed). */
static inline int
hd_loader_is_ready(const load_entry *e, int goal)
{
    if (e->obj == NULL) {
        return 0;
    }
    if (goal == LOAD_EXIST || !(e->flags & LOAD_F_TUPLE)) {
        return 1;
    }
    return (e->flags & LOAD_F_FILLED) != 0;
}

typedef struct {
    PyObject_HEAD PyObject *dict;
    PyObject *referents; /* OPAQUE: tuple of its referents, or NULL */
    int64_t addr;        /* the original address */
    int64_t oid;         /* its id in the dump, or -1 */
    int opaque;
} SurrogateObject;

/* Iterate the elements of a container: its record's fields after skip
 * (TUPLE, LIST, SET, FROZENSET) or its [keys] or [values] array (DICT),
 * then those of its MORE records; a RUN stands for its references. */
typedef struct {
    hd_mp_cur cur;     /* the raw values of the current segment */
    uint32_t left;     /* raw values left in it */
    uint64_t run_next; /* a RUN being expanded: its next id */
    uint64_t run_left; /* and how many are left */
    size_t seg;        /* next MORE segment + 1, or 0 */
    uint32_t owner;
    int which; /* 0: fields; 1: [keys]; 2: [values] */
} load_items;

/* decode.c */
PyObject *hd_decode_fail(LoaderObject *L, const char *fmt, ...);
void hd_decode_wrap(LoaderObject *L, size_t id);
int hd_decode_grow(void **arr, size_t n, size_t *cap, size_t sz);
const unsigned char *hd_decode_arena_copy(LoaderObject *L,
                                          const unsigned char *src, size_t n);
PyObject *hd_decode_int_bytes(const unsigned char *p, size_t n);
PyObject *hd_decode_str(const hd_mp_item *it);
PyObject *hd_decode_data(LoaderObject *L, hd_mp_cur *c, int depth);
int hd_decode_uint_field(LoaderObject *L, hd_mp_cur *c, uint64_t *out,
                         const char *what);
int hd_decode_int_field(LoaderObject *L, hd_mp_cur *c, int64_t *out,
                        const char *what);
/* support.<name>(*args) for the protocol.h entry cb (HD_CB_<name>) */
PyObject *hd_decode_call(LoaderObject *L, int cb, PyObject *args);
PyObject *hd_decode_ref(LoaderObject *L, uint64_t id, int goal, int mode);
PyObject *hd_decode_value_item(LoaderObject *L, const hd_mp_item *it, int goal,
                               int mode);
PyObject *hd_decode_value(LoaderObject *L, hd_mp_cur *c, int goal, int mode);
int hd_decode_run(LoaderObject *L, const hd_mp_item *it, uint64_t *first,
                  uint64_t *count);
int hd_decode_value_ref(LoaderObject *L, hd_mp_cur *c, uint64_t *id);
int hd_decode_skip_fields(LoaderObject *L, hd_mp_cur *c, uint32_t n);
int hd_decode_items_init(LoaderObject *L, load_items *it, size_t id, int which,
                         uint32_t skip);
int hd_decode_items_next(LoaderObject *L, load_items *it, hd_mp_item *out);
int hd_decode_count_elements(LoaderObject *L, int kind, hd_mp_cur *c,
                             uint32_t nfields, uint64_t *count);

/* records.c */
PyObject *hd_records_scalar(LoaderObject *L, int kind, hd_mp_cur *c,
                            uint32_t nfields, PyTypeObject *cls);
PyTypeObject *hd_records_cut_class(LoaderObject *L, int kind);
int hd_records_set_original_length(LoaderObject *L, PyObject *obj, size_t id);
PyObject *hd_records_loader_read(LoaderObject *L,
                                 PyObject *Py_UNUSED(ignored));
PyObject *hd_records_value_array(LoaderObject *L, hd_mp_cur *c, int names,
                                 int goal, int mode);
PyObject *hd_records_decode_fields(LoaderObject *L, int kind,
                                   const unsigned char *raw,
                                   const unsigned char *end, uint32_t nfields,
                                   int mode, uint32_t upto);
PyObject *hd_records_entry_fields(LoaderObject *L, size_t id, int mode,
                                  uint32_t upto);

/* shells.c */
PyTypeObject *hd_shells_class_for(LoaderObject *L, uint64_t type_id, int kind);
int hd_shells_type_field(LoaderObject *L, hd_mp_cur *c, uint64_t *tid);
PyTypeObject *hd_shells_static_base(PyTypeObject *cls);
int hd_shells_make_type(LoaderObject *L, size_t id);
int hd_shells_make_shell(LoaderObject *L, size_t id);

/* fill.c */
PyObject *hd_fill_layout_names(LoaderObject *L, load_layout *l, int mode);
int hd_fill_need(LoaderObject *L, size_t id, int goal);
PyObject *hd_fill_loader_build(LoaderObject *L, PyObject *Py_UNUSED(ignored));
int hd_fill_setattr(PyObject *obj, PyObject *name, PyObject *value);

#endif /* HEAPDUMP_LOADER_H */
