/* container.c: the dump file: a MIME header block, then the body as one
 * zstd stream, written with write(2) to a temporary file that is renamed
 * into place once complete (docs/format.rst, "Envelope" and "Body").
 *
 * The stream may be several frames: hd_container_frame ends the current
 * one and copies frames compressed beforehand (the kept sources,
 * sources.c) between it and the next.
 *
 * Nothing here releases the GIL or calls Python: the file is written with
 * plain system calls, so the rest of the process stays frozen for the
 * whole dump.  Memory is fixed: one input and one output buffer, and in
 * normal mode the writer thread's ring of input buffers (wthread.c),
 * which compresses and writes while the walk packs.
 */
#include "heapdump.h"
#include "names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#define CONTAINER_IN_CAP (1 << 17) /* 128 KiB of msgpack per zstd call */

/* Remember the first failure; later writes are dropped. */
static void
container_fail(hd_writer *w, const char *what, int err)
{
    if (w->err_what == NULL) {
        w->err_what = what;
        w->err_no = err;
    }
}

/* write(2) all of buf, retrying on EINTR and short writes. */
static int
container_write_all(hd_writer *w, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(w->fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            container_fail(w, "write", errno);
            return -1;
        }
        buf += n;
        len -= (size_t)n;
        w->file_bytes += (uint64_t)n;
    }
    return 0;
}

/* Compress w->in with the given end directive and write what comes out. */
static int
container_compress(hd_writer *w, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {w->in, w->in_len, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->out, w->out_cap, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
        if (ZSTD_isError(left)) {
            container_fail(w, ZSTD_getErrorName(left), EIO);
            return -1;
        }
        w->flushes++;
        if (out.pos > 0 && container_write_all(w, w->out, out.pos) < 0) {
            return -1;
        }
        int done = mode == ZSTD_e_continue ? in.pos == in.size : left == 0;
        if (done) {
            break;
        }
    }
    w->in_len = 0;
    return 0;
}

/* What how (enum hd_zhow) says done with w->in, here: compressed (the
 * frame ended after it for HD_Z_END) or written as it is. */
static int
container_do(hd_writer *w, int how)
{
    if (how == HD_Z_RAW) {
        int rc = container_write_all(w, w->in, w->in_len);
        w->in_len = 0;
        w->flushes++;
        return rc;
    }
    return container_compress(w,
                              how == HD_Z_END ? ZSTD_e_end : ZSTD_e_continue);
}

void
hd_container_thread(hd_writer *w)
{
    w->thread_wanted = 1;
}

/* w->in handed on: to the writer thread when it runs, else done inline. */
static int
container_flush(hd_writer *w, int how)
{
    return w->wt != NULL ? hd_wthread_submit(w, how, 0) : container_do(w, how);
}

/* A full input buffer handed on: on the writer thread, started now when
 * one is wanted and none runs yet (it could not be made: inline). */
static int
container_flush_full(hd_writer *w)
{
    if (w->thread_wanted && w->wt == NULL) {
        w->thread_wanted = 0;
        if (hd_wthread_start(w, container_do) == 0) {
            w->threaded = 1;
        }
    }
    return container_flush(w, w->in_raw ? HD_Z_RAW : HD_Z_CONTINUE);
}

/* len bytes of buf into the input buffer, handed on each time it fills. */
static void
container_take(hd_writer *w, const char *buf, size_t len)
{
    while (len > 0) {
        size_t room = w->in_cap - w->in_len;
        size_t take = len < room ? len : room;
        memcpy(w->in + w->in_len, buf, take);
        w->in_len += take;
        buf += take;
        len -= take;
        if (w->in_len == w->in_cap && container_flush_full(w) < 0) {
            return;
        }
    }
}

int
hd_container_open(hd_writer *w, const char *final_path, int level)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    size_t n = strlen(final_path);
    w->final_path = malloc(n + 1);
    w->tmp_path = malloc(n + 32);
    w->in = malloc(CONTAINER_IN_CAP);
    w->in_cap = CONTAINER_IN_CAP;
    w->out_cap = ZSTD_CStreamOutSize();
    w->out = malloc(w->out_cap);
    w->cctx = ZSTD_createCCtx();
    if (!w->final_path || !w->tmp_path || !w->in || !w->out || !w->cctx) {
        free(w->tmp_path);
        w->tmp_path = NULL; /* nothing to remove */
        hd_container_abort(w);
        container_fail(w, "out of memory", ENOMEM);
        return -1;
    }
    memcpy(w->final_path, final_path, n + 1);
    w->level = level;
    /* The temporary name is the final one plus a suffix that no reader
     * takes for a dump; the pid keeps two processes apart (names.c). */
    (void)hd_names_tmp(w->tmp_path, n + 32, final_path, (long)getpid());
    /* The level's own parameters (at 3, double-fast matching).  A lazy
     * strategy set by hand made the file about a quarter smaller on
     * record-heavy dumps but cost about a quarter of a dump's
     * instructions, and the pause is what a dump must keep short. */
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        int err = errno;
        free(w->tmp_path);
        w->tmp_path = NULL; /* nothing to remove */
        hd_container_abort(w);
        container_fail(w, "open", err);
        return -1;
    }
    /* open(2) applies the umask; the file is 0600 whatever it is */
    (void)fchmod(w->fd, 0600);
    return 0;
}

int
hd_container_header(hd_writer *w, const char *text, size_t len)
{
    return container_write_all(w, text, len);
}

int
hd_container_append(void *data, const char *buf, size_t len)
{
    hd_writer *w = data;
    /* most calls are a few bytes of msgpack that fit: straight in (the
     * buffer never left full, a full one is handed on below) */
    if (len < w->in_cap - w->in_len && !w->in_raw && w->err_what == NULL) {
        memcpy(w->in + w->in_len, buf, len);
        w->in_len += len;
        w->raw_bytes += len;
        w->zopen = 1;
        return 0;
    }
    if (w->err_what != NULL || len == 0) {
        return 0;
    }
    if (w->in_raw) {
        /* the kept frames before are written; msgpack starts a frame */
        w->in_raw = 0;
        if (w->in_len > 0 && container_flush(w, HD_Z_RAW) < 0) {
            return 0;
        }
    }
    w->raw_bytes += len;
    w->zopen = 1;
    container_take(w, buf, len);
    return 0;
}

void
hd_container_frame(hd_writer *w, const void *frame, size_t len,
                   uint64_t raw_len)
{
    if (w->err_what != NULL) {
        return;
    }
    if (!w->in_raw) {
        /* the msgpack before ends its frame (what is in w->in, and what
         * zstd still holds of the earlier buffers) */
        if (w->zopen && container_flush(w, HD_Z_END) < 0) {
            return;
        }
        w->zopen = 0;
        w->in_raw = 1;
    }
    w->raw_bytes += raw_len;
    container_take(w, frame, len);
}

void
hd_container_raise(const hd_writer *w, PyObject *name)
{
    if (w->err_no == ENOMEM) {
        PyErr_NoMemory();
    }
    else if (w->err_no != 0 && w->err_no != EIO) {
        errno = w->err_no;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, name);
    }
    else {
        PyErr_Format(PyExc_OSError, "heapdump: %s failed while writing %R",
                     w->err_what ? w->err_what : "the file", name);
    }
}

int
hd_container_close(hd_writer *w)
{
    /* the last frame ends (kept frames last: they are written) */
    int how = w->in_raw ? HD_Z_RAW : HD_Z_END;
    if (w->wt != NULL) {
        if (w->err_what == NULL) {
            hd_wthread_submit(w, how, 1);
        }
        hd_wthread_finish(w, w->err_what != NULL);
    }
    else if (w->err_what == NULL) {
        container_do(w, how);
    }
    if (w->err_what == NULL && fsync(w->fd) < 0 && errno != EINVAL) {
        container_fail(w, "fsync", errno);
    }
    if (w->err_what == NULL && close(w->fd) < 0) {
        w->fd = -1;
        container_fail(w, "close", errno);
    }
    else if (w->err_what == NULL) {
        w->fd = -1;
    }
    if (w->err_what == NULL && rename(w->tmp_path, w->final_path) < 0) {
        container_fail(w, "rename", errno);
    }
    if (w->err_what != NULL) {
        hd_container_abort(w);
        return -1;
    }
    free(w->tmp_path);
    w->tmp_path = NULL; /* renamed: nothing to remove */
    hd_container_abort(w);
    return 0;
}

void
hd_container_abort(hd_writer *w)
{
    hd_wthread_finish(w, 1); /* nothing when there is no thread */
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (w->tmp_path != NULL) {
        unlink(w->tmp_path);
    }
    free(w->tmp_path);
    free(w->final_path);
    free(w->in);
    free(w->out);
    ZSTD_freeCCtx(w->cctx);
    w->tmp_path = w->final_path = w->in = w->out = NULL;
    w->cctx = NULL;
}

size_t
hd_container_escape(char *dst, size_t cap, size_t len, PyObject *value,
                    size_t max)
{
    /* Escapes per docs/format.rst: printable ASCII as is, backslash
     * doubled, the rest \xNN, \uNNNN or \UNNNNNNNN. */
    if (!PyUnicode_Check(value)) {
        return len;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(value);
    int kind = PyUnicode_KIND(value);
    const void *data = PyUnicode_DATA(value);
    size_t start = len;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        char tmp[12];
        int m;
        if (c == '\\') {
            m = snprintf(tmp, sizeof(tmp), "\\\\");
        }
        else if (c >= 0x20 && c < 0x7f) {
            tmp[0] = (char)c;
            m = 1;
        }
        else if (c < 0x100) {
            m = snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned)c);
        }
        else if (c < 0x10000) {
            m = snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)c);
        }
        else {
            m = snprintf(tmp, sizeof(tmp), "\\U%08x", (unsigned)c);
        }
        if (len - start + (size_t)m > max || len + (size_t)m + 4 >= cap) {
            if (len + 4 < cap) {
                memcpy(dst + len, "...", 3);
                len += 3;
            }
            break;
        }
        memcpy(dst + len, tmp, (size_t)m);
        len += (size_t)m;
    }
    dst[len] = '\0';
    return len;
}
