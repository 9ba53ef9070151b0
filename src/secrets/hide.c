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
 * The files: hide.h (the hider's inside, and the map of the files),
 * hide_build.c (made from the entries), hide_ac.c (the automaton),
 * hide_rules.c (the rules), and this one: the lookups the walk makes,
 * masking, the Hider type.
 *
 * Contract: hd_hide_build_new and hd_hide_build_free are called with the GIL
 * held (they allocate and may raise); everything else reads the hider and the
 * value's memory only: no allocation, no Python call, no Python object
 * (the walk and the fatal-signal dump call it).  A hider does not change
 * once made, so one can serve several dumps.  hd_hide_mask_text is the
 * exception: it makes a str (normal mode, GIL held).
 */
#include "hide.h"

#include <string.h>

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

/* -------------------------------------------------------------- values */

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
    if (h->npats == 0 || v.n < h->ac_min || !hd_hide_ac_may_hold(h, &v)) {
        return HD_HIDE_NONE;
    }
    v.budget = HIDE_RULE_BUDGET * v.n + HIDE_RULE_FLOOR;
    if (hd_hide_ac_run(h, &v, hide_ranges_emit, out) < 0 &&
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
    if (!hd_hide_ac_may_hold(h, &v)) {
        return 0;
    }
    return hd_hide_ac_run(h, &v, hide_bytes_emit, &a);
}

size_t
hd_hide_text_key(const hd_hider *h, unsigned char *out, size_t cap)
{
    /* what hd_hide_bytes reads: the rules flag, then each pattern's
     * rule, why, token and bytes, in the automaton's order (a hider made
     * from the same values in the same order gives the same key) */
    size_t n = 0;
#define HIDE_KEY_PUT(b)                                                       \
    do {                                                                      \
        if (n < cap) {                                                        \
            out[n] = (unsigned char)(b);                                      \
        }                                                                     \
        n++;                                                                  \
    } while (0)
    if (h == NULL || h->npats == 0) {
        HIDE_KEY_PUT(0xff); /* nothing to find in a text */
        return n;
    }
    HIDE_KEY_PUT(h->rules ? 1 : 0);
    for (size_t i = 0; i < h->npats; i++) {
        const hide_pattern *pt = &h->pats[i];
        HIDE_KEY_PUT(pt->rule);
        HIDE_KEY_PUT(pt->why);
        HIDE_KEY_PUT(pt->token);
        for (int k = 0; k < 4; k++) {
            HIDE_KEY_PUT(pt->len >> (8 * k));
        }
        if (n + pt->len <= cap) {
            memcpy(out + n, h->bytes + pt->offset, pt->len);
        }
        n += pt->len;
    }
#undef HIDE_KEY_PUT
    return n;
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
    hd_hider *h = hd_hide_build_new(seq, rules);
    if (h == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    HiderObject *self = (HiderObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        hd_hide_build_free(h);
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
    hd_hide_build_free(self->h);
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
    "What a dump hides by value (src/secrets/hide.c): entries are\n"
    "(value, flags) pairs, flags of HIDE_IDENTITY (the object itself),\n"
    "HIDE_WHOLE (an equal str/bytes), HIDE_SUBSTRING (wherever it appears\n"
    "inside one), HIDE_ENVIRON (the reason is the environment); rules:\n"
    "also URL passwords and the tokens of known key formats.  Made once,\n"
    "read by every dump it is given to.");

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
