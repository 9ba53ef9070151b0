/* locks.h: reads of the private structs of _thread.lock and
 * _thread.RLock (Modules/_threadmodule.c), for writer/natives_lock.c.
 * Each one checks the type (the C type given, its tp_name and
 * tp_basicsize against the struct this version is known to have) and
 * says -1 when the object does not look as expected: the caller then
 * writes it as an opaque object.  Caller holds the GIL; nothing here
 * runs Python code, creates an object or takes a lock.
 */
#ifndef HEAPDUMP_PYVERSION_LOCKS_H
#define HEAPDUMP_PYVERSION_LOCKS_H

#include "heapdump.h"

/* Whether the lock obj (an instance of base, the _thread.lock type) is
 * held, into *held (0 or 1).  0, or -1. */
int hd_locks_lock_held(PyObject *obj, PyTypeObject *base, int *held);

/* The state of the recursive lock obj (an instance of base, the
 * _thread.RLock type): *owner the owning thread's ident (0 when not
 * held), *count how many times it holds it (0 when not held).  0, or
 * -1. */
int hd_locks_rlock_state(PyObject *obj, PyTypeObject *base,
                         unsigned long long *owner, unsigned long long *count);

#endif /* HEAPDUMP_PYVERSION_LOCKS_H */
