/* natives_types.c: the native types (natives.h): which C types of the
 * standard library are written as NATIVE records.
 *
 * The types are found in the modules the program has already imported,
 * never by importing: an object of a type whose module is not loaded
 * cannot exist.  The datetime types come from the datetime C API's
 * capsule (the object PyDateTime_IMPORT would fetch), read from the
 * _datetime module's dict with PyCapsule_IsValid / PyCapsule_GetPointer:
 * PyDateTime_IMPORT itself imports a module, which a dump must not do.
 * The others are attributes of their C modules (_collections.deque,
 * array.array, _decimal.Decimal, _zoneinfo.ZoneInfo, _asyncio.Future),
 * checked by name.
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
    return nk != HD_NK_TIMEZONE && nk != HD_NK_ZONEINFO &&
           nk != HD_NK_PATTERN && nk != HD_NK_MATCH;
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
    PyDateTime_CAPI *api = PyCapsule_GetPointer(cap, PyDateTime_CAPSULE_NAME);
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
    natives_keep(HD_NK_TZINFO, (PyObject *)api->TZInfoType, "datetime.tzinfo");
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
        else if (PyUnicode_CompareWithASCIIString(k, "re") == 0) {
            /* _sre does not name its types; re does (re.Pattern) */
            natives_keep(HD_NK_PATTERN, natives_module_attr(m, "Pattern"),
                         "re.Pattern");
            natives_keep(HD_NK_MATCH, natives_module_attr(m, "Match"),
                         "re.Match");
        }
        else if (PyUnicode_CompareWithASCIIString(k, "_zoneinfo") == 0) {
            natives_keep(HD_NK_ZONEINFO, natives_module_attr(m, "ZoneInfo"),
                         "zoneinfo.ZoneInfo");
        }
        else if (PyUnicode_CompareWithASCIIString(k, "_asyncio") == 0) {
            natives_keep(HD_NK_FUTURE, natives_module_attr(m, "Future"),
                         "_asyncio.Future");
        }
        else if (PyUnicode_CompareWithASCIIString(k, "_thread") == 0) {
            natives_keep(HD_NK_LOCK, natives_module_attr(m, "LockType"),
                         "_thread.lock");
            natives_keep(HD_NK_RLOCK, natives_module_attr(m, "RLock"),
                         "_thread.RLock");
        }
    }
}

/* The C exporters whose bf_getbuffer only fills a Py_buffer. */
static const char *const natives_exporters[] = {
    /* ctypes' PyCData_NewGetBuffer: on _CData, inherited by Array,
     * Structure, Union, _SimpleCData, _Pointer (static types before
     * 3.12, which stop the walk; heap types that read as Python classes
     * after, which it goes through) */
    "_ctypes._CData", "_ctypes.Array",        "_ctypes.Structure",
    "_ctypes.Union",  "_ctypes._SimpleCData", "mmap.mmap",
    "numpy.ndarray",  "pickle.PickleBuffer",
};

PyTypeObject *
hd_natives_buffer_exporter(PyTypeObject *tp)
{
    while (tp != NULL && hd_classes_python_class(tp)) {
        tp = tp->tp_base;
    }
    if (tp == NULL || tp->tp_as_buffer == NULL ||
        tp->tp_as_buffer->bf_getbuffer == NULL) {
        return NULL;
    }
    for (size_t i = 0;
         i < sizeof(natives_exporters) / sizeof(natives_exporters[0]); i++) {
        if (strcmp(tp->tp_name, natives_exporters[i]) == 0) {
            return tp;
        }
    }
    return NULL;
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
