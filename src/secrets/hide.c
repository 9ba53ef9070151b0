/* hide.c: secrets hidden by their value (docs/format.rst, ext 4
 * REDACTED).
 *
 * Redaction by name (redact.c) catches what is under a secret-looking
 * name.  A hider catches what no name tells: the values a program knows to
 * be secret (dump(hide=...), a request's cookies, Django's SECRET_KEY), the
 * values of the environment, and credentials of well-known forms inside
 * any string (the rules: the password of scheme://user:PASSWORD@host, the
 * token after a known key prefix such as sk_live_ or ghp_, the body of a
 * PEM private key).
 *
 * A hider is made from entries, (value, flags) pairs (HD_HIDE_*):
 *
 *   IDENTITY   the object itself, wherever it is met (a pointer set);
 *   WHOLE      a str, bytes or bytearray equal to the value (a hash set);
 *   SUBSTRING  every occurrence of the value inside a str, bytes or
 *              bytearray (one Aho-Corasick automaton, with the rules'
 *              prefixes);
 *   ENVIRON    the reason recorded is "environ", not "value".
 *
 * Every value is matched through its UTF-8 bytes: a str secret as its
 * UTF-8 (surrogatepass), a bytes secret as it is; a str being scanned is
 * fed to the automaton as the UTF-8 of its code points (kinds 1, 2 and 4),
 * a bytes or bytearray as it is.  So a str secret is found in a str and,
 * in UTF-8, inside bytes (Django's signer key, b"django.http.cookies" +
 * SECRET_KEY).  Positions are reported in code points for a str and in
 * bytes otherwise.
 *
 * Cost: the automaton is a full transition table over byte classes (the
 * bytes that occur in no pattern share one class), so one input byte is
 * one table read and an output check; the table's rows hold the next
 * row's offset, so there is no multiplication either.  Those reads depend
 * on each other, so a filter runs first: each pattern has one of its byte
 * pairs chosen, the rarest in ordinary text by a crude measure (an upper
 * case letter or a rare sign rather than two lower case letters), and a
 * value in which no chosen pair occurs cannot hold a pattern; its reads
 * are independent, several per cycle.  WHOLE values are looked up by a
 * hash only when a value's length, first and last byte could be one's.  A
 * value shorter than the shortest pattern, whose length no WHOLE value
 * has, is not read at all.
 *
 * Contract: hd_hide_new and hd_hide_free are called with the GIL held
 * (they allocate and may raise); everything else reads the hider and the
 * value's memory only: no allocation, no Python call, no Python object
 * (the walk and the fatal-signal dump call it).  A hider does not change
 * once made, so one can serve several dumps.  hd_hide_mask_text is the
 * exception: it makes a str (normal mode, GIL held).
 */
#include "heapdump.h"

#include <stdlib.h>
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

static void
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

static uint32_t
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
static int
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

/* ------------------------------------------------------------ building */

/* What an entry contributes, gathered before anything is built. */
typedef struct hide_value {
    PyObject *bytes; /* a new reference to its UTF-8 / bytes */
    int flags;
} hide_value;

static int
hide_too_big(const char *what)
{
    PyErr_Format(PyExc_ValueError,
                 "hide: %s are too large to match (see src/hide.c's limits)",
                 what);
    return -1;
}

static int
hide_objs_add(hd_hider *h, PyObject *obj, int why)
{
    uint64_t hv = hide_mix((uint64_t)(uintptr_t)obj);
    size_t i = (size_t)hv & h->objs_mask;
    while (h->objs[i].obj != 0) {
        if (h->objs[i].obj == (uintptr_t)obj) {
            return 0;
        }
        i = (i + 1) & h->objs_mask;
    }
    h->objs[i].obj = (uintptr_t)obj;
    h->objs[i].why = (unsigned char)why;
    h->nobjs++;
    size_t bit = ((uintptr_t)obj >> 4) & 255;
    h->obj_filter[bit >> 6] |= (uint64_t)1 << (bit & 63);
    return 0;
}

static void
hide_whole_add(hd_hider *h, uint32_t offset, uint32_t len, int why)
{
    const unsigned char *p = h->bytes + offset;
    hide_hash hh = {0, 0, 0};
    hide_hash_run(&hh, p, len);
    uint64_t hv = hide_hash_final(&hh, len);
    size_t i = (size_t)hv & h->whole_mask;
    while (h->whole[i].hash != 0) {
        hide_whole *w = &h->whole[i];
        if (w->hash == hv && w->len == len &&
            memcmp(h->bytes + w->offset, p, len) == 0) {
            return; /* the same value twice */
        }
        i = (i + 1) & h->whole_mask;
    }
    hide_whole *w = &h->whole[i];
    w->hash = hv;
    w->offset = offset;
    w->len = len;
    w->nchars = hide_count_chars(p, len);
    w->why = (unsigned char)why;
    h->nwhole++;
    if (w->nchars < HIDE_LEN_BITS) {
        hide_set_bit(h->len_chars, w->nchars);
    }
    else {
        h->whole_long = 1;
    }
    if (len < HIDE_LEN_BITS) {
        hide_set_bit(h->len_bytes, len);
    }
    else {
        h->whole_long = 1;
    }
    /* the first and last bytes: a value's first and last units when
     * those are ASCII (or it is bytes) */
    hide_set_bit(h->whole_ends, (size_t)p[0] << 8 | p[len - 1]);
}

/* How common a byte is in ordinary text, to choose a pattern's rarest
 * pair: lower case letters and digits are common, the signs of paths and
 * identifiers less, upper case letters and other signs rare. */
static int
hide_commonness(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        return 4;
    }
    if (c == '.' || c == '_' || c == '-' || c == '/' || c == ' ' || c == '@' ||
        c == ':' || c == '=') {
        return 2;
    }
    return 1;
}

static void
hide_choose_pair(hd_hider *h, const unsigned char *p, uint32_t len)
{
    if (len < 2) {
        h->pairs_all = 1;
        return;
    }
    uint32_t best = 0;
    int best_score = 1000;
    for (uint32_t i = 0; i + 1 < len; i++) {
        int a = hide_commonness(p[i]), b = hide_commonness(p[i + 1]);
        int both_digits =
            p[i] >= '0' && p[i] <= '9' && p[i + 1] >= '0' && p[i + 1] <= '9';
        /* the first byte counts twice: the filter looks at it alone
         * first; two digits (a number) or two letters (a word) are the
         * usual */
        int score = 2 * a + b + (a == 4 && b == 4 ? 1 : 0) + both_digits;
        if (score < best_score) {
            best_score = score;
            best = i;
        }
    }
    hide_set_bit(h->pairs, (size_t)p[best] << 8 | p[best + 1]);
    h->pair_first[p[best]] = 1;
}

static void
hide_pattern_add(hd_hider *h, uint32_t offset, uint32_t len, int rule, int why,
                 int token)
{
    hide_pattern *p = &h->pats[h->npats++];
    const unsigned char *b = h->bytes + offset;
    hide_choose_pair(h, b, len);
    memset(p, 0, sizeof(*p));
    p->offset = offset;
    p->len = len;
    p->nchars = hide_count_chars(b, len);
    p->starts_cont = (b[0] & 0xc0) == 0x80;
    p->rule = (unsigned char)rule;
    p->why = (unsigned char)why;
    p->token = (unsigned char)token;
    p->next = -1;
    switch (rule) {
    case HIDE_SECRET: p->min_value = p->nchars ? p->nchars : 1; break;
    case HIDE_URL: p->min_value = 9; break; /* a://b:c@d */
    case HIDE_PEM: p->min_value = 40; break;
    default: p->min_value = len + hide_tokens[token].min; break;
    }
}

/* The automaton over the patterns, h->pats[0, npats). */
static int
hide_build_automaton(hd_hider *h)
{
    size_t total = 0;
    int used[256] = {0};
    for (size_t i = 0; i < h->npats; i++) {
        const unsigned char *b = h->bytes + h->pats[i].offset;
        total += h->pats[i].len;
        for (uint32_t j = 0; j < h->pats[i].len; j++) {
            used[b[j]] = 1;
        }
    }
    h->ncls = 1;
    for (int c = 0; c < 256; c++) {
        h->cls[c] = used[c] ? (unsigned char)h->ncls++ : 0;
    }
    size_t maxstates = total + 1;
    if (maxstates * h->ncls > HIDE_MAX_TABLE) {
        return hide_too_big("the values hidden inside others");
    }
    uint32_t *go = calloc(maxstates * h->ncls, sizeof(uint32_t));
    int32_t *first = malloc(maxstates * sizeof(int32_t));
    int32_t *link = malloc(maxstates * sizeof(int32_t));
    uint32_t *fail = calloc(maxstates, sizeof(uint32_t));
    uint32_t *queue = malloc(maxstates * sizeof(uint32_t));
    if (!go || !first || !link || !fail || !queue) {
        free(go);
        free(first);
        free(link);
        free(fail);
        free(queue);
        PyErr_NoMemory();
        return -1;
    }
    uint32_t ncls = h->ncls, nstates = 1;
    first[0] = -1;
    /* the trie: go[state * ncls + class] is a child's number (0: none,
     * since the root is nobody's child) */
    for (size_t i = 0; i < h->npats; i++) {
        const unsigned char *b = h->bytes + h->pats[i].offset;
        uint32_t s = 0;
        for (uint32_t j = 0; j < h->pats[i].len; j++) {
            uint32_t *slot = &go[(size_t)s * ncls + h->cls[b[j]]];
            if (*slot == 0) {
                first[nstates] = -1;
                *slot = nstates++;
            }
            s = *slot;
        }
        /* patterns ending in s, in the order they were given */
        int32_t *tail = &first[s];
        while (*tail >= 0) {
            tail = &h->pats[*tail].next;
        }
        *tail = (int32_t)i;
    }
    /* breadth first: failure links, dictionary links, and the missing
     * transitions taken from the failure state's (already complete) row */
    size_t qh = 0, qt = 0;
    link[0] = -1;
    for (uint32_t c = 0; c < ncls; c++) {
        uint32_t t = go[c];
        if (t != 0) {
            fail[t] = 0;
            link[t] = -1;
            queue[qt++] = t;
        }
    }
    while (qh < qt) {
        uint32_t s = queue[qh++];
        for (uint32_t c = 0; c < ncls; c++) {
            uint32_t *slot = &go[(size_t)s * ncls + c];
            uint32_t t = *slot;
            uint32_t via = go[(size_t)fail[s] * ncls + c];
            if (t != 0) {
                fail[t] = via;
                link[t] = first[via] >= 0 ? (int32_t)via : link[via];
                queue[qt++] = t;
            }
            else {
                *slot = via;
            }
        }
    }
    /* rows hold the next row's offset, flagged when it has outputs */
    for (size_t k = 0; k < (size_t)nstates * ncls; k++) {
        uint32_t t = go[k];
        uint32_t out = first[t] >= 0 || link[t] >= 0 ? HIDE_OUT : 0;
        go[k] = t * ncls | out;
    }
    free(fail);
    free(queue);
    uint32_t *shrunk = realloc(go, (size_t)nstates * ncls * sizeof(uint32_t));
    h->delta = shrunk ? shrunk : go;
    h->first = first;
    h->link = link;
    h->nstates = nstates;
    return 0;
}

void
hd_hide_free(hd_hider *h)
{
    if (h == NULL) {
        return;
    }
    free(h->bytes);
    free(h->delta);
    free(h->first);
    free(h->link);
    free(h->pats);
    free(h->whole);
    free(h->objs);
    free(h);
}

static size_t
hide_table_size(size_t n)
{
    size_t cap = 16;
    while (cap < n * 2) {
        cap *= 2;
    }
    return cap;
}

hd_hider *
hd_hide_new(PyObject *entries, int rules)
{
    hd_hider *h = calloc(1, sizeof(hd_hider));
    hide_value *values = NULL;
    PyObject *seq = NULL;
    size_t nvalues = 0, nobjs = 0;
    if (h == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    h->rules = rules;
    h->ac_min = PY_SSIZE_T_MAX;
    seq = entries == NULL || entries == Py_None
              ? PyTuple_New(0)
              : PySequence_Fast(entries, "hide entries must be a sequence "
                                         "of (value, flags) pairs");
    if (seq == NULL) {
        goto error;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    values = calloc((size_t)n + 1, sizeof(hide_value));
    if (values == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    /* 1. the entries: values as bytes, objects counted */
    size_t sub_bytes = 0, whole_bytes = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(seq, i);
        long flags;
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 2 ||
            !PyLong_Check(PyTuple_GET_ITEM(e, 1))) {
            PyErr_SetString(PyExc_TypeError,
                            "hide entries must be (value, flags) pairs");
            goto error;
        }
        flags = PyLong_AsLong(PyTuple_GET_ITEM(e, 1));
        if (flags == -1 && PyErr_Occurred()) {
            goto error;
        }
        PyObject *v = PyTuple_GET_ITEM(e, 0);
        if (flags & HD_HIDE_IDENTITY) {
            nobjs++;
        }
        if (!(flags & (HD_HIDE_WHOLE | HD_HIDE_SUBSTRING))) {
            continue;
        }
        PyObject *b;
        if (PyUnicode_Check(v)) {
            b = PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass");
        }
        else if (PyBytes_Check(v)) {
            b = PyBytes_FromStringAndSize(PyBytes_AS_STRING(v),
                                          PyBytes_GET_SIZE(v));
        }
        else if (PyByteArray_Check(v)) {
            b = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(v),
                                          PyByteArray_GET_SIZE(v));
        }
        else {
            PyErr_Format(PyExc_TypeError,
                         "hide: only a str, bytes or bytearray can be hidden "
                         "by value, not %.100s",
                         Py_TYPE(v)->tp_name);
            goto error;
        }
        if (b == NULL) {
            goto error;
        }
        if (PyBytes_GET_SIZE(b) == 0) {
            Py_DECREF(b);
            continue;
        }
        values[nvalues].bytes = b;
        values[nvalues].flags = (int)flags;
        nvalues++;
        if (flags & HD_HIDE_SUBSTRING) {
            sub_bytes += (size_t)PyBytes_GET_SIZE(b);
        }
        else {
            whole_bytes += (size_t)PyBytes_GET_SIZE(b);
        }
    }
    size_t rule_bytes = 0, nrules = 0;
    if (rules) {
        rule_bytes = strlen("://") + strlen("-----BEGIN ");
        nrules = 2 + HIDE_COUNT(hide_tokens);
        for (size_t i = 0; i < HIDE_COUNT(hide_tokens); i++) {
            rule_bytes += strlen(hide_tokens[i].prefix);
        }
    }
    if (sub_bytes > HIDE_MAX_PATTERN_BYTES) {
        hide_too_big("the values hidden inside others");
        goto error;
    }
    if (whole_bytes > HIDE_MAX_WHOLE_BYTES) {
        hide_too_big("the values hidden where an equal one is met");
        goto error;
    }
    /* 2. one arena for every byte */
    h->nbytes = sub_bytes + whole_bytes + rule_bytes;
    h->bytes = malloc(h->nbytes + 1);
    h->pats = calloc(nvalues + nrules + 1, sizeof(hide_pattern));
    if (h->bytes == NULL || h->pats == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    size_t nwhole = 0;
    for (size_t i = 0; i < nvalues; i++) {
        nwhole += !(values[i].flags & HD_HIDE_SUBSTRING);
    }
    if (nwhole > 0) {
        h->whole_mask = hide_table_size(nwhole) - 1;
        h->whole = calloc(h->whole_mask + 1, sizeof(hide_whole));
    }
    if (nobjs > 0) {
        h->objs_mask = hide_table_size(nobjs) - 1;
        h->objs = calloc(h->objs_mask + 1, sizeof(hide_obj));
    }
    if ((nwhole > 0 && h->whole == NULL) || (nobjs > 0 && h->objs == NULL)) {
        PyErr_NoMemory();
        goto error;
    }
    size_t at = 0;
    for (size_t i = 0; i < nvalues; i++) {
        PyObject *b = values[i].bytes;
        uint32_t len = (uint32_t)PyBytes_GET_SIZE(b);
        int why =
            values[i].flags & HD_HIDE_ENVIRON ? HD_WHY_ENVIRON : HD_WHY_VALUE;
        memcpy(h->bytes + at, PyBytes_AS_STRING(b), len);
        if (values[i].flags & HD_HIDE_SUBSTRING) {
            hide_pattern_add(h, (uint32_t)at, len, HIDE_SECRET, why, 0);
            h->nsecrets++;
        }
        else {
            hide_whole_add(h, (uint32_t)at, len, why);
        }
        at += len;
    }
    if (rules) {
        static const char *fixed[2] = {"://", "-----BEGIN "};
        for (int r = 0; r < 2; r++) {
            size_t len = strlen(fixed[r]);
            memcpy(h->bytes + at, fixed[r], len);
            hide_pattern_add(h, (uint32_t)at, (uint32_t)len,
                             r == 0 ? HIDE_URL : HIDE_PEM,
                             r == 0 ? HD_WHY_URL : HD_WHY_TOKEN, 0);
            at += len;
        }
        for (size_t t = 0; t < HIDE_COUNT(hide_tokens); t++) {
            size_t len = strlen(hide_tokens[t].prefix);
            memcpy(h->bytes + at, hide_tokens[t].prefix, len);
            hide_pattern_add(h, (uint32_t)at, (uint32_t)len, HIDE_TOKEN,
                             HD_WHY_TOKEN, (int)t);
            at += len;
        }
    }
    h->reach = HIDE_PEM_REACH + 64;
    for (size_t i = 0; i < h->npats; i++) {
        if ((Py_ssize_t)h->pats[i].min_value < h->ac_min) {
            h->ac_min = (Py_ssize_t)h->pats[i].min_value;
        }
        if ((Py_ssize_t)h->pats[i].len > h->reach) {
            h->reach = (Py_ssize_t)h->pats[i].len;
        }
    }
    if (h->npats > 0 && hide_build_automaton(h) < 0) {
        goto error;
    }
    /* 3. the objects */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(seq, i);
        long flags = PyLong_AsLong(PyTuple_GET_ITEM(e, 1));
        if (flags & HD_HIDE_IDENTITY) {
            hide_objs_add(h, PyTuple_GET_ITEM(e, 0),
                          flags & HD_HIDE_ENVIRON ? HD_WHY_ENVIRON
                                                  : HD_WHY_VALUE);
        }
    }
    for (size_t i = 0; i < nvalues; i++) {
        Py_DECREF(values[i].bytes);
    }
    free(values);
    Py_DECREF(seq);
    return h;

error:
    for (size_t i = 0; values != NULL && i < nvalues; i++) {
        Py_DECREF(values[i].bytes);
    }
    free(values);
    Py_XDECREF(seq);
    hd_hide_free(h);
    return NULL;
}

int
hd_hide_active(const hd_hider *h)
{
    return h != NULL && (h->npats > 0 || h->nwhole > 0 || h->nobjs > 0);
}

/* ------------------------------------------------------------ identity */

int
hd_hide_object(const hd_hider *h, const void *obj)
{
    size_t bit = ((uintptr_t)obj >> 4) & 255;
    if (!((h->obj_filter[bit >> 6] >> (bit & 63)) & 1)) {
        return 0;
    }
    uint64_t hv = hide_mix((uint64_t)(uintptr_t)obj);
    size_t i = (size_t)hv & h->objs_mask;
    for (;;) {
        uintptr_t o = h->objs[i].obj;
        if (o == (uintptr_t)obj) {
            return h->objs[i].why;
        }
        if (o == 0) {
            return 0;
        }
        i = (i + 1) & h->objs_mask;
    }
}

/* --------------------------------------------------------------- rules */

static int
hide_in_charset(Py_UCS4 c, int cs)
{
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    if (cs == HIDE_CS_UPPER) {
        return 0;
    }
    if (c >= 'a' && c <= 'z') {
        return 1;
    }
    if (cs == HIDE_CS_ALNUM) {
        return 0;
    }
    return c == '_' || c == '-' || (cs == HIDE_CS_DOTTED && c == '.');
}

static int
hide_is_alnum(Py_UCS4 c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

static int
hide_is_hex(Py_UCS4 c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* A character that ends the authority of a URL (or is not in one). */
static int
hide_url_stop(Py_UCS4 c)
{
    return c <= ' ' || c == 0x7f || c == '/' || c == '?' || c == '#' ||
           c == '"' || c == '\'' || c == '\\' || c == '<' || c == '>' ||
           c == '`' || c == '{' || c == '}' || c == '|' || c == '^';
}

/* "://" ended at e (exclusive) and began at e - 3: the password of the
 * userinfo, [*start, *end), when there is one.  The authority ends at the
 * first character that cannot be in it; the userinfo at its last "@"; the
 * user name at the userinfo's first ":". */
static int
hide_rule_url(hide_view *v, Py_ssize_t e, Py_ssize_t *start, Py_ssize_t *end)
{
    if (e < 4) {
        return 0;
    }
    Py_UCS4 s = hide_at(v, e - 4); /* the scheme's last character */
    if (!(hide_is_alnum(s) || s == '+' || s == '-' || s == '.')) {
        return 0;
    }
    Py_ssize_t at = -1, colon = -1, limit = v->n;
    if (limit - e > HIDE_RULE_REACH) {
        limit = e + HIDE_RULE_REACH;
    }
    for (Py_ssize_t j = e; j < limit; j++) {
        Py_UCS4 c = hide_at(v, j);
        v->budget--;
        if (hide_url_stop(c)) {
            break;
        }
        if (c == '@') {
            at = j;
        }
        else if (c == ':' && colon < 0) {
            colon = j;
        }
    }
    if (at < 0 || colon < 0 || colon > at || colon + 1 == at) {
        return 0;
    }
    /* "%s" or "%(password)s" is a format's placeholder, no password (a
     * password's own "%" begins two hexadecimal digits) */
    if (hide_at(v, colon + 1) == '%' &&
        !(at - colon > 3 && hide_is_hex(hide_at(v, colon + 2)) &&
          hide_is_hex(hide_at(v, colon + 3)))) {
        return 0;
    }
    *start = colon + 1;
    *end = at;
    return 1;
}

/* "-----BEGIN " ended at e: the body of a private key, up to its
 * "-----END" (or the end of the value). */
static int
hide_rule_pem(hide_view *v, Py_ssize_t e, Py_ssize_t *start, Py_ssize_t *end)
{
    static const char want[] = "PRIVATE KEY";
    Py_ssize_t j = e, matched = 0, label_end = -1;
    int found = 0;
    for (; j < v->n && j - e < 80; j++) {
        Py_UCS4 c = hide_at(v, j);
        if (c == '-') {
            label_end = j;
            break;
        }
        if (c == '\n') {
            return 0;
        }
        matched = c == (Py_UCS4)want[matched] ? matched + 1
                  : c == (Py_UCS4)want[0]     ? 1
                                              : 0;
        if (matched == (Py_ssize_t)sizeof(want) - 1) {
            found = 1;
            matched = 0;
        }
    }
    if (!found || label_end < 0) {
        return 0;
    }
    j = label_end;
    while (j < v->n && hide_at(v, j) == '-') {
        j++;
    }
    *start = j;
    /* the end marker: "-----END", not too far */
    Py_ssize_t limit = v->n;
    if (limit - j > HIDE_PEM_REACH) {
        limit = j + HIDE_PEM_REACH;
    }
    for (Py_ssize_t k = j; k + 8 <= limit; k++) {
        v->budget--;
        if (hide_at(v, k) == '-' && hide_at(v, k + 1) == '-' &&
            hide_at(v, k + 2) == '-' && hide_at(v, k + 3) == '-' &&
            hide_at(v, k + 4) == '-' && hide_at(v, k + 5) == 'E' &&
            hide_at(v, k + 6) == 'N' && hide_at(v, k + 7) == 'D') {
            *end = k;
            return *end > *start;
        }
    }
    *end = limit;
    return *end > *start;
}

/* A key prefix (p, token) ended at e and began at b: the token after it. */
static int
hide_rule_token(hide_view *v, Py_ssize_t b, Py_ssize_t e, int token,
                Py_ssize_t *start, Py_ssize_t *end)
{
    int cs = hide_tokens[token].charset;
    if (b > 0 && (hide_is_alnum(hide_at(v, b - 1)) ||
                  hide_in_charset(hide_at(v, b - 1), cs))) {
        /* inside a longer word, or a token whose run was read when its
         * own prefix was met: each run is read once */
        return 0;
    }
    /* the whole run: a token is hidden to its end, and every run is read
     * once (a prefix inside one is skipped above) */
    Py_ssize_t j = e, dots = 0, limit = v->n;
    while (j < limit && hide_in_charset(hide_at(v, j), cs)) {
        dots += hide_at(v, j) == '.';
        j++;
    }
    v->budget -= j - e + 1;
    Py_ssize_t count = j - e;
    if (count < hide_tokens[token].min) {
        return 0;
    }
    if (hide_tokens[token].exact &&
        (count != hide_tokens[token].min ||
         (j < v->n && hide_is_alnum(hide_at(v, j))))) {
        return 0;
    }
    if (strcmp(hide_tokens[token].prefix, "eyJ") == 0 && dots < 2) {
        return 0; /* not header.payload.signature */
    }
    *start = e;
    *end = j;
    return 1;
}

/* --------------------------------------------------------------- scans */

typedef int (*hide_emit)(void *arg, Py_ssize_t start, Py_ssize_t end, int why);

/* The outputs of state st, met at the end of the value unit ci (the code
 * point or byte index that the last fed byte belongs to). */
static int
hide_outputs(const hd_hider *h, hide_view *v, uint32_t st, Py_ssize_t ci,
             hide_emit emit, void *arg)
{
    for (int32_t s = (int32_t)st; s >= 0; s = h->link[s]) {
        for (int32_t pi = h->first[s]; pi >= 0; pi = h->pats[pi].next) {
            const hide_pattern *p = &h->pats[pi];
            Py_ssize_t end = ci + 1, start, rs, re;
            start = v->is_str ? end - (Py_ssize_t)p->nchars - p->starts_cont
                              : end - (Py_ssize_t)p->len;
            if (start < 0) {
                start = 0;
            }
            int ok = 0;
            switch (p->rule) {
            case HIDE_SECRET:
                rs = start;
                re = end;
                ok = 1;
                break;
            case HIDE_URL: ok = hide_rule_url(v, end, &rs, &re); break;
            case HIDE_PEM: ok = hide_rule_pem(v, end, &rs, &re); break;
            default:
                ok = hide_rule_token(v, start, end, p->token, &rs, &re);
                break;
            }
            if (ok && emit(arg, rs, re, p->why) < 0) {
                return -1;
            }
            if (v->budget < 0) {
                return -1; /* hd_hide_value hides the whole value */
            }
        }
    }
    return 0;
}

/* Feed v to the automaton, emitting what its patterns find. */
static int
hide_run(const hd_hider *h, hide_view *v, hide_emit emit, void *arg)
{
    const uint32_t *delta = h->delta;
    const unsigned char *cls = h->cls;
    uint32_t row = 0, ncls = h->ncls;
    if (v->kind == PyUnicode_1BYTE_KIND && (v->ascii || !v->is_str)) {
        const unsigned char *p = v->data;
        for (Py_ssize_t i = 0; i < v->n; i++) {
            uint32_t t = delta[row + cls[p[i]]];
            row = t & ~HIDE_OUT;
            if ((t & HIDE_OUT) &&
                hide_outputs(h, v, row / ncls, i, emit, arg) < 0) {
                return -1;
            }
        }
        return 0;
    }
    for (Py_ssize_t i = 0; i < v->n; i++) {
        unsigned char buf[4];
        int nb = hide_utf8(hide_at(v, i), buf);
        for (int k = 0; k < nb; k++) {
            uint32_t t = delta[row + cls[buf[k]]];
            row = t & ~HIDE_OUT;
            if ((t & HIDE_OUT) &&
                hide_outputs(h, v, row / ncls, i, emit, arg) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Whether v holds one of the chosen byte pairs (see the file's comment):
 * if not, no pattern can be in it.  A str that is not ASCII is not
 * filtered (its UTF-8 is made on the fly). */
static int
hide_may_hold(const hd_hider *h, const hide_view *v)
{
    if (h->pairs_all || (v->is_str && !v->ascii)) {
        return 1;
    }
    const unsigned char *p = v->data, *first = h->pair_first;
    Py_ssize_t n = v->n - 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (first[p[i]]) {
            size_t pair = (size_t)p[i] << 8 | p[i + 1];
            if ((h->pairs[pair >> 3] >> (pair & 7)) & 1) {
                return 1;
            }
        }
    }
    return 0;
}

/* The WHOLE value v equals, or NULL. */
static const hide_whole *
hide_find_whole(const hd_hider *h, const hide_view *v)
{
    hide_hash hh = {0, 0, 0};
    size_t len = 0;
    int direct = v->kind == PyUnicode_1BYTE_KIND && (v->ascii || !v->is_str);
    if (direct) {
        hide_hash_run(&hh, v->data, (size_t)v->n);
        len = (size_t)v->n;
    }
    else {
        for (Py_ssize_t i = 0; i < v->n; i++) {
            unsigned char buf[4];
            int nb = hide_utf8(hide_at(v, i), buf);
            for (int k = 0; k < nb; k++) {
                hide_hash_byte(&hh, buf[k]);
            }
            len += (size_t)nb;
        }
    }
    uint64_t hv = hide_hash_final(&hh, len);
    for (size_t i = (size_t)hv & h->whole_mask; h->whole[i].hash != 0;
         i = (i + 1) & h->whole_mask) {
        const hide_whole *w = &h->whole[i];
        if (w->hash != hv) {
            continue;
        }
        const unsigned char *b = h->bytes + w->offset;
        if (direct) {
            if ((Py_ssize_t)w->len == v->n &&
                memcmp(b, v->data, w->len) == 0) {
                return w;
            }
            continue;
        }
        /* compare the UTF-8 of the code points with the value's bytes */
        size_t at = 0;
        Py_ssize_t i2 = 0;
        for (; i2 < v->n; i2++) {
            unsigned char buf[4];
            int nb = hide_utf8(hide_at(v, i2), buf);
            if (at + (size_t)nb > w->len || memcmp(b + at, buf, nb) != 0) {
                break;
            }
            at += (size_t)nb;
        }
        if (i2 == v->n && at == w->len) {
            return w;
        }
    }
    return NULL;
}

static int
hide_ranges_emit(void *arg, Py_ssize_t start, Py_ssize_t end, int why)
{
    hd_hide_ranges *out = arg;
    if (end <= start) {
        return 0;
    }
    if (out->n == HD_HIDE_MAX_RANGES) {
        out->overflow = 1;
        return -1; /* too many pieces: the whole value goes */
    }
    out->r[out->n].start = start;
    out->r[out->n].end = end;
    out->r[out->n].why = why;
    out->n++;
    return 0;
}

/* Sort (insertion: at most HD_HIDE_MAX_RANGES) and merge overlapping or
 * touching ranges. */
static void
hide_ranges_merge(hd_hide_ranges *out)
{
    for (size_t i = 1; i < out->n; i++) {
        hd_hide_range r = out->r[i];
        size_t j = i;
        while (j > 0 && out->r[j - 1].start > r.start) {
            out->r[j] = out->r[j - 1];
            j--;
        }
        out->r[j] = r;
    }
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (k > 0 && out->r[i].start <= out->r[k - 1].end) {
            if (out->r[i].end > out->r[k - 1].end) {
                out->r[k - 1].end = out->r[i].end;
            }
        }
        else {
            out->r[k++] = out->r[i];
        }
    }
    out->n = k;
}

int
hd_hide_value(const hd_hider *h, PyObject *obj, hd_hide_ranges *out,
              Py_ssize_t limit)
{
    hide_view v;
    out->n = 0;
    out->overflow = 0;
    if (!hide_view_of(obj, &v) || v.n == 0) {
        return HD_HIDE_NONE;
    }
    Py_ssize_t n = v.n;
    if (h->nwhole > 0) {
        const unsigned char *bits = v.is_str ? h->len_chars : h->len_bytes;
        Py_UCS4 first = hide_at(&v, 0), last = hide_at(&v, v.n - 1);
        int ends = 1;
        if (!v.is_str || (first < 0x80 && last < 0x80)) {
            ends = hide_bit(h->whole_ends, (Py_ssize_t)(first << 8 | last));
        }
        if (ends &&
            (v.n < HIDE_LEN_BITS ? hide_bit(bits, v.n) : h->whole_long)) {
            const hide_whole *w = hide_find_whole(h, &v);
            if (w != NULL) {
                out->n = 1;
                out->r[0].start = 0;
                out->r[0].end = v.n;
                out->r[0].why = w->why;
                return HD_HIDE_ALL;
            }
        }
    }
    /* only what is written needs its pieces: the first limit units, and
     * what a piece that begins there can reach */
    if (limit >= 0 && limit < v.n - h->reach) {
        v.n = limit + h->reach;
    }
    if (h->npats == 0 || v.n < h->ac_min || !hide_may_hold(h, &v)) {
        return HD_HIDE_NONE;
    }
    v.budget = HIDE_RULE_BUDGET * v.n + HIDE_RULE_FLOOR;
    if (hide_run(h, &v, hide_ranges_emit, out) < 0 &&
        (out->overflow || v.budget < 0)) {
        /* too many pieces, or a value the rules would read too long */
        int why = out->n > 0 ? out->r[0].why : HD_WHY_TOKEN;
        out->n = 1;
        out->r[0].start = 0;
        out->r[0].end = n;
        out->r[0].why = why;
        return HD_HIDE_ALL;
    }
    if (out->n == 0) {
        return HD_HIDE_NONE;
    }
    hide_ranges_merge(out);
    if (out->n == 1 && out->r[0].start == 0 && out->r[0].end == n) {
        return HD_HIDE_ALL;
    }
    return HD_HIDE_PARTS;
}

struct hide_bytes_arg {
    hd_hide_visit visit;
    void *arg;
};

static int
hide_bytes_emit(void *arg, Py_ssize_t start, Py_ssize_t end, int why)
{
    struct hide_bytes_arg *a = arg;
    return a->visit(a->arg, (size_t)start, (size_t)end, why);
}

int
hd_hide_bytes(const hd_hider *h, const unsigned char *p, size_t n,
              hd_hide_visit visit, void *arg)
{
    if (h == NULL || h->npats == 0 || (Py_ssize_t)n < h->ac_min) {
        return 0;
    }
    hide_view v = {PyUnicode_1BYTE_KIND,
                   0,
                   1,
                   p,
                   (Py_ssize_t)n,
                   HIDE_RULE_BUDGET * (Py_ssize_t)n + HIDE_RULE_FLOOR};
    struct hide_bytes_arg a = {visit, arg};
    if (!hide_may_hold(h, &v)) {
        return 0;
    }
    return hide_run(h, &v, hide_bytes_emit, &a);
}

/* -------------------------------------------------------------- masking */

PyObject *
hd_hide_mask_text(const hd_hider *h, PyObject *s)
{
    hd_hide_ranges r;
    int what = h != NULL ? hd_hide_value(h, s, &r, -1) : HD_HIDE_NONE;
    if (what == HD_HIDE_NONE || !PyUnicode_Check(s)) {
        Py_INCREF(s);
        return s;
    }
    PyObject *parts = PyList_New(0), *result = NULL;
    PyObject *marker = PyUnicode_FromString(HD_REDACTED_TEXT);
    Py_ssize_t at = 0;
    if (parts == NULL || marker == NULL) {
        goto done;
    }
    for (size_t i = 0; i <= r.n; i++) {
        Py_ssize_t end = i < r.n ? r.r[i].start : PyUnicode_GET_LENGTH(s);
        PyObject *piece = PyUnicode_Substring(s, at, end);
        if (piece == NULL || PyList_Append(parts, piece) < 0) {
            Py_XDECREF(piece);
            goto done;
        }
        Py_DECREF(piece);
        if (i < r.n) {
            if (PyList_Append(parts, marker) < 0) {
                goto done;
            }
            at = r.r[i].end;
        }
    }
    PyObject *empty = PyUnicode_FromString("");
    if (empty != NULL) {
        result = PyUnicode_Join(empty, parts);
        Py_DECREF(empty);
    }
done:
    Py_XDECREF(parts);
    Py_XDECREF(marker);
    return result;
}

/* ------------------------------------------------------ the Python type */

typedef struct {
    PyObject_HEAD hd_hider *h;
    PyObject *entries; /* keeps the IDENTITY objects alive */
} HiderObject;

static PyTypeObject *hider_type;

const hd_hider *
hd_hide_of(PyObject *obj)
{
    if (obj == NULL || obj == Py_None || hider_type == NULL ||
        !PyObject_TypeCheck(obj, hider_type)) {
        return NULL;
    }
    return ((HiderObject *)obj)->h;
}

int
hd_hide_check(PyObject *obj)
{
    return obj == Py_None ||
           (hider_type != NULL && PyObject_TypeCheck(obj, hider_type));
}

static PyObject *
hider_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"entries", "rules", NULL};
    PyObject *entries = Py_None;
    int rules = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|Op:Hider", kwlist,
                                     &entries, &rules)) {
        return NULL;
    }
    PyObject *seq =
        entries == Py_None ? PyTuple_New(0) : PySequence_Tuple(entries);
    if (seq == NULL) {
        return NULL;
    }
    hd_hider *h = hd_hide_new(seq, rules);
    if (h == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    HiderObject *self = (HiderObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        hd_hide_free(h);
        Py_DECREF(seq);
        return NULL;
    }
    self->h = h;
    self->entries = seq;
    return (PyObject *)self;
}

static int
hider_traverse(HiderObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->entries);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
hider_clear(HiderObject *self)
{
    Py_CLEAR(self->entries);
    return 0;
}

static void
hider_dealloc(HiderObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    hider_clear(self);
    hd_hide_free(self->h);
    self->h = NULL;
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
hider_why(int why)
{
    return PyUnicode_FromString(hd_format_why_name(why));
}

PyDoc_STRVAR(hider_scan_doc,
             "scan($self, value, /)\n--\n\n"
             "The pieces of value (a str, bytes or bytearray) the dumper "
             "would hide,\na list of (start, end, why): code points of a "
             "str, bytes otherwise;\n[(0, len(value), why)] when it hides "
             "the whole value.  An object hidden\nby identity gives "
             "[(0, 0, why)].");

static PyObject *
hider_scan(HiderObject *self, PyObject *value)
{
    int why = hd_hide_object(self->h, value);
    if (why) {
        return Py_BuildValue("[(iiN)]", 0, 0, hider_why(why));
    }
    hd_hide_ranges r;
    if (!PyUnicode_Check(value) && !PyBytes_Check(value) &&
        !PyByteArray_Check(value)) {
        return PyList_New(0);
    }
    hd_hide_value(self->h, value, &r, -1);
    PyObject *list = PyList_New((Py_ssize_t)r.n);
    for (size_t i = 0; list != NULL && i < r.n; i++) {
        PyObject *t = Py_BuildValue("(nnN)", r.r[i].start, r.r[i].end,
                                    hider_why(r.r[i].why));
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

PyDoc_STRVAR(hider_mask_doc,
             "mask($self, text, /)\n--\n\n"
             "text (a str) with every piece the dumper would hide replaced "
             "by\n\"" HD_REDACTED_TEXT "\" (for header lines and META "
             "facts).");

static PyObject *
hider_mask(HiderObject *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "mask() takes a str");
        return NULL;
    }
    return hd_hide_mask_text(self->h, text);
}

static PyObject *
hider_get_count(HiderObject *self, void *closure)
{
    const char *what = closure;
    const hd_hider *h = self->h;
    size_t n = strcmp(what, "substrings") == 0 ? h->nsecrets
               : strcmp(what, "values") == 0   ? h->nwhole
                                               : h->nobjs;
    return PyLong_FromSize_t(n);
}

static PyObject *
hider_get_rules(HiderObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->h->rules);
}

static PyMethodDef hider_methods[] = {
    {"scan", (PyCFunction)hider_scan, METH_O, hider_scan_doc},
    {"mask", (PyCFunction)hider_mask, METH_O, hider_mask_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef hider_getset[] = {
    {"substrings", (getter)hider_get_count, NULL,
     "values hidden wherever they appear inside another", "substrings"},
    {"values", (getter)hider_get_count, NULL,
     "values hidden where an equal one is met", "values"},
    {"objects", (getter)hider_get_count, NULL, "objects hidden by identity",
     "objects"},
    {"rules", (getter)hider_get_rules, NULL,
     "whether URL passwords and known key formats are hidden", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(
    hider_doc,
    "Hider(entries=(), rules=True)\n--\n\n"
    "What a dump hides by value (src/hide.c): entries are (value, flags)\n"
    "pairs, flags of HIDE_IDENTITY (the object itself), HIDE_WHOLE (an\n"
    "equal str/bytes), HIDE_SUBSTRING (wherever it appears inside one),\n"
    "HIDE_ENVIRON (the reason is the environment); rules: also URL\n"
    "passwords and the tokens of known key formats.  Made once, read by\n"
    "every dump it is given to.");

static PyType_Slot hider_slots[] = {
    {Py_tp_new, hider_new},           {Py_tp_dealloc, hider_dealloc},
    {Py_tp_traverse, hider_traverse}, {Py_tp_clear, hider_clear},
    {Py_tp_methods, hider_methods},   {Py_tp_getset, hider_getset},
    {Py_tp_doc, (void *)hider_doc},   {0, NULL},
};

static PyType_Spec hider_spec = {
    .name = "heapdump._heapdump.Hider",
    .basicsize = sizeof(HiderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = hider_slots,
};

int
hd_hide_init_module(PyObject *m)
{
    PyObject *t = PyType_FromSpec(&hider_spec);
    if (t == NULL) {
        return -1;
    }
    if (PyModule_AddObject(m, "Hider", t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    Py_INCREF(t);
    hider_type = (PyTypeObject *)t;
    if (PyModule_AddIntConstant(m, "HIDE_IDENTITY", HD_HIDE_IDENTITY) < 0 ||
        PyModule_AddIntConstant(m, "HIDE_WHOLE", HD_HIDE_WHOLE) < 0 ||
        PyModule_AddIntConstant(m, "HIDE_SUBSTRING", HD_HIDE_SUBSTRING) < 0 ||
        PyModule_AddIntConstant(m, "HIDE_ENVIRON", HD_HIDE_ENVIRON) < 0 ||
        PyModule_AddIntConstant(m, "HIDE_MIN_SUBSTRING",
                                HD_HIDE_MIN_SUBSTRING) < 0) {
        return -1;
    }
    return 0;
}
