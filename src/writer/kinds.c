/* kinds.c: what an object is written as, read from its C layout: its
 * record kind (by its exact or base type), its shallow size as
 * sys.getsizeof reports it (the builtin C __sizeof__, never an override),
 * and which C members can be read as values.  Writes nothing.
 *
 * Contract: the caller holds the GIL; nothing here runs Python code.  The
 * only Python objects created are the ints that builtin C __sizeof__
 * implementations return (never in the signal modes: d->no_alloc).
 */
#include "heapdump.h"
#include "natives.h"

#include <string.h>

#include <frameobject.h>

static Py_ssize_t kinds_generic_sizeof(PyObject *obj);

/* The builtin C __sizeof__ of the types whose size is not the generic
 * basicsize + itemsize * ob_size, found once in their method tables. */
static PyCFunction sizeof_dict, sizeof_list, sizeof_set, sizeof_bytearray,
    sizeof_str, sizeof_int, sizeof_object, sizeof_code, sizeof_type;

static PyCFunction
kinds_find_sizeof(PyTypeObject *tp)
{
    for (PyMethodDef *m = tp->tp_methods; m && m->ml_name; m++) {
        if (strcmp(m->ml_name, "__sizeof__") == 0) {
            return m->ml_meth;
        }
    }
    return NULL;
}

int
hd_kinds_init(void)
{
    sizeof_dict = kinds_find_sizeof(&PyDict_Type);
    sizeof_list = kinds_find_sizeof(&PyList_Type);
    sizeof_set = kinds_find_sizeof(&PySet_Type);
    sizeof_bytearray = kinds_find_sizeof(&PyByteArray_Type);
    sizeof_str = kinds_find_sizeof(&PyUnicode_Type);
    sizeof_int = kinds_find_sizeof(&PyLong_Type);
    sizeof_object = kinds_find_sizeof(&PyBaseObject_Type);
    sizeof_code = kinds_find_sizeof(&PyCode_Type);
    sizeof_type = kinds_find_sizeof(&PyType_Type);
    if (hd_classes_init() < 0) {
        return -1;
    }
    hd_natives_refresh();
    return 0;
}

static Py_ssize_t
kinds_call_sizeof(PyCFunction f, PyObject *obj)
{
    PyObject *r = f(obj, NULL);
    if (r == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t n = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    if (n < 0) {
        PyErr_Clear();
        return 0;
    }
    return n;
}

/* The generic size: basicsize + itemsize * ob_size. */
static Py_ssize_t
kinds_generic_sizeof(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (PyLong_Check(obj)) {
        /* ob_size is not a length for ints on 3.12+ */
        return hd_pyversion_long_sizeof(obj);
    }
    Py_ssize_t frame = hd_pyversion_frame_sizeof(obj);
    if (frame >= 0) {
        return frame; /* an itemsize but no ob_size (3.11+) */
    }
    Py_ssize_t size = tp->tp_basicsize;
    if (tp->tp_itemsize != 0) {
        Py_ssize_t n = Py_SIZE(obj);
        size += (n < 0 ? -n : n) * tp->tp_itemsize;
    }
    return size;
}

Py_ssize_t
hd_kinds_sizeof(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyCFunction f = NULL;
    /* the commonest types without the int their __sizeof__ makes (the
     * same arithmetic as theirs); str and int have no GC header */
    if (tp == &PyUnicode_Type) {
        Py_ssize_t size = hd_pyversion_str_sizeof(obj);
        if (size >= 0) {
            return size;
        }
    }
    else if (tp == &PyLong_Type) {
        return hd_pyversion_long_sizeof(obj);
    }
    else if (tp == &PyList_Type) {
        return tp->tp_basicsize +
               ((PyListObject *)obj)->allocated *
                   (Py_ssize_t)sizeof(PyObject *) +
               hd_pyversion_preheader_size(obj);
    }
    if (PyDict_Check(obj)) {
        f = sizeof_dict;
    }
    else if (PyList_Check(obj)) {
        f = sizeof_list;
    }
    else if (PyAnySet_Check(obj)) {
        f = sizeof_set;
    }
    else if (PyByteArray_Check(obj)) {
        f = sizeof_bytearray;
    }
    else if (PyUnicode_Check(obj)) {
        f = sizeof_str;
    }
    else if (PyLong_Check(obj)) {
        f = sizeof_int;
    }
    else if (PyCode_Check(obj)) {
        f = sizeof_code;
    }
    else if (PyType_Check(obj)) {
        f = sizeof_type; /* static types are smaller than tp_basicsize */
    }
    else if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE || tp == &PyBaseObject_Type) {
        f = sizeof_object; /* includes 3.13's inline values */
    }
    Py_ssize_t size =
        f != NULL ? kinds_call_sizeof(f, obj) : kinds_generic_sizeof(obj);
    return size + hd_pyversion_preheader_size(obj);
}

/* hd_kinds_sizeof, or in the signal modes (which create no Python object,
 * and the builtin __sizeof__ functions return one) the generic size plus
 * the pre-header. */
Py_ssize_t
hd_kinds_size(hd_dumper *d, PyObject *obj)
{
    if (d->no_alloc) {
        return kinds_generic_sizeof(obj) + hd_pyversion_preheader_size(obj);
    }
    return hd_kinds_sizeof(obj);
}

/* The bytes of obj's attribute storage that its own size leaves out: its
 * instance dict when there is one (the dict gets no record of its own:
 * its items are the record's attributes), else 3.11+'s values. */
Py_ssize_t
hd_kinds_attr_storage(hd_dumper *d, PyObject *obj)
{
    PyObject *dict = hd_pyversion_dict_object(obj);
    if (dict != NULL && PyDict_Check(dict)) {
        return hd_kinds_size(d, dict);
    }
    return hd_pyversion_values_bytes(obj);
}

/* ----------------------------------------------------------------- kinds */

/* The solid layout of an instance: 1 when every class up to object is
 * defined in Python, so the state is the instance dict and slots. */
static int
kinds_is_plain_instance(PyTypeObject *tp)
{
    while (tp != NULL && tp != &PyBaseObject_Type) {
        if (!hd_classes_python_class(tp)) { /* a C type, heap or not */
            return 0;
        }
        tp = tp->tp_base;
    }
    return 1;
}

/* Exact builtin types and their kinds, the common ones first. */
static const struct {
    PyTypeObject *type;
    int kind;
} kinds_exact_kinds[] = {
    {&PyUnicode_Type, HD_K_STR},
    {&PyLong_Type, HD_K_INT},
    {&PyTuple_Type, HD_K_TUPLE},
    {&PyList_Type, HD_K_LIST},
    {&PyDict_Type, HD_K_DICT},
    {&PyFloat_Type, HD_K_FLOAT},
    {&PyBytes_Type, HD_K_BYTES},
    {&PyFunction_Type, HD_K_FUNCTION},
    {&PyCode_Type, HD_K_CODE},
    {&PyFrame_Type, HD_K_FRAME},
    {&PyTraceBack_Type, HD_K_TRACEBACK},
    {&PyModule_Type, HD_K_MODULE},
    {&PyMethod_Type, HD_K_METHOD},
    {&PyCFunction_Type, HD_K_CFUNCTION},
    {&PyCMethod_Type, HD_K_CFUNCTION},
    {&PyCell_Type, HD_K_CELL},
    {&PySet_Type, HD_K_SET},
    {&PyFrozenSet_Type, HD_K_FROZENSET},
    {&PyByteArray_Type, HD_K_BYTEARRAY},
    {&PyComplex_Type, HD_K_COMPLEX},
    {&PyRange_Type, HD_K_RANGE},
    {&PySlice_Type, HD_K_SLICE},
    {&PyGen_Type, HD_K_GENERATOR},
    {&PyCoro_Type, HD_K_GENERATOR},
    {&PyAsyncGen_Type, HD_K_GENERATOR},
};

/* Builtin types whose subclasses are written as the base kind + CLASS. */
static const struct {
    PyTypeObject *type;
    int kind;
} kinds_base_kinds[] = {
    {&PyUnicode_Type, HD_K_STR},         {&PyLong_Type, HD_K_INT},
    {&PyTuple_Type, HD_K_TUPLE},         {&PyList_Type, HD_K_LIST},
    {&PyDict_Type, HD_K_DICT},           {&PyBytes_Type, HD_K_BYTES},
    {&PyFloat_Type, HD_K_FLOAT},         {&PySet_Type, HD_K_SET},
    {&PyFrozenSet_Type, HD_K_FROZENSET}, {&PyByteArray_Type, HD_K_BYTEARRAY},
    {&PyComplex_Type, HD_K_COMPLEX},
};

#define PACK_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The kind instances of tp are written as (TYPE records' base_kind). */
int
hd_kinds_of_type(PyTypeObject *tp)
{
    if (PyType_IsSubtype(tp, (PyTypeObject *)PyExc_BaseException)) {
        return HD_K_EXCEPTION;
    }
    if (PyType_IsSubtype(tp, &PyType_Type)) {
        return HD_K_TYPE;
    }
    for (size_t i = 0; i < PACK_COUNT(kinds_base_kinds); i++) {
        if (PyType_IsSubtype(tp, kinds_base_kinds[i].type)) {
            return kinds_base_kinds[i].kind;
        }
    }
    if (PyType_IsSubtype(tp, &_PyWeakref_RefType)) {
        return HD_K_WEAKREF;
    }
    if (hd_natives_kind_of_type(tp) != 0) {
        return HD_K_NATIVE; /* a C type written exactly (natives.c) */
    }
    return kinds_is_plain_instance(tp) ? HD_K_INSTANCE : HD_K_OPAQUE;
}

int
hd_kinds_of(hd_dumper *d, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp == d->kind_cache_type) {
        return d->kind_cache_kind;
    }
    for (size_t i = 0; i < PACK_COUNT(kinds_exact_kinds); i++) {
        if (tp == kinds_exact_kinds[i].type) {
            return kinds_exact_kinds[i].kind;
        }
    }
    if (obj == Py_Ellipsis || obj == Py_NotImplemented) {
        return HD_K_SINGLETON;
    }
    if (PyWeakref_Check(obj)) {
        return HD_K_WEAKREF;
    }
    /* the slow path, for classes: remember the last one; the first time
     * in a dump, look for the native types imported since the last */
    if (d->kind_cache_type == NULL && !d->fatal) {
        hd_natives_refresh();
    }
    d->kind_cache_type = tp;
    d->kind_cache_kind = hd_kinds_of_type(tp);
    return d->kind_cache_kind;
}

int
hd_kinds_is_subclass(PyObject *obj, int kind)
{
    PyTypeObject *tp = Py_TYPE(obj);
    switch (kind) {
    case HD_K_STR: return tp != &PyUnicode_Type;
    case HD_K_INT: return tp != &PyLong_Type && tp != &PyBool_Type;
    case HD_K_TUPLE: return tp != &PyTuple_Type;
    case HD_K_LIST: return tp != &PyList_Type;
    case HD_K_DICT: return tp != &PyDict_Type;
    case HD_K_BYTES: return tp != &PyBytes_Type;
    case HD_K_FLOAT: return tp != &PyFloat_Type;
    case HD_K_SET: return tp != &PySet_Type;
    case HD_K_FROZENSET: return tp != &PyFrozenSet_Type;
    case HD_K_BYTEARRAY: return tp != &PyByteArray_Type;
    case HD_K_COMPLEX: return tp != &PyComplex_Type;
    default: return 0;
    }
}

int
hd_kinds_member_readable(const PyMemberDef *m)
{
    switch (m->type) {
    case T_OBJECT:
    case T_OBJECT_EX:
    case T_SHORT:
    case T_INT:
    case T_LONG:
    case T_FLOAT:
    case T_DOUBLE:
    case T_STRING:
    case T_CHAR:
    case T_BYTE:
    case T_UBYTE:
    case T_UINT:
    case T_USHORT:
    case T_ULONG:
    case T_BOOL:
    case T_LONGLONG:
    case T_ULONGLONG:
    case T_PYSSIZET: return 1;
    default: return 0;
    }
}
