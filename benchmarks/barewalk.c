/* barewalk.c: the benchmarks' own C helper, benchmarks._barewalk (built by
 * benchmarks/build_barewalk.py, never part of heapdump).
 *
 * walk(roots) is the floor a dump's pause is measured against: the objects
 * heapdump would write, visited breadth first with an identity table of
 * the same design as heapdump's (src/walk.c: a queue of pointers in id
 * order, an open-addressing table of 8-byte slots holding id + 1 and a
 * hash tag, grown at 70%), and nothing written.  What it visits follows
 * heapdump's rules where they decide what gets an id: None, True and False
 * get none; an exact str, bytes, int or float with one reference is
 * counted as inline (heapdump writes it in place); dict keys and values,
 * list, tuple, set and frozenset items are read from the containers
 * (tp_traverse skips a dict's str keys on 3.12+); anything else is read
 * through tp_traverse, as gc.get_referents sees it (an instance's type and
 * attribute values, without its keys: heapdump writes those once per
 * layout).  A type is visited as one object and not looked into, so that
 * the walk stays inside the heap it is given (a class's dict reaches its
 * module and the interpreter).
 *
 * callgrind(what[, name]) drives callgrind's client requests (no-ops
 * outside valgrind) so that an instruction count covers the measured call
 * alone: "start" and "stop" instrumentation, "zero", "dump" (the counts so
 * far into a file of their own, named name), "toggle" collection.
 *
 * compress(data, level, workers, threaded, fd) replays the compression of
 * a dump's body as src/container.c does it (128 KiB of input per
 * ZSTD_compressStream2 call, the level's own strategy, the
 * checksum on), with ZSTD_c_nbWorkers workers, or (threaded) with the
 * compression and the write(2) on a thread of its own fed through a ring
 * of 128 KiB buffers: what the calling thread (the one that would hold the
 * GIL) spends, for the profile of issue 14.  The calling thread can spin
 * before each chunk for as long as the walk takes to make one, so that the
 * workers race a producer of the real pace.
 *
 * Contract: walk() holds the GIL, creates no Python object and runs no
 * Python code until it has finished (the results are built after);
 * compress() releases the GIL while it compresses, holding a buffer view of
 * data.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BARE_CALLGRIND 1
#endif
#endif

#define BARE_TABLE_MIN 4096
#define BARE_IN_CAP (1 << 17)
#define BARE_RING 4

static int64_t
bare_now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ the walk */

typedef struct bare_walk {
    void **queue;
    size_t n, cap;
    uint64_t *table;
    size_t mask;
    uint64_t inline_; /* scalars with one reference: no id */
    uint64_t edges;   /* references followed */
    uint64_t probes;  /* table slots looked at */
    uint64_t table_grows;
    int oom;
} bare_walk;

static inline uint64_t
bare_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static int
bare_grow(bare_walk *w)
{
    size_t n = (w->mask + 1) * 2;
    uint64_t *t = calloc(n, sizeof(uint64_t));
    if (t == NULL) {
        w->oom = 1;
        return -1;
    }
    free(w->table);
    w->table = t;
    w->mask = n - 1;
    w->table_grows++;
    for (size_t id = 0; id < w->n; id++) {
        uint64_t h = bare_hash(w->queue[id]);
        size_t i = (size_t)h & w->mask;
        while (t[i] != 0) {
            i = (i + 1) & w->mask;
        }
        t[i] = ((h >> 32) << 32) | (uint64_t)(id + 1);
    }
    return 0;
}

/* Give obj an id unless it has one (the lookup and the insertion of
 * heapdump's hd_walk_id and walk_add, in one probe sequence). */
static void
bare_see(bare_walk *w, PyObject *obj)
{
    if (obj == NULL || obj == Py_None || obj == Py_True || obj == Py_False ||
        w->oom) {
        return;
    }
    w->edges++;
    if (Py_REFCNT(obj) == 1) {
        PyTypeObject *tp = Py_TYPE(obj);
        if (tp == &PyUnicode_Type || tp == &PyBytes_Type ||
            tp == &PyLong_Type || tp == &PyFloat_Type) {
            w->inline_++;
            return;
        }
    }
    uint64_t h = bare_hash(obj);
    uint64_t tag = h >> 32;
    size_t i = (size_t)h & w->mask;
    for (;; i = (i + 1) & w->mask) {
        uint64_t s = w->table[i];
        w->probes++;
        if (s == 0) {
            break;
        }
        if ((s >> 32) == tag && w->queue[(s & 0xffffffffu) - 1] == obj) {
            return;
        }
    }
    if (w->n == w->cap) {
        size_t cap = w->cap * 2;
        void **q = realloc(w->queue, cap * sizeof(void *));
        if (q == NULL) {
            w->oom = 1;
            return;
        }
        w->queue = q;
        w->cap = cap;
    }
    if ((w->n + 1) * 10 > (w->mask + 1) * 7) {
        if (bare_grow(w) < 0) {
            return;
        }
        i = (size_t)h & w->mask;
        while (w->table[i] != 0) {
            i = (i + 1) & w->mask;
        }
    }
    w->queue[w->n] = obj;
    w->table[i] = (tag << 32) | (uint64_t)(w->n + 1);
    w->n++;
}

static int
bare_visit(PyObject *obj, void *arg)
{
    bare_see((bare_walk *)arg, obj);
    return 0;
}

/* The references of obj, as heapdump's record of it would name them. */
static void
bare_children(bare_walk *w, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (PyType_Check(obj) || tp == &PyUnicode_Type || tp == &PyBytes_Type ||
        tp == &PyLong_Type || tp == &PyFloat_Type) {
        return;
    }
    if (PyDict_Check(obj)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            bare_see(w, k);
            bare_see(w, v);
        }
        return;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        Py_ssize_t n =
            PyList_Check(obj) ? PyList_GET_SIZE(obj) : PyTuple_GET_SIZE(obj);
        PyObject **items = PyList_Check(obj) ? ((PyListObject *)obj)->ob_item
                                             : ((PyTupleObject *)obj)->ob_item;
        for (Py_ssize_t i = 0; i < n; i++) {
            bare_see(w, items[i]);
        }
        return;
    }
    traverseproc traverse = tp->tp_traverse;
    if (traverse != NULL) {
        traverse(obj, bare_visit, w);
    }
}

PyDoc_STRVAR(bare_walk_doc,
             "walk(roots, /)\n--\n\n"
             "Visit what the objects of the sequence roots reach, breadth\n"
             "first, with an identity table like heapdump's, writing\n"
             "nothing.  Returns a dict: objects (ids given), inline (one-\n"
             "reference scalars, no id), edges, probes, table_grows,\n"
             "table_bytes and queue_bytes at the end, ns (the walk's time).");

static PyObject *
bare_walk_py(PyObject *Py_UNUSED(m), PyObject *roots)
{
    PyObject *seq = PySequence_Fast(roots, "walk() wants a sequence");
    if (seq == NULL) {
        return NULL;
    }
    bare_walk w = {0};
    w.cap = BARE_TABLE_MIN;
    w.queue = malloc(w.cap * sizeof(void *));
    w.table = calloc(BARE_TABLE_MIN, sizeof(uint64_t));
    w.mask = BARE_TABLE_MIN - 1;
    if (w.queue == NULL || w.table == NULL) {
        free(w.queue);
        free(w.table);
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    int64_t t0 = bare_now_ns(CLOCK_MONOTONIC);
    Py_ssize_t nroots = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < nroots; i++) {
        bare_see(&w, PySequence_Fast_GET_ITEM(seq, i));
    }
    /* w.n grows while the queue is read: breadth first */
    for (size_t next = 0; next < w.n && !w.oom; next++) {
        bare_children(&w, (PyObject *)w.queue[next]);
    }
    int64_t ns = bare_now_ns(CLOCK_MONOTONIC) - t0;
    size_t table_bytes = (w.mask + 1) * sizeof(uint64_t);
    size_t queue_bytes = w.cap * sizeof(void *);
    free(w.queue);
    free(w.table);
    Py_DECREF(seq);
    if (w.oom) {
        return PyErr_NoMemory();
    }
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:n,s:n,s:L}", "objects",
                         (unsigned long long)w.n, "inline",
                         (unsigned long long)w.inline_, "edges",
                         (unsigned long long)w.edges, "probes",
                         (unsigned long long)w.probes, "table_grows",
                         (unsigned long long)w.table_grows, "table_bytes",
                         (Py_ssize_t)table_bytes, "queue_bytes",
                         (Py_ssize_t)queue_bytes, "ns", (long long)ns);
}

/* ------------------------------------------------------------ callgrind */

PyDoc_STRVAR(bare_callgrind_doc,
             "callgrind(what, name=None, /)\n--\n\n"
             "A callgrind client request: 'start', 'stop' (instrumentation),\n"
             "'zero', 'dump' (the counts so far, into a file named name),\n"
             "'toggle' (collection).  Returns whether it ran under\n"
             "valgrind (False: the request did nothing).");

static PyObject *
bare_callgrind_py(PyObject *Py_UNUSED(m), PyObject *args)
{
    const char *what, *name = NULL;
    if (!PyArg_ParseTuple(args, "s|z:callgrind", &what, &name)) {
        return NULL;
    }
#ifdef BARE_CALLGRIND
    if (strcmp(what, "start") == 0) {
        CALLGRIND_START_INSTRUMENTATION;
    }
    else if (strcmp(what, "stop") == 0) {
        CALLGRIND_STOP_INSTRUMENTATION;
    }
    else if (strcmp(what, "zero") == 0) {
        CALLGRIND_ZERO_STATS;
    }
    else if (strcmp(what, "dump") == 0) {
        CALLGRIND_DUMP_STATS_AT(name ? name : "dump");
    }
    else if (strcmp(what, "toggle") == 0) {
        CALLGRIND_TOGGLE_COLLECT;
    }
    else {
        PyErr_Format(PyExc_ValueError, "unknown callgrind request %s", what);
        return NULL;
    }
    return PyBool_FromLong(RUNNING_ON_VALGRIND);
#else
    (void)what;
    (void)name;
    Py_RETURN_FALSE;
#endif
}

/* ------------------------------------------------------------ compress */

typedef struct bare_zstd {
    ZSTD_CCtx *cctx;
    char *out;
    size_t out_cap;
    int fd;
    uint64_t out_bytes;
    const char *error;
} bare_zstd;

static void
bare_zstd_write(bare_zstd *z, const char *p, size_t n)
{
    while (z->fd >= 0 && n > 0) {
        ssize_t k = write(z->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            z->error = "write";
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

/* container.c's container_compress: one chunk with the end directive. */
static void
bare_zstd_chunk(bare_zstd *z, const char *p, size_t n, ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {z->out, z->out_cap, 0};
        size_t left = ZSTD_compressStream2(z->cctx, &out, &in, end);
        if (ZSTD_isError(left)) {
            z->error = ZSTD_getErrorName(left);
            return;
        }
        z->out_bytes += out.pos;
        bare_zstd_write(z, z->out, out.pos);
        if (end == ZSTD_e_continue ? in.pos == in.size : left == 0) {
            return;
        }
    }
}

/* The writer thread's ring: the producer copies 128 KiB chunks into free
 * buffers, the writer compresses and writes them in order. */
typedef struct bare_ring {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *buf[BARE_RING];
    size_t len[BARE_RING];
    size_t head, tail; /* produced, consumed (counts) */
    int done;
    bare_zstd *z;
    int64_t writer_cpu_ns;
} bare_ring;

static void *
bare_writer(void *arg)
{
    bare_ring *r = arg;
    int64_t c0 = bare_now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (;;) {
        pthread_mutex_lock(&r->lock);
        while (r->tail == r->head && !r->done) {
            pthread_cond_wait(&r->cond, &r->lock);
        }
        if (r->tail == r->head && r->done) {
            pthread_mutex_unlock(&r->lock);
            break;
        }
        size_t slot = r->tail % BARE_RING;
        pthread_mutex_unlock(&r->lock);
        bare_zstd_chunk(r->z, r->buf[slot], r->len[slot], ZSTD_e_continue);
        pthread_mutex_lock(&r->lock);
        r->tail++;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
    }
    bare_zstd_chunk(r->z, "", 0, ZSTD_e_end);
    r->writer_cpu_ns = bare_now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

/* Spin for ns of this thread's CPU time: the walk that would have made
 * the next chunk of records. */
static void
bare_spin(int64_t ns)
{
    if (ns <= 0) {
        return;
    }
    int64_t until = bare_now_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
    while (bare_now_ns(CLOCK_THREAD_CPUTIME_ID) < until) {
    }
}

/* Feed data through the ring from this thread, spin_ns of work before
 * each chunk; returns the nanoseconds this thread waited for a free
 * buffer. */
static int64_t
bare_ring_feed(bare_ring *r, const char *p, size_t n, int64_t spin_ns)
{
    int64_t waited = 0;
    for (size_t off = 0; off < n; off += BARE_IN_CAP) {
        size_t take = n - off < BARE_IN_CAP ? n - off : BARE_IN_CAP;
        bare_spin(spin_ns);
        pthread_mutex_lock(&r->lock);
        if (r->head - r->tail == BARE_RING) {
            int64_t w0 = bare_now_ns(CLOCK_MONOTONIC);
            while (r->head - r->tail == BARE_RING) {
                pthread_cond_wait(&r->cond, &r->lock);
            }
            waited += bare_now_ns(CLOCK_MONOTONIC) - w0;
        }
        size_t slot = r->head % BARE_RING;
        pthread_mutex_unlock(&r->lock);
        memcpy(r->buf[slot], p + off, take);
        r->len[slot] = take;
        pthread_mutex_lock(&r->lock);
        r->head++;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
    }
    return waited;
}

PyDoc_STRVAR(
    bare_compress_doc,
    "compress(data, level, workers, threaded, fd, spin_ns=0, /)\n--\n\n"
    "Compress the bytes-like data as heapdump's container.c does (128 KiB\n"
    "per call, the level's own strategy, checksum), with workers zstd\n"
    "worker threads (ZSTD_c_nbWorkers), or threaded: on a writer thread of\n"
    "its own fed through a ring of 4 buffers.  The output goes to fd (-1:\n"
    "nowhere).  Before each chunk the calling thread spins for spin_ns of\n"
    "its CPU time, standing for the walk that makes the chunk.  Returns a "
    "dict: caller_cpu_ns and caller_wall_ns (the\n"
    "calling thread until its last chunk is handed over), wall_ns (until\n"
    "the stream is ended and written), waited_ns (threaded: waiting for a\n"
    "free buffer), writer_cpu_ns, out_bytes, workers (as zstd took it).");

static PyObject *
bare_compress_py(PyObject *Py_UNUSED(m), PyObject *args)
{
    Py_buffer data;
    int level, workers, threaded, fd;
    long long spin_ns = 0;
    if (!PyArg_ParseTuple(args, "y*iipi|L:compress", &data, &level, &workers,
                          &threaded, &fd, &spin_ns)) {
        return NULL;
    }
    bare_zstd z = {0};
    z.fd = fd;
    z.cctx = ZSTD_createCCtx();
    z.out_cap = ZSTD_CStreamOutSize();
    z.out = malloc(z.out_cap);
    bare_ring r;
    memset(&r, 0, sizeof(r));
    int have_ring = 0;
    if (z.cctx == NULL || z.out == NULL) {
        goto oom;
    }
    ZSTD_CCtx_setParameter(z.cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(z.cctx, ZSTD_c_checksumFlag, 1);
    size_t wrc = ZSTD_CCtx_setParameter(z.cctx, ZSTD_c_nbWorkers, workers);
    int took = 0;
    ZSTD_CCtx_getParameter(z.cctx, ZSTD_c_nbWorkers, &took);
    if (ZSTD_isError(wrc)) {
        took = -1;
    }
    int64_t caller_cpu, caller_wall, wall, waited = 0;
    const char *p = data.buf;
    size_t n = (size_t)data.len;
    Py_BEGIN_ALLOW_THREADS;
    int64_t t0 = bare_now_ns(CLOCK_MONOTONIC);
    int64_t c0 = bare_now_ns(CLOCK_THREAD_CPUTIME_ID);
    if (threaded) {
        pthread_t th;
        pthread_mutex_init(&r.lock, NULL);
        pthread_cond_init(&r.cond, NULL);
        r.z = &z;
        for (int i = 0; i < BARE_RING; i++) {
            r.buf[i] = malloc(BARE_IN_CAP);
            if (r.buf[i] == NULL) {
                z.error = "out of memory";
            }
        }
        have_ring = 1;
        if (z.error == NULL && pthread_create(&th, NULL, bare_writer, &r)) {
            z.error = "pthread_create";
        }
        if (z.error == NULL) {
            waited = bare_ring_feed(&r, p, n, spin_ns);
            pthread_mutex_lock(&r.lock);
            r.done = 1;
            pthread_cond_broadcast(&r.cond);
            pthread_mutex_unlock(&r.lock);
            caller_cpu = bare_now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
            caller_wall = bare_now_ns(CLOCK_MONOTONIC) - t0;
            pthread_join(th, NULL);
        }
        else {
            caller_cpu = caller_wall = 0;
        }
    }
    else {
        for (size_t off = 0; off < n && z.error == NULL; off += BARE_IN_CAP) {
            size_t take = n - off < BARE_IN_CAP ? n - off : BARE_IN_CAP;
            bare_spin(spin_ns);
            bare_zstd_chunk(&z, p + off, take, ZSTD_e_continue);
        }
        /* with workers, the calling thread hands its last chunk over
         * here; ending the stream waits for the workers */
        caller_cpu = bare_now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        caller_wall = bare_now_ns(CLOCK_MONOTONIC) - t0;
        if (z.error == NULL) {
            bare_zstd_chunk(&z, "", 0, ZSTD_e_end);
        }
    }
    wall = bare_now_ns(CLOCK_MONOTONIC) - t0;
    Py_END_ALLOW_THREADS;
    for (int i = 0; have_ring && i < BARE_RING; i++) {
        free(r.buf[i]);
    }
    if (have_ring) {
        pthread_mutex_destroy(&r.lock);
        pthread_cond_destroy(&r.cond);
    }
    PyBuffer_Release(&data);
    ZSTD_freeCCtx(z.cctx);
    free(z.out);
    if (z.error != NULL) {
        PyErr_Format(PyExc_OSError, "compress: %s", z.error);
        return NULL;
    }
    return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L,s:K,s:i}", "caller_cpu_ns",
                         (long long)caller_cpu, "caller_wall_ns",
                         (long long)caller_wall, "wall_ns", (long long)wall,
                         "waited_ns", (long long)waited, "writer_cpu_ns",
                         (long long)r.writer_cpu_ns, "out_bytes",
                         (unsigned long long)z.out_bytes, "workers", took);
oom:
    PyBuffer_Release(&data);
    ZSTD_freeCCtx(z.cctx);
    free(z.out);
    return PyErr_NoMemory();
}

/* -------------------------------------------------------------- module */

static PyMethodDef bare_methods[] = {
    {"walk", bare_walk_py, METH_O, bare_walk_doc},
    {"callgrind", bare_callgrind_py, METH_VARARGS, bare_callgrind_doc},
    {"compress", bare_compress_py, METH_VARARGS, bare_compress_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef bare_module = {
    PyModuleDef_HEAD_INIT,
    "_barewalk",
    "The benchmarks' bare walk, callgrind requests and zstd replay.",
    -1,
    bare_methods,
};

PyMODINIT_FUNC
PyInit__barewalk(void)
{
    return PyModule_Create(&bare_module);
}
