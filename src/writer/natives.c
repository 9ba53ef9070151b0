/* natives.c: the native types and the NATIVE record (natives.h).
 *
 * The types are found in the modules the program has already imported,
 * never by importing: an object of a type whose module is not loaded
 * cannot exist.  The datetime types come from the datetime C API's
 * capsule (the object PyDateTime_IMPORT would fetch), read from the
 * _datetime module's dict with PyCapsule_IsValid / PyCapsule_GetPointer:
 * PyDateTime_IMPORT itself imports a module, which a dump must not do.
 * The others are attributes of their C modules (_collections.deque,
 * array.array, _decimal.Decimal, _zoneinfo.ZoneInfo), checked by name.
 */
#include "natives.h"

#include <string.h>

#include <datetime.h>

/* The native types by HD_NK_* (a strong reference each, never released:
 * a type kept here is never freed, so its address is never another's). */
static PyTypeObject *natives_types[HD_NK_N];

/* Whether Python subclasses of a kind are written as it: their class can
 * be rebuilt over the real type (the base's C constructor, no code from
 * the file).  timezone cannot be subclassed; a ZoneInfo subclass has
 * its own cache, looked up on the class. */
static int
natives_subclassable(int nk)
{
    return nk != HD_NK_TIMEZONE && nk != HD_NK_ZONEINFO;
}

PyTypeObject *
hd_natives_type(int nk)
{
    return nk > 0 && nk < HD_NK_N ? natives_types[nk] : NULL;
}

/* Keep tp as the type of kind nk when its tp_name is name. */
static void
natives_keep(int nk, PyObject *tp, const char *name)
{
    if (tp == NULL || !PyType_Check(tp) ||
        strcmp(((PyTypeObject *)tp)->tp_name, name) != 0 ||
        natives_types[nk] == (PyTypeObject *)tp) {
        return;
    }
    Py_INCREF(tp);
    natives_types[nk] = (PyTypeObject *)tp; /* an old one is kept alive */
}

/* The value under the ASCII key name in the dict of module m (a plain
 * walk over the dict: no key object is made), or NULL. */
static PyObject *
natives_module_attr(PyObject *m, const char *name)
{
    PyObject *dict = PyModule_Check(m) ? PyModule_GetDict(m) : NULL;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (dict != NULL && PyDict_Next(dict, &pos, &k, &v)) {
        if (PyUnicode_CheckExact(k) &&
            PyUnicode_CompareWithASCIIString(k, name) == 0) {
            return v;
        }
    }
    return NULL;
}

static void
natives_from_datetime(PyObject *m)
{
    PyObject *cap = natives_module_attr(m, "datetime_CAPI");
    if (cap == NULL || !PyCapsule_IsValid(cap, PyDateTime_CAPSULE_NAME)) {
        return;
    }
    PyDateTime_CAPI *api =
        PyCapsule_GetPointer(cap, PyDateTime_CAPSULE_NAME);
    if (api == NULL) {
        return;
    }
    (void)PyDateTimeAPI; /* datetime.h's, unused: no import here */
    natives_keep(HD_NK_DATETIME, (PyObject *)api->DateTimeType,
                 "datetime.datetime");
    natives_keep(HD_NK_DATE, (PyObject *)api->DateType, "datetime.date");
    natives_keep(HD_NK_TIME, (PyObject *)api->TimeType, "datetime.time");
    natives_keep(HD_NK_TIMEDELTA, (PyObject *)api->DeltaType,
                 "datetime.timedelta");
    natives_keep(HD_NK_TZINFO, (PyObject *)api->TZInfoType,
                 "datetime.tzinfo");
    if (api->TimeZone_UTC != NULL) {
        natives_keep(HD_NK_TIMEZONE, (PyObject *)Py_TYPE(api->TimeZone_UTC),
                     "datetime.timezone");
    }
}

void
hd_natives_refresh(void)
{
    natives_keep(HD_NK_MEMORYVIEW, (PyObject *)&PyMemoryView_Type,
                 "memoryview");
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    PyObject *k, *m;
    Py_ssize_t pos = 0;
    while (modules != NULL && PyDict_Check(modules) &&
           PyDict_Next(modules, &pos, &k, &m)) {
        if (!PyUnicode_CheckExact(k) || !PyModule_Check(m)) {
            continue;
        }
        if (PyUnicode_CompareWithASCIIString(k, "_datetime") == 0) {
            natives_from_datetime(m);
        }
        else if (PyUnicode_CompareWithASCIIString(k, "_collections") == 0) {
            natives_keep(HD_NK_DEQUE, natives_module_attr(m, "deque"),
                         "collections.deque");
        }
        else if (PyUnicode_CompareWithASCIIString(k, "array") == 0) {
            natives_keep(HD_NK_ARRAY, natives_module_attr(m, "array"),
                         "array.array");
        }
        else if (PyUnicode_CompareWithASCIIString(k, "_decimal") == 0) {
            natives_keep(HD_NK_DECIMAL, natives_module_attr(m, "Decimal"),
                         "decimal.Decimal");
        }
        else if (PyUnicode_CompareWithASCIIString(k, "_zoneinfo") == 0) {
            natives_keep(HD_NK_ZONEINFO, natives_module_attr(m, "ZoneInfo"),
                         "zoneinfo.ZoneInfo");
        }
        else if (PyUnicode_CompareWithASCIIString(k, "_thread") == 0) {
            natives_keep(HD_NK_LOCK, natives_module_attr(m, "LockType"),
                         "_thread.lock");
            natives_keep(HD_NK_RLOCK, natives_module_attr(m, "RLock"),
                         "_thread.RLock");
        }
    }
}

/* The native kind of exactly tp, or 0: a comparison per kind. */
static int
natives_exact(PyTypeObject *tp)
{
    for (int nk = 1; nk < HD_NK_N; nk++) {
        if (natives_types[nk] == tp) {
            return nk;
        }
    }
    return 0;
}

int
hd_natives_kind_of_type(PyTypeObject *tp)
{
    int nk = natives_exact(tp);
    if (nk != 0) {
        return nk;
    }
    /* Python classes over a native type, nothing of C in between */
    for (PyTypeObject *t = tp; t != NULL && hd_classes_python_class(t);) {
        t = t->tp_base;
        nk = t != NULL ? natives_exact(t) : 0;
        if (nk != 0) {
            return natives_subclassable(nk) ? nk : 0;
        }
    }
    /* the C buffer exporters, read through their own getbuffer */
    return hd_natives_buffer_exporter(tp) != NULL ? HD_NK_BUFFER : 0;
}

/* The native base type of obj (the registered type it derives from). */
static PyTypeObject *
natives_base(PyTypeObject *tp, int nk)
{
    while (tp != NULL && tp != natives_types[nk]) {
        tp = tp->tp_base;
    }
    return tp;
}

/* The families' state steps (natives.h); write 2: what goes before the
 * record (a CUT), for the kinds that may be cut. */
static int
natives_state(hd_dumper *d, int nk, PyObject *obj, int write)
{
    if (write == 2 && nk != HD_NK_DEQUE && nk != HD_NK_ARRAY &&
        nk != HD_NK_MEMORYVIEW && nk != HD_NK_BUFFER) {
        return 0;
    }
    switch (nk) {
    case HD_NK_DATETIME:
    case HD_NK_DATE:
    case HD_NK_TIME:
    case HD_NK_TIMEDELTA:
    case HD_NK_TIMEZONE:
    case HD_NK_ZONEINFO:
    case HD_NK_TZINFO:
        return hd_natives_datetime_state(d, nk, obj, write);
    case HD_NK_DECIMAL: return hd_natives_decimal_state(d, obj, write);
    case HD_NK_DEQUE:
    case HD_NK_ARRAY:
        return hd_natives_seq_state(
            d, nk, natives_base(Py_TYPE(obj), nk), obj, write);
    case HD_NK_LOCK:
    case HD_NK_RLOCK:
        return hd_natives_lock_state(d, nk, natives_base(Py_TYPE(obj), nk),
                                     obj, write);
    case HD_NK_MEMORYVIEW:
    case HD_NK_BUFFER: return hd_natives_buffer_state(d, nk, obj, write);
    default: return -1;
    }
}

/* NATIVE: [30, addr, rc, size, type, native, [state...], layout,
 * [attribute values]] */
int
hd_natives_pack(hd_dumper *d, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    int nk = hd_natives_kind_of_type(tp);
    if (nk == 0 || natives_state(d, nk, obj, 0) < 0) {
        return -1;
    }
    PyObject *const *vals;
    hd_layout *l = hd_pack_layout_of(d, obj, tp, &vals);
    natives_state(d, nk, obj, 2);
    hd_pack_obj_header_attrs(d, HD_K_NATIVE, 5, obj);
    hd_walk_value(d, (PyObject *)tp);
    msgpack_pack_int(&d->pk, nk);
    natives_state(d, nk, obj, 1);
    hd_pack_attrs(d, obj, l, vals);
    return 0;
}
