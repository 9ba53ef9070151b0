/* unreached.c: the heap scope's last stage.  After the walk from the
 * other roots, every GC-tracked object not written yet becomes a root
 * (ROOTS records, "unreached"), and what it reaches is written right after
 * it, through pack.c's records; the cycles nothing else enters come last.
 * Above pack.c in the writer's stack (dump.c calls it).
 *
 * Contract: the caller holds the GIL with the cyclic GC disabled; nothing
 * here runs Python code or releases the GIL.
 */
#include "heapdump.h"

#include <stdlib.h>
#include <string.h>

/* A set of pointers (open addressing, grown at 70%): the folded dicts
 * and the marked objects below. */
static int
unreached_pset_add(hd_dumper *d, hd_pset *set, const void *ptr)
{
    if ((set->n + 1) * 10 > set->cap * 7) {
        size_t cap = set->cap ? set->cap * 2 : 4096;
        uintptr_t *t = calloc(cap, sizeof(uintptr_t));
        if (t == NULL) {
            hd_walk_oom(d);
            return -1;
        }
        for (size_t i = 0; i < set->cap; i++) {
            uintptr_t p = set->slots[i];
            if (p != 0) {
                size_t j = (size_t)hd_ptr_hash((void *)p) & (cap - 1);
                while (t[j] != 0) {
                    j = (j + 1) & (cap - 1);
                }
                t[j] = p;
            }
        }
        free(set->slots);
        set->slots = t;
        set->cap = cap;
    }
    size_t mask = set->cap - 1;
    size_t i = (size_t)hd_ptr_hash(ptr) & mask;
    while (set->slots[i] != 0) {
        if (set->slots[i] == (uintptr_t)ptr) {
            return 0;
        }
        i = (i + 1) & mask;
    }
    set->slots[i] = (uintptr_t)ptr;
    set->n++;
    return 0;
}

static int
unreached_pset_has(const hd_pset *set, const void *ptr)
{
    if (set->cap == 0) {
        return 0;
    }
    size_t mask = set->cap - 1;
    for (size_t i = (size_t)hd_ptr_hash(ptr) & mask; set->slots[i] != 0;
         i = (i + 1) & mask) {
        if (set->slots[i] == (uintptr_t)ptr) {
            return 1;
        }
    }
    return 0;
}

static void
unreached_pset_free(hd_pset *set)
{
    free(set->slots);
    memset(set, 0, sizeof(*set));
}

/* Pass 1 over the GC's objects: the folded dicts, whose items the records
 * of their owners write as attributes (an instance's __dict__, a
 * class's): no objects of their own in the file, so never roots. */
static int
unreached_fold_visit(PyObject *obj, int extra, void *arg)
{
    hd_dumper *d = arg;
    (void)extra;
    PyObject *dict = NULL;
    int kind = hd_kinds_of(d, obj);
    if (kind == HD_K_TYPE) {
        if (PyType_HasFeature((PyTypeObject *)obj, Py_TPFLAGS_HEAPTYPE)) {
            dict = ((PyTypeObject *)obj)->tp_dict;
        }
    }
    else if (kind == HD_K_INSTANCE || kind == HD_K_OPAQUE ||
             kind == HD_K_EXCEPTION || kind == HD_K_FUNCTION ||
             hd_kinds_is_subclass(obj, kind)) {
        dict = hd_pyversion_dict_object(obj);
    }
    return dict == NULL || unreached_pset_add(d, &d->folded, dict) == 0;
}

static int
unreached_mark_referent(PyObject *obj, void *arg)
{
    hd_dumper *d = arg;
    if (obj != NULL && obj != d->visiting && hd_walk_id(d, obj) < 0) {
        return unreached_pset_add(d, &d->marked, obj);
    }
    return 0;
}

/* Pass 2: mark what the objects not written yet refer to (tp_traverse, as
 * gc.get_referents sees it), so that pass 3 roots only the objects that
 * nothing unwritten refers to: the entries of what is left. */
static int
unreached_mark_visit(PyObject *obj, int extra, void *arg)
{
    hd_dumper *d = arg;
    (void)extra;
    if (hd_walk_id(d, obj) >= 0) {
        return 1;
    }
    traverseproc traverse = Py_TYPE(obj)->tp_traverse;
    if (traverse != NULL) {
        d->visiting = obj; /* a reference to itself is no referrer */
        traverse(obj, unreached_mark_referent, d);
        d->visiting = NULL;
    }
    return d->error == NULL;
}

/* ROOTS: [74, "unreached", v...], the ids waiting in d->roots_buf. */
static void
unreached_flush_roots(hd_dumper *d)
{
    if (d->nroots_buf == 0) {
        return;
    }
    msgpack_pack_array(&d->pk, 2 + d->nroots_buf);
    msgpack_pack_uint8(&d->pk, HD_R_ROOTS);
    hd_encode_cstr(d, "unreached");
    for (size_t i = 0; i < d->nroots_buf; i++) {
        msgpack_pack_uint32(&d->pk, d->roots_buf[i]);
    }
    d->n_records++;
    d->nroots_buf = 0;
}

/* An object nothing written so far reached becomes a root, and its
 * records (what it reaches) are written at once, so that what it holds is
 * not taken for unreached too.  While they are written, obj carries extra
 * references of the GC iteration, which pack.c takes off its recorded
 * count (d->visiting).  Returns 0 when the walk cannot go on. */
static int
unreached_root(hd_dumper *d, PyObject *obj, int extra)
{
    if (d->error != NULL || d->w.err_what != NULL || d->stopped) {
        return 0;
    }
    if (hd_walk_id(d, obj) >= 0 || hd_walk_root_hidden(d, obj)) {
        return 1;
    }
    int64_t id = hd_walk_discover(d, obj, 0);
    if (id < 0) {
        d->n_omitted++; /* past the budget: counted, not written */
        return 1;
    }
    if (d->nroots_buf == sizeof(d->roots_buf) / sizeof(d->roots_buf[0])) {
        unreached_flush_roots(d);
    }
    d->roots_buf[d->nroots_buf++] = (uint32_t)id;
    d->n_unreached++;
    d->visiting = obj;
    d->visiting_extra = extra;
    hd_pack_run(d);
    d->visiting = NULL;
    return 1;
}

/* Pass 3: the objects nothing unwritten refers to (the entries of what
 * is left) become roots. */
static int
unreached_entry_visit(PyObject *obj, int extra, void *arg)
{
    hd_dumper *d = arg;
    if (unreached_pset_has(&d->folded, obj) ||
        unreached_pset_has(&d->marked, obj)) {
        return 1;
    }
    return unreached_root(d, obj, extra);
}

/* Pass 4 collects what is still left: cycles that nothing else enters,
 * and what hangs from them (borrowed: the world stands still). */
static int
unreached_left_visit(PyObject *obj, int extra, void *arg)
{
    hd_dumper *d = arg;
    (void)extra;
    if (hd_walk_id(d, obj) >= 0 || unreached_pset_has(&d->folded, obj)) {
        return 1;
    }
    if (d->nleft == d->left_cap) {
        size_t cap = d->left_cap ? d->left_cap * 2 : 1024;
        PyObject **left = realloc(d->left, cap * sizeof(PyObject *));
        if (left == NULL) {
            hd_walk_oom(d);
            return 0;
        }
        d->left = left;
        d->left_cap = cap;
    }
    d->left[d->nleft++] = obj;
    return 1;
}

void
hd_unreached_run(hd_dumper *d)
{
    hd_pack_run(d);
    hd_pyversion_gc_visit(unreached_fold_visit, d);
    hd_pyversion_gc_visit(unreached_mark_visit, d);
    hd_pyversion_gc_visit(unreached_entry_visit, d);
    unreached_pset_free(&d->marked);
    /* the cycles, newest object first: a container is made after what
     * it holds, so the newest member of a cycle is most often its entry */
    hd_pyversion_gc_visit(unreached_left_visit, d);
    for (size_t i = d->nleft; i-- > 0 && unreached_root(d, d->left[i], 0);) {
    }
    free(d->left);
    d->left = NULL;
    d->nleft = d->left_cap = 0;
    unreached_flush_roots(d);
    unreached_pset_free(&d->folded);
}
