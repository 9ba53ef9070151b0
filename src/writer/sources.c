/* sources.c: the SOURCE records, the text of the files the dumped code
 * came from, read with open(2)/read(2) and masked (srcmask.c).
 *
 * A process that dumps more than once (a web service dumping each
 * failing request) would read, mask and compress the same files each
 * time: a normal-mode dump keeps them in a cache (sources_cache below),
 * keyed by the path and checked against stat(2) at every use (device,
 * inode, size, mtime and ctime to the nanosecond), so a file that changed
 * is read again.  An entry holds the text as read and the file's whole
 * SOURCE record compressed on its own into one zstd frame, which later
 * dumps copy into the body as it is (container.c's hd_container_frame;
 * the body is a sequence of frames, docs/format.rst): neither the masking
 * nor the compression is done again, and the dump's thread hands the
 * writer thread nothing to compress.  The frame is reused only when the
 * record would be the same: the same masking (the redaction patterns and
 * the hider text key, hd_hide_text_key), the same zstd level and the same
 * file name; otherwise it is made again from the kept text.  A file
 * changed less than SOURCES_RACY_NS before it was read is not kept (a
 * change within the same timestamp tick and size would go unseen, as
 * git's "racily clean" entries): its record is packed into the stream as
 * before.  The cache holds at most SOURCES_CACHE_BYTES (texts as read,
 * frames and names): past that, the files the current dump did not use
 * are dropped, and a file that still does not fit is not kept.  The
 * signal modes (no allocation) do not touch it: they read as before.
 *
 * Contract: the caller holds the GIL; nothing here runs Python code or
 * releases the GIL.  The cache is protected by the GIL and by dump.c's
 * one dump at a time.
 */
#include "heapdump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#define PK(d) (&(d)->pk)

/* bytes kept at most: the texts as read, the frames and the names */
#define SOURCES_CACHE_BYTES ((size_t)32 << 20)
/* a file changed this recently when it was read is not kept */
#define SOURCES_RACY_NS ((int64_t)2000000000)

/* The text of a source file, read with open(2)/read(2) (no Python file
 * object: those release the GIL).  Returns a malloc'd buffer or NULL with
 * *why set. */
static char *
sources_read_file(const char *path, Py_ssize_t max, size_t *len,
                  const char **why, struct stat *stp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        close(fd);
        return NULL;
    }
    if (max >= 0 && st.st_size > max) {
        *why = "larger than the source limit";
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    size_t got = 0;
    while (buf && got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL) {
        *why = "out of memory";
        return NULL;
    }
    *len = got;
    if (stp != NULL) {
        *stp = st;
    }
    return buf;
}

/* A file name as the bytes to open(2): UTF-8, with lone surrogates (from
 * undecodable bytes, PEP 383) turned back into the bytes they stand for.
 * No Python object is made (the signal modes read sources too).  Returns
 * 0 when it does not fit. */
static int
sources_fs_name(PyObject *name, char *out, size_t cap)
{
    int kind = PyUnicode_KIND(name);
    const void *data = PyUnicode_DATA(name);
    size_t len = 0;
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(name); i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (len + 5 >= cap) {
            return 0;
        }
        if (c >= 0xdc80 && c <= 0xdcff) {
            out[len++] = (char)(c - 0xdc00);
        }
        else if (c < 0x80) {
            out[len++] = (char)c;
        }
        else if (c < 0x800) {
            out[len++] = (char)(0xc0 | (c >> 6));
            out[len++] = (char)(0x80 | (c & 0x3f));
        }
        else if (c < 0x10000) {
            out[len++] = (char)(0xe0 | (c >> 12));
            out[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[len++] = (char)(0x80 | (c & 0x3f));
        }
        else {
            out[len++] = (char)(0xf0 | (c >> 18));
            out[len++] = (char)(0x80 | ((c >> 12) & 0x3f));
            out[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[len++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[len] = '\0';
    return 1;
}

/* One file's text as a record writes it, owned here (freed by
 * sources_text_free). */
typedef struct sources_text {
    const char *text; /* NULL: not written, why says why */
    size_t len;
    const char *why;
    char *own;
    hd_srcmask masks;
} sources_text;

static void
sources_text_free(sources_text *t)
{
    free(t->own);
    hd_srcmask_free(&t->masks);
}

/* The SOURCE record of name: [70, filename, text, error, [redactions]] */
static void
sources_pack(hd_dumper *d, PyObject *name, const sources_text *t)
{
    msgpack_pack_array(PK(d), 5);
    msgpack_pack_uint8(PK(d), HD_R_SOURCE);
    hd_encode_str(d, name, -1);
    if (t->text != NULL) {
        msgpack_pack_bin_with_body(PK(d), t->text, t->len);
        msgpack_pack_nil(PK(d));
    }
    else {
        msgpack_pack_nil(PK(d));
        hd_encode_cstr(d, t->why ? t->why : "unreadable");
    }
    /* the masked pieces: [[line, col, end_line, end_col, why]...] */
    size_t n = t->text != NULL ? t->masks.n : 0;
    msgpack_pack_array(PK(d), n);
    for (size_t k = 0; k < n; k++) {
        const struct hd_srcmask_piece *m = &t->masks.pieces[k];
        msgpack_pack_array(PK(d), 5);
        msgpack_pack_int32(PK(d), m->line);
        msgpack_pack_int32(PK(d), m->col);
        msgpack_pack_int32(PK(d), m->end_line);
        msgpack_pack_int32(PK(d), m->end_col);
        hd_encode_cstr(d, hd_format_why_name(m->why));
    }
}

/* raw masked into a copy t owns.  0, or -1 with t->why set. */
static int
sources_mask_copy(const hd_dumper *d, const char *raw, size_t len,
                  sources_text *t)
{
    char *text = malloc(len + 1);
    if (text == NULL) {
        t->why = "out of memory";
        return -1;
    }
    memcpy(text, raw, len);
    if (hd_srcmask_run(&d->redact, d->hide, text, &len, &t->masks) < 0) {
        free(text);
        t->why = "its secrets could not be masked";
        return -1;
    }
    t->own = text;
    t->text = text;
    t->len = len;
    return 0;
}

/* Read and mask path, for this dump only (the signal modes, and what the
 * cache does not keep). */
static void
sources_fresh(const hd_dumper *d, const char *path, Py_ssize_t max,
              sources_text *t)
{
    size_t len = 0;
    char *text = sources_read_file(path, max, &len, &t->why, NULL);
    if (text == NULL) {
        return;
    }
    /* secret literals and hidden values masked (srcmask.c): the text is
     * not written when that cannot be done (out of memory, a hostile text
     * the rules would read too long) */
    if (hd_srcmask_run(&d->redact, d->hide, text, &len, &t->masks) < 0) {
        free(text);
        t->why = "its secrets could not be masked";
        return;
    }
    t->own = text;
    t->text = text;
    t->len = len;
}

/* ------------------------------------------------ records made in memory */

/* A growing buffer that msgpack-c's packer writes into. */
typedef struct sources_mem {
    unsigned char *p;
    size_t len, cap;
    int failed; /* out of memory: p is incomplete */
} sources_mem;

static int
sources_mem_write(void *data, const char *buf, size_t len)
{
    sources_mem *m = data;
    if (m->failed) {
        return -1;
    }
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 256;
        while (cap < m->len + len) {
            cap *= 2;
        }
        unsigned char *p = realloc(m->p, cap);
        if (p == NULL) {
            m->failed = 1;
            return -1;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

/* d's packer writes into m (the previous one saved in *saved) until
 * sources_mem_end puts it back: hd_encode_str and the record's packing
 * then make bytes in memory, nothing reaching the file. */
static void
sources_mem_begin(hd_dumper *d, sources_mem *m, msgpack_packer *saved)
{
    memset(m, 0, sizeof(*m));
    *saved = d->pk;
    msgpack_packer_init(&d->pk, m, sources_mem_write);
}

static void
sources_mem_end(hd_dumper *d, const msgpack_packer *saved)
{
    d->pk = *saved;
}

/* The file name as the record encodes it (a msgpack str), in m: 0, or -1
 * out of memory (m freed). */
static int
sources_name_bytes(hd_dumper *d, PyObject *name, sources_mem *m)
{
    msgpack_packer saved;
    sources_mem_begin(d, m, &saved);
    hd_encode_str(d, name, -1);
    sources_mem_end(d, &saved);
    if (m->failed) {
        free(m->p);
        return -1;
    }
    return 0;
}

/* A SOURCE record compressed on its own: one whole zstd frame (content
 * checksum on), as the container copies it into the body. */
typedef struct sources_frame {
    unsigned char *z; /* malloc'd; NULL: none */
    size_t z_len;
    size_t raw_len; /* the record's length decompressed */
    size_t n_masks;
    int level;
} sources_frame;

/* The compression context of the frames (sources_frame_make): made once,
 * like the cache it serves; used with the GIL held, one dump at a time. */
static ZSTD_CCtx *sources_cctx;

/* name's SOURCE record with t's text, compressed at d's level into f.
 * 0, or -1 out of memory or a zstd failure (f empty). */
static int
sources_frame_make(hd_dumper *d, PyObject *name, const sources_text *t,
                   sources_frame *f)
{
    memset(f, 0, sizeof(*f));
    if (sources_cctx == NULL && (sources_cctx = ZSTD_createCCtx()) == NULL) {
        return -1;
    }
    sources_mem m;
    msgpack_packer saved;
    sources_mem_begin(d, &m, &saved);
    sources_pack(d, name, t);
    sources_mem_end(d, &saved);
    size_t cap = ZSTD_compressBound(m.len);
    unsigned char *z = m.failed ? NULL : malloc(cap);
    if (z == NULL) {
        free(m.p);
        return -1;
    }
    ZSTD_CCtx_reset(sources_cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(sources_cctx, ZSTD_c_compressionLevel, d->w.level);
    ZSTD_CCtx_setParameter(sources_cctx, ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(sources_cctx, z, cap, m.p, m.len);
    free(m.p);
    if (ZSTD_isError(n)) {
        free(z);
        return -1;
    }
    /* no more memory kept than the frame needs */
    unsigned char *fit = realloc(z, n ? n : 1);
    if (fit != NULL) {
        z = fit;
    }
    f->z = z;
    f->z_len = n;
    f->raw_len = m.len;
    f->n_masks = t->text != NULL ? t->masks.n : 0;
    f->level = d->w.level;
    return 0;
}

/* f written into the body as it is. */
static void
sources_frame_write(hd_dumper *d, const sources_frame *f)
{
    hd_container_frame(&d->w, f->z, f->z_len, f->raw_len);
    d->n_source_redacted += f->n_masks;
    d->n_records++;
}

/* ----------------------------------------------------------- the cache */

typedef struct sources_entry {
    char *path; /* malloc'd; NULL: an empty slot */
    uint64_t hash;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns, ctime_ns;
    char *raw; /* the text as read */
    size_t raw_len;
    /* the record, masked for the context gen, under the name name (as
     * encoded); frame.z NULL when not yet */
    sources_frame frame;
    unsigned char *name;
    size_t name_len;
    uint64_t gen;
    uint64_t used; /* the last dump that used it */
} sources_entry;

/* The cache (see the top of the file).  Protected by the GIL. */
static struct {
    sources_entry *slots; /* open addressing, a power of two of them */
    size_t cap, n;
    size_t bytes;       /* raw, frame and name bytes of every entry */
    unsigned char *ctx; /* the masking context of gen: the redaction
                           patterns, then the hider's text key */
    size_t ctx_len;
    uint64_t gen;
    uint64_t dump; /* counts the dumps that used the cache */
} sources_cache;

static uint64_t
sources_hash(const char *p)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *p; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    }
    return h | 1;
}

static int64_t
sources_ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* e's record forgotten (its text as read stays). */
static void
sources_entry_clear_frame(sources_entry *e)
{
    sources_cache.bytes -= e->frame.z_len + e->name_len;
    free(e->frame.z);
    free(e->name);
    memset(&e->frame, 0, sizeof(e->frame));
    e->name = NULL;
    e->name_len = 0;
}

static void
sources_entry_clear_text(sources_entry *e)
{
    sources_entry_clear_frame(e);
    sources_cache.bytes -= e->raw_len;
    free(e->raw);
    e->raw = NULL;
    e->raw_len = 0;
}

/* The slot of path (its path NULL when absent), or NULL with no table. */
static sources_entry *
sources_slot(const char *path, uint64_t hash)
{
    if (sources_cache.cap == 0) {
        return NULL;
    }
    size_t mask = sources_cache.cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        sources_entry *e = &sources_cache.slots[i];
        if (e->path == NULL ||
            (e->hash == hash && strcmp(e->path, path) == 0)) {
            return e;
        }
    }
}

/* A table of cap slots holding the entries that keep says to keep (all
 * when keep_all); the others freed.  0, or -1 out of memory (the table
 * as it was). */
static int
sources_rebuild(size_t cap, int keep_all)
{
    sources_entry *slots = calloc(cap, sizeof(sources_entry));
    if (slots == NULL) {
        return -1;
    }
    sources_entry *old = sources_cache.slots;
    size_t old_cap = sources_cache.cap;
    sources_cache.slots = slots;
    sources_cache.cap = cap;
    sources_cache.n = 0;
    for (size_t i = 0; i < old_cap; i++) {
        sources_entry *e = &old[i];
        if (e->path == NULL) {
            continue;
        }
        if (keep_all || e->used == sources_cache.dump) {
            *sources_slot(e->path, e->hash) = *e;
            sources_cache.n++;
        }
        else {
            sources_entry_clear_text(e);
            free(e->path);
        }
    }
    free(old);
    return 0;
}

/* Whether the masking context of this dump (d's redaction patterns and
 * hider) is the cache's; when not, it becomes the cache's under a new
 * generation.  -1 out of memory: the cache is not used. */
static int
sources_context(const hd_dumper *d)
{
    size_t n = 1 + hd_hide_text_key(d->hide, NULL, 0);
    for (size_t i = 0; i < d->redact.n; i++) {
        n += d->redact.lens[i] + 1;
    }
    unsigned char *ctx = malloc(n);
    if (ctx == NULL) {
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < d->redact.n; i++) {
        memcpy(ctx + at, d->redact.patterns[i], d->redact.lens[i] + 1);
        at += d->redact.lens[i] + 1;
    }
    ctx[at++] = 0xfe; /* no pattern holds this byte */
    at += hd_hide_text_key(d->hide, ctx + at, n - at);
    if (sources_cache.ctx != NULL && sources_cache.ctx_len == at &&
        memcmp(sources_cache.ctx, ctx, at) == 0) {
        free(ctx);
        return 0;
    }
    free(sources_cache.ctx);
    sources_cache.ctx = ctx;
    sources_cache.ctx_len = at;
    sources_cache.gen++;
    return 0;
}

/* Whether e, as kept, is the file st describes. */
static int
sources_same(const sources_entry *e, const struct stat *st)
{
    return e->raw != NULL && e->dev == st->st_dev && e->ino == st->st_ino &&
           e->size == st->st_size && e->mtime_ns == sources_ns(st->st_mtim) &&
           e->ctime_ns == sources_ns(st->st_ctim);
}

/* Whether a file st describes, read whole (raw_len bytes), may be kept:
 * not changed too recently, and no larger than the cache. */
static int
sources_keepable(const struct stat *st, size_t raw_len)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t recent = sources_ns(now) - SOURCES_RACY_NS;
    return sources_ns(st->st_mtim) <= recent &&
           sources_ns(st->st_ctim) <= recent &&
           (off_t)raw_len == st->st_size && raw_len <= SOURCES_CACHE_BYTES;
}

/* Room for need more bytes in the cache, made by dropping the files this
 * dump did not use: 0, or -1 when there is none (e, the entry the bytes
 * are for, is then left out; *e may move). */
static int
sources_room(size_t need, sources_entry **e)
{
    if (sources_cache.bytes + need <= SOURCES_CACHE_BYTES) {
        return 0;
    }
    const char *path = (*e)->path;
    uint64_t hash = (*e)->hash;
    if (sources_rebuild(sources_cache.cap, 0) < 0) {
        return -1;
    }
    *e = sources_slot(path, hash); /* used by this dump: still there */
    return sources_cache.bytes + need <= SOURCES_CACHE_BYTES ? 0 : -1;
}

/* path's entry, made when absent (the table grown as needed), or NULL
 * out of memory. */
static sources_entry *
sources_entry_for(const char *path)
{
    uint64_t hash = sources_hash(path);
    sources_entry *e = sources_slot(path, hash);
    if (e != NULL && e->path != NULL) {
        return e;
    }
    if ((sources_cache.n + 1) * 4 > sources_cache.cap * 3) {
        size_t cap = sources_cache.cap ? sources_cache.cap * 2 : 256;
        if (sources_rebuild(cap, 1) < 0) {
            return NULL;
        }
    }
    e = sources_slot(path, hash);
    size_t n = strlen(path);
    e->path = malloc(n + 1);
    if (e->path == NULL) {
        return NULL;
    }
    memcpy(e->path, path, n + 1);
    e->hash = hash;
    e->used = sources_cache.dump;
    sources_cache.n++;
    return e;
}

/* raw (as read, st its fstat(2)) kept as path's text, its record not yet
 * made: the entry, which owns raw now, or NULL when there is no room
 * (raw still the caller's). */
static sources_entry *
sources_keep(const char *path, char *raw, size_t raw_len,
             const struct stat *st)
{
    sources_entry *e = sources_entry_for(path);
    if (e == NULL) {
        return NULL;
    }
    sources_entry_clear_text(e);
    e->used = sources_cache.dump;
    if (sources_room(raw_len, &e) < 0) {
        return NULL;
    }
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtime_ns = sources_ns(st->st_mtim);
    e->ctime_ns = sources_ns(st->st_ctim);
    e->raw = raw;
    e->raw_len = raw_len;
    sources_cache.bytes += raw_len;
    return e;
}

/* e's record made again for this dump (name nm, the text masked anew from
 * the kept one into t) and kept with it when there is room.  Written:
 * returns 1; 0 when it could not be made (t then holds what to pack, or
 * why not). */
static int
sources_remake(hd_dumper *d, PyObject *name, sources_entry *e, sources_mem *nm,
               sources_text *t)
{
    sources_entry_clear_frame(e);
    if (sources_mask_copy(d, e->raw, e->raw_len, t) < 0) {
        return 0;
    }
    sources_frame f;
    if (sources_frame_make(d, name, t, &f) < 0) {
        return 0;
    }
    sources_frame_write(d, &f);
    if (sources_room(f.z_len + nm->len, &e) < 0) {
        free(f.z);
        return 1;
    }
    e->frame = f;
    e->name = nm->p;
    e->name_len = nm->len;
    nm->p = NULL;
    e->gen = sources_cache.gen;
    sources_cache.bytes += f.z_len + e->name_len;
    return 1;
}

/* name's record (path its file) through the cache: the kept frame when
 * the file, the masking context, the level and the name are those it was
 * made for; else made from the kept text when the file is unchanged; else
 * made from the file read again.  1: written; 0: t holds what to pack (or
 * why there is no text). */
static int
sources_cached(hd_dumper *d, PyObject *name, const char *path, Py_ssize_t max,
               sources_text *t)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        sources_fresh(d, path, max, t); /* it says why */
        return 0;
    }
    if (max >= 0 && st.st_size > max) {
        t->why = "larger than the source limit";
        return 0;
    }
    sources_mem nm;
    if (sources_name_bytes(d, name, &nm) < 0) {
        sources_fresh(d, path, max, t);
        return 0;
    }
    int written = 0;
    sources_entry *e = sources_slot(path, sources_hash(path));
    if (e != NULL && e->path != NULL && sources_same(e, &st)) {
        e->used = sources_cache.dump;
        if (e->frame.z != NULL && e->gen == sources_cache.gen &&
            e->frame.level == d->w.level && e->name_len == nm.len &&
            memcmp(e->name, nm.p, nm.len) == 0) {
            sources_frame_write(d, &e->frame);
            d->n_sources_kept++;
            written = 1;
        }
        else {
            written = sources_remake(d, name, e, &nm, t);
        }
        free(nm.p);
        return written;
    }
    size_t raw_len = 0;
    char *raw = sources_read_file(path, max, &raw_len, &t->why, &st);
    if (raw != NULL) {
        e = sources_keepable(&st, raw_len)
                ? sources_keep(path, raw, raw_len, &st)
                : NULL;
        if (e != NULL) {
            written = sources_remake(d, name, e, &nm, t); /* e owns raw */
        }
        else {
            (void)sources_mask_copy(d, raw, raw_len, t); /* for this dump */
            free(raw);
        }
    }
    free(nm.p);
    return written;
}

void
hd_sources_write(hd_dumper *d, Py_ssize_t max_bytes, PyObject *exc)
{
    char path[4096];
    /* the signal modes allocate nothing they can avoid and may run while
     * another thread is inside the cache: they read as before */
    int cache = !d->no_alloc && d->nfiles > 0 && sources_context(d) == 0;
    sources_cache.dump += cache;
    for (size_t i = 0; i < d->nfiles; i++) {
        PyObject *name = d->files[i];
        sources_text t;
        memset(&t, 0, sizeof(t));
        int have = 0;
        if (hd_frozen_path(d, exc, name, path, sizeof(path))) {
            /* a frozen module's: the file it was frozen from (frozen.c) */
            have = 1;
        }
        else if (PyUnicode_GET_LENGTH(name) > 0 &&
                 PyUnicode_READ_CHAR(name, 0) == '<') {
            t.why = "not a file";
        }
        else if (!sources_fs_name(name, path, sizeof(path))) {
            t.why = "unencodable file name";
        }
        else {
            have = 1;
        }
        if (have && cache && sources_cached(d, name, path, max_bytes, &t)) {
            sources_text_free(&t); /* written from the cache */
            continue;
        }
        if (have && !cache) {
            sources_fresh(d, path, max_bytes, &t);
        }
        sources_pack(d, name, &t);
        d->n_source_redacted += t.text != NULL ? t.masks.n : 0;
        d->n_records++;
        sources_text_free(&t);
    }
}
