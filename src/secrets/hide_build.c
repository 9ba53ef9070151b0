/* hide_build.c: a hider made from the program's values (hide.h): the
 * entries read into one byte arena, WHOLE values into a hash set, IDENTITY
 * objects into a pointer set, SUBSTRING values and the rules' prefixes
 * into patterns for the automaton (hide_ac.c).  GIL held throughout: it
 * allocates and may raise.
 */
#include "hide.h"

#include <stdlib.h>

/* ------------------------------------------------------------ building */

/* What an entry contributes, gathered before anything is built. */
typedef struct hide_value {
    PyObject *bytes; /* a new reference to its UTF-8 / bytes */
    int flags;
} hide_value;

/* The entries read (step 1 of hd_hide_build_new): the values to match, by
 * their bytes, and what the arena and the sets will need. */
typedef struct hide_entries {
    hide_value *values; /* [0, nvalues), each owning its bytes */
    size_t nvalues;
    size_t nobjs;       /* IDENTITY entries */
    size_t sub_bytes;   /* bytes of SUBSTRING values */
    size_t whole_bytes; /* bytes of the other (WHOLE) values */
} hide_entries;

static int
hide_build_obj(hd_hider *h, PyObject *obj, int why)
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
hide_build_whole(hd_hider *h, uint32_t offset, uint32_t len, int why)
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
hide_build_commonness(unsigned char c)
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
hide_build_pair(hd_hider *h, const unsigned char *p, uint32_t len)
{
    if (len < 2) {
        h->pairs_all = 1;
        return;
    }
    uint32_t best = 0;
    int best_score = 1000;
    for (uint32_t i = 0; i + 1 < len; i++) {
        int a = hide_build_commonness(p[i]),
            b = hide_build_commonness(p[i + 1]);
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
hide_build_pattern(hd_hider *h, uint32_t offset, uint32_t len, int rule,
                   int why, int token)
{
    hide_pattern *p = &h->pats[h->npats++];
    const unsigned char *b = h->bytes + offset;
    hide_build_pair(h, b, len);
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

void
hd_hide_build_free(hd_hider *h)
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
hide_build_table_size(size_t n)
{
    size_t cap = 16;
    while (cap < n * 2) {
        cap *= 2;
    }
    return cap;
}

/* The bytes of an entry's value v: a str's UTF-8 (surrogatepass), a
 * bytes' or bytearray's copy (a new reference); NULL with an exception for
 * another type. */
static PyObject *
hide_build_bytes_of(PyObject *v)
{
    if (PyUnicode_Check(v)) {
        return PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass");
    }
    if (PyBytes_Check(v)) {
        return PyBytes_FromStringAndSize(PyBytes_AS_STRING(v),
                                         PyBytes_GET_SIZE(v));
    }
    if (PyByteArray_Check(v)) {
        return PyBytes_FromStringAndSize(PyByteArray_AS_STRING(v),
                                         PyByteArray_GET_SIZE(v));
    }
    PyErr_Format(PyExc_TypeError,
                 "hide: only a str, bytes or bytearray can be hidden "
                 "by value, not %.100s",
                 Py_TYPE(v)->tp_name);
    return NULL;
}

/* Step 1: read the (value, flags) entries of seq (a fast sequence) into
 * in->values (room for all of them), objects counted; empty values are
 * left out.  0, or -1 with an exception (in->values then holds the
 * nvalues read, for the caller to release). */
static int
hide_build_read(PyObject *seq, hide_entries *in)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(seq, i);
        long flags;
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 2 ||
            !PyLong_Check(PyTuple_GET_ITEM(e, 1))) {
            PyErr_SetString(PyExc_TypeError,
                            "hide entries must be (value, flags) pairs");
            return -1;
        }
        flags = PyLong_AsLong(PyTuple_GET_ITEM(e, 1));
        if (flags == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (flags & HD_HIDE_IDENTITY) {
            in->nobjs++;
        }
        if (!(flags & (HD_HIDE_WHOLE | HD_HIDE_SUBSTRING))) {
            continue;
        }
        PyObject *b = hide_build_bytes_of(PyTuple_GET_ITEM(e, 0));
        if (b == NULL) {
            return -1;
        }
        if (PyBytes_GET_SIZE(b) == 0) {
            Py_DECREF(b);
            continue;
        }
        in->values[in->nvalues].bytes = b;
        in->values[in->nvalues].flags = (int)flags;
        in->nvalues++;
        if (flags & HD_HIDE_SUBSTRING) {
            in->sub_bytes += (size_t)PyBytes_GET_SIZE(b);
        }
        else {
            in->whole_bytes += (size_t)PyBytes_GET_SIZE(b);
        }
    }
    return 0;
}

/* Step 2: check the limits and allocate h's arena, patterns and sets for
 * what in holds (and the rules' prefixes when h->rules).  0, or -1 with an
 * exception. */
static int
hide_build_alloc(hd_hider *h, const hide_entries *in)
{
    size_t rule_bytes = 0, nrules = 0;
    if (h->rules) {
        rule_bytes = strlen("://") + strlen("-----BEGIN ");
        nrules = 2 + HIDE_COUNT(hide_tokens);
        for (size_t i = 0; i < HIDE_COUNT(hide_tokens); i++) {
            rule_bytes += strlen(hide_tokens[i].prefix);
        }
    }
    if (in->sub_bytes > HIDE_MAX_PATTERN_BYTES) {
        return hide_too_big("the values hidden inside others");
    }
    if (in->whole_bytes > HIDE_MAX_WHOLE_BYTES) {
        return hide_too_big("the values hidden where an equal one is met");
    }
    h->nbytes = in->sub_bytes + in->whole_bytes + rule_bytes;
    h->bytes = malloc(h->nbytes + 1);
    h->pats = calloc(in->nvalues + nrules + 1, sizeof(hide_pattern));
    if (h->bytes == NULL || h->pats == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size_t nwhole = 0;
    for (size_t i = 0; i < in->nvalues; i++) {
        nwhole += !(in->values[i].flags & HD_HIDE_SUBSTRING);
    }
    if (nwhole > 0) {
        h->whole_mask = hide_build_table_size(nwhole) - 1;
        h->whole = calloc(h->whole_mask + 1, sizeof(hide_whole));
    }
    if (in->nobjs > 0) {
        h->objs_mask = hide_build_table_size(in->nobjs) - 1;
        h->objs = calloc(h->objs_mask + 1, sizeof(hide_obj));
    }
    if ((nwhole > 0 && h->whole == NULL) ||
        (in->nobjs > 0 && h->objs == NULL)) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Step 3: copy the values (then the rules' prefixes) into h's arena,
 * each a pattern or a WHOLE entry, and set ac_min and reach.  Cannot
 * fail: step 2 made the room. */
static void
hide_build_fill(hd_hider *h, const hide_entries *in)
{
    size_t at = 0;
    for (size_t i = 0; i < in->nvalues; i++) {
        PyObject *b = in->values[i].bytes;
        uint32_t len = (uint32_t)PyBytes_GET_SIZE(b);
        int why = in->values[i].flags & HD_HIDE_ENVIRON ? HD_WHY_ENVIRON
                                                        : HD_WHY_VALUE;
        memcpy(h->bytes + at, PyBytes_AS_STRING(b), len);
        if (in->values[i].flags & HD_HIDE_SUBSTRING) {
            hide_build_pattern(h, (uint32_t)at, len, HIDE_SECRET, why, 0);
            h->nsecrets++;
        }
        else {
            hide_build_whole(h, (uint32_t)at, len, why);
        }
        at += len;
    }
    if (h->rules) {
        static const char *fixed[2] = {"://", "-----BEGIN "};
        for (int r = 0; r < 2; r++) {
            size_t len = strlen(fixed[r]);
            memcpy(h->bytes + at, fixed[r], len);
            hide_build_pattern(h, (uint32_t)at, (uint32_t)len,
                               r == 0 ? HIDE_URL : HIDE_PEM,
                               r == 0 ? HD_WHY_URL : HD_WHY_TOKEN, 0);
            at += len;
        }
        for (size_t t = 0; t < HIDE_COUNT(hide_tokens); t++) {
            size_t len = strlen(hide_tokens[t].prefix);
            memcpy(h->bytes + at, hide_tokens[t].prefix, len);
            hide_build_pattern(h, (uint32_t)at, (uint32_t)len, HIDE_TOKEN,
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
}

/* Step 5: the IDENTITY objects of seq (entries step 1 has checked) into
 * h's pointer set. */
static void
hide_build_objects(hd_hider *h, PyObject *seq)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(seq, i);
        long flags = PyLong_AsLong(PyTuple_GET_ITEM(e, 1));
        if (flags & HD_HIDE_IDENTITY) {
            hide_build_obj(h, PyTuple_GET_ITEM(e, 0),
                           flags & HD_HIDE_ENVIRON ? HD_WHY_ENVIRON
                                                   : HD_WHY_VALUE);
        }
    }
}

/* The steps: read the entries, allocate, fill the arena and the sets,
 * build the automaton (step 4, hide_ac.c), add the objects. */
hd_hider *
hd_hide_build_new(PyObject *entries, int rules)
{
    hd_hider *h = calloc(1, sizeof(hd_hider));
    hide_entries in = {NULL, 0, 0, 0, 0};
    PyObject *seq = NULL;
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
    in.values =
        calloc((size_t)PySequence_Fast_GET_SIZE(seq) + 1, sizeof(hide_value));
    if (in.values == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    if (hide_build_read(seq, &in) < 0 || hide_build_alloc(h, &in) < 0) {
        goto error;
    }
    hide_build_fill(h, &in);
    if (h->npats > 0 && hd_hide_ac_build(h) < 0) {
        goto error;
    }
    hide_build_objects(h, seq);
    for (size_t i = 0; i < in.nvalues; i++) {
        Py_DECREF(in.values[i].bytes);
    }
    free(in.values);
    Py_DECREF(seq);
    return h;

error:
    for (size_t i = 0; in.values != NULL && i < in.nvalues; i++) {
        Py_DECREF(in.values[i].bytes);
    }
    free(in.values);
    Py_XDECREF(seq);
    hd_hide_build_free(h);
    return NULL;
}
