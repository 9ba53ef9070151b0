/* compat.h: the small shims of the public C API of newer CPythons, for the
 * older ones heapdump supports (3.9 to 3.15): what every C file may use
 * as if it were there.  The reads of interpreter internals that differ
 * from one version to the next are pyversion.h's. */
#ifndef HEAPDUMP_COMPAT_H
#define HEAPDUMP_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030A0000
/* 3.10's Py_NewRef and PyModule_AddObjectRef, for 3.9 */
static inline PyObject *
Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

static inline int
PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *value)
{
    Py_INCREF(value);
    if (PyModule_AddObject(m, name, value) < 0) {
        Py_DECREF(value);
        return -1;
    }
    return 0;
}
#endif

#endif /* HEAPDUMP_COMPAT_H */
