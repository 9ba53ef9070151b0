/* stream.h: a dump's body as framed msgpack records (docs/format.rst,
 * "Body" and "Reading").
 *
 * read(2) -> ZSTD_decompressStream into a window -> one record at a time,
 * each framed by hd_mpread_frame before anyone decodes it.  Memory: the
 * window grows to about twice the largest record, capped by max_record;
 * the input buffer is fixed.  The limits against hostile files are
 * checked here, once, for every reader (load.c, graph.c): the record size,
 * the msgpack items of one record, the decompressed body and its ratio to
 * the compressed one.
 *
 * No Python: failures are returned as an error code and a message, which
 * the caller turns into its exception.  One thread at a time per stream.
 */
#ifndef HEAPDUMP_STREAM_H
#define HEAPDUMP_STREAM_H

#include "mpread.h"

/* Defaults of the limits (hd_stream_init); load.c and graph.c may raise
 * them. */
#define HD_STREAM_MAX_ITEMS ((uint64_t)1 << 20) /* msgpack items/record */
/* The decompression ratio check applies once the body is past this. */
#define HD_STREAM_RATIO_FLOOR ((uint64_t)64 << 20)

enum hd_stream_error {
    HD_STREAM_OK = 0,
    HD_STREAM_EIO,    /* open/read failed: err_no */
    HD_STREAM_ENOMEM, /* an allocation failed */
    HD_STREAM_EDATA,  /* corrupt or hostile data, or a limit: message */
};

typedef struct hd_stream {
    /* limits: set by hd_stream_init, may be changed before the first
     * record */
    size_t max_record;  /* bytes of one record */
    uint64_t max_items; /* msgpack items of one record */
    uint64_t max_body;  /* decompressed body bytes */
    uint64_t max_ratio; /* body / compressed bytes past the floor; 0 off */

    /* progress */
    uint64_t offset;     /* where the body starts in the file */
    uint64_t body_bytes; /* decompressed so far */
    uint64_t file_bytes; /* compressed bytes read so far */
    uint64_t records;    /* records returned so far */
    /* set when the body ended early (a static string), else NULL */
    const char *truncation;

    /* the failure */
    int error; /* enum hd_stream_error */
    int err_no;
    char message[256];

    /* private */
    int fd;
    void *ds; /* ZSTD_DStream * */
    unsigned char *in;
    size_t in_len, in_pos;
    unsigned char *buf; /* the decompressed window */
    size_t cap, len, pos;
    size_t want;    /* bytes to ask for before framing again */
    size_t current; /* length of the record last returned */
    int eof;        /* read(2) returned 0 */
    int frame_open; /* inside a zstd frame */
} hd_stream;

/* Set the default limits and an empty state (nothing to close yet). */
void hd_stream_init(hd_stream *s);
/* Open path and position it at offset, where the body starts.  Returns 0,
 * or -1 with s->error set. */
int hd_stream_open(hd_stream *s, const char *path, uint64_t offset);
/* The next record: returns 1 with [*rec, *rec + *len) (valid until the
 * next call), 0 at the end of the body (s->truncation is set when it
 * ended inside a record or a zstd frame), -1 with s->error set. */
int hd_stream_next(hd_stream *s, const unsigned char **rec, size_t *len);
/* After the last record: decompress the rest of the file only to check
 * it (the last frame's checksum), counting the bytes in *after.  Sets
 * s->truncation when the file ends inside a frame.  0 or -1. */
int hd_stream_drain(hd_stream *s, uint64_t *after);
/* Close the file and free the buffers; safe to call twice. */
void hd_stream_close(hd_stream *s);

#endif /* HEAPDUMP_STREAM_H */
