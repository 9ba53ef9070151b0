/* locks.c: the private structs of _thread.lock and _thread.RLock
 * (locks.h), as Modules/_threadmodule.c has them:
 *
 *   3.9-3.13  lockobject  {head; PyThread_type_lock; weakreflist;
 *                          char locked}
 *             rlockobject {head; PyThread_type_lock; owner ident;
 *                          unsigned long count; weakreflist}
 *             (the owner an unsigned long, PyThread_ident_t in 3.13)
 *   3.14+     lockobject  {head; PyMutex}             (managed weakref)
 *             rlockobject {head; _PyRecursiveMutex}: {PyMutex; unsigned
 *                          long long thread; size_t level}, level the
 *                          count less one while held
 *
 * Each struct's size is checked against the type's tp_basicsize, and its
 * name against tp_name: a release that changes either leaves the locks
 * opaque until this file knows it.  The fields are read as they are in
 * memory, without the lock's own atomics: the dumping thread holds the
 * GIL, but a 3.14 PyMutex may change under it (a thread that waited for
 * it without the GIL): the record is what the bytes said at that moment.
 */
#include "locks.h"

#include <string.h>

#if PY_VERSION_HEX >= 0x030E0000
#define LOCKS_MUTEX 1
#else
#define LOCKS_MUTEX 0
#endif

#if LOCKS_MUTEX
/* PyMutex's bit that says it is held (Include/cpython/lock.h's
 * _Py_LOCKED) */
#define LOCKS_LOCKED 1

typedef struct {
    PyObject_HEAD uint8_t bits; /* PyMutex */
} locks_lock;

typedef struct {
    PyObject_HEAD uint8_t bits; /* PyMutex */
    unsigned long long thread;
    size_t level;
} locks_rlock;
#else
typedef struct {
    PyObject_HEAD void *lock_lock;
    PyObject *in_weakreflist;
    char locked;
} locks_lock;

#if PY_VERSION_HEX >= 0x030D0000
typedef unsigned long long locks_ident;
#else
typedef unsigned long locks_ident;
#endif

typedef struct {
    PyObject_HEAD void *rlock_lock;
    locks_ident rlock_owner;
    unsigned long rlock_count;
    PyObject *in_weakreflist;
} locks_rlock;
#endif

/* Whether obj is an instance of base, the type named name whose
 * instances are size bytes. */
static int
locks_type_ok(PyObject *obj, PyTypeObject *base, const char *name, size_t size)
{
    return base != NULL && PyObject_TypeCheck(obj, base) &&
           strcmp(base->tp_name, name) == 0 &&
           base->tp_basicsize == (Py_ssize_t)size && base->tp_itemsize == 0;
}

int
hd_locks_lock_held(PyObject *obj, PyTypeObject *base, int *held)
{
    if (!locks_type_ok(obj, base, "_thread.lock", sizeof(locks_lock))) {
        return -1;
    }
    const locks_lock *l = (const locks_lock *)obj;
#if LOCKS_MUTEX
    *held = (l->bits & LOCKS_LOCKED) != 0;
#else
    if (l->lock_lock == NULL || (l->locked != 0 && l->locked != 1)) {
        return -1;
    }
    *held = l->locked;
#endif
    return 0;
}

int
hd_locks_rlock_state(PyObject *obj, PyTypeObject *base,
                     unsigned long long *owner, unsigned long long *count)
{
    if (!locks_type_ok(obj, base, "_thread.RLock", sizeof(locks_rlock))) {
        return -1;
    }
    const locks_rlock *r = (const locks_rlock *)obj;
#if LOCKS_MUTEX
    int held = (r->bits & LOCKS_LOCKED) != 0;
    *owner = held ? r->thread : 0;
    *count = held ? (unsigned long long)r->level + 1 : 0;
    /* held, it has an owner; free, its level is back to 0 */
    if ((held && r->thread == 0) || (!held && r->level != 0)) {
        return -1;
    }
#else
    if (r->rlock_lock == NULL ||
        (r->rlock_count == 0) != (r->rlock_owner == 0)) {
        return -1;
    }
    *owner = r->rlock_count ? r->rlock_owner : 0;
    *count = r->rlock_count;
#endif
    return 0;
}
