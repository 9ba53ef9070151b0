/* classes.c: which types' instances are plain Python instances.
 *
 * A class made by a class statement (or type()) is a heap type whose
 * tp_dealloc is subtype_dealloc and whose storage beyond its base's is its
 * __slots__ members and the dict and weakref pointers.  Since 3.10 and
 * 3.12 many C types of the standard library are heap types too (re's,
 * _thread's, then deque, array, Decimal, _asyncio's...): being a heap type
 * does not make a type a Python class, and a C type's instance written as
 * a plain instance loses its state (an empty instance).  A type that is
 * not a Python class here makes its instances opaque: their referents
 * (tp_traverse) and attributes are written.
 *
 * subtype_dealloc is not exported: its address is that of a class made at
 * init.  A spec type that gives no Py_tp_dealloc gets subtype_dealloc too;
 * the storage check keeps those with C fields of their own out.
 */
#include "heapdump.h"

static destructor classes_subtype_dealloc;

/* Take subtype_dealloc from a throwaway class.  0, or -1 with an
 * exception. */
int
hd_classes_init(void)
{
    PyObject *ns = PyDict_New();
    PyObject *cls = ns ? PyObject_CallFunction((PyObject *)&PyType_Type,
                                               "s()O", "_heapdump_probe", ns)
                       : NULL;
    Py_XDECREF(ns);
    if (cls == NULL) {
        return -1;
    }
    classes_subtype_dealloc = ((PyTypeObject *)cls)->tp_dealloc;
    Py_DECREF(cls);
    return 0;
}

/* Whether tp itself (not its bases) is a class defined in Python. */
int
hd_classes_python_class(PyTypeObject *tp)
{
    if (!(tp->tp_flags & Py_TPFLAGS_HEAPTYPE) ||
        tp->tp_dealloc != classes_subtype_dealloc) {
        return 0;
    }
    PyTypeObject *base = tp->tp_base;
    Py_ssize_t extra = tp->tp_basicsize - (base ? base->tp_basicsize : 0);
    Py_ssize_t allowed = 2 * (Py_ssize_t)sizeof(PyObject *);
    for (PyMemberDef *m = tp->tp_members; m != NULL && m->name != NULL; m++) {
        if (m->type == T_OBJECT_EX) {
            allowed += (Py_ssize_t)sizeof(PyObject *);
        }
    }
    return extra <= allowed;
}
