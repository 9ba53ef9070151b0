/* stream.c: a dump's body as framed msgpack records (contract in
 * stream.h). */
/* O_CLOEXEC, ssize_t: POSIX.1-2008 (the build is -std=c11, and this file
 * includes no Python.h, which would define it) */
#define _POSIX_C_SOURCE 200809L

#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#define STREAM_IN_CHUNK ((size_t)1 << 17)   /* compressed bytes per read */
#define STREAM_WINDOW_MIN ((size_t)1 << 20) /* decompressed window, first */
#define STREAM_FIRST_WANT ((size_t)64 << 10)

/* Record a failure; returns -1. */
static int
stream_fail(hd_stream *s, int error, const char *fmt, ...)
{
    if (s->error == HD_STREAM_OK) {
        s->error = error;
        va_list va;
        va_start(va, fmt);
        vsnprintf(s->message, sizeof(s->message), fmt, va);
        va_end(va);
    }
    return -1;
}

void
hd_stream_init(hd_stream *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->max_record = (size_t)256 << 20;
    s->max_items = HD_STREAM_MAX_ITEMS;
    s->max_body = UINT64_MAX;
    s->want = STREAM_FIRST_WANT;
}

int
hd_stream_open(hd_stream *s, const char *path, uint64_t offset)
{
    s->offset = offset;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0 || lseek(s->fd, (off_t)offset, SEEK_SET) < 0) {
        s->err_no = errno;
        return stream_fail(s, HD_STREAM_EIO, "%s", strerror(errno));
    }
    s->ds = ZSTD_createDStream();
    s->in = malloc(STREAM_IN_CHUNK);
    if (s->ds == NULL || s->in == NULL) {
        return stream_fail(s, HD_STREAM_ENOMEM, "out of memory");
    }
    ZSTD_initDStream(s->ds);
    return 0;
}

void
hd_stream_close(hd_stream *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->ds != NULL) {
        ZSTD_freeDStream(s->ds);
        s->ds = NULL;
    }
    free(s->in);
    free(s->buf);
    s->in = s->buf = NULL;
}

/* Decompress until the window holds at least want bytes from pos, or the
 * stream ends.  Returns 0, or -1 (read error, corrupt zstd, a limit). */
static int
stream_fill(hd_stream *s, size_t want)
{
    /* slide the unread bytes to the front */
    if (s->pos > 0) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->len -= s->pos;
        s->pos = 0;
    }
    if (want > s->cap) {
        size_t ncap = s->cap ? s->cap : STREAM_WINDOW_MIN;
        while (ncap < want) {
            ncap *= 2;
        }
        unsigned char *nb = realloc(s->buf, ncap);
        if (nb == NULL) {
            return stream_fail(s, HD_STREAM_ENOMEM, "out of memory");
        }
        s->buf = nb;
        s->cap = ncap;
    }
    while (s->len < want) {
        if (s->in_pos == s->in_len && !s->eof) {
            ssize_t r;
            do {
                r = read(s->fd, s->in, STREAM_IN_CHUNK);
            } while (r < 0 && errno == EINTR);
            if (r < 0) {
                s->err_no = errno;
                return stream_fail(s, HD_STREAM_EIO, "%s", strerror(errno));
            }
            if (r == 0) {
                s->eof = 1;
            }
            s->in_len = (size_t)r;
            s->in_pos = 0;
            s->file_bytes += (uint64_t)r;
        }
        if (s->in_pos == s->in_len && s->eof && !s->frame_open) {
            return 0; /* the end, between frames */
        }
        ZSTD_inBuffer zin = {s->in, s->in_len, s->in_pos};
        ZSTD_outBuffer zout = {s->buf, s->cap, s->len};
        size_t ret = ZSTD_decompressStream(s->ds, &zout, &zin);
        if (ZSTD_isError(ret)) {
            return stream_fail(
                s, HD_STREAM_EDATA,
                "the compressed body is corrupt near byte %llu of the "
                "file: zstd: %s",
                (unsigned long long)(s->offset + s->file_bytes -
                                     (s->in_len - zin.pos)),
                ZSTD_getErrorName(ret));
        }
        int progress = zout.pos != s->len || zin.pos != s->in_pos;
        s->frame_open = ret != 0;
        s->body_bytes += zout.pos - s->len;
        s->len = zout.pos;
        s->in_pos = zin.pos;
        if (s->max_ratio > 0 && s->body_bytes > HD_STREAM_RATIO_FLOOR &&
            s->body_bytes / (s->file_bytes + 1) >= s->max_ratio) {
            return stream_fail(
                s, HD_STREAM_EDATA,
                "the body expands %llu-fold (%llu bytes from %llu): "
                "a zstd bomb?  pass a larger max_ratio to load it",
                (unsigned long long)(s->body_bytes / (s->file_bytes + 1)),
                (unsigned long long)s->body_bytes,
                (unsigned long long)s->file_bytes);
        }
        if (s->body_bytes > s->max_body) {
            return stream_fail(
                s, HD_STREAM_EDATA,
                "the body is larger than max_body_bytes (%llu bytes "
                "uncompressed); pass a larger max_body_bytes to load it",
                (unsigned long long)s->max_body);
        }
        if (!progress && s->eof && s->in_pos == s->in_len) {
            return 0; /* the file ends inside a frame */
        }
    }
    return 0;
}

int
hd_stream_next(hd_stream *s, const unsigned char **rec, size_t *len)
{
    /* the record returned last is consumed now */
    s->pos += s->current;
    s->current = 0;
    for (;;) {
        size_t avail = s->len - s->pos;
        if (avail > 0) {
            size_t rlen = 0;
            int r = hd_mpread_frame(s->buf + s->pos, avail, s->max_record,
                                    s->max_items, &rlen);
            unsigned long long at = s->body_bytes - (s->len - s->pos);
            if (r == 1) {
                *rec = s->buf + s->pos;
                *len = rlen;
                s->current = rlen;
                s->records++;
                s->want = STREAM_FIRST_WANT;
                return 1;
            }
            if (r == -1) {
                return stream_fail(s, HD_STREAM_EDATA,
                                   "record %llu at byte %llu of the body is "
                                   "not valid msgpack",
                                   (unsigned long long)s->records, at);
            }
            if (r == -3) {
                return stream_fail(s, HD_STREAM_EDATA,
                                   "record %llu at byte %llu of the body "
                                   "holds more than %llu msgpack items",
                                   (unsigned long long)s->records, at,
                                   (unsigned long long)s->max_items);
            }
            if (r == -2) {
                return stream_fail(s, HD_STREAM_EDATA,
                                   "record %llu at byte %llu of the body is "
                                   "larger than max_record_bytes (%zu)",
                                   (unsigned long long)s->records, at,
                                   s->max_record);
            }
            /* incomplete: ask for twice as much before trying again, so
             * a big record is framed O(log n) times, not once per chunk */
            size_t want = avail * 2;
            if (want < avail + STREAM_FIRST_WANT) {
                want = avail + STREAM_FIRST_WANT;
            }
            if (want > s->max_record + STREAM_FIRST_WANT) {
                want = s->max_record + STREAM_FIRST_WANT;
            }
            s->want = want;
        }
        size_t before = s->len - s->pos;
        if (stream_fill(s, s->want) < 0) {
            return -1;
        }
        if (s->len - s->pos == before) {
            /* no more bytes: the end of the body */
            if (before > 0) {
                s->truncation = s->frame_open
                                    ? "the file ends inside a record and "
                                      "inside a zstd frame"
                                    : "the body ends inside a record";
            }
            else if (s->frame_open) {
                s->truncation = "the file ends inside a zstd frame";
            }
            return 0;
        }
    }
}

int
hd_stream_drain(hd_stream *s, uint64_t *after)
{
    s->pos += s->current;
    s->current = 0;
    *after = 0;
    for (;;) {
        s->pos = s->len; /* drop what was read */
        if (stream_fill(s, s->cap ? s->cap : STREAM_WINDOW_MIN) < 0) {
            return -1;
        }
        if (s->len == 0) {
            break;
        }
        *after += s->len;
    }
    if (s->frame_open) {
        s->truncation = "the file ends inside a zstd frame (after the "
                        "TRAILER record: the last checksum is missing)";
    }
    return 0;
}
