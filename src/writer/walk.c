/* walk.c: the breadth-first walk of the object graph.
 *
 * Identity: every object that gets a record gets an id, the order of its
 * discovery.  queue[id] holds the object (or a tagged interpreter-frame
 * handle); the open-addressing table maps a pointer to its id and stores
 * only the id and a hash tag, so it costs 8 bytes a slot and the pointer is
 * checked against the queue.  Records are written in id order, so ids are
 * implicit in the file.
 *
 * Contract for everything here: the caller holds the GIL and has disabled
 * the cyclic GC; nothing here runs Python code, creates a Python object
 * that could run a finalizer, or releases the GIL.  Allocation failures set
 * d->error and make the walk stop writing.
 */
#include "heapdump.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define WALK_TABLE_MIN 4096
#define WALK_LAYOUTS_MIN 256
#define WALK_ARENA_CHUNK 4096

void
hd_walk_oom(hd_dumper *d)
{
    if (d->error == NULL) {
        d->error = "out of memory";
    }
}

int
hd_walk_init(hd_dumper *d)
{
    d->queue_cap = WALK_TABLE_MIN;
    d->queue = malloc(d->queue_cap * sizeof(void *));
    d->table = calloc(WALK_TABLE_MIN, sizeof(uint64_t));
    d->table_mask = WALK_TABLE_MIN - 1;
    d->layouts = calloc(WALK_LAYOUTS_MIN, sizeof(hd_layout *));
    d->layouts_mask = WALK_LAYOUTS_MIN - 1;
    if (!d->queue || !d->table || !d->layouts) {
        hd_walk_free(d);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

void
hd_walk_free(hd_dumper *d)
{
    free(d->queue);
    free(d->table);
    if (d->layouts != NULL) {
        for (size_t i = 0; i <= d->layouts_mask; i++) {
            free(d->layouts[i]);
        }
    }
    free(d->layouts);
    for (size_t i = 0; i < d->narena_chunks; i++) {
        free(d->arena_chunks[i]);
    }
    free(d->arena_chunks);
    free(d->scratch_slots);
    free(d->scratch_vals);
    free(d->refs);
    free(d->elems);
    free(d->hows);
    free(d->files);
    free(d->files_hash);
    free(d->files_set);
    free(d->folded.slots);
    free(d->marked.slots);
    free(d->left);
    d->left = NULL;
    d->queue = NULL;
    d->table = NULL;
    d->layouts = NULL;
    d->arena_chunks = NULL;
    d->scratch_slots = NULL;
    d->scratch_vals = NULL;
    d->refs = NULL;
    d->elems = NULL;
    d->hows = NULL;
    d->files = NULL;
    d->files_hash = NULL;
    d->files_set = NULL;
}

/* ------------------------------------------------------- identity table */

int64_t
hd_walk_id(hd_dumper *d, const void *key)
{
    uint64_t h = hd_ptr_hash(key);
    uint64_t tag = h >> 32;
    size_t i = (size_t)h & d->table_mask;
    for (;;) {
        uint64_t s = d->table[i];
        if (s == 0) {
            return -1;
        }
        if ((s >> 32) == tag) {
            size_t id = (size_t)(s & 0xffffffffu) - 1;
            if (d->queue[id] == key) {
                return (int64_t)id;
            }
        }
        i = (i + 1) & d->table_mask;
    }
}

static int
walk_table_grow(hd_dumper *d)
{
    size_t n = (d->table_mask + 1) * 2;
    uint64_t *t = calloc(n, sizeof(uint64_t));
    if (t == NULL) {
        hd_walk_oom(d);
        return -1;
    }
    free(d->table);
    d->table = t;
    d->table_mask = n - 1;
    for (size_t id = 0; id < d->nqueued; id++) {
        uint64_t h = hd_ptr_hash(d->queue[id]);
        size_t i = (size_t)h & d->table_mask;
        while (t[i] != 0) {
            i = (i + 1) & d->table_mask;
        }
        t[i] = ((h >> 32) << 32) | (uint64_t)(id + 1);
    }
    return 0;
}

/* Give key the next id.  The caller checked it has none.  Returns the id,
 * or -1 on allocation failure. */
static int64_t
walk_add(hd_dumper *d, void *key)
{
    if (d->error != NULL || d->nqueued >= 0xfffffffeu) {
        return -1;
    }
    if (d->nqueued == d->queue_cap) {
        size_t cap = d->queue_cap * 2;
        void **q = realloc(d->queue, cap * sizeof(void *));
        if (q == NULL) {
            hd_walk_oom(d);
            return -1;
        }
        d->queue = q;
        d->queue_cap = cap;
    }
    /* keep the table at most 70% full */
    if ((d->nqueued + 1) * 10 > (d->table_mask + 1) * 7 &&
        walk_table_grow(d) < 0) {
        return -1;
    }
    size_t id = d->nqueued++;
    d->queue[id] = key;
    uint64_t h = hd_ptr_hash(key);
    size_t i = (size_t)h & d->table_mask;
    while (d->table[i] != 0) {
        i = (i + 1) & d->table_mask;
    }
    d->table[i] = ((h >> 32) << 32) | (uint64_t)(id + 1);
    return (int64_t)id;
}

/* ------------------------------------------------------------ discovery */

/* Kinds whose records reference their type: the type's record must come
 * first so that a reader can make the instance from it. */
static int
walk_needs_type(PyObject *obj, int kind)
{
    switch (kind) {
    case HD_K_INSTANCE:
    case HD_K_OPAQUE:
    case HD_K_EXCEPTION:
    case HD_K_GENERATOR:
    case HD_K_WEAKREF: return 1;
    case HD_K_TYPE: return 0; /* handled by walk_discover_type */
    default: return hd_kinds_is_subclass(obj, kind);
    }
}

/* Queue type and, before it, its metaclass and the classes of its MRO, so
 * that each type's record follows those of the types it names.  depth
 * bounds the metaclass chain. */
static void
walk_discover_type(hd_dumper *d, PyTypeObject *tp, int depth)
{
    if (hd_walk_id(d, tp) >= 0) {
        return;
    }
    PyTypeObject *meta = Py_TYPE(tp);
    if (meta != tp && depth < 16) {
        walk_discover_type(d, meta, depth + 1);
    }
    PyObject *mro = tp->tp_mro;
    if (mro != NULL && PyTuple_Check(mro)) {
        for (Py_ssize_t i = PyTuple_GET_SIZE(mro) - 1; i >= 1; i--) {
            PyObject *base = PyTuple_GET_ITEM(mro, i);
            if (PyType_Check(base) && hd_walk_id(d, base) < 0) {
                PyTypeObject *bmeta = Py_TYPE(base);
                if (bmeta != (PyTypeObject *)base && depth < 16) {
                    walk_discover_type(d, bmeta, depth + 1);
                }
                if (hd_walk_id(d, base) < 0) {
                    walk_add(d, base);
                }
            }
        }
    }
    if (hd_walk_id(d, tp) < 0) {
        walk_add(d, tp);
    }
}

/* Kinds written even past the budget: the skeleton of the failure. */
static int
walk_exempt(int kind)
{
    return kind == HD_K_FRAME || kind == HD_K_CODE || kind == HD_K_TRACEBACK ||
           kind == HD_K_EXCEPTION || kind == HD_K_TYPE;
}

static int
walk_over_budget(hd_dumper *d)
{
    if (d->budget_exhausted) {
        return 1;
    }
    if ((d->limits.max_objects >= 0 &&
         d->nqueued >= (size_t)d->limits.max_objects) ||
        (d->limits.max_bytes >= 0 &&
         d->w.raw_bytes >= (uint64_t)d->limits.max_bytes)) {
        d->budget_exhausted = 1;
        return 1;
    }
    return 0;
}

/* The id of obj, which has none yet and is written as kind, queuing it;
 * -1 if it is past the budget (the caller writes OMITTED) or on failure. */
static int64_t
walk_discover_new(hd_dumper *d, PyObject *obj, int kind, int force)
{
    if (!force && !walk_exempt(kind) && walk_over_budget(d)) {
        return -1;
    }
    if (kind == HD_K_TYPE) {
        walk_discover_type(d, (PyTypeObject *)obj, 0);
        return hd_walk_id(d, obj);
    }
    if (walk_needs_type(obj, kind)) {
        walk_discover_type(d, Py_TYPE(obj), 0);
    }
    return walk_add(d, obj);
}

/* The id of obj, queuing it if new (see walk_discover_new). */
int64_t
hd_walk_discover(hd_dumper *d, PyObject *obj, int force)
{
    int64_t id = hd_walk_id(d, obj);
    if (id >= 0) {
        return id;
    }
    return walk_discover_new(d, obj, hd_kinds_of(d, obj), force);
}

/* How a str, bytes or bytearray is written when the hider finds something
 * in it (HD_HIDDEN - why, HD_MASKED), or dflt.  Reads memory only. */
static int64_t
walk_hide_value(hd_dumper *d, PyObject *obj, int64_t dflt)
{
    switch (
        hd_hide_value(d->hide, obj, &d->hide_ranges, d->limits.max_string)) {
    case HD_HIDE_ALL: return HD_HIDDEN - d->hide_ranges.r[0].why;
    case HD_HIDE_PARTS: return HD_MASKED;
    default: return dflt;
    }
}

/* How obj is written as a value: its id (queuing it if new), HD_DIRECT
 * when it is written in place (None, bools, UNBOUND, an unshared scalar),
 * HD_OMITTED past the budget, HD_HIDDEN - why or HD_MASKED when the hider
 * hides it or some of it.  An object with an id was looked at by the
 * hider when it got it, so the hider only sees new objects. */
int64_t
hd_walk_classify(hd_dumper *d, PyObject *obj)
{
    if (obj == NULL || obj == Py_None || obj == Py_True || obj == Py_False) {
        return HD_DIRECT;
    }
    /* An object with one reference, the one being written, cannot be seen
     * from anywhere else: a scalar like that goes inline, without an id
     * (and is not one of the hider's objects, which it holds). */
    if (Py_REFCNT(obj) == 1) {
        PyTypeObject *tp = Py_TYPE(obj);
        if ((tp == &PyUnicode_Type &&
             (d->limits.max_string < 0 ||
              PyUnicode_GET_LENGTH(obj) <= d->limits.max_string)) ||
            (tp == &PyBytes_Type &&
             (d->limits.max_string < 0 ||
              PyBytes_GET_SIZE(obj) <= d->limits.max_string))) {
            return d->hide != NULL ? walk_hide_value(d, obj, HD_DIRECT)
                                   : HD_DIRECT;
        }
        if (tp == &PyLong_Type || tp == &PyFloat_Type) {
            return HD_DIRECT;
        }
    }
    int64_t id = hd_walk_id(d, obj);
    if (id >= 0) {
        return id;
    }
    int kind = hd_kinds_of(d, obj);
    if (d->hide != NULL) {
        int why = hd_hide_object(d->hide, obj);
        if (why) {
            return HD_HIDDEN - why;
        }
        if (kind == HD_K_STR || kind == HD_K_BYTES || kind == HD_K_BYTEARRAY) {
            int64_t how = walk_hide_value(d, obj, 0);
            if (how != 0) {
                return how;
            }
        }
    }
    id = walk_discover_new(d, obj, kind, 0);
    return id >= 0 ? id : HD_OMITTED;
}

/* Elements of a container looked at to decide whether it is plain data,
 * and how deep; past either, it counts as data (it is hidden: when in
 * doubt, hide). */
#define WALK_PLAIN_ITEMS 256
#define WALK_PLAIN_DEPTH 3

/* Whether obj is plain data: None, a bool, number, str, bytes or
 * bytearray (or a subclass), or a tuple, list, dict, set or frozenset of
 * plain data.  Type checks and container reads only. */
static int
walk_is_plain(hd_dumper *d, PyObject *obj, int depth)
{
    if (obj == NULL || obj == Py_None || obj == Py_True || obj == Py_False) {
        return 1;
    }
    int kind = hd_kinds_of(d, obj);
    switch (kind) {
    case HD_K_INT:
    case HD_K_FLOAT:
    case HD_K_COMPLEX:
    case HD_K_STR:
    case HD_K_BYTES:
    case HD_K_BYTEARRAY: return 1;
    case HD_K_TUPLE:
    case HD_K_LIST:
    case HD_K_DICT:
    case HD_K_SET:
    case HD_K_FROZENSET: break;
    default: return 0;
    }
    if (depth >= WALK_PLAIN_DEPTH) {
        return 1;
    }
    Py_ssize_t n = 0;
    if (kind == HD_K_TUPLE || kind == HD_K_LIST) {
        n = kind == HD_K_TUPLE ? PyTuple_GET_SIZE(obj) : PyList_GET_SIZE(obj);
        PyObject **items = kind == HD_K_TUPLE ? ((PyTupleObject *)obj)->ob_item
                                              : ((PyListObject *)obj)->ob_item;
        for (Py_ssize_t i = 0; i < n && i < WALK_PLAIN_ITEMS; i++) {
            if (!walk_is_plain(d, items[i], depth + 1)) {
                return 0;
            }
        }
        return 1;
    }
    Py_ssize_t pos = 0, seen = 0;
    PyObject *k, *v;
    if (kind == HD_K_DICT) {
        while (seen++ < WALK_PLAIN_ITEMS && PyDict_Next(obj, &pos, &k, &v)) {
            if (!walk_is_plain(d, k, depth + 1) ||
                !walk_is_plain(d, v, depth + 1)) {
                return 0;
            }
        }
        return 1;
    }
    while (seen++ < WALK_PLAIN_ITEMS && hd_pyversion_set_next(obj, &pos, &k)) {
        if (!walk_is_plain(d, k, depth + 1)) {
            return 0;
        }
    }
    return 1;
}

int64_t
hd_walk_secret(hd_dumper *d, PyObject *obj)
{
    if (obj == NULL || obj == Py_None || obj == Py_True || obj == Py_False) {
        return HD_DIRECT; /* nothing to hide: not one bit in a bool */
    }
    return walk_is_plain(d, obj, 0) ? HD_REDACTED : hd_walk_classify(d, obj);
}

/* The _fields tuple of a namedtuple class (in its dict or a base's), read
 * from the class dicts; borrowed, or NULL. */
static PyObject *
walk_fields_of(PyTypeObject *type)
{
    PyObject *mro = type->tp_mro;
    Py_ssize_t n = mro && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *tp = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(tp) || !(tp->tp_flags & Py_TPFLAGS_HEAPTYPE) ||
            tp->tp_dict == NULL) {
            continue;
        }
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(tp->tp_dict, &pos, &k, &v)) {
            if (PyUnicode_CheckExact(k) &&
                PyUnicode_CompareWithASCIIString(k, "_fields") == 0) {
                return PyTuple_CheckExact(v) ? v : NULL;
            }
        }
    }
    return NULL;
}

uint64_t
hd_walk_field_secrets(hd_dumper *d, PyTypeObject *type)
{
    if (d->redact.n == 0) {
        return 0;
    }
    size_t slot = (size_t)(hd_ptr_hash(type) & 63);
    if (d->field_cache[slot].type == type) {
        return d->field_cache[slot].secret;
    }
    uint64_t secret = 0;
    PyObject *fields = walk_fields_of(type);
    Py_ssize_t n = fields ? PyTuple_GET_SIZE(fields) : 0;
    for (Py_ssize_t i = 0; i < n && i < 64; i++) {
        if (hd_redact_name(&d->redact, PyTuple_GET_ITEM(fields, i))) {
            secret |= (uint64_t)1 << i;
        }
    }
    /* types do not go away during a dump: the world stands still */
    d->field_cache[slot].type = type;
    d->field_cache[slot].secret = secret;
    return secret;
}

void
hd_walk_write(hd_dumper *d, PyObject *obj, int64_t how)
{
    msgpack_packer *pk = &d->pk;
    if (how >= 0) {
        msgpack_pack_uint64(pk, (uint64_t)how);
    }
    else if (how == HD_OMITTED) {
        hd_encode_omitted(d, obj, HD_EXT_OMITTED);
        d->n_omitted++;
    }
    else if (how == HD_REDACTED || how <= HD_HIDDEN) {
        if (obj == NULL || obj == Py_None) {
            msgpack_pack_nil(pk); /* nothing to hide */
        }
        else {
            hd_encode_redacted(d, obj,
                               how == HD_REDACTED ? HD_WHY_NAME
                                                  : (int)(HD_HIDDEN - how),
                               NULL);
            d->n_redacted++;
        }
    }
    else if (how == HD_MASKED) {
        /* the pieces again: classify's are gone when a container's
         * elements were classified before they are written */
        int what =
            hd_hide_value(d->hide, obj, &d->hide_ranges, d->limits.max_string);
        int why =
            d->hide_ranges.n > 0 ? d->hide_ranges.r[0].why : HD_WHY_VALUE;
        hd_encode_redacted(d, obj, why,
                           what == HD_HIDE_PARTS ? &d->hide_ranges : NULL);
        d->n_redacted++;
    }
    else if (obj == NULL) {
        msgpack_pack_ext_with_body(pk, "\0", 1, HD_EXT_UNBOUND);
    }
    else if (obj == Py_None) {
        msgpack_pack_nil(pk);
    }
    else if (obj == Py_True) {
        msgpack_pack_true(pk);
    }
    else if (obj == Py_False) {
        msgpack_pack_false(pk);
    }
    else {
        hd_encode_inline(d, obj);
        d->n_inline++;
    }
}

void
hd_walk_value(hd_dumper *d, PyObject *obj)
{
    hd_walk_write(d, obj, hd_walk_classify(d, obj));
}

/* 1 when the hider hides obj (not yet queued) from a root's place: it is
 * written hidden where it is met, never as a root of its own. */
int
hd_walk_root_hidden(hd_dumper *d, PyObject *obj)
{
    if (d->hide != NULL && obj != NULL && hd_walk_id(d, obj) < 0) {
        int kind = hd_kinds_of(d, obj);
        if (hd_hide_object(d->hide, obj) ||
            ((kind == HD_K_STR || kind == HD_K_BYTES ||
              kind == HD_K_BYTEARRAY) &&
             hd_hide_value(d->hide, obj, &d->hide_ranges,
                           d->limits.max_string) != HD_HIDE_NONE)) {
            return 1;
        }
    }
    return 0;
}

int64_t
hd_walk_root(hd_dumper *d, PyObject *obj)
{
    if (hd_walk_root_hidden(d, obj)) {
        return -1;
    }
    return hd_walk_discover(d, obj, 1);
}

int64_t
hd_walk_named_root(hd_dumper *d, PyObject *name, PyObject *obj)
{
    if (hd_redact_name(&d->redact, name) && walk_is_plain(d, obj, 0)) {
        return -1;
    }
    return hd_walk_root(d, obj);
}

int64_t
hd_walk_named_how(hd_dumper *d, PyObject *name, PyObject *obj)
{
    return hd_redact_name(&d->redact, name) ? hd_walk_secret(d, obj)
                                            : hd_walk_classify(d, obj);
}

int64_t
hd_walk_frame_root(hd_dumper *d, hd_frame *f)
{
    void *key = hd_pyversion_frame_key(f);
    int64_t id = hd_walk_id(d, key);
    if (id >= 0) {
        return id;
    }
    return walk_add(d, key);
}

/* ---------------------------------------------------------------- layouts */

static int
walk_scratch_push(hd_dumper *d, void *key, int is_member, PyObject *value)
{
    if (d->scratch_n == d->scratch_cap) {
        size_t cap = d->scratch_cap ? d->scratch_cap * 2 : 64;
        hd_slot *s = realloc(d->scratch_slots, cap * sizeof(hd_slot));
        if (s == NULL) {
            hd_walk_oom(d);
            return -1;
        }
        d->scratch_slots = s;
        PyObject **v = realloc(d->scratch_vals, cap * sizeof(PyObject *));
        if (v == NULL) {
            hd_walk_oom(d);
            return -1;
        }
        d->scratch_vals = v;
        d->scratch_cap = cap;
    }
    d->scratch_slots[d->scratch_n].key = key;
    d->scratch_slots[d->scratch_n].is_member = is_member;
    d->scratch_vals[d->scratch_n] = value;
    d->scratch_n++;
    return 0;
}

static int
walk_visit_pair(PyObject *key, PyObject *value, void *arg)
{
    return walk_scratch_push((hd_dumper *)arg, key, 0, value);
}

/* The C members (__slots__ included) of every class of obj's MRO that
 * hold a value.  Dunder members (__dictoffset__, __suppress_context__ ...)
 * are left out: they are layout, not state. */
static int
walk_members(hd_dumper *d, PyObject *obj, PyTypeObject *type)
{
    PyObject *mro = type->tp_mro;
    Py_ssize_t n = mro && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *tp = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(tp) || tp->tp_members == NULL) {
            continue;
        }
        for (PyMemberDef *m = tp->tp_members; m->name != NULL; m++) {
            if (m->name[0] == '_' && m->name[1] == '_') {
                continue;
            }
            if (!hd_kinds_member_readable(m)) {
                continue;
            }
            PyObject *v = NULL;
            if (m->type == T_OBJECT || m->type == T_OBJECT_EX) {
                v = *(PyObject **)((char *)obj + m->offset);
                if (v == NULL && m->type == T_OBJECT_EX) {
                    continue; /* an unset slot */
                }
                if (v == NULL) {
                    v = Py_None;
                }
            }
            if (walk_scratch_push(d, m, 1, v) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static uint64_t
walk_layout_hash(PyTypeObject *type, const hd_slot *slots, size_t n)
{
    uint64_t h = hd_ptr_hash(type) ^ n;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ hd_ptr_hash(slots[i].key)) * 0x100000001b3ULL;
    }
    return h;
}

static hd_slot *
walk_arena_alloc(hd_dumper *d, size_t n)
{
    if (d->slot_arena == NULL || d->slot_arena_used + n > d->slot_arena_cap) {
        size_t cap = n > WALK_ARENA_CHUNK ? n : WALK_ARENA_CHUNK;
        hd_slot *chunk = malloc(cap * sizeof(hd_slot));
        void **chunks =
            realloc(d->arena_chunks, (d->narena_chunks + 1) * sizeof(void *));
        if (chunk == NULL || chunks == NULL) {
            free(chunk);
            if (chunks) {
                d->arena_chunks = chunks;
            }
            hd_walk_oom(d);
            return NULL;
        }
        d->arena_chunks = chunks;
        d->arena_chunks[d->narena_chunks++] = chunk;
        d->slot_arena = chunk;
        d->slot_arena_used = 0;
        d->slot_arena_cap = cap;
    }
    hd_slot *s = d->slot_arena + d->slot_arena_used;
    d->slot_arena_used += n;
    return s;
}

static int
walk_layouts_grow(hd_dumper *d)
{
    size_t n = (d->layouts_mask + 1) * 2;
    hd_layout **t = calloc(n, sizeof(hd_layout *));
    if (t == NULL) {
        hd_walk_oom(d);
        return -1;
    }
    for (size_t i = 0; i <= d->layouts_mask; i++) {
        hd_layout *l = d->layouts[i];
        if (l != NULL) {
            size_t j = (size_t)l->hash & (n - 1);
            while (t[j] != NULL) {
                j = (j + 1) & (n - 1);
            }
            t[j] = l;
        }
    }
    free(d->layouts);
    d->layouts = t;
    d->layouts_mask = n - 1;
    return 0;
}

hd_layout *
hd_walk_layout(hd_dumper *d, PyObject *obj, PyTypeObject *type,
               PyObject *const **values, int *is_new)
{
    *is_new = 0;
    *values = NULL;
    d->scratch_n = 0;
    if (walk_members(d, obj, type) < 0) {
        return NULL;
    }
    if (hd_pyversion_instance_dict(obj, walk_visit_pair, d) < 0) {
        hd_walk_note_error(d, "could not read the attributes of a %.100s",
                           type->tp_name);
    }
    if (d->error != NULL || d->scratch_n == 0) {
        return NULL;
    }
    *values = d->scratch_vals;
    size_t n = d->scratch_n;
    uint64_t h = walk_layout_hash(type, d->scratch_slots, n);
    size_t i = (size_t)h & d->layouts_mask;
    for (hd_layout *l; (l = d->layouts[i]) != NULL;
         i = (i + 1) & d->layouts_mask) {
        if (l->hash == h && l->type == type && l->nslots == n &&
            memcmp(l->slots, d->scratch_slots, n * sizeof(hd_slot)) == 0) {
            return l;
        }
    }
    /* a new layout: remember it and write its LAYOUT record */
    hd_layout *l = malloc(sizeof(hd_layout) + n);
    hd_slot *slots = walk_arena_alloc(d, n);
    if (l == NULL || slots == NULL) {
        free(l);
        hd_walk_oom(d);
        return NULL;
    }
    memcpy(slots, d->scratch_slots, n * sizeof(hd_slot));
    l->secret = (unsigned char *)(l + 1);
    for (size_t j = 0; j < n; j++) {
        l->secret[j] =
            (unsigned char)(slots[j].is_member
                                ? hd_redact_cname(
                                      &d->redact,
                                      ((PyMemberDef *)slots[j].key)->name)
                                : hd_redact_name(&d->redact,
                                                 (PyObject *)slots[j].key));
    }
    l->type = type;
    l->number = (uint32_t)d->nlayouts++;
    l->nslots = (uint32_t)n;
    l->hash = h;
    l->slots = slots;
    d->layouts[i] = l;
    if (d->nlayouts * 10 > (d->layouts_mask + 1) * 7) {
        walk_layouts_grow(d);
    }
    *is_new = 1;
    return l;
}

/* --------------------------------------------------------------- sources */

/* FNV-1a over a str's code units: its key in the set of wanted files. */
static uint64_t
walk_str_hash(PyObject *s)
{
    const unsigned char *p = PyUnicode_DATA(s);
    size_t n = (size_t)PyUnicode_GET_LENGTH(s) * (size_t)PyUnicode_KIND(s);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ULL;
    }
    return h;
}

static int
walk_same_str(PyObject *a, PyObject *b)
{
    return a == b ||
           (PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b) &&
            PyUnicode_KIND(a) == PyUnicode_KIND(b) &&
            memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b),
                   (size_t)PyUnicode_GET_LENGTH(a) * PyUnicode_KIND(a)) == 0);
}

/* d->files_set made again with cap slots (a power of two).  0, or -1 out
 * of memory (the set as it was). */
static int
walk_files_rehash(hd_dumper *d, size_t cap)
{
    size_t *slots = calloc(cap, sizeof(size_t));
    if (slots == NULL) {
        return -1;
    }
    for (size_t i = 0; i < d->nfiles; i++) {
        size_t j = (size_t)d->files_hash[i] & (cap - 1);
        while (slots[j] != 0) {
            j = (j + 1) & (cap - 1);
        }
        slots[j] = i + 1;
    }
    free(d->files_set);
    d->files_set = slots;
    d->files_set_cap = cap;
    return 0;
}

/* The slot of the memo of filename objects already seen. */
static size_t
walk_files_memo(PyObject *filename)
{
    return ((uintptr_t)filename >> 4) & 63;
}

void
hd_walk_want_source(hd_dumper *d, PyObject *filename)
{
    if (filename == NULL || !PyUnicode_Check(filename)) {
        return;
    }
    /* the code of one module shares one filename object: seen already
     * (the world stands still, so the object is the one seen) */
    size_t memo = walk_files_memo(filename);
    if (d->files_recent[memo] == filename) {
        return;
    }
    uint64_t h = walk_str_hash(filename);
    size_t mask = d->files_set_cap - 1;
    for (size_t j = (size_t)h & mask; d->files_set_cap > 0 && d->files_set[j];
         j = (j + 1) & mask) {
        size_t i = d->files_set[j] - 1;
        if (d->files_hash[i] == h && walk_same_str(d->files[i], filename)) {
            d->files_recent[memo] = filename;
            return;
        }
    }
    if ((d->nfiles + 1) * 2 > d->files_set_cap &&
        walk_files_rehash(d, d->files_set_cap ? d->files_set_cap * 2 : 32) <
            0) {
        hd_walk_oom(d);
        return;
    }
    if (d->nfiles == d->files_cap) {
        size_t cap = d->files_cap ? d->files_cap * 2 : 16;
        PyObject **f = realloc(d->files, cap * sizeof(PyObject *));
        if (f == NULL) {
            hd_walk_oom(d);
            return;
        }
        d->files = f;
        uint64_t *fh = realloc(d->files_hash, cap * sizeof(uint64_t));
        if (fh == NULL) {
            hd_walk_oom(d);
            return;
        }
        d->files_hash = fh;
        d->files_cap = cap;
    }
    size_t i = d->nfiles++;
    d->files[i] = filename;
    d->files_hash[i] = h;
    mask = d->files_set_cap - 1;
    size_t j = (size_t)h & mask;
    while (d->files_set[j] != 0) {
        j = (j + 1) & mask;
    }
    d->files_set[j] = i + 1;
    d->files_recent[memo] = filename;
}

void
hd_walk_note_error(hd_dumper *d, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    d->n_errors++;
    msgpack_pack_array(&d->pk, 2);
    msgpack_pack_uint8(&d->pk, HD_R_ERROR);
    hd_encode_cstr(d, msg);
    d->n_records++;
}

/* A tp_traverse visit function: each referent (not NULL) appended to
 * d->refs (grown as needed); -1 when it cannot grow, which ends the
 * traverse (heapdump.h). */
int
hd_walk_collect_ref(PyObject *o, void *arg)
{
    hd_dumper *d = arg;
    if (o == NULL) {
        return 0;
    }
    if (d->nrefs == d->refs_cap) {
        size_t cap = d->refs_cap ? d->refs_cap * 2 : 64;
        PyObject **r = realloc(d->refs, cap * sizeof(PyObject *));
        if (r == NULL) {
            return -1;
        }
        d->refs = r;
        d->refs_cap = cap;
    }
    d->refs[d->nrefs++] = o;
    return 0;
}
