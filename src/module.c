/* module.c: heapdump._heapdump: module init and the Python-facing dump()
 * (argument checking; the dump itself is dump.c's). */
#include "heapdump.h"

#include <stdlib.h>
#include <string.h>

static int
dump_limit(PyObject *o, Py_ssize_t *out, const char *name)
{
    if (o == NULL || o == Py_None) {
        *out = -1;
        return 0;
    }
    Py_ssize_t v = PyLong_AsSsize_t(o);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0 or None, not %zd",
                     name, v);
        return -1;
    }
    *out = v;
    return 0;
}

/* The dict of totals dump() returns (the docstring's). */
static PyObject *
dump_totals(const hd_result *res)
{
    return Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:n,s:L,s:O,s:K}", "objects",
        (unsigned long long)res->objects, "inline",
        (unsigned long long)res->inline_, "records",
        (unsigned long long)res->records, "bytes",
        (unsigned long long)res->bytes, "file_bytes",
        (unsigned long long)res->file_bytes, "cuts",
        (unsigned long long)res->cuts, "omitted",
        (unsigned long long)res->omitted, "errors",
        (unsigned long long)res->errors, "redacted",
        (unsigned long long)res->redacted, "threads", res->threads, "walk_ns",
        (long long)res->walk_ns, "writer_thread",
        res->writer_thread ? Py_True : Py_False, "sources_kept",
        (unsigned long long)res->sources_kept);
}

PyDoc_STRVAR(
    dump_doc,
    "dump($module, /, path, *, exc=None, reason=None, facts=None,\n"
    "     headers=(), skip=0, max_objects=None, max_bytes=None,\n"
    "     max_string=None, max_items=None, max_source=None, level=3,\n"
    "     redact=None, hide=None, roots=None, scope='frames')\n"
    "--\n\n"
    "Write the state of every thread to path (docs/format.rst) and return\n"
    "a dict of totals.  heapdump.dump() is the public entry; this is the\n"
    "freeze: no Python code runs between the first root and the rename.\n"
    "skip: innermost frames of the calling thread to leave out (the\n"
    "wrapper's).  headers: (name, value) pairs for the MIME header.\n"
    "redact: name patterns whose values are written as REDACTED (and the\n"
    "secret literals of the sources masked); hide: a Hider, what is hidden\n"
    "by value wherever it is met.  roots: more\n"
    "named roots (a dict), walked right after the exception.  scope:\n"
    "'frames', or 'heap' for every module, builtins, sys and every\n"
    "GC-tracked object besides (docs/format.rst, Scope).");

static PyObject *
dump_dump(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {
        "path",       "exc",         "reason",    "facts",      "headers",
        "skip",       "max_objects", "max_bytes", "max_string", "max_items",
        "max_source", "level",       "redact",    "hide",       "roots",
        "scope",      NULL};
    PyObject *path_bytes = NULL, *exc = Py_None, *reason = Py_None;
    PyObject *facts = Py_None, *headers = NULL;
    PyObject *o_objects = Py_None, *o_bytes = Py_None, *o_string = Py_None;
    PyObject *o_items = Py_None, *o_source = Py_None;
    PyObject *redact = Py_None, *hide = Py_None, *roots = Py_None;
    int skip = 0, level = 3;
    const char *scope = "frames";
    (void)module;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "O&|$OOOOiOOOOOiOOOs:dump", kwlist,
            PyUnicode_FSConverter, &path_bytes, &exc, &reason, &facts,
            &headers, &skip, &o_objects, &o_bytes, &o_string, &o_items,
            &o_source, &level, &redact, &hide, &roots, &scope)) {
        return NULL;
    }
    PyObject *result = NULL, *headers_seq = NULL;
    hd_redactor redactor = {0};
    hd_request req;
    hd_result res;
    memset(&req, 0, sizeof(req));
    if (exc != Py_None && !PyExceptionInstance_Check(exc)) {
        PyErr_Format(PyExc_TypeError,
                     "exc must be an exception instance or None, not %.100s",
                     Py_TYPE(exc)->tp_name);
        goto done;
    }
    if (reason != Py_None && !PyUnicode_Check(reason)) {
        PyErr_SetString(PyExc_TypeError, "reason must be a str or None");
        goto done;
    }
    if (strcmp(scope, "frames") == 0) {
        req.scope = HD_SCOPE_FRAMES;
    }
    else if (strcmp(scope, "heap") == 0) {
        req.scope = HD_SCOPE_HEAP;
    }
    else {
        PyErr_Format(PyExc_ValueError,
                     "scope must be 'frames' or 'heap', not '%.50s'", scope);
        goto done;
    }
    if (roots != Py_None && !PyDict_CheckExact(roots)) {
        PyErr_SetString(PyExc_TypeError, "roots must be a dict or None");
        goto done;
    }
    if (facts != Py_None && !PyDict_CheckExact(facts)) {
        PyErr_SetString(PyExc_TypeError, "facts must be a dict or None");
        goto done;
    }
    if (!hd_hide_check(hide)) {
        PyErr_SetString(PyExc_TypeError, "hide must be a Hider or None");
        goto done;
    }
    if (PySys_Audit("heapdump.dump", "O", path_bytes) < 0) {
        goto done;
    }
    if (dump_limit(o_objects, &req.limits.max_objects, "max_objects") < 0 ||
        dump_limit(o_bytes, &req.limits.max_bytes, "max_bytes") < 0 ||
        dump_limit(o_string, &req.limits.max_string, "max_string") < 0 ||
        dump_limit(o_items, &req.limits.max_items, "max_items") < 0 ||
        dump_limit(o_source, &req.max_source, "max_source") < 0) {
        goto done;
    }
    headers_seq = headers && headers != Py_None
                      ? PySequence_Fast(headers, "headers must be a "
                                                 "sequence of pairs")
                      : PyTuple_New(0);
    if (headers_seq == NULL) {
        goto done;
    }
    if (hd_redact_init(&redactor, redact) < 0) {
        goto done;
    }
    req.path = PyBytes_AS_STRING(path_bytes);
    req.mode = HD_MODE_NORMAL;
    req.tstate = PyThreadState_Get();
    req.interp = req.tstate->interp;
    if (req.tstate == hd_signals_tstate) {
        /* heapdump's signal-dump thread: not one of the program's */
        req.exclude = req.tstate;
        req.tstate = NULL;
    }
    req.skip = skip;
    req.exc = exc == Py_None ? NULL : exc;
    req.roots = roots == Py_None ? NULL : roots;
    req.reason = reason == Py_None ? NULL : reason;
    req.facts = facts == Py_None ? NULL : facts;
    req.headers = headers_seq;
    req.level = level;
    req.redact = &redactor;
    req.hide = hd_hide_of(hide);
    if (hd_dump_run(&req, &res) < 0) {
        goto done;
    }
    result = dump_totals(&res);

done:
    hd_redact_free(&redactor);
    Py_XDECREF(headers_seq);
    Py_XDECREF(path_bytes);
    return result;
}

/* _layout(): [(name, built, running)] of the offsets checked at import. */
static PyObject *
module_layout(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(args))
{
    const char *name;
    uint64_t built, running;
    Py_ssize_t n = hd_pyversion_layout_field(-1, &name, &built, &running);
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        hd_pyversion_layout_field(i, &name, &built, &running);
        PyObject *t = Py_BuildValue("(sKK)", name, (unsigned long long)built,
                                    (unsigned long long)running);
        if (t == NULL || PyList_Append(out, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(t);
    }
    return out;
}

static PyMethodDef dump_methods[] = {
    {"dump", (PyCFunction)(void (*)(void))dump_dump,
     METH_VARARGS | METH_KEYWORDS, dump_doc},
    {"_layout", module_layout, METH_NOARGS,
     "_layout($module, /)\n--\n\n"
     "[(name, built, running)]: the offsets of CPython's structures this\n"
     "extension was compiled with, and the running interpreter's\n"
     "(_Py_DebugOffsets, 3.13+).  Checked at import."},
    {NULL, NULL, 0, NULL},
};

/* The import fails when the extension was built against other CPython
 * headers than the running interpreter's: every read of a frame would be
 * at the wrong place. */
static int
module_check_layout(void)
{
    const char *name;
    uint64_t built, running;
    Py_ssize_t n = hd_pyversion_layout_field(-1, &name, &built, &running);
    if (n < 0) {
        PyErr_SetString(PyExc_ImportError,
                        "heapdump cannot find this interpreter's debug "
                        "offsets (_PyRuntime.debug_offsets): it was built "
                        "against other CPython headers");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        hd_pyversion_layout_field(i, &name, &built, &running);
        if (built != running) {
            PyErr_Format(PyExc_ImportError,
                         "heapdump was built against other CPython headers "
                         "than this interpreter's (%s is at %llu, not %llu): "
                         "rebuild it for this Python",
                         name, (unsigned long long)running,
                         (unsigned long long)built);
            return -1;
        }
    }
    return 0;
}

int
hd_dump_init_module(PyObject *m)
{
    if (hd_kinds_init() < 0 || hd_dump_init() < 0) {
        return -1;
    }
    return PyModule_AddFunctions(m, dump_methods);
}

static int
module_exec(PyObject *m)
{
    if (hd_pyversion_gil_disabled()) {
        /* docs/pythons.rst, "Free-threaded builds": what a dump there needs
         * first (a stop-the-world in dump.c) */
        PyErr_SetString(PyExc_ImportError,
                        "heapdump does not support free-threaded CPython "
                        "builds (3.13t, 3.14t): a dump must stop every "
                        "thread, which it can do only by holding the GIL");
        return -1;
    }
    if (module_check_layout() < 0) {
        return -1;
    }
    if (hd_constants_init_module(m) < 0 || hd_dump_init_module(m) < 0 ||
        hd_signals_init_module(m) < 0 || hd_load_init_module(m) < 0 ||
        hd_frames_init_module(m) < 0 || hd_hide_init_module(m) < 0 ||
        hd_redact_init_module(m) < 0 || hd_srcmask_init_module(m) < 0 ||
        hd_graph_init_module(m) < 0) {
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "heapdump._heapdump",
    .m_doc = "The C core of heapdump: the dumper and the loader.",
    .m_size = 0,
    .m_slots = module_slots,
};

PyMODINIT_FUNC
PyInit__heapdump(void)
{
    return PyModuleDef_Init(&module_def);
}
