/* mpread.h: a bounds-checked msgpack reader for untrusted bytes.
 *
 * The one msgpack decoder of the reading side (load.c, graph.c and the
 * fuzz target use it).  It depends on nothing but the C library: no
 * Python, no allocation, no recursion.  Every length is checked against
 * the bytes that remain before anything reads past them, so a hostile
 * "array of 4 billion" or a str that claims more bytes than there are is
 * an error, not an allocation or an overread.
 *
 * A cursor is a window [p, end) of bytes; reading advances p.  Functions
 * return 0 (or 1) on success and a negative number on malformed input;
 * they never raise and never read outside the window.
 */
#ifndef HEAPDUMP_MPREAD_H
#define HEAPDUMP_MPREAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct hd_mp_cur {
    const unsigned char *p;
    const unsigned char *end;
} hd_mp_cur;

/* The type of an item. */
enum hd_mp_type {
    HD_MP_NIL,
    HD_MP_BOOL,
    HD_MP_UINT, /* every non-negative integer, however encoded */
    HD_MP_NEG,  /* a negative integer */
    HD_MP_FLOAT,
    HD_MP_STR,
    HD_MP_BIN,
    HD_MP_ARRAY,
    HD_MP_MAP,
    HD_MP_EXT,
};

typedef struct hd_mp_item {
    int type;
    uint64_t u; /* uint, bool, array/map count, str/bin/ext length */
    int64_t i;  /* negative int */
    double f;   /* float (float 32 widened) */
    const unsigned char *data; /* str/bin/ext payload, inside the window */
    int ext;                   /* ext type */
} hd_mp_item;

/* Read the header of the next item at c into it, advancing c past the
 * header and past the payload of a str, bin or ext (it->data points at
 * the payload).  Arrays and maps: only the header (it->u is the count;
 * their elements follow).  Returns 0, or -1 when the bytes end first or
 * the byte is not msgpack (0xc1). */
int hd_mpread_next(hd_mp_cur *c, hd_mp_item *it);

/* Skip one complete item with everything nested in it.  No stack: a
 * count of the items still to skip, which may not exceed the bytes left
 * (each item takes at least one).  Returns 0, or -1 when the bytes end
 * first or are not msgpack. */
int hd_mpread_skip(hd_mp_cur *c);

/* Frame one record (a msgpack array) at the start of [p, p + avail): its
 * length in bytes into *len.  Returns 1 (complete), 0 (incomplete: more
 * bytes could complete it), -1 (not msgpack, or not an array), -2 (larger
 * than max bytes), -3 (more than max_items msgpack items). */
int hd_mpread_frame(const unsigned char *p, size_t avail, size_t max,
                    uint64_t max_items, size_t *len);

/* The big-endian integers of the msgpack encoding. */
static inline uint32_t
hd_mpread_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

#endif /* HEAPDUMP_MPREAD_H */
