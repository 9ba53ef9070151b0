/* wthread.c: the body compressed and written off the walk's thread.
 *
 * A normal-mode dump hands each full input buffer (container.c's 128 KiB
 * of msgpack) to a writer thread, which runs zstd on it and write(2)s
 * what comes out while the walk packs the next one.  A buffer may instead
 * hold bytes already compressed (the sources' kept zstd frames,
 * sources.c), which the thread writes as they are, in their turn.  The
 * buffers make a ring of WTHREAD_BUFS: the walk waits only when every one
 * of them is still being compressed, so memory stays fixed.  The writer thread
 * touches no Python object and never takes the GIL: it reads its buffers
 * and the zstd context, and writes the file descriptor.  The dump's thread
 * keeps the GIL throughout (the world stands still, as without the
 * thread); it waits on a condition variable only, which runs no Python
 * code.
 *
 * The signal modes start no thread (a fatal signal handler must not):
 * without hd_wthread_start, container.c compresses inline as before.
 *
 * Ownership while the thread runs: the thread alone uses w->cctx, w->out,
 * w->fd, and its own copy of the writer's counters and error (tw); the
 * dump's thread alone uses w->in, w->in_len, w->raw_bytes, w->err_*.  The
 * ring (jobs, free buffers, the thread's failure) is protected by mu.
 * hd_wthread_finish joins the thread and hands everything back to w.
 */
#include "heapdump.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#define WTHREAD_BUFS 4

typedef struct wthread_job {
    char *buf;
    size_t len;
    int how;  /* enum hd_zhow: compress, compress and end the frame, or
                 write as is */
    int last; /* the body's last: the thread ends after it */
} wthread_job;

typedef struct hd_wthread hd_wthread;

struct hd_wthread {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t job_ready, buf_free;
    wthread_job jobs[WTHREAD_BUFS]; /* a FIFO of the full buffers */
    size_t job_head, njobs;
    char *free_bufs[WTHREAD_BUFS]; /* the empty ones */
    size_t nfree;
    char *bufs[WTHREAD_BUFS]; /* every buffer, to free */
    int stop;                 /* no more jobs will come */
    int failed;               /* tw failed: err below */
    const char *err_what;
    int err_no;
    hd_writer tw; /* the thread's writer: fd, cctx, out, counters */
    hd_wthread_compress compress; /* container.c's, run on tw */
};

/* The writer thread: each job compressed and written, in order, until
 * the last one or stop.  Touches no Python object. */
static void *
wthread_main(void *arg)
{
    hd_wthread *t = arg;
    for (;;) {
        pthread_mutex_lock(&t->mu);
        while (t->njobs == 0 && !t->stop) {
            pthread_cond_wait(&t->job_ready, &t->mu);
        }
        if (t->njobs == 0) {
            pthread_mutex_unlock(&t->mu);
            break;
        }
        wthread_job job = t->jobs[t->job_head];
        int failed = t->failed;
        pthread_mutex_unlock(&t->mu);

        if (!failed) {
            t->tw.in = job.buf;
            t->tw.in_len = job.len;
            t->compress(&t->tw, job.how);
            t->tw.in = NULL;
        }

        pthread_mutex_lock(&t->mu);
        if (t->tw.err_what != NULL && !t->failed) {
            t->failed = 1;
            t->err_what = t->tw.err_what;
            t->err_no = t->tw.err_no;
        }
        t->job_head = (t->job_head + 1) % WTHREAD_BUFS;
        t->njobs--;
        t->free_bufs[t->nfree++] = job.buf;
        pthread_cond_signal(&t->buf_free);
        pthread_mutex_unlock(&t->mu);
        if (job.last) {
            break;
        }
    }
    return NULL;
}

static void
wthread_free(hd_wthread *t)
{
    for (size_t i = 0; i < WTHREAD_BUFS; i++) {
        free(t->bufs[i]);
    }
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->job_ready);
    pthread_cond_destroy(&t->buf_free);
    free(t);
}

int
hd_wthread_start(hd_writer *w, hd_wthread_compress compress)
{
    if (w->err_what != NULL || w->wt != NULL) {
        return -1;
    }
    hd_wthread *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return -1;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->job_ready, NULL);
    pthread_cond_init(&t->buf_free, NULL);
    /* w->in stays the dump's first buffer; the others start free */
    for (size_t i = 0; i + 1 < WTHREAD_BUFS; i++) {
        t->bufs[i] = malloc(w->in_cap);
        if (t->bufs[i] == NULL) {
            wthread_free(t);
            return -1;
        }
        t->free_bufs[t->nfree++] = t->bufs[i];
    }
    t->compress = compress;
    t->tw = *w; /* fd, cctx, out; counters from zero */
    t->tw.in = NULL;
    t->tw.in_len = 0;
    t->tw.file_bytes = 0;
    t->tw.flushes = 0;
    t->tw.tmp_path = t->tw.final_path = NULL;
    /* asynchronous signals go to the program's threads, not this one
     * (faults stay deliverable: blocked, they would kill silently) */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&t->tid, NULL, wthread_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        wthread_free(t);
        return -1; /* the dump compresses inline */
    }
    /* w->in is the dump's own buffer; it joins the ring when handed over
     * and comes back as one of the free ones */
    t->bufs[WTHREAD_BUFS - 1] = w->in;
    w->wt = t;
    return 0;
}

int
hd_wthread_submit(hd_writer *w, int how, int last)
{
    hd_wthread *t = w->wt;
    pthread_mutex_lock(&t->mu);
    if (t->failed) {
        if (w->err_what == NULL) {
            w->err_what = t->err_what;
            w->err_no = t->err_no;
        }
        pthread_mutex_unlock(&t->mu);
        w->in_len = 0;
        return -1;
    }
    size_t at = (t->job_head + t->njobs) % WTHREAD_BUFS;
    t->jobs[at].buf = w->in;
    t->jobs[at].len = w->in_len;
    t->jobs[at].how = how;
    t->jobs[at].last = last;
    t->njobs++;
    w->flushes++;
    pthread_cond_signal(&t->job_ready);
    if (last) {
        /* the last: no buffer is needed back */
        w->in = NULL;
        pthread_mutex_unlock(&t->mu);
        w->in_len = 0;
        return 0;
    }
    while (t->nfree == 0) {
        pthread_cond_wait(&t->buf_free, &t->mu);
    }
    w->in = t->free_bufs[--t->nfree];
    pthread_mutex_unlock(&t->mu);
    w->in_len = 0;
    return 0;
}

int
hd_wthread_finish(hd_writer *w, int abandon)
{
    hd_wthread *t = w->wt;
    if (t == NULL) {
        return 0;
    }
    pthread_mutex_lock(&t->mu);
    if (abandon && !t->failed) {
        /* what is left is not compressed: the file is removed */
        t->failed = 1;
        t->err_what = "abandoned";
        t->err_no = 0;
    }
    t->stop = 1;
    pthread_cond_signal(&t->job_ready);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->tid, NULL);
    w->wt = NULL;
    w->file_bytes += t->tw.file_bytes;
    if (t->failed && w->err_what == NULL) {
        w->err_what = t->err_what;
        w->err_no = t->err_no;
    }
    /* the buffers are the ring's, w->in among them: freed here */
    w->in = NULL;
    wthread_free(t);
    return w->err_what == NULL ? 0 : -1;
}
