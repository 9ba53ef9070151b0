/* signals.c: dumps on a signal, and on a fatal one.
 *
 * Signal dumps (signal_dump_install): the handler only writes the signal
 * number to a pipe (async-signal-safe).  A watcher thread of ours reads it
 * and starts an acquirer thread that takes the GIL and calls the Python
 * callback that dumps.  This works when the main thread is blocked in C
 * with the GIL released and never returns to Python, where a Python-level
 * signal handler would never run.  If the GIL cannot be had within the
 * timeout (some thread holds it for good), the watcher writes a stacks-only
 * dump without it (dump.c, HD_MODE_STACKS) and the late callback is
 * cancelled.  Signals that arrive while a dump runs are coalesced.
 *
 * Fatal signals (fatal_install): SIGSEGV, SIGBUS, SIGFPE, SIGILL and
 * SIGABRT run a best-effort dump in the handler, on an alternate stack
 * (so a stack overflow dumps too), then restore the previous handlers and
 * raise the signal again: the process dies as it would have (same signal,
 * core file, faulthandler's output if it was enabled before).  A second
 * fault while the dump reads an object jumps back to the walk, which
 * abandons that object (walk.c).  A dump that hangs (a lock held by the
 * crashed thread) is cut short by an alarm after fatal_dumps.timeout seconds.
 *
 * The state is grouped, one struct per concern (signal_dumps, fatal_dumps),
 * each field saying what protects it: the install/uninstall functions run
 * with the GIL held; signal_dumps.lock protects what the watcher and the
 * acquirer share; the fatal handler reads fatal_dumps, which is only
 * written while the handlers are not installed.  Each handler's
 * signal-safety contract is written above it.
 */
#include "heapdump.h"
#include "writer/names.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

sigjmp_buf *volatile hd_fault_jmp = NULL;

/* The thread state of the acquirer while it runs the callback: dump()
 * leaves it out of the threads (it is heapdump's, not the program's). */
PyThreadState *volatile hd_signals_tstate = NULL;

#define SIGNALS_MAX 8

static const char *
signals_name(int signum)
{
    switch (signum) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGQUIT: return "SIGQUIT";
    case SIGHUP: return "SIGHUP";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "signal";
    }
}

/* directory/heapdump-<UTC stamp>-<pid>-<tag>.dump, a name not taken yet
 * (names.c builds every dump's name).  Async-signal-safe: time(2),
 * getpid(2) and names.c's access(2) only.  Returns 0, or -1 (too long). */
static int
signals_path(char *out, size_t cap, const char *directory, const char *tag)
{
    return hd_names_dump(out, cap, directory, tag, time(NULL), (long)getpid());
}

/* One line on stderr, with write(2) only. */
static void
signals_say(const char *msg)
{
    (void)!write(2, msg, strlen(msg));
}

/* ---------------------------------------------------------- signal dumps */

typedef struct signals_entry {
    int signum; /* 0: free */
    struct sigaction old;
    PyObject *callback; /* strong */
    char *directory;    /* malloc'd */
    double timeout;
    /* what a stacks-only dump masks in its sources: the redaction names
     * and a Hider (strong, or NULL), set at install */
    hd_redactor redact;
    PyObject *hide;
} signals_entry;

/* The state of the signal dumps, process-wide (signal dispositions are):
 * each field says what protects it. */
static struct {
    /* written by install/uninstall (GIL held) while the watcher runs;
     * read by the watcher: under lock */
    signals_entry entries[SIGNALS_MAX];
    /* the handler writes to pipe[1]; set before the handlers are
     * installed, closed after they are removed */
    int pipe[2];
    /* GIL held (install/uninstall) */
    pthread_t watcher;
    int watcher_running;
    /* set at install (GIL held), read by the watcher after */
    PyInterpreterState *interp;
    /* precomputed META facts and header pairs for stacks-only dumps,
     * strong; replaced with the GIL held and under lock */
    PyObject *facts, *headers;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* with lock: the acquirer's state changed */
    /* under lock: the acquirer, 0 idle, 1 waiting for the GIL, 2 running
     * the callback; whether the watcher gave up on it; its thread ident
     * (0 until it has set it), whose thread state (made while it waits
     * for the GIL) is left out of stacks-only dumps */
    int acquirer_state;
    int cancelled;
    unsigned long acquirer_ident;
} signal_dumps = {
    .pipe = {-1, -1},
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

/* The handler of the signal dumps.  Async-signal-safe: reads
 * signal_dumps.pipe[1] (set before it is installed) and calls write(2)
 * only, errno saved; a full pipe drops the byte (the signal is coalesced
 * with those waiting). */
static void
signals_handler(int signum)
{
    int saved = errno;
    unsigned char b = (unsigned char)signum;
    if (signal_dumps.pipe[1] >= 0) {
        (void)!write(signal_dumps.pipe[1], &b, 1); /* full pipe: coalesced */
    }
    errno = saved;
}

static signals_entry *
signals_find(int signum)
{
    for (int i = 0; i < SIGNALS_MAX; i++) {
        if (signal_dumps.entries[i].signum == signum) {
            return &signal_dumps.entries[i];
        }
    }
    return NULL;
}

/* The acquirer thread: takes the GIL (maybe never), then runs the
 * callback unless the watcher gave up on it. */
static void *
signals_acquire(void *arg)
{
    signals_entry *e = arg;
    /* under the lock: the watcher reads it when it gives up waiting */
    pthread_mutex_lock(&signal_dumps.lock);
    signal_dumps.acquirer_ident = PyThread_get_thread_ident();
    pthread_mutex_unlock(&signal_dumps.lock);
    PyGILState_STATE g = PyGILState_Ensure();
    pthread_mutex_lock(&signal_dumps.lock);
    int cancelled = signal_dumps.cancelled;
    signal_dumps.acquirer_state = 2;
    pthread_cond_broadcast(&signal_dumps.cond);
    pthread_mutex_unlock(&signal_dumps.lock);
    if (!cancelled && e->callback != NULL) {
        hd_signals_tstate = PyThreadState_Get();
        PyObject *r = PyObject_CallNoArgs(e->callback);
        hd_signals_tstate = NULL;
        if (r == NULL) {
            signals_say("heapdump: the signal dump failed:\n");
            PyErr_Print();
        }
        Py_XDECREF(r);
    }
    PyGILState_Release(g);
    pthread_mutex_lock(&signal_dumps.lock);
    signal_dumps.acquirer_state = 0;
    pthread_cond_broadcast(&signal_dumps.cond);
    pthread_mutex_unlock(&signal_dumps.lock);
    return NULL;
}

/* Where the threads are: for each thread state (but the excluded), its
 * address and, for its innermost SIGNALS_WHERE_FRAMES frames, the frame
 * handle, the code and the instruction offset.  Two readings that differ
 * mean that some thread (the one holding the GIL) ran Python code in
 * between.  Read without the GIL, as the stacks-only dump reads: the same
 * reads, no more. */
#define SIGNALS_WHERE_FRAMES 16
#define SIGNALS_WHERE_CAP 1024
typedef struct signals_where {
    size_t n;
    uintptr_t v[SIGNALS_WHERE_CAP];
} signals_where;

static void
signals_where_read(signals_where *w, unsigned long exclude)
{
    w->n = 0;
    int nthreads = 0;
    for (PyThreadState *ts = hd_pyversion_thread_first(signal_dumps.interp);
         ts != NULL && nthreads < 100000; ts = PyThreadState_Next(ts)) {
        nthreads++;
        if (exclude && ts->thread_id == exclude) {
            continue;
        }
        if (w->n + 1 > SIGNALS_WHERE_CAP) {
            return; /* the first threads only */
        }
        w->v[w->n++] = (uintptr_t)ts;
        hd_frame *f = hd_pyversion_thread_frame(ts);
        for (int i = 0; f != NULL && i < SIGNALS_WHERE_FRAMES; i++) {
            hd_frame_info info;
            if (w->n + 3 > SIGNALS_WHERE_CAP) {
                return;
            }
            memset(&info, 0, sizeof(info));
            int ok = hd_pyversion_frame_info(f, &info) == 0;
            w->v[w->n++] = (uintptr_t)f;
            w->v[w->n++] = ok ? (uintptr_t)info.code : 0;
            w->v[w->n++] = ok ? (uintptr_t)(intptr_t)info.lasti : 0;
            f = hd_pyversion_frame_back(f);
        }
    }
}

/* Whether the threads are somewhere else than in *before: read now, and
 * 15 more times over about 60 ms.  A holder that runs Python code moves
 * within microseconds when it runs, but on a loaded machine it may not be
 * scheduled for a few milliseconds; one stuck in C does not move at all.
 * The wait is the watcher's, and only after a stacks-only dump. */
static int
signals_moved(const signals_where *before, unsigned long exclude)
{
    static signals_where now; /* the watcher's only: no lock needed */
    for (int k = 0; k < 16; k++) {
        if (k > 0) {
            struct timespec pause = {0, 4000000};
            nanosleep(&pause, NULL);
        }
        signals_where_read(&now, exclude);
        if (now.n != before->n ||
            memcmp(now.v, before->v, now.n * sizeof(now.v[0])) != 0) {
            return 1;
        }
    }
    return 0;
}

/* Write one stacks-only dump to path; 0 or -1 (said on stderr). */
static int
signals_stacks_write(signals_entry *e, const char *path, const char *extra,
                     unsigned long exclude)
{
    char reason[128];
    hd_request req;
    hd_result res;
    snprintf(reason, sizeof(reason), "signal %s (stacks only)",
             signals_name(e->signum));
    memset(&req, 0, sizeof(req));
    req.path = path;
    req.mode = HD_MODE_STACKS;
    req.interp = signal_dumps.interp;
    req.exclude_ident = exclude;
    req.reason_c = reason;
    req.facts = signal_dumps.facts;
    req.headers = signal_dumps.headers;
    req.extra_headers = extra;
    req.limits.max_objects = req.limits.max_bytes = -1;
    req.limits.max_string = req.limits.max_items = -1;
    req.max_source =
        (Py_ssize_t)hd_format_defaults[HD_SCOPE_FRAMES].max_source;
    req.level = 3;
    req.redact = &e->redact;
    req.hide = hd_hide_of(e->hide);
    if (hd_dump_run(&req, &res) < 0) {
        signals_say("heapdump: the stacks-only dump to ");
        signals_say(path);
        signals_say(" failed: ");
        signals_say(res.error ? res.error : "?");
        signals_say("\n");
        return -1;
    }
    return 0;
}

/* A stacks-only dump, without the GIL, leaving out the thread state of
 * the thread exclude (the acquirer's, 0 if it has made none yet).  The
 * watcher thread calls it, signal_dumps.lock not held.
 *
 * The thread holding the GIL may run while the stacks are read: its
 * frames change, and memory the read follows may be freed (a frame
 * object on 3.9 and 3.10, a code object whose last reference went).
 * faulthandler's dump_traceback_later takes the same risk; here it is
 * narrowed and said: where the threads are is read before the dump and
 * after it (signals_moved).  When they moved, the file is written again
 * (a holder stuck in C had only just left it), and that second file says
 * "Heapdump-Stacks-Torn: maybe", whether or not they moved again: they
 * are known to run.  docs/triggers.rst, "Stacks-only dumps". */
static void
signals_stacks_dump(signals_entry *e, double waited, unsigned long exclude)
{
    static signals_where before; /* the watcher's only: no lock needed */
    char path[4096], extra[768];
    if (signals_path(path, sizeof(path), e->directory, "stacks") < 0) {
        signals_say("heapdump: no name for a stacks-only dump in ");
        signals_say(e->directory);
        signals_say("\n");
        return;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        snprintf(extra, sizeof(extra),
                 "Heapdump-Stacks-Only: the GIL was not released within "
                 "%.1f s; code locations only, read without it\n"
                 "Heapdump-Signal: %s (%d)\n%s",
                 waited, signals_name(e->signum), e->signum,
                 attempt == 0 ? ""
                              : "Heapdump-Stacks-Torn: maybe: the thread "
                                "holding the GIL ran Python code while "
                                "the stacks were read\n");
        signals_where_read(&before, exclude);
        if (signals_stacks_write(e, path, extra, exclude) < 0 ||
            !signals_moved(&before, exclude)) {
            return;
        }
    }
}

static void
signals_dump(int signum)
{
    pthread_mutex_lock(&signal_dumps.lock);
    signals_entry *e = signals_find(signum);
    if (e == NULL) {
        pthread_mutex_unlock(&signal_dumps.lock);
        return;
    }
    if (signal_dumps.acquirer_state == 1) {
        /* the last one is still waiting for the GIL: stacks again */
        unsigned long exclude = signal_dumps.acquirer_ident;
        pthread_mutex_unlock(&signal_dumps.lock);
        signals_stacks_dump(e, 0.0, exclude);
        return;
    }
    if (signal_dumps.acquirer_state == 2) {
        /* a dump is running: this signal is coalesced into it */
        pthread_mutex_unlock(&signal_dumps.lock);
        return;
    }
    signal_dumps.acquirer_state = 1;
    signal_dumps.cancelled = 0;
    signal_dumps.acquirer_ident = 0; /* the new acquirer sets it */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, signals_acquire, e) != 0) {
        signal_dumps.acquirer_state = 0;
        pthread_mutex_unlock(&signal_dumps.lock);
        pthread_attr_destroy(&attr);
        signals_say("heapdump: could not start the signal dump thread\n");
        return;
    }
    pthread_attr_destroy(&attr);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    double t_out = e->timeout > 0 ? e->timeout : 0.001;
    deadline.tv_sec += (time_t)t_out;
    deadline.tv_nsec += (long)((t_out - (double)(time_t)t_out) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int timed_out = 0;
    while (signal_dumps.acquirer_state == 1 && !timed_out) {
        timed_out =
            pthread_cond_timedwait(&signal_dumps.cond, &signal_dumps.lock,
                                   &deadline) == ETIMEDOUT;
    }
    if (signal_dumps.acquirer_state == 1) {
        signal_dumps.cancelled = 1;
        unsigned long exclude = signal_dumps.acquirer_ident;
        pthread_mutex_unlock(&signal_dumps.lock);
        signals_stacks_dump(e, e->timeout, exclude);
        return;
    }
    /* the callback runs: wait for it, so that the next signal finds the
     * dump done (and a burst makes one more dump, not many) */
    while (signal_dumps.acquirer_state == 2) {
        pthread_cond_wait(&signal_dumps.cond, &signal_dumps.lock);
    }
    pthread_mutex_unlock(&signal_dumps.lock);
}

static void *
signals_watch(void *arg)
{
    (void)arg;
    for (;;) {
        unsigned char b;
        ssize_t n = read(signal_dumps.pipe[0], &b, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || b == 0) {
            break; /* uninstalled */
        }
        /* a burst: one dump per signal number */
        int seen[SIGNALS_MAX] = {0}, nseen = 0, stop = 0;
        seen[nseen++] = b;
        struct pollfd p = {signal_dumps.pipe[0], POLLIN, 0};
        while (poll(&p, 1, 0) > 0 && read(signal_dumps.pipe[0], &b, 1) == 1) {
            if (b == 0) {
                stop = 1;
                break;
            }
            int known = 0;
            for (int i = 0; i < nseen; i++) {
                known |= seen[i] == b;
            }
            if (!known && nseen < SIGNALS_MAX) {
                seen[nseen++] = b;
            }
        }
        for (int i = 0; i < nseen && !stop; i++) {
            if (!hd_pyversion_finalizing()) {
                signals_dump(seen[i]);
            }
        }
        if (stop) {
            break;
        }
    }
    return NULL;
}

static int
signals_start_watcher(void)
{
    if (signal_dumps.watcher_running) {
        return 0;
    }
    if (pipe(signal_dumps.pipe) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(signal_dumps.pipe[i], F_SETFD, FD_CLOEXEC);
    }
    fcntl(signal_dumps.pipe[1], F_SETFL, O_NONBLOCK);
    int err = pthread_create(&signal_dumps.watcher, NULL, signals_watch, NULL);
    if (err != 0) {
        close(signal_dumps.pipe[0]);
        close(signal_dumps.pipe[1]);
        signal_dumps.pipe[0] = signal_dumps.pipe[1] = -1;
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    signal_dumps.watcher_running = 1;
    return 0;
}

/* Stop the watcher and wait for it (with the GIL released: it may be
 * waiting for a callback that needs it). */
static void
signals_stop_watcher(void)
{
    if (!signal_dumps.watcher_running) {
        return;
    }
    unsigned char zero = 0;
    int fd = signal_dumps.pipe[1];
    signal_dumps.pipe[1] = -1; /* handlers write nothing from now */
    (void)!write(fd, &zero, 1);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(signal_dumps.watcher, NULL);
    Py_END_ALLOW_THREADS
    close(fd);
    close(signal_dumps.pipe[0]);
    signal_dumps.pipe[0] = -1;
    signal_dumps.watcher_running = 0;
}

/* heapdump's own process facts and header pairs, for dumps written where
 * Python cannot run: computed now, with the GIL. */
static int
signals_facts_and_headers(PyObject **facts, PyObject **headers)
{
    PyObject *mod = PyImport_ImportModule("heapdump");
    PyObject *r =
        mod ? PyObject_CallMethod(mod, "_facts_and_headers", NULL) : NULL;
    Py_XDECREF(mod);
    if (r == NULL) {
        return -1;
    }
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2 ||
        !PyDict_Check(PyTuple_GET_ITEM(r, 0))) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "bad facts");
        return -1;
    }
    *facts = PyDict_Copy(PyTuple_GET_ITEM(r, 0));
    *headers = PySequence_Tuple(PyTuple_GET_ITEM(r, 1));
    Py_DECREF(r);
    if (*facts == NULL || *headers == NULL) {
        Py_CLEAR(*facts);
        Py_CLEAR(*headers);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(signal_dump_install_doc,
             "signal_dump_install($module, signum, callback, directory, "
             "timeout,\n                    options=None, /)\n--\n\n"
             "On signum, call callback() with the GIL from a thread of "
             "heapdump's; if\nthe GIL cannot be had within timeout seconds, "
             "write a stacks-only dump\ninto directory instead, its sources "
             "masked as options say ('redact'\npatterns, a 'hide' Hider).");

static PyObject *
signals_dump_install(PyObject *module, PyObject *args)
{
    int signum;
    PyObject *callback, *dir_bytes = NULL, *options = NULL;
    double timeout;
    hd_redactor redact = {0};
    (void)module;
    if (!PyArg_ParseTuple(args, "iOO&d|O!:signal_dump_install", &signum,
                          &callback, PyUnicode_FSConverter, &dir_bytes,
                          &timeout, &PyDict_Type, &options)) {
        return NULL;
    }
    PyObject *result = NULL;
    PyObject *hide = options ? PyDict_GetItemString(options, "hide") : NULL;
    if (hide != NULL && !hd_hide_check(hide)) {
        PyErr_SetString(PyExc_TypeError, "options['hide'] must be a Hider");
        goto done;
    }
    if (hd_redact_init(&redact, options
                                    ? PyDict_GetItemString(options, "redact")
                                    : NULL) < 0) {
        goto done;
    }
    if (signum <= 0 || signum >= NSIG || signum == SIGKILL ||
        signum == SIGSTOP || signum == SIGSEGV || signum == SIGBUS ||
        signum == SIGFPE || signum == SIGILL) {
        PyErr_Format(PyExc_ValueError, "cannot dump on signal %d", signum);
        goto done;
    }
    if (!PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError, "callback must be callable");
        goto done;
    }
    if (timeout < 0) {
        PyErr_SetString(PyExc_ValueError, "timeout must be >= 0");
        goto done;
    }
    if (signal_dumps.facts == NULL &&
        signals_facts_and_headers(&signal_dumps.facts, &signal_dumps.headers) <
            0) {
        goto done;
    }
    signal_dumps.interp = PyThreadState_Get()->interp;
    if (signals_start_watcher() < 0) {
        goto done;
    }
    pthread_mutex_lock(&signal_dumps.lock);
    signals_entry *e = signals_find(signum);
    int fresh = e == NULL;
    if (fresh) {
        e = signals_find(0);
    }
    if (e == NULL) {
        pthread_mutex_unlock(&signal_dumps.lock);
        PyErr_SetString(PyExc_RuntimeError, "too many signal dumps");
        goto done;
    }
    char *directory = strdup(PyBytes_AS_STRING(dir_bytes));
    if (directory == NULL) {
        pthread_mutex_unlock(&signal_dumps.lock);
        PyErr_NoMemory();
        goto done;
    }
    Py_INCREF(callback);
    Py_XSETREF(e->callback, callback);
    free(e->directory);
    e->directory = directory;
    e->timeout = timeout;
    hd_redact_free(&e->redact);
    e->redact = redact;
    memset(&redact, 0, sizeof(redact)); /* e's now */
    Py_XINCREF(hide == Py_None ? NULL : hide);
    Py_XSETREF(e->hide, hide == Py_None ? NULL : hide);
    if (fresh) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = signals_handler;
        sa.sa_flags = SA_RESTART | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(signum, &sa, &e->old) < 0) {
            pthread_mutex_unlock(&signal_dumps.lock);
            Py_CLEAR(e->callback);
            PyErr_SetFromErrno(PyExc_OSError);
            goto done;
        }
        e->signum = signum;
    }
    pthread_mutex_unlock(&signal_dumps.lock);
    Py_INCREF(Py_None);
    result = Py_None;
done:
    hd_redact_free(&redact);
    Py_XDECREF(dir_bytes);
    return result;
}

PyDoc_STRVAR(signal_dump_uninstall_doc,
             "signal_dump_uninstall($module, signum, /)\n--\n\n"
             "Restore signum's previous disposition.");

static PyObject *
signals_dump_uninstall(PyObject *module, PyObject *args)
{
    int signum;
    (void)module;
    if (!PyArg_ParseTuple(args, "i:signal_dump_uninstall", &signum)) {
        return NULL;
    }
    pthread_mutex_lock(&signal_dumps.lock);
    signals_entry *e = signals_find(signum);
    int left = 0;
    if (e != NULL) {
        sigaction(signum, &e->old, NULL);
        e->signum = 0;
    }
    for (int i = 0; i < SIGNALS_MAX; i++) {
        left += signal_dumps.entries[i].signum != 0;
    }
    pthread_mutex_unlock(&signal_dumps.lock);
    if (e == NULL) {
        Py_RETURN_FALSE;
    }
    if (left == 0) {
        signals_stop_watcher();
    }
    /* the acquirer reads e->callback only with the GIL, which we hold */
    /* e->redact and e->hide stay until the entry is installed again, as
     * e->directory does: a stacks-only dump of e may still be reading
     * them in the watcher thread, without the GIL */
    pthread_mutex_lock(&signal_dumps.lock);
    PyObject *cb = e->callback;
    e->callback = NULL;
    pthread_mutex_unlock(&signal_dumps.lock);
    Py_XDECREF(cb);
    Py_RETURN_TRUE;
}

/* ----------------------------------------------------------- fatal dumps */

static const int fatal_signums[] = {SIGSEGV, SIGFPE, SIGABRT, SIGBUS, SIGILL};
#define FATAL_N (sizeof(fatal_signums) / sizeof(fatal_signums[0]))
/* The state of the fatal dumps.  All but the last two are written by
 * install/uninstall with the GIL held while the handlers are NOT
 * installed, and only read by the handler. */
static struct {
    struct sigaction old[FATAL_N]; /* the handlers ours replaced */
    struct sigaction old_alarm;    /* SIGALRM's, while a dump runs */
    int installed;
    stack_t stack, old_stack; /* the alternate signal stack */
    char *directory;
    /* precomputed (strong): META facts, header pairs, and the Hider (or
     * NULL), built at install so that the handler allocates nothing to
     * hide the same values */
    PyObject *facts, *headers, *hide;
    hd_redactor redact;
    hd_limits limits;
    Py_ssize_t max_source;
    unsigned int timeout; /* seconds, then the alarm gives the dump up */
    /* the handler's own: whether it has been entered, for what signal */
    volatile sig_atomic_t entered;
    volatile sig_atomic_t signum;
} fatal_dumps = {.timeout = 10};

/* Put the previous handlers back (async-signal-safe: sigaction only). */
static void
fatal_restore(void)
{
    for (size_t i = 0; i < FATAL_N; i++) {
        sigaction(fatal_signums[i], &fatal_dumps.old[i], NULL);
    }
}

/* The dump took too long (a lock the crashed thread held): die now.
 * SIGALRM's handler while a fatal dump runs.  Async-signal-safe: write(2)
 * (signals_say), sigaction, raise and _exit only. */
static void
fatal_alarm(int signum)
{
    (void)signum;
    signals_say("heapdump: the crash dump timed out; giving up\n");
    fatal_restore();
    raise(fatal_dumps.signum);
    _exit(128 +
          fatal_dumps.signum); /* only if the previous handler returned */
}

/* The handler of SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT, on the
 * alternate stack.  NOT async-signal-safe, by design: the process is
 * dying, and the dump is best effort (README, "fatal_signals").  It calls
 * what the HD_MODE_FATAL dump calls: no Python code, no Python object
 * made, no lock of Python's taken; malloc/free (a heap the crash damaged
 * can hang: the alarm of fatal_dumps.timeout ends it), open/write/rename
 * through container.c, and siglongjmp back to the walk when a read of an
 * object faults (hd_fault_jmp).  Re-entry gives up (fatal_dumps.entered);
 * errno is saved; the previous handlers are put back and the signal
 * raised again in every case. */
static void
fatal_handler(int signum, siginfo_t *info, void *ucontext)
{
    int saved = errno;
    (void)ucontext;
    if (hd_fault_jmp != NULL) {
        /* a fault while the dump read an object: back to the walk */
        sigjmp_buf *j = hd_fault_jmp;
        hd_fault_jmp = NULL;
        siglongjmp(*j, 1);
    }
    if (fatal_dumps.entered) {
        /* a fault outside the guarded reads: give the dump up */
        fatal_restore();
        errno = saved;
        raise(signum);
        return;
    }
    fatal_dumps.entered = 1;
    fatal_dumps.signum = signum;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fatal_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &fatal_dumps.old_alarm);
    alarm(fatal_dumps.timeout);

    PyThreadState *ts = PyGILState_GetThisThreadState();
    char path[4096], extra[512], reason[128];
    int named = signals_path(path, sizeof(path), fatal_dumps.directory,
                             signals_name(signum));

    snprintf(extra, sizeof(extra),
             "Heapdump-Signal: %s (%d)\n"
             "Heapdump-Signal-Code: %d\n"
             "Heapdump-Fault-Address: %p\n"
             "Heapdump-Fault-Thread: %lu%s\n",
             signals_name(signum), signum, info ? info->si_code : 0,
             info ? info->si_addr : NULL, ts ? ts->thread_id : 0UL,
             ts ? (PyGILState_Check() ? " (holding the GIL)"
                                      : " (not holding the GIL)")
                : " (not a Python thread)");
    snprintf(reason, sizeof(reason), "fatal signal %s", signals_name(signum));
    hd_request req;
    hd_result res;
    memset(&req, 0, sizeof(req));
    req.path = path;
    req.mode = HD_MODE_FATAL;
    req.interp = ts ? ts->interp : PyInterpreterState_Main();
    req.tstate = ts;
    req.reason_c = reason;
    req.facts = fatal_dumps.facts;
    req.headers = fatal_dumps.headers;
    req.extra_headers = extra;
    req.limits = fatal_dumps.limits;
    req.max_source = fatal_dumps.max_source;
    req.level = 1;
    req.redact = &fatal_dumps.redact;
    req.hide = hd_hide_of(fatal_dumps.hide);
    if (named < 0) {
        signals_say("heapdump: the crash dump failed: no name for it in ");
        signals_say(fatal_dumps.directory);
        signals_say("\n");
    }
    else if (hd_dump_run(&req, &res) == 0) {
        signals_say("heapdump: wrote ");
        signals_say(path);
        signals_say("\n");
    }
    else {
        signals_say("heapdump: the crash dump failed: ");
        signals_say(res.error ? res.error : "?");
        signals_say("\n");
    }
    alarm(0);
    sigaction(SIGALRM, &fatal_dumps.old_alarm, NULL);
    /* die as without heapdump: the previous handler, the same signal */
    fatal_restore();
    errno = saved;
    raise(signum);
}

PyDoc_STRVAR(fatal_install_doc,
             "fatal_install($module, directory, headers, facts, options, /)"
             "\n--\n\n"
             "Dump on SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT, then die "
             "as\nwithout heapdump.  headers and facts are precomputed; "
             "options holds the\nlimits, 'redact' patterns, a 'hide' Hider "
             "and 'timeout' (seconds).");

static int
fatal_option(PyObject *options, const char *name, Py_ssize_t *out,
             Py_ssize_t dflt)
{
    PyObject *v = PyDict_GetItemString(options, name);
    if (v == NULL || v == Py_None) {
        *out = v == NULL ? dflt : -1;
        return 0;
    }
    *out = PyLong_AsSsize_t(v);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

static void
fatal_clear(void)
{
    free(fatal_dumps.directory);
    fatal_dumps.directory = NULL;
    Py_CLEAR(fatal_dumps.facts);
    Py_CLEAR(fatal_dumps.headers);
    Py_CLEAR(fatal_dumps.hide);
    hd_redact_free(&fatal_dumps.redact);
}

static PyObject *
fatal_install(PyObject *module, PyObject *args)
{
    PyObject *dir_bytes = NULL, *headers, *facts, *options;
    (void)module;
    if (!PyArg_ParseTuple(args, "O&OO!O!:fatal_install", PyUnicode_FSConverter,
                          &dir_bytes, &headers, &PyDict_Type, &facts,
                          &PyDict_Type, &options)) {
        return NULL;
    }
    PyObject *result = NULL;
    if (fatal_dumps.installed) {
        /* replace the settings: take the handlers away first */
        fatal_restore();
        fatal_dumps.installed = 0;
    }
    fatal_clear();
    Py_ssize_t timeout;
    const hd_default_limits *dflt = &hd_format_defaults[HD_SCOPE_FRAMES];
    if (fatal_option(options, "max_objects", &fatal_dumps.limits.max_objects,
                     dflt->max_objects) < 0 ||
        fatal_option(options, "max_bytes", &fatal_dumps.limits.max_bytes,
                     dflt->max_bytes) < 0 ||
        fatal_option(options, "max_string", &fatal_dumps.limits.max_string,
                     dflt->max_string) < 0 ||
        fatal_option(options, "max_items", &fatal_dumps.limits.max_items,
                     dflt->max_items) < 0 ||
        fatal_option(options, "max_source", &fatal_dumps.max_source,
                     dflt->max_source) < 0 ||
        fatal_option(options, "timeout", &timeout, 10) < 0) {
        goto done;
    }
    fatal_dumps.timeout = timeout > 0 ? (unsigned int)timeout : 10;
    PyObject *redact = PyDict_GetItemString(options, "redact");
    PyObject *hide = PyDict_GetItemString(options, "hide");
    if (hide != NULL && !hd_hide_check(hide)) {
        PyErr_SetString(PyExc_TypeError, "options['hide'] must be a Hider");
        goto done;
    }
    if (hd_redact_init(&fatal_dumps.redact, redact) < 0) {
        goto done;
    }
    if (hide != NULL && hide != Py_None) {
        Py_INCREF(hide);
        fatal_dumps.hide = hide;
    }
    fatal_dumps.headers =
        PySequence_Fast(headers, "headers must be a sequence");
    fatal_dumps.facts = PyDict_Copy(facts);
    fatal_dumps.directory = strdup(PyBytes_AS_STRING(dir_bytes));
    if (fatal_dumps.headers == NULL || fatal_dumps.facts == NULL ||
        fatal_dumps.directory == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        fatal_clear();
        goto done;
    }
    /* an alternate stack, so that a stack overflow can dump too (for the
     * thread that installs; sigaltstack is per thread) */
    if (fatal_dumps.stack.ss_sp == NULL) {
        fatal_dumps.stack.ss_size = 1 << 20;
        fatal_dumps.stack.ss_sp = malloc(fatal_dumps.stack.ss_size);
        fatal_dumps.stack.ss_flags = 0;
        if (fatal_dumps.stack.ss_sp == NULL ||
            sigaltstack(&fatal_dumps.stack, &fatal_dumps.old_stack) < 0) {
            free(fatal_dumps.stack.ss_sp);
            fatal_dumps.stack.ss_sp = NULL;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fatal_handler;
    /* SA_NODEFER: a fault in the handler reaches it (to be recovered) */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < FATAL_N; i++) {
        if (sigaction(fatal_signums[i], &sa, &fatal_dumps.old[i]) < 0) {
            for (size_t j = 0; j < i; j++) {
                sigaction(fatal_signums[j], &fatal_dumps.old[j], NULL);
            }
            PyErr_SetFromErrno(PyExc_OSError);
            fatal_clear();
            goto done;
        }
    }
    fatal_dumps.entered = 0;
    fatal_dumps.installed = 1;
    Py_INCREF(Py_None);
    result = Py_None;
done:
    Py_XDECREF(dir_bytes);
    return result;
}

static PyObject *
fatal_uninstall(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (!fatal_dumps.installed) {
        Py_RETURN_FALSE;
    }
    fatal_restore();
    fatal_dumps.installed = 0;
    fatal_clear();
    Py_RETURN_TRUE;
}

/* ------------------------------------------------------------ the names */

PyDoc_STRVAR(dump_name_doc,
             "dump_name($module, directory, tag=None, when=None, pid=None, "
             "/)\n--\n\n"
             "The name of a dump file, as every dump is named (the signal and "
             "fatal\ndumps too): "
             "heapdump-<UTC stamp>-<pid>[-<tag>][-<n>].dump.\n"
             "tag keeps its ASCII letters, digits and '_' (60 at most); when "
             "is a\ntime.time() (None: now), pid a process id (None: this "
             "one).  With a\ndirectory (not None), the path of a name not "
             "taken yet there (-2, -3,\n... added); with None, the bare "
             "name.");

static PyObject *
signals_dump_name(PyObject *module, PyObject *args)
{
    PyObject *dir_obj = Py_None, *tag_obj = Py_None, *when_obj = Py_None;
    PyObject *pid_obj = Py_None, *dir_bytes = NULL, *tag_bytes = NULL;
    PyObject *result = NULL;
    (void)module;
    if (!PyArg_ParseTuple(args, "O|OOO:dump_name", &dir_obj, &tag_obj,
                          &when_obj, &pid_obj)) {
        return NULL;
    }
    if (dir_obj != Py_None && !PyUnicode_FSConverter(dir_obj, &dir_bytes)) {
        return NULL;
    }
    if (tag_obj != Py_None &&
        (tag_bytes = PyUnicode_AsUTF8String(tag_obj)) == NULL) {
        goto done;
    }
    time_t when = time(NULL);
    if (when_obj != Py_None) {
        double w = PyFloat_AsDouble(when_obj);
        if (w == -1.0 && PyErr_Occurred()) {
            goto done;
        }
        if (!isfinite(w) || fabs(w) > 1e15) {
            PyErr_SetString(PyExc_ValueError, "when out of range");
            goto done;
        }
        when = (time_t)floor(w);
    }
    long pid = (long)getpid();
    if (pid_obj != Py_None && (pid = PyLong_AsLong(pid_obj)) == -1 &&
        PyErr_Occurred()) {
        goto done;
    }
    char path[4096];
    int r;
    Py_BEGIN_ALLOW_THREADS /* access(2) on a slow file system */
    r = hd_names_dump(
        path, sizeof(path), dir_bytes ? PyBytes_AS_STRING(dir_bytes) : NULL,
        tag_bytes ? PyBytes_AS_STRING(tag_bytes) : NULL, when, pid);
    Py_END_ALLOW_THREADS
    if (r < 0) {
        PyErr_Format(PyExc_OSError, "no dump name free in %R", dir_obj);
        goto done;
    }
    result = PyUnicode_DecodeFSDefault(path);
done:
    Py_XDECREF(dir_bytes);
    Py_XDECREF(tag_bytes);
    return result;
}

PyDoc_STRVAR(tmp_name_doc,
             "tmp_name($module, final, pid=None, /)\n--\n\n"
             "The temporary name the writer gives final while process pid "
             "(None:\nthis one) writes it: '<final>.<pid>.tmp'.");

static PyObject *
signals_tmp_name(PyObject *module, PyObject *args)
{
    PyObject *final_bytes = NULL, *pid_obj = Py_None, *result = NULL;
    (void)module;
    if (!PyArg_ParseTuple(args, "O&|O:tmp_name", PyUnicode_FSConverter,
                          &final_bytes, &pid_obj)) {
        return NULL;
    }
    long pid = (long)getpid();
    if (pid_obj != Py_None && (pid = PyLong_AsLong(pid_obj)) == -1 &&
        PyErr_Occurred()) {
        goto done;
    }
    char path[4096];
    if (hd_names_tmp(path, sizeof(path), PyBytes_AS_STRING(final_bytes), pid) <
        0) {
        PyErr_SetString(PyExc_ValueError, "final name too long");
        goto done;
    }
    result = PyUnicode_DecodeFSDefault(path);
done:
    Py_DECREF(final_bytes);
    return result;
}

static PyMethodDef signals_methods[] = {
    {"dump_name", signals_dump_name, METH_VARARGS, dump_name_doc},
    {"tmp_name", signals_tmp_name, METH_VARARGS, tmp_name_doc},
    {"signal_dump_install", signals_dump_install, METH_VARARGS,
     signal_dump_install_doc},
    {"signal_dump_uninstall", signals_dump_uninstall, METH_VARARGS,
     signal_dump_uninstall_doc},
    {"fatal_install", fatal_install, METH_VARARGS, fatal_install_doc},
    {"fatal_uninstall", fatal_uninstall, METH_NOARGS,
     "fatal_uninstall($module, /)\n--\n\nRestore the previous handlers."},
    {NULL, NULL, 0, NULL},
};

int
hd_signals_init_module(PyObject *m)
{
    return PyModule_AddFunctions(m, signals_methods);
}
