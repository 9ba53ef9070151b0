/* hide.h: the inside of a hider, shared by the files of hide.c's
 * concern (hide.c says what a hider is and the contract):
 *
 *   hide_build.c  a hider made from the program's values
 *                 (hd_hide_build_new, hd_hide_build_free): the byte
 *                 arena, the WHOLE hash set, the IDENTITY pointer set,
 *                 the patterns
 *   hide_ac.c     the Aho-Corasick automaton over the patterns: built
 *                 (hd_hide_ac_build), run over a value (hd_hide_ac_run,
 *                 hd_hide_ac_may_hold)
 *   hide_rules.c  the rules met by the automaton: a URL's password, a PEM
 *                 key's body, a known key prefix's token
 *   hide.c        the lookups the walk makes, masking, the Python type
 *
 * Each calls only those below it in this list but hide.c, which calls
 * hide_build.c and hide_ac.c.  Everything here but hide_too_big reads
 * memory only (no allocation, no Python call): the fatal-signal dump
 * runs it.
 */
#ifndef HD_SECRETS_HIDE_H
#define HD_SECRETS_HIDE_H

#include "heapdump.h"

#include <string.h>

/* What a hider may hold, at most: bytes of SUBSTRING values and rule
 * prefixes, entries of the automaton's table, bytes of WHOLE values. */
#define HIDE_MAX_PATTERN_BYTES ((size_t)1 << 20)
#define HIDE_MAX_TABLE ((size_t)1 << 24)
#define HIDE_MAX_WHOLE_BYTES ((size_t)1 << 24)
/* WHOLE values' lengths below this are kept in bitmaps; a value at least
 * this long is hashed whenever one such WHOLE value exists. */
#define HIDE_LEN_BITS 4096
/* How far a rule reads past its prefix (a PEM key's body: further). */
#define HIDE_RULE_REACH 4096
#define HIDE_PEM_REACH 65536
/* What the rules may read in one value, at most: this many characters per
 * character of the value, and a floor.  A value that would make them read
 * more (a hostile one, made of prefixes) is hidden whole: the walk never
 * pays more than a linear price for it. */
#define HIDE_RULE_BUDGET 32
#define HIDE_RULE_FLOOR 65536

/* the top bit of a table entry: the state entered has outputs */
#define HIDE_OUT 0x80000000u

enum hide_rule {
    HIDE_SECRET = 0, /* a SUBSTRING value */
    HIDE_URL,        /* "://": the password of the userinfo */
    HIDE_PEM,        /* "-----BEGIN ": a private key's body */
    HIDE_TOKEN,      /* a key prefix: the token after it */
};

enum hide_charset {
    HIDE_CS_ALNUM = 1, /* [A-Za-z0-9] */
    HIDE_CS_WORD,      /* [A-Za-z0-9_-] */
    HIDE_CS_DOTTED,    /* [A-Za-z0-9_.-] */
    HIDE_CS_UPPER,     /* [A-Z0-9] */
};

/* The key prefixes whose token is hidden (the prefix itself is kept: it
 * tells what kind of key was there).  min: the fewest token characters
 * after the prefix; exact: the token has exactly min characters. */
static const struct {
    const char *prefix;
    unsigned char charset;
    unsigned char exact;
    unsigned short min;
} hide_tokens[] = {
    {"sk_live_", HIDE_CS_ALNUM, 0, 10}, /* Stripe */
    {"rk_live_", HIDE_CS_ALNUM, 0, 10},   {"sk_test_", HIDE_CS_ALNUM, 0, 10},
    {"rk_test_", HIDE_CS_ALNUM, 0, 10},   {"whsec_", HIDE_CS_ALNUM, 0, 20},
    {"ghp_", HIDE_CS_ALNUM, 0, 30}, /* GitHub */
    {"gho_", HIDE_CS_ALNUM, 0, 30},       {"ghu_", HIDE_CS_ALNUM, 0, 30},
    {"ghs_", HIDE_CS_ALNUM, 0, 30},       {"ghr_", HIDE_CS_ALNUM, 0, 30},
    {"github_pat_", HIDE_CS_WORD, 0, 40}, {"glpat-", HIDE_CS_WORD, 0, 20},
    {"xoxb-", HIDE_CS_WORD, 0, 10}, /* Slack */
    {"xoxp-", HIDE_CS_WORD, 0, 10},       {"xoxa-", HIDE_CS_WORD, 0, 10},
    {"xoxr-", HIDE_CS_WORD, 0, 10},       {"xoxs-", HIDE_CS_WORD, 0, 10},
    {"xapp-", HIDE_CS_WORD, 0, 10},       {"AKIA", HIDE_CS_UPPER, 1, 16},
    {"ASIA", HIDE_CS_UPPER, 1, 16}, /* AWS */
    {"AIza", HIDE_CS_WORD, 0, 35},  /* Google */
    {"npm_", HIDE_CS_ALNUM, 0, 36},       {"pypi-", HIDE_CS_WORD, 0, 50},
    {"sk-proj-", HIDE_CS_WORD, 0, 20}, /* OpenAI, Anthropic */
    {"sk-ant-", HIDE_CS_WORD, 0, 20},     {"SG.", HIDE_CS_DOTTED, 0, 40},
    {"eyJ", HIDE_CS_DOTTED, 0, 30}, /* a JWT: two dots in the token */
};

#define HIDE_COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct hide_pattern {
    uint32_t offset;           /* into h->bytes */
    uint32_t len;              /* bytes */
    uint32_t nchars;           /* bytes that start a UTF-8 character */
    uint32_t min_value;        /* the shortest value it can hide anything in */
    int32_t next;              /* the next pattern ending in the same state */
    unsigned char rule;        /* enum hide_rule */
    unsigned char why;         /* HD_WHY_* */
    unsigned char starts_cont; /* begins with a UTF-8 continuation byte */
    unsigned char token;       /* index into hide_tokens */
} hide_pattern;

typedef struct hide_whole {
    uint64_t hash; /* 0: an empty slot */
    uint32_t offset, len, nchars;
    unsigned char why;
} hide_whole;

typedef struct hide_obj {
    uintptr_t obj; /* 0: an empty slot */
    unsigned char why;
} hide_obj;

struct hd_hider {
    unsigned char *bytes; /* every pattern's and WHOLE value's bytes */
    size_t nbytes;
    /* the automaton: cls maps a byte to its class; delta[row + cls] is the
     * next row (a state's row is state * ncls), HIDE_OUT when it has
     * outputs */
    unsigned char cls[256];
    uint32_t ncls;
    uint32_t nstates;
    uint32_t *delta;
    int32_t *first; /* per state: the first pattern ending there, or -1 */
    int32_t *link;  /* per state: the nearest suffix state with outputs */
    hide_pattern *pats;
    size_t npats;
    size_t nsecrets;   /* SUBSTRING values among the patterns */
    Py_ssize_t ac_min; /* no pattern finds anything in a shorter value */
    Py_ssize_t reach;  /* how far past its start a piece can end, at most */
    /* bit (a << 8 | b): the chosen byte pair of some pattern is a, b;
     * pairs_all: some pattern has a single byte, the filter is off */
    unsigned char pairs[65536 / 8];
    unsigned char pair_first[256]; /* 1: a chosen pair begins with it */
    int pairs_all;
    /* WHOLE values: an open-addressing table and their lengths */
    hide_whole *whole;
    size_t whole_mask, nwhole;
    unsigned char len_chars[HIDE_LEN_BITS / 8]; /* for str values */
    unsigned char len_bytes[HIDE_LEN_BITS / 8]; /* for bytes values */
    int whole_long; /* a WHOLE value of HIDE_LEN_BITS units or more */
    unsigned char whole_ends[65536 / 8]; /* bit (first << 8 | last) */
    /* IDENTITY objects, and a filter that answers most other objects
     * with one bit test: bit (address >> 4) & 255 is set for each */
    uint64_t obj_filter[4];
    hide_obj *objs;
    size_t objs_mask, nobjs;
    int rules;
};

/* ------------------------------------------------------------- helpers */

static inline uint64_t
hide_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* The hash of a WHOLE value's bytes, 8 at a time: fed a byte at a time
 * (a str's UTF-8 made on the fly) or a run at once, it is the same. */
typedef struct hide_hash {
    uint64_t h, word;
    unsigned nbytes; /* in word */
} hide_hash;

static inline void
hide_hash_word(hide_hash *hh)
{
    hh->h = (hh->h ^ hh->word) * 0x9e3779b97f4a7c15ULL;
    hh->h ^= hh->h >> 29;
    hh->word = 0;
    hh->nbytes = 0;
}

static inline void
hide_hash_byte(hide_hash *hh, unsigned char b)
{
    hh->word |= (uint64_t)b << (8 * hh->nbytes);
    if (++hh->nbytes == 8) {
        hide_hash_word(hh);
    }
}

static inline void
hide_hash_run(hide_hash *hh, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && hh->nbytes != 0) {
        hide_hash_byte(hh, p[i++]);
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 0; k < 8; k++) {
            w |= (uint64_t)p[i + k] << (8 * k);
        }
        hh->word = w;
        hide_hash_word(hh);
    }
    while (i < n) {
        hide_hash_byte(hh, p[i++]);
    }
}

static inline uint64_t
hide_hash_final(hide_hash *hh, size_t len)
{
    if (hh->nbytes != 0) {
        hide_hash_word(hh);
    }
    uint64_t h = hide_mix(hh->h ^ len);
    return h ? h : 1; /* 0 marks an empty slot */
}

static inline uint32_t
hide_count_chars(const unsigned char *p, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++) {
        c += (p[i] & 0xc0) != 0x80;
    }
    return c;
}

static inline int
hide_bit(const unsigned char *bits, Py_ssize_t n)
{
    return (bits[n >> 3] >> (n & 7)) & 1;
}

static inline void
hide_set_bit(unsigned char *bits, size_t n)
{
    bits[n >> 3] |= (unsigned char)(1u << (n & 7));
}

/* A value being read: a str's code points, or bytes.  kind is 1, 2 or 4
 * (bytes: 1); is_str says whether to feed UTF-8. */
typedef struct hide_view {
    int kind;
    int is_str;
    int ascii; /* a str whose code points are all below 128 */
    const void *data;
    Py_ssize_t n;
    Py_ssize_t budget; /* characters the rules may still read */
} hide_view;

static inline Py_UCS4
hide_at(const hide_view *v, Py_ssize_t i)
{
    return PyUnicode_READ(v->kind, v->data, i);
}

/* The view of a str, bytes or bytearray (or subclass); 0 for others. */
static inline int
hide_view_of(PyObject *obj, hide_view *v)
{
    if (PyUnicode_Check(obj)) {
        v->kind = PyUnicode_KIND(obj);
        v->data = PyUnicode_DATA(obj);
        v->n = PyUnicode_GET_LENGTH(obj);
        v->is_str = 1;
        v->ascii = PyUnicode_IS_ASCII(obj);
        return 1;
    }
    if (PyBytes_Check(obj)) {
        v->data = PyBytes_AS_STRING(obj);
        v->n = PyBytes_GET_SIZE(obj);
    }
    else if (PyByteArray_Check(obj)) {
        v->data = PyByteArray_AS_STRING(obj);
        v->n = PyByteArray_GET_SIZE(obj);
    }
    else {
        return 0;
    }
    v->kind = PyUnicode_1BYTE_KIND;
    v->is_str = 0;
    v->ascii = 1;
    return 1;
}

/* The UTF-8 (surrogatepass) bytes of code point c into buf; the count. */
static inline int
hide_utf8(Py_UCS4 c, unsigned char *buf)
{
    if (c < 0x80) {
        buf[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        buf[0] = (unsigned char)(0xc0 | (c >> 6));
        buf[1] = (unsigned char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        buf[0] = (unsigned char)(0xe0 | (c >> 12));
        buf[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
        buf[2] = (unsigned char)(0x80 | (c & 0x3f));
        return 3;
    }
    buf[0] = (unsigned char)(0xf0 | (c >> 18));
    buf[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
    buf[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
    buf[3] = (unsigned char)(0x80 | (c & 0x3f));
    return 4;
}

/* Raise the ValueError of a hider that would be too large (GIL held,
 * building only); -1. */
static inline int
hide_too_big(const char *what)
{
    PyErr_Format(
        PyExc_ValueError,
        "hide: %s are too large to match (see src/secrets/hide.h's limits)",
        what);
    return -1;
}

/* What a scan found: [start, end) of the value, HD_WHY_*; -1 stops it. */
typedef int (*hide_emit)(void *arg, Py_ssize_t start, Py_ssize_t end, int why);

/* hide_build.c.  Make a hider from (value, flags) entries, a sequence (or
 * NULL / None: none); rules: URL passwords and known key formats too.  GIL
 * held; NULL with an exception set. */
hd_hider *hd_hide_build_new(PyObject *entries, int rules);
/* Free h (NULL: nothing).  GIL held. */
void hd_hide_build_free(hd_hider *h);

/* hide_ac.c.  Build h's automaton over h->pats[0, npats) (GIL held); 0, or
 * -1 with an exception (too large, out of memory), h left to
 * hd_hide_build_free. */
int hd_hide_ac_build(hd_hider *h);
/* Whether v holds one of the patterns' chosen byte pairs (if not, no
 * pattern is in it).  Reads memory only. */
int hd_hide_ac_may_hold(const hd_hider *h, const hide_view *v);
/* Feed v to the automaton, emitting what its patterns and rules find; 0,
 * or -1 when emit stopped it or v->budget ran out.  Reads memory only. */
int hd_hide_ac_run(const hd_hider *h, hide_view *v, hide_emit emit, void *arg);

/* hide_rules.c.  Pattern p (a rule's prefix, not HIDE_SECRET) was met in v
 * over [b, e): the piece to hide, [*start, *end), and 1, or 0 when there is
 * none.  Charges what it reads to v->budget.  Reads memory only. */
int hd_hide_rules_apply(hide_view *v, const hide_pattern *p, Py_ssize_t b,
                        Py_ssize_t e, Py_ssize_t *start, Py_ssize_t *end);

#endif /* HD_SECRETS_HIDE_H */
