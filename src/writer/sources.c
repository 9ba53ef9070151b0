/* sources.c: the SOURCE records, the text of the files the dumped code
 * came from, read with open(2)/read(2) and masked (srcmask.c).
 *
 * Contract: the caller holds the GIL; nothing here runs Python code or
 * releases the GIL.
 */
#include "heapdump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PK(d) (&(d)->pk)

/* The text of a source file, read with open(2)/read(2) (no Python file
 * object: those release the GIL).  Returns a malloc'd buffer or NULL with
 * *why set. */
static char *
sources_read_file(const char *path, Py_ssize_t max, size_t *len,
                  const char **why)
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

void
hd_sources_write(hd_dumper *d, Py_ssize_t max_bytes, PyObject *exc)
{
    /* SOURCE: [70, filename, text, error, [redactions]] */
    char path[4096];
    for (size_t i = 0; i < d->nfiles; i++) {
        PyObject *name = d->files[i];
        const char *why = NULL;
        char *text = NULL;
        size_t len = 0;
        if (hd_frozen_path(d, exc, name, path, sizeof(path))) {
            /* a frozen module's: the file it was frozen from (frozen.c) */
            text = sources_read_file(path, max_bytes, &len, &why);
        }
        else if (PyUnicode_GET_LENGTH(name) > 0 &&
                 PyUnicode_READ_CHAR(name, 0) == '<') {
            why = "not a file";
        }
        else if (!sources_fs_name(name, path, sizeof(path))) {
            why = "unencodable file name";
        }
        else {
            text = sources_read_file(path, max_bytes, &len, &why);
        }
        /* secret literals and hidden values masked (srcmask.c): the
         * text is not written when that cannot be done (out of memory, a
         * hostile text the rules would read too long) */
        hd_srcmask masks = {NULL, 0, 0};
        if (text != NULL &&
            hd_srcmask_run(&d->redact, d->hide, text, &len, &masks) < 0) {
            free(text);
            text = NULL;
            why = "its secrets could not be masked";
        }
        msgpack_pack_array(PK(d), 5);
        msgpack_pack_uint8(PK(d), HD_R_SOURCE);
        hd_encode_str(d, name, -1);
        if (text != NULL) {
            msgpack_pack_bin_with_body(PK(d), text, len);
            msgpack_pack_nil(PK(d));
        }
        else {
            msgpack_pack_nil(PK(d));
            hd_encode_cstr(d, why ? why : "unreadable");
        }
        /* the masked pieces: [[line, col, end_line, end_col, why]...] */
        msgpack_pack_array(PK(d), masks.n);
        for (size_t k = 0; k < masks.n; k++) {
            const struct hd_srcmask_piece *m = &masks.pieces[k];
            msgpack_pack_array(PK(d), 5);
            msgpack_pack_int32(PK(d), m->line);
            msgpack_pack_int32(PK(d), m->col);
            msgpack_pack_int32(PK(d), m->end_line);
            msgpack_pack_int32(PK(d), m->end_col);
            hd_encode_cstr(d, hd_format_why_name(m->why));
        }
        d->n_source_redacted += masks.n;
        hd_srcmask_free(&masks);
        free(text);
        d->n_records++;
    }
}
