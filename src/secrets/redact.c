/* redact.c: names that look secret (docs/format.rst, ext 4 REDACTED).
 *
 * A name looks secret when one of the patterns appears in it as whole
 * words.  Names and patterns are normalized the same way: camelCase and
 * any run of characters other than letters and digits become word breaks,
 * letters are lowercased, so "userPassword", "USER_PASSWORD" and
 * "user-password" all read "user_password" and match "password", while
 * "author" does not match "auth".  A match begins where a word begins:
 * only the patterns whose first byte is that word's are compared there
 * (they are kept sorted by it), so a name costs a few comparisons per
 * word whatever the number of patterns.
 *
 * This is the one place the rule is written: heapdump's Python code (the
 * integrations' request context) asks looks_secret() and secret_words(),
 * exported below.
 *
 * Contract: hd_redact_init and hd_redact_free are called with the GIL held
 * before and after a dump; hd_redact_name, _cname, _bytes and _header run
 * during the walk and only read the name's characters (no Python call, no
 * allocation); hd_redact_name also writes the redactor's table of verdicts
 * (one dump at a time uses a redactor: dump.c runs one dump at a time).
 */
#include "heapdump.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define REDACT_MAX_NAME 256

/* The verdicts of the names met: a direct-mapped table indexed by the
 * str object's address (a name is mostly the same interned str wherever
 * it is met: attribute names, a class's dict keys, a JSON document's
 * keys), each entry checked against the name's own bytes, so an entry
 * left by a str freed since (a redactor outlives a dump in the signal
 * modes) is never taken for another name's verdict.  Only names of one
 * byte per character and at most REDACT_SEEN_NAME bytes are kept. */
#define REDACT_SEEN 1024
#define REDACT_SEEN_NAME 38

struct hd_redact_seen {
    struct {
        const void *obj;
        unsigned char len; /* 0: empty (a zero-length name is never kept) */
        unsigned char verdict;
        char name[REDACT_SEEN_NAME];
    } e[REDACT_SEEN];
};

/* One code point of a name into out (see redact_normalize_ucs4); the
 * classes are ASCII's whatever the locale: no ctype call (each one reads
 * the locale's tables through a thread-local pointer). */
static inline void
redact_step(Py_UCS4 c, char *out, size_t *len, int *prev)
{
    int cls; /* 0 break, 1 lower case letter or digit, 2 upper case */
    if (c >= 'A' && c <= 'Z') {
        cls = 2;
    }
    else if (c >= 128 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        cls = 1;
    }
    else {
        cls = 0;
    }
    if (cls == 0) {
        if (*len > 0 && out[*len - 1] != '_') {
            out[(*len)++] = '_';
        }
        *prev = 0;
        return;
    }
    /* a word break before an upper case letter that follows a lower case
     * one: userPassword -> user_password */
    if (cls == 2 && *prev == 1 && *len > 0 && out[*len - 1] != '_') {
        out[(*len)++] = '_';
    }
    out[(*len)++] = c >= 128   ? 'x'
                    : cls == 2 ? (char)(c + ('a' - 'A'))
                               : (char)c;
    *prev = cls;
}

/* Normalize n code points of a name into out (at most cap - 1 bytes);
 * non-ASCII letters count as letters but are not lowercased.  Returns the
 * length written. */
static size_t
redact_normalize_ucs4(int kind, const void *data, Py_ssize_t n, char *out,
                      size_t cap)
{
    size_t len = 0;
    int prev = 0; /* 0 start/break, 1 lower or digit, 2 upper */
    if (kind == PyUnicode_1BYTE_KIND) {
        /* most names: one loop over the bytes, no switch per character */
        const unsigned char *p = data;
        for (Py_ssize_t i = 0; i < n && len + 2 < cap; i++) {
            redact_step(p[i], out, &len, &prev);
        }
    }
    else {
        for (Py_ssize_t i = 0; i < n && len + 2 < cap; i++) {
            redact_step(PyUnicode_READ(kind, data, i), out, &len, &prev);
        }
    }
    while (len > 0 && out[len - 1] == '_') {
        len--;
    }
    out[len] = '\0';
    return len;
}

static int
redact_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
hd_redact_init(hd_redactor *r, PyObject *patterns)
{
    memset(r, 0, sizeof(*r));
    if (patterns == NULL || patterns == Py_None) {
        return 0;
    }
    PyObject *seq = PySequence_Fast(patterns, "redact must be a sequence "
                                              "of str");
    if (seq == NULL) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    r->patterns = calloc((size_t)n + 1, sizeof(char *));
    if (r->patterns == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(p)) {
            PyErr_Format(PyExc_TypeError,
                         "redact patterns must be str, not %.100s",
                         Py_TYPE(p)->tp_name);
            Py_DECREF(seq);
            hd_redact_free(r);
            return -1;
        }
        char buf[REDACT_MAX_NAME];
        size_t len =
            redact_normalize_ucs4(PyUnicode_KIND(p), PyUnicode_DATA(p),
                                  PyUnicode_GET_LENGTH(p), buf, sizeof(buf));
        if (len == 0) {
            continue;
        }
        r->patterns[r->n] = malloc(len + 1);
        if (r->patterns[r->n] == NULL) {
            Py_DECREF(seq);
            hd_redact_free(r);
            PyErr_NoMemory();
            return -1;
        }
        memcpy(r->patterns[r->n], buf, len + 1);
        r->n++;
    }
    Py_DECREF(seq);
    r->lens = malloc((r->n + 1) * sizeof(size_t));
    if (r->lens == NULL) {
        hd_redact_free(r);
        PyErr_NoMemory();
        return -1;
    }
    qsort(r->patterns, r->n, sizeof(char *), redact_cmp);
    r->min_letters = (size_t)-1;
    for (size_t i = 0; i < r->n; i++) {
        r->lens[i] = strlen(r->patterns[i]);
        size_t letters = 0;
        for (size_t k = 0; k < r->lens[i]; k++) {
            letters += r->patterns[i][k] != '_';
        }
        if (letters < r->min_letters) {
            r->min_letters = letters;
        }
    }
    /* a failure to allocate leaves the table out: every name is read */
    r->seen = r->n > 0 ? calloc(1, sizeof(struct hd_redact_seen)) : NULL;
    for (int c = 0, i = 0; c <= 256; c++) {
        while ((size_t)i < r->n && (unsigned char)r->patterns[i][0] < c) {
            i++;
        }
        r->bucket[c] = (uint32_t)i;
    }
    return 0;
}

void
hd_redact_free(hd_redactor *r)
{
    for (size_t i = 0; r->patterns && i < r->n; i++) {
        free(r->patterns[i]);
    }
    free(r->patterns);
    free(r->lens);
    free(r->seen);
    r->patterns = NULL;
    r->lens = NULL;
    r->seen = NULL;
    r->n = 0;
}

/* Whether a normalized name holds a pattern as whole words: at each word
 * start, the patterns that begin with its byte. */
static int
redact_match(const hd_redactor *r, const char *buf, size_t len)
{
    for (size_t at = 0; at < len; at++) {
        if (at > 0 && buf[at - 1] != '_') {
            continue;
        }
        unsigned char c = (unsigned char)buf[at];
        for (uint32_t i = r->bucket[c]; i < r->bucket[c + 1]; i++) {
            size_t plen = r->lens[i];
            if (at + plen <= len &&
                memcmp(buf + at, r->patterns[i], plen) == 0 &&
                (at + plen == len || buf[at + plen] == '_')) {
                return 1;
            }
        }
    }
    return 0;
}

int
hd_redact_name(const hd_redactor *r, PyObject *name)
{
    if (r->n == 0 || name == NULL || !PyUnicode_Check(name)) {
        return 0;
    }
    int kind = PyUnicode_KIND(name);
    const void *data = PyUnicode_DATA(name);
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    if ((size_t)n < r->min_letters) {
        return 0; /* too few characters to hold the shortest pattern */
    }
    struct hd_redact_seen *seen = r->seen;
    size_t at = 0;
    if (seen != NULL && kind == PyUnicode_1BYTE_KIND &&
        n <= REDACT_SEEN_NAME) {
        uintptr_t a = (uintptr_t)name;
        at = (size_t)(((a >> 4) * 0x9e3779b97f4a7c15ULL) >> 54);
        if (seen->e[at].obj == name && seen->e[at].len == (size_t)n &&
            memcmp(seen->e[at].name, data, (size_t)n) == 0) {
            return seen->e[at].verdict;
        }
    }
    char buf[REDACT_MAX_NAME];
    size_t len = redact_normalize_ucs4(kind, data, n, buf, sizeof(buf));
    int verdict = redact_match(r, buf, len);
    if (seen != NULL && kind == PyUnicode_1BYTE_KIND &&
        n <= REDACT_SEEN_NAME) {
        /* emptied first, filled, then keyed: a reader interrupted in
         * between (a signal handler) sees no entry or a whole one */
        seen->e[at].len = 0;
        atomic_signal_fence(memory_order_seq_cst);
        memcpy(seen->e[at].name, data, (size_t)n);
        seen->e[at].obj = name;
        seen->e[at].verdict = (unsigned char)verdict;
        atomic_signal_fence(memory_order_seq_cst);
        seen->e[at].len = (unsigned char)n;
    }
    return verdict;
}

int
hd_redact_cname(const hd_redactor *r, const char *name)
{
    if (r->n == 0 || name == NULL) {
        return 0;
    }
    char buf[REDACT_MAX_NAME];
    size_t len =
        redact_normalize_ucs4(PyUnicode_1BYTE_KIND, name,
                              (Py_ssize_t)strlen(name), buf, sizeof(buf));
    return redact_match(r, buf, len);
}

int
hd_redact_bytes(const hd_redactor *r, const char *name, size_t n)
{
    if (r->n == 0 || name == NULL || n < r->min_letters) {
        return 0;
    }
    char buf[REDACT_MAX_NAME];
    size_t len = redact_normalize_ucs4(PyUnicode_1BYTE_KIND, name,
                                       (Py_ssize_t)n, buf, sizeof(buf));
    return redact_match(r, buf, len);
}

/* Header names are short; a longer first element of a pair is no name. */
#define REDACT_MAX_HEADER 64

int
hd_redact_header(const hd_redactor *r, PyObject *name)
{
    if (r->n == 0 || name == NULL) {
        return 0;
    }
    if (PyUnicode_Check(name)) {
        return PyUnicode_GET_LENGTH(name) <= REDACT_MAX_HEADER &&
               hd_redact_name(r, name);
    }
    if (PyBytes_Check(name)) {
        return PyBytes_GET_SIZE(name) <= REDACT_MAX_HEADER &&
               hd_redact_bytes(r, PyBytes_AS_STRING(name),
                               (size_t)PyBytes_GET_SIZE(name));
    }
    if (PyByteArray_CheckExact(name)) {
        return PyByteArray_GET_SIZE(name) <= REDACT_MAX_HEADER &&
               hd_redact_bytes(r, PyByteArray_AS_STRING(name),
                               (size_t)PyByteArray_GET_SIZE(name));
    }
    return 0;
}

/* ------------------------------------------------------ the Python side */

/* The patterns looks_secret() was called with last, and their redactor:
 * the integrations pass the same tuple for every header of a request.
 * Protected by the GIL. */
static PyObject *redact_last_patterns;
static hd_redactor redact_last;

PyDoc_STRVAR(looks_secret_doc,
             "looks_secret($module, name, patterns, /)\n--\n\n"
             "Whether name (a str) holds one of patterns (a tuple of str) "
             "as whole\nwords, as the dumper decides: camelCase and runs of "
             "characters other\nthan letters and digits are word breaks, "
             "case does not matter.");

static PyObject *
redact_looks_secret(PyObject *module, PyObject *args)
{
    PyObject *name, *patterns;
    (void)module;
    if (!PyArg_ParseTuple(args, "UO!:looks_secret", &name, &PyTuple_Type,
                          &patterns)) {
        return NULL;
    }
    if (patterns != redact_last_patterns) {
        hd_redactor fresh;
        if (hd_redact_init(&fresh, patterns) < 0) {
            return NULL;
        }
        hd_redact_free(&redact_last);
        redact_last = fresh;
        Py_INCREF(patterns);
        Py_XSETREF(redact_last_patterns, patterns);
    }
    return PyBool_FromLong(hd_redact_name(&redact_last, name));
}

PyDoc_STRVAR(secret_words_doc,
             "secret_words($module, name, /)\n--\n\n"
             "name as the rule reads it: words joined by \"_\", lower case "
             "(\"userPassword\"\n-> \"user_password\").");

static PyObject *
redact_secret_words(PyObject *module, PyObject *name)
{
    (void)module;
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "secret_words() takes a str");
        return NULL;
    }
    char buf[REDACT_MAX_NAME];
    size_t len =
        redact_normalize_ucs4(PyUnicode_KIND(name), PyUnicode_DATA(name),
                              PyUnicode_GET_LENGTH(name), buf, sizeof(buf));
    return PyUnicode_FromStringAndSize(buf, (Py_ssize_t)len);
}

static PyMethodDef redact_methods[] = {
    {"looks_secret", redact_looks_secret, METH_VARARGS, looks_secret_doc},
    {"secret_words", redact_secret_words, METH_O, secret_words_doc},
    {NULL, NULL, 0, NULL},
};

int
hd_redact_init_module(PyObject *m)
{
    return PyModule_AddFunctions(m, redact_methods);
}
