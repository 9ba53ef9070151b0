/* mpread.c: the bounds-checked msgpack reader (contract in mpread.h).
 *
 * Why a reader of our own rather than msgpack-c's unpacker: that one
 * allocates an array of the size an array header announces before it has
 * seen the elements (a hostile "array of 4 billion" costs 64 GiB), and it
 * builds an intermediate object tree the readers would only walk once.
 * Here every length is checked against the bytes that remain, a record is
 * framed by an allocation-free skip that needs no stack, and the callers
 * decode values straight into what they build.
 */
#include "mpread.h"

#include <string.h>

static inline uint16_t
mpread_be16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint64_t
mpread_be64(const unsigned char *p)
{
    return ((uint64_t)hd_mpread_be32(p) << 32) | hd_mpread_be32(p + 4);
}

/* One item's header (mpread.h).  The encodings: positive and negative
 * fixint, fixstr/fixarray/fixmap, then the 0xc0-0xdf table; a signed
 * encoding of a non-negative number reads as HD_MP_UINT.
 * size: one switch over msgpack's type byte, a case per encoding of the
 * spec's table, each with its own bounds check, so that the reader of
 * hostile input can be read against the spec line by line. */
int
hd_mpread_next(hd_mp_cur *c, hd_mp_item *it)
{
    const unsigned char *p = c->p;
    size_t left = (size_t)(c->end - p);
    size_t len;
    if (left < 1) {
        return -1;
    }
    unsigned int b = *p++;
    left--;
#define NEED(n)                                                               \
    do {                                                                      \
        if (left < (size_t)(n)) {                                             \
            return -1;                                                        \
        }                                                                     \
    } while (0)
    if (b <= 0x7f) {
        it->type = HD_MP_UINT;
        it->u = b;
    }
    else if (b >= 0xe0) {
        it->type = HD_MP_NEG;
        it->i = (int64_t)(int8_t)b;
    }
    else if (b >= 0xa0 && b <= 0xbf) {
        len = b & 0x1f;
        goto str;
    }
    else if (b >= 0x90 && b <= 0x9f) {
        it->type = HD_MP_ARRAY;
        it->u = b & 0x0f;
    }
    else if (b >= 0x80 && b <= 0x8f) {
        it->type = HD_MP_MAP;
        it->u = b & 0x0f;
    }
    else {
        switch (b) {
        case 0xc0: it->type = HD_MP_NIL; break;
        case 0xc2:
        case 0xc3:
            it->type = HD_MP_BOOL;
            it->u = b == 0xc3;
            break;
        case 0xc4:
            NEED(1);
            len = p[0];
            p += 1, left -= 1;
            goto bin;
        case 0xc5:
            NEED(2);
            len = mpread_be16(p);
            p += 2, left -= 2;
            goto bin;
        case 0xc6:
            NEED(4);
            len = hd_mpread_be32(p);
            p += 4, left -= 4;
            goto bin;
        case 0xc7:
            NEED(2);
            len = p[0];
            it->ext = (int8_t)p[1];
            p += 2, left -= 2;
            goto ext;
        case 0xc8:
            NEED(3);
            len = mpread_be16(p);
            it->ext = (int8_t)p[2];
            p += 3, left -= 3;
            goto ext;
        case 0xc9:
            NEED(5);
            len = hd_mpread_be32(p);
            it->ext = (int8_t)p[4];
            p += 5, left -= 5;
            goto ext;
        case 0xca: {
            NEED(4);
            uint32_t u = hd_mpread_be32(p);
            float f;
            memcpy(&f, &u, 4);
            it->type = HD_MP_FLOAT;
            it->f = f;
            p += 4;
            break;
        }
        case 0xcb: {
            NEED(8);
            uint64_t u = mpread_be64(p);
            double d;
            memcpy(&d, &u, 8);
            it->type = HD_MP_FLOAT;
            it->f = d;
            p += 8;
            break;
        }
        case 0xcc:
            NEED(1);
            it->type = HD_MP_UINT;
            it->u = p[0];
            p += 1;
            break;
        case 0xcd:
            NEED(2);
            it->type = HD_MP_UINT;
            it->u = mpread_be16(p);
            p += 2;
            break;
        case 0xce:
            NEED(4);
            it->type = HD_MP_UINT;
            it->u = hd_mpread_be32(p);
            p += 4;
            break;
        case 0xcf:
            NEED(8);
            it->type = HD_MP_UINT;
            it->u = mpread_be64(p);
            p += 8;
            break;
        case 0xd0:
            NEED(1);
            it->i = (int8_t)p[0];
            p += 1;
            goto sint;
        case 0xd1:
            NEED(2);
            it->i = (int16_t)mpread_be16(p);
            p += 2;
            goto sint;
        case 0xd2:
            NEED(4);
            it->i = (int32_t)hd_mpread_be32(p);
            p += 4;
            goto sint;
        case 0xd3:
            NEED(8);
            it->i = (int64_t)mpread_be64(p);
            p += 8;
            goto sint;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            NEED(1);
            len = (size_t)1 << (b - 0xd4);
            it->ext = (int8_t)p[0];
            p += 1, left -= 1;
            goto ext;
        case 0xd9:
            NEED(1);
            len = p[0];
            p += 1, left -= 1;
            goto str;
        case 0xda:
            NEED(2);
            len = mpread_be16(p);
            p += 2, left -= 2;
            goto str;
        case 0xdb:
            NEED(4);
            len = hd_mpread_be32(p);
            p += 4, left -= 4;
            goto str;
        case 0xdc:
            NEED(2);
            it->type = HD_MP_ARRAY;
            it->u = mpread_be16(p);
            p += 2;
            break;
        case 0xdd:
            NEED(4);
            it->type = HD_MP_ARRAY;
            it->u = hd_mpread_be32(p);
            p += 4;
            break;
        case 0xde:
            NEED(2);
            it->type = HD_MP_MAP;
            it->u = mpread_be16(p);
            p += 2;
            break;
        case 0xdf:
            NEED(4);
            it->type = HD_MP_MAP;
            it->u = hd_mpread_be32(p);
            p += 4;
            break;
        default: /* 0xc1: never used */ return -1;
        }
    }
    c->p = p;
    return 0;
sint:
    /* a signed encoding of a non-negative number is still a number */
    if (it->i >= 0) {
        it->type = HD_MP_UINT;
        it->u = (uint64_t)it->i;
    }
    else {
        it->type = HD_MP_NEG;
    }
    c->p = p;
    return 0;
str:
    NEED(len);
    it->type = HD_MP_STR;
    goto payload;
bin:
    NEED(len);
    it->type = HD_MP_BIN;
    goto payload;
ext:
    NEED(len);
    it->type = HD_MP_EXT;
payload:
    it->u = len;
    it->data = p;
    c->p = p + len;
    return 0;
#undef NEED
}

/* mpread.h: skip one item and what it holds. */
int
hd_mpread_skip(hd_mp_cur *c)
{
    uint64_t todo = 1;
    hd_mp_item it;
    while (todo > 0) {
        if (hd_mpread_next(c, &it) < 0) {
            return -1;
        }
        todo--;
        if (it.type == HD_MP_ARRAY) {
            todo += it.u;
        }
        else if (it.type == HD_MP_MAP) {
            todo += 2 * it.u;
        }
        /* each item takes at least a byte: more to skip than bytes left
         * means the bytes end first */
        if (todo > (uint64_t)(c->end - c->p)) {
            return -1;
        }
    }
    return 0;
}

/* mpread.h: frame one record.  An incomplete item is told from a malformed
 * one by its first byte: 0xc1 never completes, a 32-bit length beyond max
 * never fits. */
int
hd_mpread_frame(const unsigned char *p, size_t avail, size_t max,
                uint64_t max_items, size_t *len)
{
    hd_mp_cur c = {p, p + avail};
    hd_mp_item it;
    uint64_t todo = 1;
    int first = 1;
    while (todo > 0) {
        const unsigned char *start = c.p;
        if (hd_mpread_next(&c, &it) < 0) {
            /* the bytes end inside this item (or it is 0xc1): is it one
             * that more bytes could complete, and within max? */
            size_t have = (size_t)(p + avail - start);
            if (have == 0) {
                return avail >= max ? -2 : 0;
            }
            unsigned int b = *start;
            if (b == 0xc1) {
                return -1;
            }
            if ((b == 0xc6 || b == 0xdb || b == 0xc9) && have >= 5 &&
                hd_mpread_be32(start + 1) > max) {
                return -2; /* a 32-bit length beyond max */
            }
            return avail >= max ? -2 : 0;
        }
        if (first) {
            if (it.type != HD_MP_ARRAY) {
                return -1;
            }
            first = 0;
        }
        todo--;
        if (it.type == HD_MP_ARRAY) {
            todo += it.u;
        }
        else if (it.type == HD_MP_MAP) {
            todo += 2 * it.u;
        }
        /* each item still to come takes at least one byte */
        if (todo > (uint64_t)max) {
            return -2;
        }
        if (todo > max_items) {
            return -3;
        }
    }
    *len = (size_t)(c.p - p);
    if (*len > max) {
        return -2;
    }
    return 1;
}
