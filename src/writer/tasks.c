/* tasks.c: the TASK records (docs/format.rst, "Other records"): every
 * asyncio task of the interpreter, found without running Python code:
 *
 * - asyncio.tasks' registries, read from C: _all_tasks (3.9 to 3.11) and
 *   _scheduled_tasks (3.12+) are WeakSets, whose instance dict's "data" is
 *   a set of weak references (the referents are read from the weakref
 *   objects); _eager_tasks (3.12+) a set of tasks; _current_tasks (3.9 to
 *   3.13) a dict loop -> running task;
 * - 3.14+: the native tasks' linked lists and each thread's running task
 *   (pyversion/asyncio.c); a task leaves them once done, so the C tasks
 *   the walk meets (a finished task a frame still holds) are added after
 *   the walk from the others, until no new one is met.
 *
 * A task is an instance of the C Task (_asyncio.Task, read through its
 * own C getters, pyversion/asyncio.c) or of the pure-Python Task
 * (asyncio.tasks._PyTask, read from its instance dict: _state, _coro,
 * _fut_waiter, _name, _loop).  Each one, its coroutine and the coroutines
 * that coroutine awaits (cr_await, inward) are queued as roots, after the
 * threads' frames; the walk writes their object records.
 *
 * Contract: the caller holds the GIL with the cyclic GC disabled, in a
 * normal dump; nothing here runs Python code or releases the GIL.  The C
 * getters return new references to objects their owners still hold:
 * releasing them frees nothing.
 */
#include "tasks.h"

#include "pyversion/asyncio.h"

#include <stdlib.h>
#include <string.h>

#define TASKS_MAX 1000000 /* tasks in one dump */
#define TASKS_CHAIN 256   /* coroutines in one await chain */

/* The tasks found, deduplicated (open addressing, grown at 50%). */
typedef struct tasks_found {
    PyObject **list; /* in the order found */
    size_t n, cap;
    PyObject **table;
    size_t mask; /* table size - 1, or 0 before the first */
    PyTypeObject *c_task, *py_task;
    PyTypeObject *cancelled_error; /* asyncio.CancelledError */
    int oom;
} tasks_found;

static size_t
tasks_hash(const void *p, size_t mask)
{
    uintptr_t v = (uintptr_t)p >> 4;
    return (size_t)(v * 0x9E3779B97F4A7C15ull) & mask;
}

static int
tasks_grow(tasks_found *t)
{
    size_t size = t->mask ? (t->mask + 1) * 2 : 64;
    PyObject **table = calloc(size, sizeof(PyObject *));
    PyObject **list = realloc(t->list, size / 2 * sizeof(PyObject *));
    if (table == NULL || list == NULL) {
        free(table);
        if (list != NULL) {
            t->list = list;
        }
        return -1;
    }
    t->list = list;
    t->cap = size / 2;
    free(t->table);
    t->table = table;
    t->mask = size - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t h = tasks_hash(t->list[i], t->mask);
        while (t->table[h] != NULL) {
            h = (h + 1) & t->mask;
        }
        t->table[h] = t->list[i];
    }
    return 0;
}

/* Whether obj is a task this file reads: the C Task or the Python one. */
static int
tasks_is_task(const tasks_found *t, PyObject *obj)
{
    return (t->c_task != NULL && PyObject_TypeCheck(obj, t->c_task)) ||
           (t->py_task != NULL && PyObject_TypeCheck(obj, t->py_task));
}

/* Add obj if it is a task not found yet. */
static void
tasks_add(PyObject *obj, void *arg)
{
    tasks_found *t = arg;
    if (obj == NULL || t->oom || t->n >= TASKS_MAX || !tasks_is_task(t, obj)) {
        return;
    }
    if (t->n >= t->cap && tasks_grow(t) < 0) {
        t->oom = 1;
        return;
    }
    size_t h = tasks_hash(obj, t->mask);
    while (t->table[h] != NULL) {
        if (t->table[h] == obj) {
            return;
        }
        h = (h + 1) & t->mask;
    }
    t->table[h] = obj;
    t->list[t->n++] = obj;
}

/* ------------------------------------------------------------ reading */

/* A module's dict, found in sys.modules by scanning (hd_frozen_dict_get:
 * no __eq__ runs). */
static PyObject *
tasks_module_dict(PyObject *modules, const char *name)
{
    PyObject *m = hd_frozen_dict_get(modules, name);
    return m != NULL && PyModule_Check(m) ? PyModule_GetDict(m) : NULL;
}

struct tasks_attrs {
    const char *const *names;
    PyObject **values;
    int n;
};

static int
tasks_attr_visit(PyObject *key, PyObject *value, void *arg)
{
    struct tasks_attrs *a = arg;
    for (int i = 0; i < a->n && PyUnicode_CheckExact(key); i++) {
        if (a->values[i] == NULL &&
            PyUnicode_CompareWithASCIIString(key, a->names[i]) == 0) {
            a->values[i] = value;
        }
    }
    return 0;
}

/* Instance attributes names[0..n) of obj (borrowed, NULL when unset). */
static void
tasks_attrs(PyObject *obj, const char *const *names, PyObject **values, int n)
{
    struct tasks_attrs a = {names, values, n};
    memset(values, 0, (size_t)n * sizeof(PyObject *));
    hd_pyversion_instance_dict(obj, tasks_attr_visit, &a);
}

/* The tasks of a set's items: tasks, or weak references to tasks. */
static void
tasks_from_set(tasks_found *t, PyObject *set)
{
    Py_ssize_t pos = 0;
    PyObject *item;
    if (set == NULL || !PyAnySet_Check(set)) {
        return;
    }
    while (hd_pyversion_set_next(set, &pos, &item)) {
        if (PyWeakref_Check(item)) {
            PyObject *r = ((PyWeakReference *)item)->wr_object;
            if (r != NULL && r != Py_None && Py_REFCNT(r) > 0) {
                tasks_add(r, t);
            }
        }
        else {
            tasks_add(item, t);
        }
    }
}

/* A WeakSet's tasks (its "data" set) or a plain set's. */
static void
tasks_from_registry(tasks_found *t, PyObject *reg)
{
    if (reg == NULL) {
        return;
    }
    if (PyAnySet_Check(reg)) {
        tasks_from_set(t, reg);
        return;
    }
    static const char *const names[] = {"data"};
    PyObject *data;
    tasks_attrs(reg, names, &data, 1);
    tasks_from_set(t, data);
}

/* Fill t; returns -1 when the 3.14+ C Task's layout is not the one known
 * (its native tasks are then missing), else 0. */
static int
tasks_find(tasks_found *t, PyInterpreterState *interp)
{
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed, no call */
    PyObject *tdict = tasks_module_dict(modules, "asyncio.tasks");
    if (tdict == NULL) {
        return 0; /* asyncio never imported: no task */
    }
    PyObject *cdict = tasks_module_dict(modules, "_asyncio");
    PyObject *ct = hd_frozen_dict_get(cdict, "Task");
    PyObject *pt = hd_frozen_dict_get(tdict, "_PyTask");
    t->c_task = ct != NULL && PyType_Check(ct) ? (PyTypeObject *)ct : NULL;
    t->py_task = pt != NULL && PyType_Check(pt) ? (PyTypeObject *)pt : NULL;
    PyObject *ce = hd_frozen_dict_get(
        tasks_module_dict(modules, "asyncio.exceptions"), "CancelledError");
    t->cancelled_error =
        ce != NULL && PyType_Check(ce) ? (PyTypeObject *)ce : NULL;
    /* the running ones first */
    PyObject *current = hd_frozen_dict_get(tdict, "_current_tasks");
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (current != NULL && PyDict_Check(current) &&
           PyDict_Next(current, &pos, &k, &v)) {
        tasks_add(v, t);
    }
    int native = hd_pyversion_native_tasks(interp, t->c_task, tasks_add, t);
    tasks_from_registry(t, hd_frozen_dict_get(tdict, "_all_tasks"));
    tasks_from_registry(t, hd_frozen_dict_get(tdict, "_scheduled_tasks"));
    tasks_from_registry(t, hd_frozen_dict_get(tdict, "_eager_tasks"));
    return native < 0 && t->c_task != NULL ? -1 : 0;
}

/* ------------------------------------------------------------ writing */

static int
tasks_exc_visit(PyObject *obj, void *arg)
{
    PyObject **found = arg;
    PyTypeObject *want = (PyTypeObject *)found[0];
    if (found[1] == NULL && obj != NULL && PyObject_TypeCheck(obj, want)) {
        found[1] = obj;
    }
    return 0;
}

/* The CancelledError a cancelled C task keeps (its fut_cancelled_exc,
 * which no getter reads: the one referent of that class the C Task's own
 * tp_traverse visits, the result and exception being unset once
 * cancelled; a subclass's traverse is not used, it would visit the
 * instance's attributes first), as a new reference; NULL when state is
 * not "CANCELLED" or there is none (3.11+ raises it from result(); 3.9
 * and 3.10 chain it as the context). */
static PyObject *
tasks_cancelled_exc(const tasks_found *t, PyObject *task, PyObject *state)
{
    PyObject *found[2] = {(PyObject *)t->cancelled_error, NULL};
    if (t->cancelled_error == NULL || state == NULL ||
        !PyUnicode_Check(state) ||
        PyUnicode_CompareWithASCIIString(state, "CANCELLED") != 0 ||
        t->c_task->tp_traverse == NULL) {
        return NULL;
    }
    t->c_task->tp_traverse(task, tasks_exc_visit, found);
    Py_XINCREF(found[1]);
    return found[1];
}

/* One task's fields: the C Task's getters, or the Python Task's
 * attributes (borrowed, then given a reference each so both are
 * released the same way).  0 when the task cannot be read. */
static int
tasks_fields(const tasks_found *t, PyObject *task, hd_task_fields *f)
{
    if (t->c_task != NULL && PyObject_TypeCheck(task, t->c_task)) {
        if (!hd_pyversion_task_fields(task, t->c_task, f)) {
            return 0;
        }
        f->cancelled_exc = tasks_cancelled_exc(t, task, f->state);
        return 1;
    }
    static const char *const names[] = {
        "_name", "_state",  "_coro",      "_fut_waiter",
        "_loop", "_result", "_exception", "_cancelled_exc"};
    PyObject *v[8];
    tasks_attrs(task, names, v, 8);
    f->name = v[0];
    f->state = v[1];
    f->coro = v[2];
    f->fut_waiter = v[3];
    f->loop = v[4];
    f->result = v[5];
    f->exception = v[6];
    f->cancelled_exc = v[7];
    /* a pending Python Future keeps the class's _state = "PENDING" */
    PyObject *mro = Py_TYPE(task)->tp_mro;
    for (Py_ssize_t i = 0; f->state == NULL && mro != NULL &&
                           PyTuple_Check(mro) && i < PyTuple_GET_SIZE(mro);
         i++) {
        PyObject *base = PyTuple_GET_ITEM(mro, i);
        PyObject *st =
            hd_frozen_dict_get(((PyTypeObject *)base)->tp_dict, "_state");
        if (st != NULL && PyUnicode_CheckExact(st)) {
            f->state = st;
        }
    }
    Py_XINCREF(f->name);
    Py_XINCREF(f->state);
    Py_XINCREF(f->coro);
    Py_XINCREF(f->fut_waiter);
    Py_XINCREF(f->loop);
    Py_XINCREF(f->result);
    Py_XINCREF(f->exception);
    Py_XINCREF(f->cancelled_exc);
    return 1;
}

static void
tasks_state(hd_dumper *d, PyObject *state)
{
    static const char *const states[] = {"PENDING", "CANCELLED", "FINISHED"};
    static const char *const names[] = {"pending", "cancelled", "finished"};
    for (int i = 0; state != NULL && PyUnicode_Check(state) && i < 3; i++) {
        if (PyUnicode_CompareWithASCIIString(state, states[i]) == 0) {
            hd_encode_cstr(d, names[i]);
            return;
        }
    }
    msgpack_pack_nil(&d->pk);
}

static void
tasks_value(hd_dumper *d, PyObject *obj)
{
    if (obj == NULL || obj == Py_None) {
        msgpack_pack_nil(&d->pk);
    }
    else {
        hd_walk_value(d, obj);
    }
}

/* TASK: [76, task, name, state, coro, awaits, loop, [awaited coros],
 * result, exception, cancelled_exc] */
static void
tasks_record(hd_dumper *d, const tasks_found *t, PyObject *task)
{
    hd_task_fields f;
    PyObject *chain[TASKS_CHAIN];
    int n = 0;
    if (!tasks_fields(t, task, &f)) {
        return;
    }
    hd_walk_root(d, task);
    if (f.coro != NULL && f.coro != Py_None) {
        hd_walk_root(d, f.coro);
        PyObject *c = hd_pyversion_coro_await(f.coro);
        while (c != NULL && n < TASKS_CHAIN &&
               (PyCoro_CheckExact(c) || PyGen_CheckExact(c))) {
            hd_walk_root(d, c);
            chain[n++] = c;
            c = hd_pyversion_coro_await(c);
        }
        Py_XDECREF(c);
    }
    msgpack_pack_array(&d->pk, 11);
    msgpack_pack_uint8(&d->pk, HD_R_TASK);
    hd_walk_value(d, task);
    hd_encode_name(d, f.name);
    tasks_state(d, f.state);
    tasks_value(d, f.coro);
    tasks_value(d, f.fut_waiter);
    tasks_value(d, f.loop);
    msgpack_pack_array(&d->pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        hd_walk_value(d, chain[i]);
    }
    tasks_value(d, f.result);
    tasks_value(d, f.exception);
    tasks_value(d, f.cancelled_exc);
    d->n_records++;
    for (int i = 0; i < n; i++) {
        Py_DECREF(chain[i]);
    }
    hd_pyversion_task_fields_clear(&f);
}

/* The C tasks among queue entries [*from, nqueued) not found yet, added
 * to t; *from moves past them.  Frame handles (tagged) are skipped. */
static void
tasks_met(hd_dumper *d, tasks_found *t, size_t *from)
{
    for (; *from < d->nqueued; (*from)++) {
        void *entry = d->queue[*from];
        if (((uintptr_t)entry & HD_TAG_FRAME) == 0 &&
            PyObject_TypeCheck((PyObject *)entry, t->c_task)) {
            tasks_add((PyObject *)entry, t);
        }
    }
}

void
hd_tasks_write(hd_dumper *d, PyInterpreterState *interp)
{
    if (d->no_alloc || d->stacks_only || d->fatal || d->stopped) {
        return;
    }
    tasks_found t = {0};
    if (tasks_find(&t, interp) < 0) {
        hd_walk_note_error(d, "asyncio tasks: the C Task's layout is not "
                              "the one known; its native tasks are left "
                              "out");
    }
    size_t written = 0, scanned = 0;
    int more = hd_pyversion_tasks_leave_lists() && t.c_task != NULL;
    do {
        for (; written < t.n; written++) {
            tasks_record(d, &t, t.list[written]);
        }
        if (!more || d->stopped) {
            break;
        }
        /* the tasks that left the lists (finished) but are still held:
         * met by the walk from the roots and the tasks so far */
        hd_pack_run(d);
        tasks_met(d, &t, &scanned);
    } while (written < t.n);
    if (t.oom) {
        hd_walk_note_error(d, "asyncio tasks: out of memory after %zu", t.n);
    }
    free(t.list);
    free(t.table);
}
