/* module.c: heapdump._heapdump: init and the dump() entry point.
 *
 * dump() is the freeze: from its first root to the end of the file it holds
 * the GIL, never releases it (the file is written with write(2)), runs no
 * Python code and keeps the cyclic GC off, so the other threads stand still
 * and no finalizer runs.  The stages, in order: header, META, roots,
 * THREAD records, the walk (walk.c + pack.c), SOURCE records, TRAILER,
 * rename (container.c).
 */
#include "heapdump.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One dump at a time per process: protected by the GIL (set and cleared
 * with it held). */
static int dump_busy;

/* gc.disable / gc.enable / gc.isenabled on 3.9, which has no PyGC_Disable;
 * looked up at init so that dump() never imports. */
#if PY_VERSION_HEX < 0x030A0000
static PyObject *gc_disable, *gc_enable, *gc_isenabled;
#endif

/* Turn the cyclic GC off; returns whether it was on, -1 on error. */
static int
dump_gc_off(void)
{
#if PY_VERSION_HEX >= 0x030A0000
    return PyGC_Disable();
#else
    PyObject *r = PyObject_CallNoArgs(gc_isenabled);
    if (r == NULL) {
        return -1;
    }
    int was = PyObject_IsTrue(r);
    Py_DECREF(r);
    r = PyObject_CallNoArgs(gc_disable);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return was;
#endif
}

static void
dump_gc_restore(int was_on)
{
    if (was_on <= 0) {
        return;
    }
#if PY_VERSION_HEX >= 0x030A0000
    PyGC_Enable();
#else
    /* keep the dump's own exception, if any, across the call */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *r = PyObject_CallNoArgs(gc_enable);
    if (r == NULL) {
        PyErr_WriteUnraisable(NULL);
    }
    Py_XDECREF(r);
    PyErr_Restore(type, value, tb);
#endif
}

/* The value under an exact-str key of a dict, found by scanning (no
 * __eq__ of a stored key can run), or NULL. */
static PyObject *
dump_dict_get(PyObject *dict, const char *name)
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

/* An attribute from an instance's __dict__ (no descriptor runs). */
struct dump_attr {
    const char *name;
    PyObject *value;
};

static int
dump_attr_visit(PyObject *key, PyObject *value, void *arg)
{
    struct dump_attr *a = arg;
    if (a->value == NULL && PyUnicode_CheckExact(key) &&
        PyUnicode_CompareWithASCIIString(key, a->name) == 0) {
        a->value = value;
    }
    return 0;
}

static PyObject *
dump_instance_attr(PyObject *obj, const char *name)
{
    struct dump_attr a = {name, NULL};
    if (obj != NULL) {
        hd_pyversion_instance_dict(obj, dump_attr_visit, &a);
    }
    return a.value;
}

/* threading's Thread object for ident, read from threading._active. */
static PyObject *
dump_thread_object(PyObject *active, unsigned long ident)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    if (active == NULL || !PyDict_Check(active)) {
        return NULL;
    }
    while (PyDict_Next(active, &pos, &k, &v)) {
        if (PyLong_CheckExact(k)) {
            unsigned long id = PyLong_AsUnsignedLong(k);
            if (id == (unsigned long)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                continue;
            }
            if (id == ident) {
                return v;
            }
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ header */

struct dump_buf {
    char *p;
    size_t len, cap;
};

static void
dump_buf_add(struct dump_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 < b->cap) {
        memcpy(b->p + b->len, s, n + 1);
        b->len += n;
    }
}

static void
dump_header_line(struct dump_buf *b, const char *name, PyObject *value)
{
    dump_buf_add(b, name);
    dump_buf_add(b, ": ");
    if (value != NULL) {
        b->len = hd_container_escape(b->p, b->cap, b->len, value, 400);
    }
    dump_buf_add(b, "\n");
}

static void
dump_header_cline(struct dump_buf *b, const char *name, const char *value)
{
    dump_buf_add(b, name);
    dump_buf_add(b, ": ");
    dump_buf_add(b, value);
    dump_buf_add(b, "\n");
}

/* "Type: message" of an exception, from its C layout. */
static PyObject *
dump_exception_summary(PyObject *exc)
{
    if (exc == NULL || exc == Py_None) {
        return PyUnicode_FromString("none");
    }
    PyTypeObject *tp = Py_TYPE(exc);
    const char *name = tp->tp_name;
    PyObject *args = ((PyBaseExceptionObject *)exc)->args;
    PyObject *msg = NULL;
    if (args && PyTuple_CheckExact(args) && PyTuple_GET_SIZE(args) >= 1 &&
        PyUnicode_CheckExact(PyTuple_GET_ITEM(args, 0))) {
        msg = PyTuple_GET_ITEM(args, 0);
    }
    if (msg != NULL) {
        PyObject *m = PyUnicode_Substring(msg, 0, 400);
        if (m == NULL) {
            return NULL;
        }
        PyObject *r = PyUnicode_FromFormat("%s: %U", name, m);
        Py_DECREF(m);
        return r;
    }
    return PyUnicode_FromString(name);
}

static void
dump_time(char *iso, size_t cap, int64_t *ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(iso, cap, "%s.%06ldZ", base, (long)(ts.tv_nsec / 1000));
}

static int64_t
dump_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size, resident;
    int64_t rss = -1;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &size, &resident) == 2) {
            rss = (int64_t)resident * sysconf(_SC_PAGESIZE);
        }
        fclose(f);
    }
    return rss;
}

/* -------------------------------------------------------------- records */

static void
dump_pack_kv_str(hd_dumper *d, const char *k, const char *v)
{
    hd_pack_cstr(d, k);
    hd_pack_cstr(d, v);
}

static void
dump_pack_kv_int(hd_dumper *d, const char *k, int64_t v)
{
    hd_pack_cstr(d, k);
    msgpack_pack_int64(&d->pk, v);
}

static void
dump_pack_limit(hd_dumper *d, const char *k, Py_ssize_t v)
{
    hd_pack_cstr(d, k);
    if (v < 0) {
        msgpack_pack_nil(&d->pk);
    }
    else {
        msgpack_pack_int64(&d->pk, v);
    }
}

/* META: [64, {facts}] */
static void
dump_meta(hd_dumper *d, PyObject *facts, PyObject *reason, const char *iso,
          int64_t ns, Py_ssize_t nthreads)
{
    msgpack_pack_array(&d->pk, 2);
    msgpack_pack_uint8(&d->pk, HD_R_META);
    Py_ssize_t n = facts ? PyDict_GET_SIZE(facts) : 0;
    msgpack_pack_map(&d->pk, (size_t)n + 8);
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (facts && PyDict_Next(facts, &pos, &k, &v)) {
        hd_pack_plain(d, k, 0);
        hd_pack_plain(d, v, 0);
    }
    dump_pack_kv_str(d, "format", HD_FORMAT_VERSION);
    hd_pack_cstr(d, "reason");
    hd_pack_plain(d, reason, 0);
    dump_pack_kv_str(d, "time", iso);
    dump_pack_kv_int(d, "time_ns", ns);
    dump_pack_kv_int(d, "threads", nthreads);
    dump_pack_kv_int(d, "pointer_size", (int64_t)sizeof(void *));
    dump_pack_kv_str(d, "byteorder", PY_LITTLE_ENDIAN ? "little" : "big");
    hd_pack_cstr(d, "limits");
    msgpack_pack_map(&d->pk, 4);
    dump_pack_limit(d, "max_objects", d->limits.max_objects);
    dump_pack_limit(d, "max_bytes", d->limits.max_bytes);
    dump_pack_limit(d, "max_string", d->limits.max_string);
    dump_pack_limit(d, "max_items", d->limits.max_items);
    d->n_records++;
}

/* The roots in the order of docs/format.rst ("Order"), and the THREAD
 * records that point at them. */
static int
dump_roots(hd_dumper *d, PyObject *exc, int skip, PyObject *active,
           PyObject *main_thread)
{
    /* 1. the exception: its innermost traceback frame, itself, then the
     * traceback's other frames from the innermost out */
    if (exc != NULL && exc != Py_None) {
        PyObject *tb = ((PyBaseExceptionObject *)exc)->traceback;
        size_t n = 0, cap = 0;
        PyObject **frames = NULL;
        for (; tb != NULL && PyTraceBack_Check(tb) && n < 100000;
             tb = (PyObject *)((PyTracebackObject *)tb)->tb_next) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                PyObject **f = realloc(frames, cap * sizeof(PyObject *));
                if (f == NULL) {
                    free(frames);
                    PyErr_NoMemory();
                    return -1;
                }
                frames = f;
            }
            frames[n++] = (PyObject *)((PyTracebackObject *)tb)->tb_frame;
        }
        if (n > 0 && frames[n - 1] != NULL) {
            hd_walk_root(d, frames[n - 1]);
        }
        hd_walk_root(d, exc);
        for (size_t i = n; i-- > 0;) {
            if (frames[i] != NULL) {
                hd_walk_root(d, frames[i]);
            }
        }
        free(frames);
    }
    /* 2. the calling thread's frames, then 3. the other threads' */
    PyThreadState *me = d->tstate;
    for (int pass = 0; pass < 2; pass++) {
        for (PyThreadState *ts = hd_pyversion_thread_first(me); ts != NULL;
             ts = PyThreadState_Next(ts)) {
            if ((ts == me) != (pass == 0)) {
                continue;
            }
            hd_frame *f = hd_pyversion_thread_frame(ts);
            for (int i = 0; ts == me && i < skip && f != NULL; i++) {
                f = hd_pyversion_frame_back(f);
            }
            hd_frame *top = f;
            for (; f != NULL; f = hd_pyversion_frame_back(f)) {
                hd_walk_frame_root(d, f);
            }
            /* THREAD: [69, ident, native_id, name, is_current, is_main,
             * frame] */
            PyObject *thread = dump_thread_object(active, ts->thread_id);
            unsigned long native = hd_pyversion_thread_native_id(ts);
            PyObject *native_obj = dump_instance_attr(thread, "_native_id");
            PyObject *name = dump_instance_attr(thread, "_name");
            PyObject *main_ident = dump_instance_attr(main_thread, "_ident");
            int is_main = 0;
            if (main_ident && PyLong_CheckExact(main_ident)) {
                is_main = PyLong_AsUnsignedLong(main_ident) == ts->thread_id;
                if (PyErr_Occurred()) {
                    PyErr_Clear();
                }
            }
            msgpack_pack_array(&d->pk, 7);
            msgpack_pack_uint8(&d->pk, HD_R_THREAD);
            msgpack_pack_uint64(&d->pk, ts->thread_id);
            if (native != 0) {
                msgpack_pack_uint64(&d->pk, native);
            }
            else if (native_obj && PyLong_CheckExact(native_obj) &&
                     (native = PyLong_AsUnsignedLong(native_obj)) !=
                         (unsigned long)-1) {
                msgpack_pack_uint64(&d->pk, native);
            }
            else {
                PyErr_Clear();
                msgpack_pack_nil(&d->pk);
            }
            if (name && PyUnicode_Check(name)) {
                hd_pack_str(d, name, 1024);
            }
            else {
                msgpack_pack_nil(&d->pk);
            }
            if (ts == me) {
                msgpack_pack_true(&d->pk);
            }
            else {
                msgpack_pack_false(&d->pk);
            }
            if (is_main) {
                msgpack_pack_true(&d->pk);
            }
            else {
                msgpack_pack_false(&d->pk);
            }
            hd_pack_frame_ref(d, top);
            d->n_records++;
        }
    }
    /* ROOT: [71, "exception", v] */
    msgpack_pack_array(&d->pk, 3);
    msgpack_pack_uint8(&d->pk, HD_R_ROOT);
    hd_pack_cstr(d, "exception");
    hd_walk_value(d, exc ? exc : Py_None);
    d->n_records++;
    return 0;
}

/* TRAILER: [72, {totals}] */
static void
dump_trailer(hd_dumper *d, Py_ssize_t nthreads, int64_t walk_ns)
{
    msgpack_pack_array(&d->pk, 2);
    msgpack_pack_uint8(&d->pk, HD_R_TRAILER);
    msgpack_pack_map(&d->pk, 12);
    d->n_records++;
    dump_pack_kv_int(d, "objects", (int64_t)d->nqueued);
    dump_pack_kv_int(d, "inline", (int64_t)d->n_inline);
    dump_pack_kv_int(d, "records", (int64_t)d->n_records);
    dump_pack_kv_int(d, "bytes", (int64_t)d->w.raw_bytes);
    dump_pack_kv_int(d, "cuts", (int64_t)d->n_cuts);
    dump_pack_kv_int(d, "omitted", (int64_t)d->n_omitted);
    dump_pack_kv_int(d, "errors", (int64_t)d->n_errors);
    dump_pack_kv_int(d, "redacted", (int64_t)d->n_redacted);
    dump_pack_kv_int(d, "threads", nthreads);
    dump_pack_kv_int(d, "frames", (int64_t)d->n_frames);
    int64_t rss = dump_rss();
    hd_pack_cstr(d, "rss");
    if (rss < 0) {
        msgpack_pack_nil(&d->pk);
    }
    else {
        msgpack_pack_int64(&d->pk, rss);
    }
    dump_pack_kv_int(d, "walk_ns", walk_ns);
}

/* ------------------------------------------------------------ dump() */

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

static int64_t
dump_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

PyDoc_STRVAR(
    dump_doc,
    "dump($module, /, path, *, exc=None, reason=None, facts=None,\n"
    "     headers=(), skip=0, max_objects=None, max_bytes=None,\n"
    "     max_string=None, max_items=None, max_source=None, level=3,\n"
    "     redact=None, hidden=())\n"
    "--\n\n"
    "Write the state of every thread to path (docs/format.rst) and return\n"
    "a dict of totals.  heapdump.dump() is the public entry; this is the\n"
    "freeze: no Python code runs between the first root and the rename.\n"
    "skip: innermost frames of the calling thread to leave out (the\n"
    "wrapper's).  headers: (name, value) pairs for the MIME header.\n"
    "redact: name patterns whose values are written as REDACTED; hidden:\n"
    "objects written as REDACTED wherever they are met.");

static PyObject *
dump_dump(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {
        "path",       "exc",         "reason",    "facts",      "headers",
        "skip",       "max_objects", "max_bytes", "max_string", "max_items",
        "max_source", "level",       "redact",    "hidden",     NULL};
    PyObject *path_bytes = NULL, *exc = Py_None, *reason = Py_None;
    PyObject *facts = Py_None, *headers = NULL;
    PyObject *o_objects = Py_None, *o_bytes = Py_None, *o_string = Py_None;
    PyObject *o_items = Py_None, *o_source = Py_None;
    PyObject *redact = Py_None, *hidden = NULL, *hidden_seq = NULL;
    int skip = 0, level = 3;
    (void)module;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "O&|$OOOOiOOOOOiOO:dump", kwlist,
            PyUnicode_FSConverter, &path_bytes, &exc, &reason, &facts,
            &headers, &skip, &o_objects, &o_bytes, &o_string, &o_items,
            &o_source, &level, &redact, &hidden)) {
        return NULL;
    }
    PyObject *result = NULL, *summary = NULL, *headers_seq = NULL;
    hd_dumper *d = NULL;
    int gc_was = -1, opened = 0;
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
    if (facts != Py_None && !PyDict_CheckExact(facts)) {
        PyErr_SetString(PyExc_TypeError, "facts must be a dict or None");
        goto done;
    }
    if (hd_pyversion_gil_disabled()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "heapdump cannot dump a free-threaded interpreter: "
                        "it has no way yet to stop the world");
        goto done;
    }
    if (PySys_Audit("heapdump.dump", "O", path_bytes) < 0) {
        goto done;
    }
    if (dump_busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "heapdump.dump() is already running in this process");
        goto done;
    }
    headers_seq = headers ? PySequence_Fast(headers, "headers must be a "
                                                     "sequence of pairs")
                          : PyTuple_New(0);
    if (headers_seq == NULL) {
        goto done;
    }
    d = calloc(1, sizeof(hd_dumper));
    if (d == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    d->w.fd = -1;
    if (dump_limit(o_objects, &d->limits.max_objects, "max_objects") < 0 ||
        dump_limit(o_bytes, &d->limits.max_bytes, "max_bytes") < 0 ||
        dump_limit(o_string, &d->limits.max_string, "max_string") < 0 ||
        dump_limit(o_items, &d->limits.max_items, "max_items") < 0) {
        goto done;
    }
    Py_ssize_t max_source;
    if (dump_limit(o_source, &max_source, "max_source") < 0) {
        goto done;
    }
    if (hd_redact_init(&d->redact, redact) < 0) {
        goto done;
    }
    hidden_seq = hidden ? PySequence_Fast(hidden, "hidden must be a sequence")
                        : PyTuple_New(0);
    if (hidden_seq == NULL) {
        goto done;
    }
    d->hidden = PySequence_Fast_ITEMS(hidden_seq);
    d->nhidden = (size_t)PySequence_Fast_GET_SIZE(hidden_seq);
    /* everything that may allocate Python objects or fail is done; from
     * here the world stands still */
    dump_busy = 1;
    gc_was = dump_gc_off();
    if (gc_was < 0) {
        goto done;
    }
    int64_t t0 = dump_now_ns();
    d->tstate = PyThreadState_Get();
    if (hd_walk_init(d) < 0) {
        goto done;
    }
    summary = dump_exception_summary(exc == Py_None ? NULL : exc);
    if (summary == NULL) {
        goto done;
    }
    Py_ssize_t nthreads = 0;
    for (PyThreadState *ts = hd_pyversion_thread_first(d->tstate); ts != NULL;
         ts = PyThreadState_Next(ts)) {
        nthreads++;
    }
    char iso[64];
    int64_t now_ns;
    dump_time(iso, sizeof(iso), &now_ns);

    /* the MIME header block */
    struct dump_buf hb = {malloc(65536), 0, 65536};
    if (hb.p == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    hb.p[0] = '\0';
    dump_header_cline(&hb, "MIME-Version", "1.0");
    dump_header_cline(&hb, "Content-Type",
                      "application/x-heapdump; version=\"" HD_FORMAT_VERSION
                      "\"");
    dump_header_cline(&hb, "Heapdump-Version", HD_FORMAT_VERSION);
    if (reason != Py_None) {
        dump_header_line(&hb, "Heapdump-Reason", reason);
    }
    else {
        dump_header_cline(&hb, "Heapdump-Reason", "dump() called");
    }
    dump_header_line(&hb, "Heapdump-Exception", summary);
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(headers_seq); i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(headers_seq, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(pair, 0))) {
            continue;
        }
        const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(pair, 0));
        if (name == NULL) {
            PyErr_Clear();
            continue;
        }
        dump_header_line(&hb, name, PyTuple_GET_ITEM(pair, 1));
    }
    dump_header_cline(&hb, "Heapdump-Time", iso);
    char nbuf[32];
    snprintf(nbuf, sizeof(nbuf), "%zd", nthreads);
    dump_header_cline(&hb, "Heapdump-Threads", nbuf);
    dump_header_cline(&hb, "Content-Encoding", "zstd");
    dump_buf_add(&hb, "\n");

    if (hd_container_open(&d->w, PyBytes_AS_STRING(path_bytes), level) < 0) {
        free(hb.p);
        goto done;
    }
    opened = 1;
    hd_container_header(&d->w, hb.p, hb.len);
    free(hb.p);
    msgpack_packer_init(&d->pk, &d->w, hd_container_append);

    PyObject *modules = PyImport_GetModuleDict();
    PyObject *threading = dump_dict_get(modules, "threading");
    PyObject *tdict = threading && PyModule_Check(threading)
                          ? PyModule_GetDict(threading)
                          : NULL;
    PyObject *active = dump_dict_get(tdict, "_active");
    PyObject *main_thread = dump_dict_get(tdict, "_main_thread");

    dump_meta(d, facts == Py_None ? NULL : facts, reason, iso, now_ns,
              nthreads);
    if (dump_roots(d, exc == Py_None ? NULL : exc, skip, active, main_thread) <
        0) {
        goto done;
    }
    hd_walk_run(d);
    if (d->error != NULL) {
        hd_walk_note_error(d, "the walk stopped: %s", d->error);
    }
    hd_pack_sources(d, max_source);
    int64_t walk_ns = dump_now_ns() - t0;
    dump_trailer(d, nthreads, walk_ns);
    if (d->error != NULL && strcmp(d->error, "out of memory") == 0 &&
        d->nqueued == 0) {
        PyErr_NoMemory();
        goto done;
    }
    opened = 0;
    if (hd_container_close(&d->w) < 0) {
        goto done;
    }
    result = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:n,s:L}",
                           "objects", (unsigned long long)d->nqueued, "inline",
                           (unsigned long long)d->n_inline, "records",
                           (unsigned long long)d->n_records, "bytes",
                           (unsigned long long)d->w.raw_bytes, "file_bytes",
                           (unsigned long long)d->w.file_bytes, "cuts",
                           (unsigned long long)d->n_cuts, "omitted",
                           (unsigned long long)d->n_omitted, "errors",
                           (unsigned long long)d->n_errors, "threads",
                           nthreads, "walk_ns", (long long)walk_ns);

done:
    if (d != NULL) {
        if (opened) {
            hd_container_abort(&d->w);
        }
        hd_walk_free(d);
        hd_redact_free(&d->redact);
        free(d);
    }
    if (gc_was >= 0) {
        dump_gc_restore(gc_was);
    }
    dump_busy = 0;
    Py_XDECREF(summary);
    Py_XDECREF(headers_seq);
    Py_XDECREF(hidden_seq);
    Py_XDECREF(path_bytes);
    return result;
}

static PyMethodDef dump_methods[] = {
    {"dump", (PyCFunction)(void (*)(void))dump_dump,
     METH_VARARGS | METH_KEYWORDS, dump_doc},
    {NULL, NULL, 0, NULL},
};

int
hd_dump_init_module(PyObject *m)
{
    if (hd_pack_init() < 0) {
        return -1;
    }
#if PY_VERSION_HEX < 0x030A0000
    if (gc_disable == NULL) {
        PyObject *gc = PyImport_ImportModule("gc");
        if (gc == NULL) {
            return -1;
        }
        gc_disable = PyObject_GetAttrString(gc, "disable");
        gc_enable = PyObject_GetAttrString(gc, "enable");
        gc_isenabled = PyObject_GetAttrString(gc, "isenabled");
        Py_DECREF(gc);
        if (!gc_disable || !gc_enable || !gc_isenabled) {
            return -1;
        }
    }
#endif
    return PyModule_AddFunctions(m, dump_methods);
}

static int
module_exec(PyObject *m)
{
    if (PyModule_AddStringConstant(m, "FORMAT_VERSION", HD_FORMAT_VERSION) <
        0) {
        return -1;
    }
    if (hd_dump_init_module(m) < 0 || hd_load_init_module(m) < 0 ||
        hd_frames_init_module(m) < 0) {
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
