/* constants.c: the facts of format.h exported to Python, as
 * python-zstandard's constants.c exports zstd's: heapdump._heapdump.K_INT
 * (object kinds), R_META (other records), EXT_RUN, CK_LOCAL, TF_HEAPTYPE,
 * INL_STR, WHY_NAME, and as tables KIND_NAMES {kind: name}, FIELDS {kind:
 * field types}, EXT_NAMES, WHY_NAMES {why: reason}, SCOPES, DEFAULT_LIMITS
 * and DEFAULT_HEAP_LIMITS ({name: int or None}), FORMAT_VERSION,
 * FORMAT_MAJOR, FORMAT_MINOR, MIN_RUN, MAX_RECORD_ITEMS, REDACTED_TEXT.
 * heapdump/_format.py is their Python face. */
#include "heapdump.h"

static int
constants_int(PyObject *m, const char *prefix, const char *name, long value)
{
    char full[64];
    snprintf(full, sizeof(full), "%s%s", prefix, name);
    return PyModule_AddIntConstant(m, full, value);
}

/* d[key] = value, both new references (stolen, even on failure). */
static int
constants_set(PyObject *d, PyObject *key, PyObject *value)
{
    int r = key && value ? PyDict_SetItem(d, key, value) : -1;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return r;
}

/* fields[kind] = f, for the kinds whose fields are described. */
static int
constants_fields(PyObject *fields, int kind, const char *f)
{
    if (f == NULL) {
        return 0;
    }
    return constants_set(fields, PyLong_FromLong(kind),
                         PyUnicode_FromString(f));
}

static PyObject *
constants_limit(int64_t v)
{
    return v < 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(v);
}

/* The tables, built into fresh dicts; 0 or -1. */
static int
constants_tables(PyObject *kinds, PyObject *fields, PyObject *exts,
                 PyObject *whys, PyObject *limits, PyObject *heap_limits)
{
    int r = 0;
#define CONSTANTS_KIND_(name, n, f)                                           \
    r |= constants_set(kinds, PyLong_FromLong(n),                             \
                       PyUnicode_FromString(#name));                          \
    r |= constants_fields(fields, n, f);
    HD_OBJECT_KINDS(CONSTANTS_KIND_)
    HD_OTHER_KINDS(CONSTANTS_KIND_)
#undef CONSTANTS_KIND_
#define CONSTANTS_EXT_(name, n)                                               \
    r |= constants_set(exts, PyLong_FromLong(n), PyUnicode_FromString(#name));
    HD_EXTS(CONSTANTS_EXT_)
#undef CONSTANTS_EXT_
#define CONSTANTS_WHY_(name, n, text)                                         \
    r |= constants_set(whys, PyLong_FromLong(n), PyUnicode_FromString(text));
    HD_WHYS(CONSTANTS_WHY_)
#undef CONSTANTS_WHY_
#define CONSTANTS_LIMIT_(name, frames, heap)                                  \
    r |= constants_set(limits, PyUnicode_FromString(#name),                   \
                       constants_limit(frames));                              \
    r |= constants_set(heap_limits, PyUnicode_FromString(#name),              \
                       constants_limit(heap));
    HD_DEFAULT_LIMITS(CONSTANTS_LIMIT_)
#undef CONSTANTS_LIMIT_
    return r ? -1 : 0;
}

int
hd_constants_init_module(PyObject *m)
{
    int r = 0;
#define CONSTANTS_K_(name, n, f) r |= constants_int(m, "K_", #name, n);
#define CONSTANTS_R_(name, n, f) r |= constants_int(m, "R_", #name, n);
#define CONSTANTS_EXT_(name, n) r |= constants_int(m, "EXT_", #name, n);
#define CONSTANTS_CK_(name, n) r |= constants_int(m, "CK_", #name, n);
#define CONSTANTS_TF_(name, n) r |= constants_int(m, "TF_", #name, n);
#define CONSTANTS_INL_(name, n) r |= constants_int(m, "INL_", #name, n);
#define CONSTANTS_WHY_(name, n, t) r |= constants_int(m, "WHY_", #name, n);
#define CONSTANTS_SCOPE_(name, n, t) r |= constants_int(m, "SCOPE_", #name, n);
#define CONSTANTS_NK_(name, n, f) r |= constants_int(m, "NATIVE_", #name, n);
    HD_NATIVE_KINDS(CONSTANTS_NK_)
#undef CONSTANTS_NK_
    HD_OBJECT_KINDS(CONSTANTS_K_)
    HD_OTHER_KINDS(CONSTANTS_R_)
    HD_EXTS(CONSTANTS_EXT_)
    HD_CODE_KINDS(CONSTANTS_CK_)
    HD_TYPE_FLAGS(CONSTANTS_TF_)
    HD_INLINE_TYPES(CONSTANTS_INL_)
    HD_WHYS(CONSTANTS_WHY_)
    HD_SCOPES(CONSTANTS_SCOPE_)
#undef CONSTANTS_K_
#undef CONSTANTS_R_
#undef CONSTANTS_EXT_
#undef CONSTANTS_CK_
#undef CONSTANTS_TF_
#undef CONSTANTS_INL_
#undef CONSTANTS_WHY_
#undef CONSTANTS_SCOPE_
    r |= PyModule_AddIntConstant(m, "FORMAT_MAJOR", HD_FORMAT_MAJOR);
    r |= PyModule_AddIntConstant(m, "FORMAT_MINOR", HD_FORMAT_MINOR);
    r |= PyModule_AddStringConstant(m, "FORMAT_VERSION", HD_FORMAT_VERSION);
    r |= PyModule_AddIntConstant(m, "FIRST_OTHER", HD_FIRST_OTHER);
    r |= PyModule_AddIntConstant(m, "MIN_RUN", HD_MIN_RUN);
    r |= PyModule_AddIntConstant(m, "MAX_RECORD_ITEMS", HD_MAX_RECORD_ITEMS);
    r |= PyModule_AddStringConstant(m, "REDACTED_TEXT", HD_REDACTED_TEXT);
    if (r) {
        return -1;
    }
#define CONSTANTS_SCOPE_(name, n, text) text,
    static const char *const scope_names[] = {HD_SCOPES(CONSTANTS_SCOPE_)};
#undef CONSTANTS_SCOPE_
    PyObject *scopes = Py_BuildValue("(ss)", scope_names[0], scope_names[1]);
    PyObject *kinds = PyDict_New(), *fields = PyDict_New();
    PyObject *exts = PyDict_New(), *whys = PyDict_New();
    PyObject *limits = PyDict_New(), *heap_limits = PyDict_New();
    if (scopes == NULL || kinds == NULL || fields == NULL || exts == NULL ||
        whys == NULL || limits == NULL || heap_limits == NULL ||
        constants_tables(kinds, fields, exts, whys, limits, heap_limits) < 0 ||
        PyModule_AddObjectRef(m, "SCOPES", scopes) < 0 ||
        PyModule_AddObjectRef(m, "KIND_NAMES", kinds) < 0 ||
        PyModule_AddObjectRef(m, "FIELDS", fields) < 0 ||
        PyModule_AddObjectRef(m, "EXT_NAMES", exts) < 0 ||
        PyModule_AddObjectRef(m, "WHY_NAMES", whys) < 0 ||
        PyModule_AddObjectRef(m, "DEFAULT_LIMITS", limits) < 0 ||
        PyModule_AddObjectRef(m, "DEFAULT_HEAP_LIMITS", heap_limits) < 0) {
        r = -1;
    }
    Py_XDECREF(scopes);
    Py_XDECREF(kinds);
    Py_XDECREF(fields);
    Py_XDECREF(exts);
    Py_XDECREF(whys);
    Py_XDECREF(limits);
    Py_XDECREF(heap_limits);
    return r;
}
