/* asyncio.c: where asyncio's tasks are and what they hold, per CPython
 * version (asyncio.h).
 *
 * The fields of a C Task (_asyncio.Task: its state, coroutine, the future
 * it waits on, loop, name) are read through the getters of the C type
 * itself, taken from its tp_getset / tp_methods tables by name: they are
 * C functions that return a field (the state as a constant str; on 3.12+
 * a name still held as a number is formatted "Task-N", an exact int's
 * str), so no Python code runs, and the same code serves every version
 * whatever the struct's field order.  A type without one of these names
 * is not the Task this code knows: nothing is read.  A Future
 * (natives_future.c) is read the same way: its own done() and cancelled(),
 * which return a bool, and the getters of its result, exception, loop and
 * cancel message, which return a field.
 *
 * 3.14 moved the native tasks from the WeakSet asyncio.tasks._scheduled_tasks
 * into linked lists: one per thread state (_PyThreadStateImpl's
 * asyncio_tasks_head) and one in the interpreter for tasks of threads
 * that ended, through each TaskObj's task_node.  The offset of task_node
 * comes from the TaskObj struct of Modules/_asynciomodule.c (3.14, 3.15),
 * mirrored below and checked against the running type's tp_basicsize.
 */
#define Py_BUILD_CORE 1 /* 3.14+: the thread and interpreter structs */
#include "pyversion/asyncio.h"

#include <string.h>

#if PY_VERSION_HEX >= 0x030E0000
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include "internal/pycore_interp_structs.h"
#include "internal/pycore_llist.h"
#include "internal/pycore_tstate.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

/* A getter of type's own tp_getset named name, or NULL. */
static getter
asyncio_getter(PyTypeObject *type, const char *name)
{
    for (PyGetSetDef *g = type->tp_getset; g != NULL && g->name != NULL; g++) {
        if (strcmp(g->name, name) == 0) {
            return g->get;
        }
    }
    return NULL;
}

/* The METH_NOARGS C function of type's own tp_methods named name. */
static PyCFunction
asyncio_method(PyTypeObject *type, const char *name)
{
    for (PyMethodDef *m = type->tp_methods; m != NULL && m->ml_name != NULL;
         m++) {
        if (strcmp(m->ml_name, name) == 0 &&
            (m->ml_flags & (METH_VARARGS | METH_KEYWORDS | METH_O |
                            METH_NOARGS | METH_FASTCALL)) == METH_NOARGS) {
            return m->ml_meth;
        }
    }
    return NULL;
}

/* The C Future type: task_type's base whose qualified name is
 * _asyncio.Future (the getters of _state and _loop are its own). */
static PyTypeObject *
asyncio_future_type(PyTypeObject *task_type)
{
    PyTypeObject *base = task_type->tp_base;
    if (base != NULL && strcmp(base->tp_name, "_asyncio.Future") == 0) {
        return base;
    }
    return NULL;
}

/* A getter's value; a getter that raises (a Future not initialized)
 * gives NULL with the error cleared. */
static PyObject *
asyncio_get(getter get, PyObject *obj)
{
    if (get == NULL) {
        return NULL;
    }
    PyObject *v = get(obj, NULL);
    if (v == NULL) {
        PyErr_Clear();
    }
    return v;
}

int
hd_pyversion_task_fields(PyObject *task, PyTypeObject *task_type,
                         hd_task_fields *out)
{
    memset(out, 0, sizeof(*out));
    if (task_type == NULL || strcmp(task_type->tp_name, "_asyncio.Task") ||
        !PyObject_TypeCheck(task, task_type)) {
        return 0;
    }
    PyTypeObject *fut = asyncio_future_type(task_type);
    getter state = fut ? asyncio_getter(fut, "_state") : NULL;
    getter loop = fut ? asyncio_getter(fut, "_loop") : NULL;
    getter coro = asyncio_getter(task_type, "_coro");
    getter waiter = asyncio_getter(task_type, "_fut_waiter");
    PyCFunction name = asyncio_method(task_type, "get_name");
    if (state == NULL || loop == NULL || coro == NULL || waiter == NULL ||
        name == NULL) {
        return 0;
    }
    out->state = asyncio_get(state, task);
    out->loop = asyncio_get(loop, task);
    out->coro = asyncio_get(coro, task);
    out->fut_waiter = asyncio_get(waiter, task);
    out->name = name(task, NULL);
    if (out->name == NULL) {
        PyErr_Clear();
    }
    hd_future_fields ff;
    if (hd_pyversion_future_fields(task, fut, &ff) == 0) {
        out->result = ff.result;
        out->exception = ff.exception;
        ff.result = ff.exception = NULL;
        hd_pyversion_future_fields_clear(&ff);
    }
    return 1;
}

void
hd_pyversion_task_fields_clear(hd_task_fields *f)
{
    Py_CLEAR(f->name);
    Py_CLEAR(f->state);
    Py_CLEAR(f->coro);
    Py_CLEAR(f->fut_waiter);
    Py_CLEAR(f->loop);
    Py_CLEAR(f->result);
    Py_CLEAR(f->exception);
    Py_CLEAR(f->cancelled_exc);
}

/* The bool a METH_NOARGS C function gives for obj: 1, 0, or -1 (no
 * function, or it raised: cleared). */
static int
asyncio_bool(PyCFunction f, PyObject *obj)
{
    PyObject *v = f != NULL ? f(obj, NULL) : NULL;
    int r = v == Py_True ? 1 : v == Py_False ? 0 : -1;
    if (v == NULL) {
        PyErr_Clear();
    }
    Py_XDECREF(v);
    return r;
}

int
hd_pyversion_future_fields(PyObject *fut, PyTypeObject *future_type,
                           hd_future_fields *out)
{
    memset(out, 0, sizeof(*out));
    if (future_type == NULL ||
        strcmp(future_type->tp_name, "_asyncio.Future") != 0 ||
        !PyObject_TypeCheck(fut, future_type)) {
        return -1;
    }
    getter result = asyncio_getter(future_type, "_result");
    getter exception = asyncio_getter(future_type, "_exception");
    getter loop = asyncio_getter(future_type, "_loop");
    getter msg = asyncio_getter(future_type, "_cancel_message");
    int done = asyncio_bool(asyncio_method(future_type, "done"), fut);
    int cancelled =
        asyncio_bool(asyncio_method(future_type, "cancelled"), fut);
    if (result == NULL || exception == NULL || loop == NULL || msg == NULL ||
        done < 0 || cancelled < 0 || (cancelled && !done)) {
        return -1;
    }
    out->state = cancelled ? "cancelled" : done ? "finished" : "pending";
    out->result = asyncio_get(result, fut);
    out->exception = asyncio_get(exception, fut);
    out->loop = asyncio_get(loop, fut);
    out->cancel_msg = asyncio_get(msg, fut);
    /* the getters give None for an unset field */
    PyObject **unset[] = {&out->result, &out->exception, &out->loop,
                          &out->cancel_msg};
    for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++) {
        if (*unset[i] == Py_None) {
            Py_CLEAR(*unset[i]);
        }
    }
    if (!done && (out->result != NULL || out->exception != NULL)) {
        hd_pyversion_future_fields_clear(out);
        return -1;
    }
    return 0;
}

void
hd_pyversion_future_fields_clear(hd_future_fields *f)
{
    Py_CLEAR(f->result);
    Py_CLEAR(f->exception);
    Py_CLEAR(f->loop);
    Py_CLEAR(f->cancel_msg);
}

PyObject *
hd_pyversion_coro_await(PyObject *coro)
{
    getter get = NULL;
    if (PyCoro_CheckExact(coro)) {
        get = asyncio_getter(&PyCoro_Type, "cr_await");
    }
    else if (PyGen_CheckExact(coro)) {
        get = asyncio_getter(&PyGen_Type, "gi_yieldfrom");
    }
    PyObject *v = asyncio_get(get, coro);
    if (v == Py_None) {
        Py_CLEAR(v);
    }
    return v;
}

#if PY_VERSION_HEX >= 0x030E0000
/* Modules/_asynciomodule.c's TaskObj on 3.14 and 3.15 (default build):
 * FutureObj_HEAD, then the Task's own fields. */
typedef enum {
    ASYNCIO_PENDING,
    ASYNCIO_CANCELLED,
    ASYNCIO_FINISHED
} asyncio_state;
typedef struct {
    PyObject_HEAD PyObject *fut_loop, *fut_callback0, *fut_context0,
        *fut_callbacks, *fut_exception, *fut_exception_tb, *fut_result,
        *fut_source_tb, *fut_cancel_msg, *fut_cancelled_exc, *fut_awaited_by;
    asyncio_state fut_state;
    char fut_is_task;
    char fut_awaited_by_is_set;
    unsigned fut_log_tb : 1;
    unsigned fut_blocking : 1;
    unsigned task_must_cancel : 1;
    unsigned task_log_destroy_pending : 1;
    int task_num_cancels_requested;
    PyObject *task_fut_waiter, *task_coro, *task_name, *task_context;
    struct llist_node task_node;
} asyncio_task_obj;

/* Visit the tasks of one circular list (at most 1,000,000: a damaged
 * list ends there). */
static int
asyncio_list(struct llist_node *head, PyTypeObject *task_type,
             hd_task_visit visit, void *arg)
{
    int n = 0;
    if (head->next == NULL) {
        return 0;
    }
    for (struct llist_node *node = head->next;
         node != head && node != NULL && n < 1000000; node = node->next) {
        PyObject *task =
            (PyObject *)((char *)node - offsetof(asyncio_task_obj, task_node));
        if (PyObject_TypeCheck(task, task_type)) {
            visit(task, arg);
            n++;
        }
    }
    return n;
}
#endif

int
hd_pyversion_tasks_leave_lists(void)
{
    return PY_VERSION_HEX >= 0x030E0000;
}

int
hd_pyversion_native_tasks(PyInterpreterState *interp, PyTypeObject *task_type,
                          hd_task_visit visit, void *arg)
{
#if PY_VERSION_HEX >= 0x030E0000
    if (task_type == NULL || strcmp(task_type->tp_name, "_asyncio.Task") ||
        task_type->tp_basicsize != (Py_ssize_t)sizeof(asyncio_task_obj) ||
        asyncio_future_type(task_type) == NULL ||
        asyncio_future_type(task_type)->tp_basicsize !=
            (Py_ssize_t)offsetof(asyncio_task_obj,
                                 task_num_cancels_requested)) {
        return -1;
    }
    int n = 0;
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        n += asyncio_list(&((_PyThreadStateImpl *)ts)->asyncio_tasks_head,
                          task_type, visit, arg);
    }
    n += asyncio_list(&interp->asyncio_tasks_head, task_type, visit, arg);
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        PyObject *running = ((_PyThreadStateImpl *)ts)->asyncio_running_task;
        if (running != NULL) {
            visit(running, arg);
            n++;
        }
    }
    return n;
#else
    (void)interp;
    (void)task_type;
    (void)visit;
    (void)arg;
    return 0;
#endif
}
