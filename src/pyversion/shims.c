/* shims.c: the version differences that the public C API covers, each
 * behind one function: the cyclic GC switch (3.9 has no PyGC_Disable) and
 * exception groups (3.11+) for the loader.  Not a Py_BUILD_CORE unit,
 * and not bound by pyversion.c's contract: these may call Python (3.9's
 * gc functions) and make objects.
 *
 * Contract: the caller holds the GIL.
 */
#include "heapdump.h"

/* ------------------------------------------------------ the cyclic GC */

/* gc.disable / gc.enable / gc.isenabled on 3.9, which has no PyGC_Disable;
 * looked up at init so that a dump never imports. */
#if PY_VERSION_HEX < 0x030A0000
static PyObject *shims_gc_disable, *shims_gc_enable, *shims_gc_isenabled;
#endif

int
hd_shims_gc_init(void)
{
#if PY_VERSION_HEX < 0x030A0000
    if (shims_gc_disable == NULL) {
        PyObject *gc = PyImport_ImportModule("gc");
        if (gc == NULL) {
            return -1;
        }
        shims_gc_disable = PyObject_GetAttrString(gc, "disable");
        shims_gc_enable = PyObject_GetAttrString(gc, "enable");
        shims_gc_isenabled = PyObject_GetAttrString(gc, "isenabled");
        Py_DECREF(gc);
        if (!shims_gc_disable || !shims_gc_enable || !shims_gc_isenabled) {
            return -1;
        }
    }
#endif
    return 0;
}

int
hd_shims_gc_disable(void)
{
#if PY_VERSION_HEX >= 0x030A0000
    return PyGC_Disable();
#else
    PyObject *r = PyObject_CallNoArgs(shims_gc_isenabled);
    if (r == NULL) {
        return -1;
    }
    int was = PyObject_IsTrue(r);
    Py_DECREF(r);
    r = PyObject_CallNoArgs(shims_gc_disable);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return was;
#endif
}

void
hd_shims_gc_enable(void)
{
#if PY_VERSION_HEX >= 0x030A0000
    PyGC_Enable();
#else
    /* keep the caller's exception, if any, across the call */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *r = PyObject_CallNoArgs(shims_gc_enable);
    if (r == NULL) {
        PyErr_WriteUnraisable(NULL);
    }
    Py_XDECREF(r);
    PyErr_Restore(type, value, tb);
#endif
}

/* ------------------------------------------- exception groups (3.11+) */

int
hd_shims_group_shell(PyTypeObject *cls, PyTypeObject *base,
                     PyObject *empty_tuple, PyObject **out)
{
#if PY_VERSION_HEX >= 0x030B0000
    if (!PyType_IsSubtype(base, (PyTypeObject *)PyExc_BaseExceptionGroup)) {
        return 0;
    }
    /* its tp_new wants the members; BaseException's makes it with none,
     * and hd_shims_set_group puts them in later */
    base = (PyTypeObject *)PyExc_BaseException;
    PyObject *obj = base->tp_new(cls, empty_tuple, NULL);
    if (obj != NULL) {
        PyBaseExceptionGroupObject *g = (PyBaseExceptionGroupObject *)obj;
        g->msg = PyUnicode_FromString("");
        g->excs = PyTuple_New(0);
        if (g->msg == NULL || g->excs == NULL) {
            Py_CLEAR(obj);
        }
    }
    *out = obj;
    return 1;
#else
    (void)cls;
    (void)base;
    (void)empty_tuple;
    (void)out;
    return 0;
#endif
}

int
hd_shims_set_group(PyObject *exc, PyObject *msg, PyObject *excs)
{
#if PY_VERSION_HEX >= 0x030B0000
    if (!PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_BaseExceptionGroup)) {
        PyErr_SetString(PyExc_TypeError, "not an exception group");
        return -1;
    }
    if (!PyUnicode_Check(msg) || !PyTuple_Check(excs)) {
        PyErr_SetString(PyExc_TypeError,
                        "set_group() needs a str and a tuple");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(excs); i++) {
        if (!PyExceptionInstance_Check(PyTuple_GET_ITEM(excs, i))) {
            PyErr_SetString(PyExc_TypeError,
                            "a member of an exception group is not an "
                            "exception");
            return -1;
        }
    }
    PyBaseExceptionGroupObject *g = (PyBaseExceptionGroupObject *)exc;
    Py_XSETREF(g->msg, Py_NewRef(msg));
    Py_XSETREF(g->excs, Py_NewRef(excs));
    return 0;
#else
    (void)exc;
    (void)msg;
    (void)excs;
    PyErr_SetString(PyExc_TypeError,
                    "exception groups need Python 3.11 or later");
    return -1;
#endif
}
