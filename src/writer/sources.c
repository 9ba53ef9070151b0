/* sources.c: the SOURCE records, the text of the files the dumped code
 * came from, read with open(2)/read(2) and masked (srcmask.c).
 *
 * A process that dumps more than once (a web service dumping each
 * failing request) would read and mask the same files each time: a
 * normal-mode dump keeps them in a cache (sources_cache below), the text
 * as read and as masked, keyed by the path and checked against stat(2)
 * at every use (device, inode, size, mtime and ctime to the nanosecond),
 * so a file that changed is read again.  A file changed less than
 * SOURCES_RACY_NS before it was read is not kept (a change within the
 * same timestamp tick and size would go unseen, as git's "racily clean"
 * entries).  The masked text is reused only when the masking would find
 * the same pieces: the same redaction patterns and the same hider text
 * key (hd_hide_text_key); otherwise the kept text as read is masked
 * again.  The cache holds at most SOURCES_CACHE_BYTES of text: past that,
 * the files the current dump did not use are dropped, and a file that
 * still does not fit is not kept.  The signal modes (no allocation) do
 * not touch it: they read as before.
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

#define PK(d) (&(d)->pk)

/* text kept at most, as read and as masked together */
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
    char *text; /* masked for the context gen; NULL when not yet */
    size_t len;
    hd_srcmask masks;
    uint64_t gen;
    uint64_t used; /* the last dump that used it */
} sources_entry;

/* The cache (see the top of the file).  Protected by the GIL. */
static struct {
    sources_entry *slots; /* open addressing, a power of two of them */
    size_t cap, n;
    size_t bytes;       /* raw_len + len of every entry */
    unsigned char *ctx; /* the masking context of gen: the redaction
                           patterns, then the hider's text key */
    size_t ctx_len;
    uint64_t gen;
    uint64_t dump; /* counts the dumps that used the cache */
} sources_cache;

/* One file's text as the record writes it: in the cache (own NULL) or
 * owned here (own and own_masks freed by sources_text_free). */
typedef struct sources_text {
    const char *text; /* NULL: not written, why says why */
    size_t len;
    const hd_srcmask *masks;
    const char *why;
    char *own;
    hd_srcmask own_masks;
} sources_text;

static void
sources_text_free(sources_text *t)
{
    free(t->own);
    hd_srcmask_free(&t->own_masks);
}

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

static void
sources_entry_clear_text(sources_entry *e)
{
    sources_cache.bytes -= e->raw_len + (e->text ? e->len : 0);
    free(e->raw);
    free(e->text);
    hd_srcmask_free(&e->masks);
    e->raw = e->text = NULL;
    e->raw_len = e->len = 0;
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

/* raw masked into a copy: t owns it.  0, or -1 with t->why set. */
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
    if (hd_srcmask_run(&d->redact, d->hide, text, &len, &t->own_masks) < 0) {
        free(text);
        t->why = "its secrets could not be masked";
        return -1;
    }
    t->own = text;
    t->text = text;
    t->len = len;
    t->masks = &t->own_masks;
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
    if (hd_srcmask_run(&d->redact, d->hide, text, &len, &t->own_masks) < 0) {
        free(text);
        t->why = "its secrets could not be masked";
        return;
    }
    t->own = text;
    t->text = text;
    t->len = len;
    t->masks = &t->own_masks;
}

/* Whether e, as kept, is the file st describes. */
static int
sources_same(const sources_entry *e, const struct stat *st)
{
    return e->raw != NULL && e->dev == st->st_dev && e->ino == st->st_ino &&
           e->size == st->st_size && e->mtime_ns == sources_ns(st->st_mtim) &&
           e->ctime_ns == sources_ns(st->st_ctim);
}

/* Keep raw (as read, st its fstat(2)) and t's masked text as path's
 * entry: t then points into the cache.  Nothing is kept (t unchanged)
 * when the file changed too recently or was not read whole, or there is
 * no room. */
static void
sources_keep(const char *path, char *raw, size_t raw_len,
             const struct stat *st, sources_text *t)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t recent = sources_ns(now) - SOURCES_RACY_NS;
    size_t need = raw_len + t->len;
    if (sources_ns(st->st_mtim) > recent || sources_ns(st->st_ctim) > recent ||
        (off_t)raw_len != st->st_size || need > SOURCES_CACHE_BYTES) {
        free(raw);
        return;
    }
    uint64_t hash = sources_hash(path);
    sources_entry *e = sources_slot(path, hash);
    if (e != NULL && e->path != NULL) {
        sources_entry_clear_text(e);
    }
    if (sources_cache.bytes + need > SOURCES_CACHE_BYTES) {
        /* the files this dump did not use make room */
        if (sources_rebuild(sources_cache.cap, 0) < 0 ||
            sources_cache.bytes + need > SOURCES_CACHE_BYTES) {
            free(raw);
            return;
        }
        e = sources_slot(path, hash);
    }
    if (e == NULL || e->path == NULL) {
        if ((sources_cache.n + 1) * 4 > sources_cache.cap * 3) {
            size_t cap = sources_cache.cap ? sources_cache.cap * 2 : 256;
            if (sources_rebuild(cap, 1) < 0) {
                free(raw);
                return;
            }
        }
        e = sources_slot(path, hash);
        size_t n = strlen(path);
        e->path = malloc(n + 1);
        if (e->path == NULL) {
            free(raw);
            return;
        }
        memcpy(e->path, path, n + 1);
        e->hash = hash;
        sources_cache.n++;
    }
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtime_ns = sources_ns(st->st_mtim);
    e->ctime_ns = sources_ns(st->st_ctim);
    e->raw = raw;
    e->raw_len = raw_len;
    e->text = t->own;
    e->len = t->len;
    e->masks = t->own_masks;
    e->gen = sources_cache.gen;
    e->used = sources_cache.dump;
    sources_cache.bytes += need;
    t->own = NULL;
    memset(&t->own_masks, 0, sizeof(t->own_masks));
    t->masks = &e->masks;
}

/* path's text through the cache: kept and unchanged, read again when it
 * changed, masked again when the masking context changed. */
static void
sources_cached(const hd_dumper *d, const char *path, Py_ssize_t max,
               sources_text *t)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        sources_fresh(d, path, max, t); /* it says why */
        return;
    }
    if (max >= 0 && st.st_size > max) {
        t->why = "larger than the source limit";
        return;
    }
    sources_entry *e = sources_slot(path, sources_hash(path));
    if (e != NULL && e->path != NULL && sources_same(e, &st)) {
        if (e->gen != sources_cache.gen) {
            /* another context: mask the kept text again */
            if (sources_mask_copy(d, e->raw, e->raw_len, t) < 0) {
                return;
            }
            sources_cache.bytes -= e->text ? e->len : 0;
            free(e->text);
            hd_srcmask_free(&e->masks);
            e->text = t->own;
            e->len = t->len;
            e->masks = t->own_masks;
            e->gen = sources_cache.gen;
            sources_cache.bytes += e->len;
            t->own = NULL;
            memset(&t->own_masks, 0, sizeof(t->own_masks));
        }
        e->used = sources_cache.dump;
        t->text = e->text;
        t->len = e->len;
        t->masks = &e->masks;
        return;
    }
    size_t raw_len = 0;
    char *raw = sources_read_file(path, max, &raw_len, &t->why, &st);
    if (raw == NULL) {
        return;
    }
    if (sources_mask_copy(d, raw, raw_len, t) < 0) {
        free(raw);
        return;
    }
    sources_keep(path, raw, raw_len, &st, t);
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
    size_t n = t->text != NULL && t->masks != NULL ? t->masks->n : 0;
    msgpack_pack_array(PK(d), n);
    for (size_t k = 0; k < n; k++) {
        const struct hd_srcmask_piece *m = &t->masks->pieces[k];
        msgpack_pack_array(PK(d), 5);
        msgpack_pack_int32(PK(d), m->line);
        msgpack_pack_int32(PK(d), m->col);
        msgpack_pack_int32(PK(d), m->end_line);
        msgpack_pack_int32(PK(d), m->end_col);
        hd_encode_cstr(d, hd_format_why_name(m->why));
    }
    d->n_source_redacted += n;
    d->n_records++;
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
        if (have && cache) {
            sources_cached(d, path, max_bytes, &t);
        }
        else if (have) {
            sources_fresh(d, path, max_bytes, &t);
        }
        sources_pack(d, name, &t);
        sources_text_free(&t);
    }
}
