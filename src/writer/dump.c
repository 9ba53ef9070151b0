/* dump.c: one dump, stage by stage: the freeze, the header, META, the
 * roots and THREAD records, the walk (walk.c + pack.c), SOURCE records,
 * the TRAILER, the rename (container.c).
 *
 * Three modes (hd_request.mode):
 *
 * HD_MODE_NORMAL  dump() from Python: the caller holds the GIL, which is
 *                 never released; the cyclic GC is off for the duration;
 *                 failures raise a Python exception.
 * HD_MODE_STACKS  a signal dump when the GIL could not be taken: code
 *                 locations of every thread, read as faulthandler reads
 *                 them, racing the thread that holds the GIL; no value is
 *                 walked and no Python object is created.
 * HD_MODE_FATAL   in a fatal signal handler: a best-effort full walk with
 *                 no Python object created; a fault while reading one
 *                 object abandons that object (signals.c jumps back here).
 *
 * In the last two modes nothing raises: failures are returned in
 * hd_result.error.
 */
#include "heapdump.h"
#include "tasks.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One dump at a time per process: set and cleared with the GIL held (or,
 * in the signal modes, by the only thread that dumps). */
static volatile int dump_busy;

int
hd_dump_init(void)
{
    return hd_shims_gc_init();
}

/* Turn the cyclic GC off; returns whether it was on, -1 on error.  Caller
 * holds the GIL (normal mode only). */
static int
dump_gc_off(void)
{
    return hd_shims_gc_disable();
}

static void
dump_gc_restore(int was_on)
{
    if (was_on > 0) {
        hd_shims_gc_enable();
    }
}

/* ------------------------------------------------------------ reading */

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

/* An attribute from an instance's __dict__ (no descriptor runs). */
static PyObject *
dump_instance_attr(PyObject *obj, const char *name)
{
    struct dump_attr a = {name, NULL};
    if (obj != NULL) {
        hd_pyversion_instance_dict(obj, dump_attr_visit, &a);
    }
    return a.value;
}

/* An exact int's value as an unsigned long, without raising. */
static int
dump_ulong(PyObject *v, unsigned long *out)
{
    if (v == NULL || !PyLong_CheckExact(v)) {
        return 0;
    }
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || x < 0) {
        return 0;
    }
    *out = (unsigned long)x;
    return 1;
}

/* threading's Thread object for ident, read from threading._active. */
static PyObject *
dump_thread_object(PyObject *active, unsigned long ident)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    unsigned long id;
    if (active == NULL || !PyDict_Check(active)) {
        return NULL;
    }
    while (PyDict_Next(active, &pos, &k, &v)) {
        if (dump_ulong(k, &id) && id == ident) {
            return v;
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

/* "Type: message" of an exception, from its C layout.  Normal mode. */
static PyObject *
dump_exception_summary(PyObject *exc)
{
    if (exc == NULL) {
        return PyUnicode_FromString("none");
    }
    const char *name = Py_TYPE(exc)->tp_name;
    PyObject *args = ((PyBaseExceptionObject *)exc)->args;
    if (args && PyTuple_CheckExact(args) && PyTuple_GET_SIZE(args) >= 1 &&
        PyUnicode_CheckExact(PyTuple_GET_ITEM(args, 0))) {
        PyObject *m = PyUnicode_Substring(PyTuple_GET_ITEM(args, 0), 0, 400);
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
dump_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Resident bytes, from /proc with open/read (no stdio: signal modes). */
static int64_t
dump_rss(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    char *p = strchr(buf, ' ');
    if (p == NULL) {
        return -1;
    }
    return (int64_t)strtol(p + 1, NULL, 10) * sysconf(_SC_PAGESIZE);
}

/* -------------------------------------------------------------- records */

static void
dump_kv_str(hd_dumper *d, const char *k, const char *v)
{
    hd_encode_cstr(d, k);
    hd_encode_cstr(d, v);
}

static void
dump_kv_int(hd_dumper *d, const char *k, int64_t v)
{
    hd_encode_cstr(d, k);
    msgpack_pack_int64(&d->pk, v);
}

static void
dump_kv_limit(hd_dumper *d, const char *k, Py_ssize_t v)
{
    hd_encode_cstr(d, k);
    if (v < 0) {
        msgpack_pack_nil(&d->pk);
    }
    else {
        msgpack_pack_int64(&d->pk, v);
    }
}

/* META: [64, {facts}] */
static void
dump_meta(hd_dumper *d, const hd_request *req, const char *iso, int64_t ns,
          Py_ssize_t nthreads)
{
    msgpack_pack_array(&d->pk, 2);
    msgpack_pack_uint8(&d->pk, HD_R_META);
    Py_ssize_t n = req->facts ? PyDict_GET_SIZE(req->facts) : 0;
    msgpack_pack_map(&d->pk, (size_t)n + 10);
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (req->facts && PyDict_Next(req->facts, &pos, &k, &v)) {
        hd_encode_plain(d, k, 0);
        hd_encode_plain(d, v, 0);
    }
    dump_kv_str(d, "format", HD_FORMAT_VERSION);
    hd_encode_cstr(d, "reason");
    if (req->reason != NULL) {
        hd_encode_plain(d, req->reason, 0);
    }
    else if (req->reason_c != NULL) {
        hd_encode_cstr(d, req->reason_c);
    }
    else {
        msgpack_pack_nil(&d->pk);
    }
    dump_kv_str(d, "time", iso);
    dump_kv_int(d, "time_ns", ns);
    dump_kv_int(d, "threads", nthreads);
    dump_kv_int(d, "pointer_size", (int64_t)sizeof(void *));
    dump_kv_str(d, "byteorder", PY_LITTLE_ENDIAN ? "little" : "big");
    dump_kv_str(d, "mode",
                req->mode == HD_MODE_NORMAL   ? "normal"
                : req->mode == HD_MODE_STACKS ? "stacks"
                                              : "fatal");
    dump_kv_str(d, "scope", hd_format_scope_name(d->scope));
    hd_encode_cstr(d, "limits");
    msgpack_pack_map(&d->pk, 4);
    dump_kv_limit(d, "max_objects", d->limits.max_objects);
    dump_kv_limit(d, "max_bytes", d->limits.max_bytes);
    dump_kv_limit(d, "max_string", d->limits.max_string);
    dump_kv_limit(d, "max_items", d->limits.max_items);
    d->n_records++;
}

static void
dump_pack_bool(hd_dumper *d, int v)
{
    if (v) {
        msgpack_pack_true(&d->pk);
    }
    else {
        msgpack_pack_false(&d->pk);
    }
}

/* THREAD: [69, ident, native_id, name, is_current, is_main, frame] */
static void
dump_thread_record(hd_dumper *d, PyThreadState *ts, hd_frame *top,
                   PyObject *active, PyObject *main_thread)
{
    /* names and the main thread come from threading's objects: dict reads,
     * skipped in the signal modes where those dicts may be mid-update */
    PyObject *thread = NULL, *main_ident = NULL;
    if (!d->no_alloc) {
        thread = dump_thread_object(active, ts->thread_id);
        main_ident = dump_instance_attr(main_thread, "_ident");
    }
    unsigned long native = hd_pyversion_thread_native_id(ts), v;
    if (native == 0 &&
        dump_ulong(dump_instance_attr(thread, "_native_id"), &v)) {
        native = v;
    }
    PyObject *name = dump_instance_attr(thread, "_name");
    msgpack_pack_array(&d->pk, 7);
    msgpack_pack_uint8(&d->pk, HD_R_THREAD);
    msgpack_pack_uint64(&d->pk, ts->thread_id);
    if (native != 0) {
        msgpack_pack_uint64(&d->pk, native);
    }
    else {
        msgpack_pack_nil(&d->pk);
    }
    if (name && PyUnicode_Check(name)) {
        hd_encode_str(d, name, 1024);
    }
    else {
        msgpack_pack_nil(&d->pk);
    }
    dump_pack_bool(d, ts == d->tstate);
    dump_pack_bool(d, dump_ulong(main_ident, &v) && v == ts->thread_id);
    hd_pack_frame_ref(d, top);
    d->n_records++;
}

/* ROOT: [71, name, v] for the heap scope's named roots: sys.modules,
 * the builtins dict, the sys module.  Queued regardless of the budget. */
static void
dump_heap_root(hd_dumper *d, const char *name, PyObject *obj)
{
    if (obj == NULL) {
        return;
    }
    hd_walk_root(d, obj);
    msgpack_pack_array(&d->pk, 3);
    msgpack_pack_uint8(&d->pk, HD_R_ROOT);
    hd_encode_cstr(d, name);
    hd_walk_value(d, obj);
    d->n_records++;
}

static void
dump_heap_roots(hd_dumper *d)
{
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed, no call */
    dump_heap_root(d, "modules", modules);
    dump_heap_root(d, "builtins", PyEval_GetBuiltins());
    dump_heap_root(d, "sys", hd_frozen_dict_get(modules, "sys"));
}

/* The roots in the order of docs/format.rst ("Order"), and the THREAD
 * records that point at them.  Returns 0, or -1 out of memory. */
static int
dump_roots(hd_dumper *d, const hd_request *req, PyObject *active,
           PyObject *main_thread)
{
    PyObject *exc = req->exc;
    /* 1. the exception: its innermost traceback frame, itself, then the
     * traceback's other frames from the innermost out */
    if (exc != NULL) {
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
    /* then the named roots the caller gave (heapdump.set_context's) */
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    while (req->roots != NULL &&
           PyDict_Next(req->roots, &pos, &name, &value)) {
        if (PyUnicode_Check(name)) {
            hd_walk_named_root(d, name, value);
        }
    }
    /* 2. the calling thread's frames, then 3. the other threads' */
    PyThreadState *me = d->tstate;
    for (int pass = 0; pass < 2; pass++) {
        for (PyThreadState *ts = hd_pyversion_thread_first(req->interp);
             ts != NULL; ts = PyThreadState_Next(ts)) {
            if ((ts == me) != (pass == 0) || ts == req->exclude ||
                (req->exclude_ident && ts->thread_id == req->exclude_ident)) {
                continue;
            }
            hd_frame *f = hd_pyversion_thread_frame(ts);
            for (int i = 0; ts == me && i < req->skip && f != NULL; i++) {
                f = hd_pyversion_frame_back(f);
            }
            hd_frame *top = f;
            for (int depth = 0; f != NULL && depth < 100000; depth++) {
                hd_walk_frame_root(d, f);
                f = hd_pyversion_frame_back(f);
            }
            dump_thread_record(d, ts, top, active, main_thread);
        }
    }
    /* ROOT: [71, "exception", v], then [71, name, v] for the others */
    msgpack_pack_array(&d->pk, 3);
    msgpack_pack_uint8(&d->pk, HD_R_ROOT);
    hd_encode_cstr(d, "exception");
    hd_walk_value(d, exc ? exc : Py_None);
    d->n_records++;
    pos = 0;
    while (req->roots != NULL &&
           PyDict_Next(req->roots, &pos, &name, &value)) {
        if (PyUnicode_Check(name)) {
            msgpack_pack_array(&d->pk, 3);
            msgpack_pack_uint8(&d->pk, HD_R_ROOT);
            hd_encode_str(d, name, 1024);
            hd_walk_write(d, value, hd_walk_named_how(d, name, value));
            d->n_records++;
        }
    }
    if (d->scope == HD_SCOPE_HEAP) {
        dump_heap_roots(d);
    }
    return 0;
}

/* TRAILER: [72, {totals}] */
static void
dump_trailer(hd_dumper *d, Py_ssize_t nthreads, int64_t walk_ns)
{
    msgpack_pack_array(&d->pk, 2);
    msgpack_pack_uint8(&d->pk, HD_R_TRAILER);
    msgpack_pack_map(&d->pk, 15);
    d->n_records++;
    dump_kv_int(d, "objects", (int64_t)d->nqueued);
    dump_kv_int(d, "inline", (int64_t)d->n_inline);
    dump_kv_int(d, "records", (int64_t)d->n_records);
    dump_kv_int(d, "bytes", (int64_t)d->w.raw_bytes);
    dump_kv_int(d, "cuts", (int64_t)d->n_cuts);
    dump_kv_int(d, "omitted", (int64_t)d->n_omitted);
    dump_kv_int(d, "errors", (int64_t)d->n_errors);
    dump_kv_int(d, "redacted", (int64_t)d->n_redacted);
    dump_kv_int(d, "source_redacted", (int64_t)d->n_source_redacted);
    dump_kv_int(d, "threads", nthreads);
    dump_kv_int(d, "frames", (int64_t)d->n_frames);
    dump_kv_int(d, "shallow_bytes", (int64_t)d->shallow_bytes);
    dump_kv_int(d, "unreached", (int64_t)d->n_unreached);
    int64_t rss = dump_rss();
    hd_encode_cstr(d, "rss");
    if (rss < 0) {
        msgpack_pack_nil(&d->pk);
    }
    else {
        msgpack_pack_int64(&d->pk, rss);
    }
    dump_kv_int(d, "walk_ns", walk_ns);
}

/* The MIME header block into b. */
static void
dump_header(struct dump_buf *b, const hd_request *req, PyObject *summary,
            const char *iso, Py_ssize_t nthreads)
{
    b->p[0] = '\0';
    dump_header_cline(b, "MIME-Version", "1.0");
    dump_header_cline(b, "Content-Type",
                      "application/x-heapdump; version=\"" HD_FORMAT_VERSION
                      "\"");
    dump_header_cline(b, "Heapdump-Version", HD_FORMAT_VERSION);
    if (req->reason != NULL) {
        dump_header_line(b, "Heapdump-Reason", req->reason);
    }
    else {
        dump_header_cline(b, "Heapdump-Reason",
                          req->reason_c ? req->reason_c : "dump() called");
    }
    if (summary != NULL) {
        dump_header_line(b, "Heapdump-Exception", summary);
    }
    else {
        dump_header_cline(b, "Heapdump-Exception", "none");
    }
    Py_ssize_t n = req->headers ? PySequence_Fast_GET_SIZE(req->headers) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(req->headers, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(pair, 0)) ||
            !PyUnicode_IS_ASCII(PyTuple_GET_ITEM(pair, 0))) {
            continue;
        }
        dump_header_line(
            b, (const char *)PyUnicode_DATA(PyTuple_GET_ITEM(pair, 0)),
            PyTuple_GET_ITEM(pair, 1));
    }
    if (req->extra_headers != NULL) {
        dump_buf_add(b, req->extra_headers);
    }
    dump_header_cline(b, "Heapdump-Scope", hd_format_scope_name(req->scope));
    dump_header_cline(b, "Heapdump-Time", iso);
    char nbuf[32];
    snprintf(nbuf, sizeof(nbuf), "%zd", nthreads);
    dump_header_cline(b, "Heapdump-Threads", nbuf);
    dump_header_cline(b, "Content-Encoding", "zstd");
    dump_buf_add(b, "\n");
}

/* ----------------------------------------------------------------- run */

static void
dump_fail(hd_result *res, const char *what)
{
    if (res->error == NULL) {
        res->error = what;
    }
}

/* A dumper for req, its file not open yet; NULL out of memory. */
static hd_dumper *
dump_new(const hd_request *req)
{
    hd_dumper *d = calloc(1, sizeof(hd_dumper));
    if (d == NULL) {
        return NULL;
    }
    d->w.fd = -1;
    d->limits = req->limits;
    d->no_alloc = req->mode != HD_MODE_NORMAL;
    d->stacks_only = req->mode == HD_MODE_STACKS;
    d->fatal = req->mode == HD_MODE_FATAL;
    if (req->redact != NULL) {
        d->redact = *req->redact; /* borrowed: not freed here */
    }
    d->hide = hd_hide_active(req->hide) ? req->hide : NULL;
    d->tstate = req->tstate;
    d->scope = req->scope;
    return d;
}

/* The threads the dump writes: the interpreter's, less the excluded. */
static Py_ssize_t
dump_count_threads(const hd_request *req)
{
    Py_ssize_t nthreads = 0;
    for (PyThreadState *ts = hd_pyversion_thread_first(req->interp);
         ts != NULL && nthreads < 100000; ts = PyThreadState_Next(ts)) {
        nthreads +=
            ts != req->exclude &&
            !(req->exclude_ident && ts->thread_id == req->exclude_ident);
    }
    return nthreads;
}

/* The body's stages, in the file's order: META, the roots (THREAD, ROOT)
 * and the walk from them, the heap scope's unreached objects, SOURCE,
 * TRAILER.  Failures are left in d (d->error, d->w.err_what). */
static void
dump_body(hd_dumper *d, const hd_request *req, const char *iso, int64_t now_ns,
          Py_ssize_t nthreads, int64_t t0)
{
    PyObject *active = NULL, *main_thread = NULL;
    if (req->mode == HD_MODE_NORMAL) {
        PyObject *modules = PyImport_GetModuleDict();
        PyObject *threading = hd_frozen_dict_get(modules, "threading");
        PyObject *tdict = threading && PyModule_Check(threading)
                              ? PyModule_GetDict(threading)
                              : NULL;
        active = hd_frozen_dict_get(tdict, "_active");
        main_thread = hd_frozen_dict_get(tdict, "_main_thread");
    }
    dump_meta(d, req, iso, now_ns, nthreads);
    if (dump_roots(d, req, active, main_thread) < 0) {
        d->error = "out of memory";
    }
    hd_tasks_write(d, req->interp);
    hd_pack_run(d);
    if (d->scope == HD_SCOPE_HEAP && !d->no_alloc) {
        hd_unreached_run(d);
    }
    if (d->error != NULL) {
        hd_walk_note_error(d, "the walk stopped: %s", d->error);
    }
    if (!d->stopped) {
        hd_sources_write(d, req->max_source, req->exc);
    }
    dump_trailer(d, nthreads, dump_now_ns() - t0);
}

/* What the dump wrote, into res. */
static void
dump_counts(const hd_dumper *d, hd_result *res, Py_ssize_t nthreads)
{
    res->objects = d->nqueued;
    res->inline_ = d->n_inline;
    res->records = d->n_records;
    res->bytes = d->w.raw_bytes;
    res->cuts = d->n_cuts;
    res->omitted = d->n_omitted;
    res->errors = d->n_errors;
    res->redacted = d->n_redacted;
    res->threads = nthreads;
    res->writer_thread = d->w.threaded;
    res->sources_kept = d->n_sources_kept;
}

int
hd_dump_run(const hd_request *req, hd_result *res)
{
    int normal = req->mode == HD_MODE_NORMAL;
    int rc = -1, gc_was = -1, opened = 0;
    PyObject *summary = NULL;
    char *header = NULL;
    memset(res, 0, sizeof(*res));
    if (dump_busy) {
        if (normal) {
            PyErr_SetString(PyExc_RuntimeError,
                            "a heapdump dump is already running in this "
                            "process");
        }
        dump_fail(res, "a dump is already running");
        return -1;
    }
    dump_busy = 1;
    hd_dumper *d = dump_new(req);
    if (d == NULL) {
        dump_fail(res, "out of memory");
        goto done;
    }
    /* from here the world stands still (normal mode): holding the GIL,
     * which no call below releases.  A free-threaded build would stop the
     * other threads here (_PyEval_StopTheWorld; docs/pythons.rst). */
    if (normal) {
        gc_was = dump_gc_off();
        if (gc_was < 0) {
            goto done;
        }
    }
    int64_t t0 = dump_now_ns();
    if (hd_walk_init(d) < 0) {
        dump_fail(res, "out of memory");
        goto done;
    }
    if (normal) {
        summary = dump_exception_summary(req->exc);
        if (summary != NULL && d->hide != NULL) {
            /* the message may hold a secret the body hides */
            Py_SETREF(summary, hd_hide_mask_text(d->hide, summary));
        }
        if (summary == NULL) {
            goto done;
        }
    }
    Py_ssize_t nthreads = dump_count_threads(req);
    char iso[64];
    int64_t now_ns;
    dump_time(iso, sizeof(iso), &now_ns);
    struct dump_buf hb = {malloc(65536), 0, 65536};
    header = hb.p;
    if (header == NULL) {
        dump_fail(res, "out of memory");
        goto done;
    }
    dump_header(&hb, req, summary, iso, nthreads);

    if (hd_container_open(&d->w, req->path, req->level) < 0) {
        goto done;
    }
    opened = 1;
    hd_container_header(&d->w, hb.p, hb.len);
    if (normal) {
        hd_container_thread(&d->w);
    }
    msgpack_packer_init(&d->pk, &d->w, hd_container_append);

    dump_body(d, req, iso, now_ns, nthreads, t0);
    dump_counts(d, res, nthreads);
    res->walk_ns = dump_now_ns() - t0;
    opened = 0;
    if (hd_container_close(&d->w) < 0) {
        goto done;
    }
    res->file_bytes = d->w.file_bytes;
    rc = 0;

done:
    if (rc < 0 && d != NULL && d->w.err_what != NULL) {
        res->err_no = d->w.err_no;
        dump_fail(res, d->w.err_what);
        if (normal && !PyErr_Occurred()) {
            PyObject *name = PyUnicode_DecodeFSDefault(req->path);
            hd_container_raise(&d->w, name);
            Py_XDECREF(name);
        }
    }
    if (rc < 0 && normal && !PyErr_Occurred()) {
        PyErr_Format(PyExc_MemoryError, "heapdump: %s",
                     res->error ? res->error : "the dump failed");
    }
    if (d != NULL) {
        if (opened) {
            hd_container_abort(&d->w);
        }
        hd_walk_free(d);
        free(d);
    }
    free(header);
    if (gc_was >= 0) {
        dump_gc_restore(gc_was);
    }
    Py_XDECREF(summary);
    dump_busy = 0;
    return rc;
}
