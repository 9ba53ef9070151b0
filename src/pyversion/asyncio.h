/* asyncio.h: the reads of asyncio's tasks that differ from one CPython
 * to the next (asyncio.c), for the writer's tasks.c.
 *
 * Contract for every function here: the caller holds the GIL, in a normal
 * dump (not in a signal handler: some of them make Python objects); no
 * Python code runs.
 */
#ifndef HEAPDUMP_PYVERSION_ASYNCIO_H
#define HEAPDUMP_PYVERSION_ASYNCIO_H

#include "pyversion/compat.h"

/* What a task holds, each a new reference or NULL. */
typedef struct hd_task_fields {
    PyObject *name;       /* str */
    PyObject *state;      /* str: "PENDING", "CANCELLED", "FINISHED" */
    PyObject *coro;       /* the coroutine */
    PyObject *fut_waiter; /* the future it waits on */
    PyObject *loop;
    PyObject *result, *exception; /* once finished */
    PyObject *cancelled_exc;      /* the CancelledError kept, once cancelled */
} hd_task_fields;

/* The fields of task, an instance of the C Task type task_type
 * (_asyncio.Task) or of a subclass, read by the type's own C getters
 * (_state, _coro, _fut_waiter, _loop, get_name; its result and
 * exception as hd_pyversion_future_fields reads them), found in the tables by
 * name: a subclass's overrides are never looked at.  Returns 1, or 0 when
 * task_type is not the C Task this code knows (nothing set, nothing raised).
 */
int hd_pyversion_task_fields(PyObject *task, PyTypeObject *task_type,
                             hd_task_fields *out);
void hd_pyversion_task_fields_clear(hd_task_fields *f);

/* What a Future holds (hd_pyversion_future_fields): state one of
 * "pending", "cancelled", "finished"; the others new references, or
 * NULL when the future has none (result and exception NULL while
 * pending; cancel_msg NULL unless cancelled with a message). */
typedef struct hd_future_fields {
    const char *state;
    PyObject *result, *exception, *loop, *cancel_msg;
} hd_future_fields;

/* The fields of fut, an instance of the C Future type future_type
 * (_asyncio.Future) or of a subclass, read by future_type's own C
 * functions found in its tables by name (done() and cancelled(), which
 * return a bool, and the getters _result, _exception, _loop and
 * _cancel_message, which return a field): a subclass's overrides are
 * never looked at.  Returns 0, or -1 when future_type is not the C
 * Future this code knows or fut reads as no initialized future (nothing
 * set, no error left). */
int hd_pyversion_future_fields(PyObject *fut, PyTypeObject *future_type,
                               hd_future_fields *out);
void hd_pyversion_future_fields_clear(hd_future_fields *f);

/* What a coroutine or generator awaits (cr_await, gi_yieldfrom: the C
 * getter of its exact base type), a new reference, or NULL. */
PyObject *hd_pyversion_coro_await(PyObject *coro);

/* Whether a task leaves the interpreter's lists of tasks once done (3.14+:
 * hd_pyversion_native_tasks does not see it), where before it stayed in
 * asyncio's registries while alive. */
int hd_pyversion_tasks_leave_lists(void);

/* 3.14+: calls visit(task, arg) for each native task (task_type or a
 * subclass) in the per-thread lists and the interpreter's list, then for
 * each thread's running task; returns the number visited, or -1 when
 * task_type's layout is not the one this code knows (nothing visited).
 * Before 3.14: 0 (the tasks are in asyncio.tasks' registries). */
typedef void (*hd_task_visit)(PyObject *task, void *arg);
int hd_pyversion_native_tasks(PyInterpreterState *interp,
                              PyTypeObject *task_type, hd_task_visit visit,
                              void *arg);

#endif /* HEAPDUMP_PYVERSION_ASYNCIO_H */
