/* frozen.c: where the source of a frozen standard-library module is.
 *
 * Code of a frozen module (importlib._bootstrap on every Python; os,
 * codecs, runpy... from 3.11) has the file name "<frozen NAME>" and no
 * file.  The dumping Python usually has the file the module was frozen
 * from, in its standard library: NAME with dots as slashes, ".py" (or
 * "/__init__.py" for a package).  Its text is written as the SOURCE record
 * of "<frozen NAME>", so that pdb's list and longlist work on those frames.
 *
 * The standard library's folder is sys._stdlib_dir (3.11+), or the folder
 * of the os module's __file__ (3.9 and 3.10, where os is not frozen).
 * Both are read by scanning dicts for exact-str keys: no __eq__, __hash__
 * or descriptor of the program runs.
 */
#include "heapdump.h"

#include <string.h>
#include <unistd.h>

#define FROZEN_PREFIX "<frozen "

/* The value under an exact-str key of a dict, found by scanning (no
 * stored key's __eq__ can run), or NULL (heapdump.h). */
PyObject *
hd_frozen_dict_get(PyObject *dict, const char *name)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    if (dict == NULL || !PyDict_Check(dict)) {
        return NULL;
    }
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (PyUnicode_CheckExact(k) &&
            PyUnicode_CompareWithASCIIString(k, name) == 0) {
            return v;
        }
    }
    return NULL;
}

/* A module's attribute (exact str, from its dict), or NULL. */
static PyObject *
frozen_module_str(PyObject *modules, const char *module, const char *attr)
{
    PyObject *m = hd_frozen_dict_get(modules, module);
    if (m == NULL || !PyModule_Check(m)) {
        return NULL;
    }
    PyObject *v = hd_frozen_dict_get(PyModule_GetDict(m), attr);
    return v != NULL && PyUnicode_CheckExact(v) ? v : NULL;
}

/* Copy an ASCII/UTF-8 str into out (cap bytes, NUL-terminated); its
 * length, or -1 when it does not fit or holds a NUL. */
static Py_ssize_t
frozen_copy(PyObject *s, char *out, size_t cap)
{
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (p == NULL) {
        PyErr_Clear();
        return -1;
    }
    if ((size_t)n + 1 > cap || memchr(p, '\0', (size_t)n) != NULL) {
        return -1;
    }
    memcpy(out, p, (size_t)n + 1);
    return n;
}

/* The standard library's folder into out; its length, or -1. */
static Py_ssize_t
frozen_stdlib_dir(char *out, size_t cap)
{
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed, no call */
    PyObject *dir = frozen_module_str(modules, "sys", "_stdlib_dir");
    if (dir != NULL) {
        return frozen_copy(dir, out, cap);
    }
    PyObject *file = frozen_module_str(modules, "os", "__file__");
    Py_ssize_t n = file != NULL ? frozen_copy(file, out, cap) : -1;
    while (n > 0 && out[n - 1] != '/') {
        n--;
    }
    if (n <= 1) {
        return -1;
    }
    out[--n] = '\0';
    return n;
}

/* Whether a frozen module's name is one this maps to a file: letters,
 * digits, underscores, dots between parts. */
static int
frozen_name_ok(const char *name, size_t n)
{
    if (n == 0 || name[0] == '.' || name[n - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' ||
                 (c == '.' && name[i + 1] != '.');
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* Whether a frame of exc's traceback, or of the traceback of an
 * exception in its chain (cause, context), runs code of filename.  The
 * fields are read directly: nothing of the program runs. */
static int
frozen_in_traceback(PyObject *exc, PyObject *filename)
{
    PyObject *seen[64];
    size_t nseen = 0;
    while (exc != NULL && PyExceptionInstance_Check(exc) && nseen < 64) {
        for (size_t i = 0; i < nseen; i++) {
            if (seen[i] == exc) {
                return 0;
            }
        }
        seen[nseen++] = exc;
        PyBaseExceptionObject *e = (PyBaseExceptionObject *)exc;
        PyObject *tb = e->traceback;
        for (int n = 0; tb != NULL && PyTraceBack_Check(tb) && n < 100000;
             n++, tb = (PyObject *)((PyTracebackObject *)tb)->tb_next) {
            PyFrameObject *f = ((PyTracebackObject *)tb)->tb_frame;
            PyCodeObject *co = f != NULL ? PyFrame_GetCode(f) : NULL;
            int same = co != NULL && PyUnicode_CheckExact(co->co_filename) &&
                       PyUnicode_Compare(co->co_filename, filename) == 0;
            Py_XDECREF(co);
            if (same) {
                return 1;
            }
        }
        exc = e->cause != NULL ? e->cause : e->context;
    }
    return 0;
}

/* The file a "<frozen NAME>" code file name was frozen from, into path
 * (cap bytes): 1 when filename is such a name, a frame of the dumped
 * exception's traceback (or of its chain's) runs its code, and the file
 * exists; else 0 (path undefined).  Frozen code that is only reachable
 * (importlib's loaders, from every module's __loader__) costs no source.
 * Only for a dump that may read Python objects (never in a fatal signal
 * handler). */
int
hd_frozen_path(hd_dumper *d, PyObject *exc, PyObject *filename, char *path,
               size_t cap)
{
    if (d->fatal || d->no_alloc || exc == NULL ||
        !PyUnicode_CheckExact(filename)) {
        return 0;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(filename, &len);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    size_t plen = sizeof(FROZEN_PREFIX) - 1;
    if ((size_t)len < plen + 2 || memcmp(s, FROZEN_PREFIX, plen) != 0 ||
        s[len - 1] != '>') {
        return 0;
    }
    const char *name = s + plen;
    size_t n = (size_t)len - plen - 1;
    if (!frozen_name_ok(name, n) || !frozen_in_traceback(exc, filename)) {
        return 0;
    }
    Py_ssize_t at = frozen_stdlib_dir(path, cap);
    static const char *const tails[] = {".py", "/__init__.py"};
    for (size_t t = 0; at > 0 && t < 2; t++) {
        size_t need = (size_t)at + 1 + n + strlen(tails[t]) + 1;
        if (need > cap) {
            return 0;
        }
        char *p = path + at;
        *p++ = '/';
        for (size_t i = 0; i < n; i++) {
            *p++ = name[i] == '.' ? '/' : name[i];
        }
        strcpy(p, tails[t]);
        if (access(path, R_OK) == 0) {
            return 1;
        }
        path[at] = '\0';
    }
    return 0;
}
