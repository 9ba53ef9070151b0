/* srcmask.c: secret literals masked in the embedded source text
 * (docs/format.rst, SOURCE).
 *
 * A dump carries the source of the code it holds, and a secret written
 * into a module as a literal would reach the file through that text
 * whatever happens to its value.  Before a SOURCE record is written, the
 * file's text is masked:
 *
 * - string and bytes literals assigned to a secret-looking name (the
 *   redactor's rule, redact.c): every literal of the value of an
 *   assignment whose targets hold such a name (NAME = ..., NAME: T = ...,
 *   a.NAME = ..., d["password"] = ..., NAME += ...), of a keyword argument
 *   or parameter default whose name looks secret (f(password="..."),
 *   def f(token: str = "...")), and of the value of a dict display's key
 *   that looks secret ({"password": "..."});
 * - what the hider finds in the text (hide.c): the values hidden inside
 *   others, URL passwords, the tokens of known key formats.
 *
 * Masking keeps the layout: every code point of a masked piece becomes '*'
 * except quotes, backslashes, braces and line breaks, so the lines and
 * columns pdb's list and longlist show stay where they were, and the text
 * still tokenizes as it did (a string's end is where it was).  Of an
 * f-string only the literal parts are masked; its expressions are code.
 *
 * The lexer understands what decides where a literal begins and ends:
 * comments, line continuations, brackets (newlines inside them do not end
 * a statement), string prefixes (r, b, u, f, t in any case and order),
 * single and triple quotes, backslash escapes, and f-strings with nested
 * replacement fields, format specs and strings (the 3.12 grammar, which
 * accepts every older f-string).  Text it cannot read (an unterminated
 * string: a file that changed since it was imported, or no Python) stops
 * the rules where it stops: what was found before is masked, nothing is
 * guessed after.
 *
 * Contract: no Python object is made or touched (the signal modes call
 * it); allocation is the list of pieces only, and a failure to allocate
 * leaves the text as it was and returns -1.
 */
#include "heapdump.h"

#include <stdlib.h>
#include <string.h>

/* Brackets deeper than this keep the state of this depth. */
#define SM_MAX_DEPTH 200
/* f-strings nested deeper than this are taken for unreadable text. */
#define SM_MAX_FNEST 32
/* A string literal longer than this is no name (a dict key). */
#define SM_MAX_KEY 64
/* Identifiers whose verdict is remembered: a direct-mapped table. */
#define SM_SEEN 512
#define SM_SEEN_NAME 30

typedef struct sm_range {
    size_t start, end; /* bytes of the text */
    int why;
} sm_range;

typedef struct sm {
    const unsigned char *p;
    size_t n;
    const hd_redactor *r;
    sm_range *ranges;
    size_t nranges, cap;
    int oom;
    int broken; /* the lexer met text it cannot read */
    /* the rules (see the file's comment) */
    int depth;
    unsigned char bracket[SM_MAX_DEPTH + 1];
    unsigned char name_secret[SM_MAX_DEPTH + 1]; /* '(': a secret-looking
                                                    name since the last ',' */
    unsigned char key_secret[SM_MAX_DEPTH + 1];  /* '{': the last token was
                                                    a secret-looking key */
    unsigned char masking[SM_MAX_DEPTH + 1];     /* a value being masked */
    /* what the name rule said of recent identifiers: the same ones come
     * back all through a file (self, return, request...) */
    struct sm_seen {
        unsigned char len; /* 0: empty */
        unsigned char secret;
        char name[SM_SEEN_NAME];
    } seen[SM_SEEN];
    int active;     /* levels masking */
    int seg_secret; /* depth 0: the current target holds a secret name */
    int mask_line;  /* depth 0: the rest of the statement is a value to
                       mask */
} sm;

static void
sm_add(sm *s, size_t start, size_t end, int why)
{
    if (end <= start || s->oom) {
        return;
    }
    if (s->nranges == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        sm_range *r = realloc(s->ranges, cap * sizeof(sm_range));
        if (r == NULL) {
            s->oom = 1;
            return;
        }
        s->ranges = r;
        s->cap = cap;
    }
    s->ranges[s->nranges].start = start;
    s->ranges[s->nranges].end = end;
    s->ranges[s->nranges].why = why;
    s->nranges++;
}

static int
sm_hide_visit(void *arg, size_t start, size_t end, int why)
{
    sm *s = arg;
    sm_add(s, start, end, why);
    return s->oom ? -1 : 0;
}

/* ------------------------------------------------------------- the lexer */

static inline int
sm_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

static inline int
sm_ident_char(unsigned char c)
{
    return sm_ident_start(c) || (c >= '0' && c <= '9');
}

/* Whether [a, b) is a string prefix; *f when it makes an f- or t-string. */
static int
sm_is_prefix(const unsigned char *p, size_t a, size_t b, int *f)
{
    if (b - a > 3) {
        return 0;
    }
    *f = 0;
    for (size_t i = a; i < b; i++) {
        switch (p[i] | 0x20) {
        case 'r':
        case 'b':
        case 'u': break;
        case 'f':
        case 't': *f = 1; break;
        default: return 0;
        }
    }
    return 1;
}

/* The index past a backslash escape at j (a backslash and what it
 * escapes: \r\n counts as one). */
static size_t
sm_escape(const sm *s, size_t j)
{
    if (j + 2 < s->n && s->p[j + 1] == '\r' && s->p[j + 2] == '\n') {
        return j + 3;
    }
    return j + 2 <= s->n ? j + 2 : s->n;
}

/* Whether the closing quote(s) of a string start at j. */
static inline int
sm_closes(const sm *s, size_t j, unsigned char q, int triple)
{
    if (s->p[j] != q) {
        return 0;
    }
    return !triple || (j + 2 < s->n && s->p[j + 1] == q && s->p[j + 2] == q);
}

static size_t sm_string(sm *s, size_t q, int f, int mask, int level,
                        size_t *content, size_t *content_end);

/* A replacement field's expression from j (past its '{'), to the index
 * past the '}' that closes the field; the field's format spec included.
 * Returns s->n with s->broken set when the text ends first. */
static size_t
sm_fexpr(sm *s, size_t j, int level)
{
    int depth = 0, spec = 0;
    if (level > SM_MAX_FNEST) {
        s->broken = 1;
        return s->n;
    }
    while (j < s->n) {
        unsigned char c = s->p[j];
        if (spec) {
            /* a format spec: literal text, with nested fields */
            if (c == '{') {
                j = sm_fexpr(s, j + 1, level + 1);
                continue;
            }
            if (c == '}') {
                return j + 1;
            }
            if (c == '\\') {
                j = sm_escape(s, j);
                continue;
            }
            if (c == '"' || c == '\'') {
                break; /* the spec cannot hold a quote */
            }
            j++;
            continue;
        }
        if (c == '#') {
            while (j < s->n && s->p[j] != '\n' && s->p[j] != '\r') {
                j++;
            }
            continue;
        }
        if (c == '"' || c == '\'') {
            j = sm_string(s, j, 0, 0, level + 1, NULL, NULL);
            continue;
        }
        if (sm_ident_start(c)) {
            size_t a = j;
            int f;
            while (j < s->n && sm_ident_char(s->p[j])) {
                j++;
            }
            if (j < s->n && (s->p[j] == '"' || s->p[j] == '\'') &&
                sm_is_prefix(s->p, a, j, &f)) {
                j = sm_string(s, j, f, 0, level + 1, NULL, NULL);
            }
            continue;
        }
        if (c == '(' || c == '[' || c == '{') {
            depth++;
        }
        else if (c == ')' || c == ']') {
            depth--;
        }
        else if (c == '}') {
            if (depth == 0) {
                return j + 1;
            }
            depth--;
        }
        else if (depth == 0 && c == ':') {
            spec = 1;
        }
        j++;
    }
    s->broken = 1;
    return s->n;
}

/* A string literal whose opening quote is at q (its prefix before it): the
 * index past its end.  f: an f- or t-string; mask: add its literal parts
 * to the pieces to mask; content: where its text begins and ends (plain
 * strings).  Sets s->broken and returns s->n when it does not end. */
static size_t
sm_string(sm *s, size_t q, int f, int mask, int level, size_t *content,
          size_t *content_end)
{
    unsigned char quote = s->p[q];
    int triple = q + 2 < s->n && s->p[q + 1] == quote && s->p[q + 2] == quote;
    size_t j = q + (triple ? 3 : 1), lit = j;
    if (level > SM_MAX_FNEST) {
        s->broken = 1;
        return s->n;
    }
    if (content != NULL) {
        *content = j;
    }
    while (j < s->n) {
        unsigned char c = s->p[j];
        if (c == '\\') {
            j = sm_escape(s, j);
            continue;
        }
        if (sm_closes(s, j, quote, triple)) {
            if (mask) {
                sm_add(s, lit, j, HD_WHY_NAME);
            }
            if (content_end != NULL) {
                *content_end = j;
            }
            return j + (triple ? 3 : 1);
        }
        if ((c == '\n' || c == '\r') && !triple) {
            break; /* a single-quoted string does not span lines */
        }
        if (f && c == '{') {
            if (j + 1 < s->n && s->p[j + 1] == '{') {
                j += 2;
                continue;
            }
            if (mask) {
                sm_add(s, lit, j, HD_WHY_NAME);
            }
            j = sm_fexpr(s, j + 1, level);
            lit = j;
            continue;
        }
        j++;
    }
    s->broken = 1;
    return s->n;
}

/* ------------------------------------------------------------- the rules */

static int
sm_looks_secret(sm *s, size_t a, size_t b)
{
    size_t n = b - a;
    const char *name = (const char *)s->p + a;
    if (n > 256 || n < s->r->min_letters) {
        return 0;
    }
    if (n > SM_SEEN_NAME) {
        return hd_redact_bytes(s->r, name, n);
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    }
    struct sm_seen *e = &s->seen[h & (SM_SEEN - 1)];
    if (e->len == n && memcmp(e->name, name, n) == 0) {
        return e->secret;
    }
    e->len = (unsigned char)n;
    memcpy(e->name, name, n);
    e->secret = (unsigned char)hd_redact_bytes(s->r, name, n);
    return e->secret;
}

/* Whether a string token starting now is a value to mask. */
static inline int
sm_masking(const sm *s)
{
    return s->mask_line || s->active > 0;
}

static void
sm_end_statement(sm *s)
{
    s->mask_line = 0;
    s->seg_secret = 0;
}

/* An assignment ("=", an augmented one, or ":=") at the current depth. */
static void
sm_assign(sm *s, int walrus)
{
    int d = s->depth;
    if (d == 0) {
        if (s->seg_secret) {
            s->mask_line = 1;
        }
        s->seg_secret = 0;
        return;
    }
    if ((s->bracket[d] == '(' || walrus) && s->name_secret[d] &&
        !s->masking[d]) {
        s->masking[d] = 1;
        s->active++;
    }
}

static void
sm_open(sm *s, unsigned char c)
{
    if (s->depth < SM_MAX_DEPTH) {
        s->depth++;
    }
    int d = s->depth;
    s->bracket[d] = c;
    s->name_secret[d] = 0;
    s->key_secret[d] = 0;
    if (s->masking[d]) {
        s->active--;
    }
    s->masking[d] = 0;
}

static void
sm_close(sm *s)
{
    int d = s->depth;
    if (d == 0) {
        return; /* unbalanced: no Python, nothing to keep */
    }
    if (s->masking[d]) {
        s->masking[d] = 0;
        s->active--;
    }
    s->depth--;
}

static void
sm_comma(sm *s)
{
    int d = s->depth;
    if (s->masking[d]) {
        s->masking[d] = 0;
        s->active--;
    }
    s->name_secret[d] = 0;
    s->key_secret[d] = 0;
}

/* The length of the operator at i and whether it is an assignment: 1
 * "=" or an augmented one, 2 ":=", 0 anything else. */
static size_t
sm_operator(const sm *s, size_t i, int *assign)
{
    const unsigned char *p = s->p;
    unsigned char c = p[i], c1 = i + 1 < s->n ? p[i + 1] : 0,
                  c2 = i + 2 < s->n ? p[i + 2] : 0;
    *assign = 0;
    if (c == '=') {
        if (c1 == '=') {
            return 2;
        }
        *assign = 1;
        return 1;
    }
    if (c == ':' && c1 == '=') {
        *assign = 2;
        return 2;
    }
    if ((c == '*' || c == '/' || c == '<' || c == '>') && c1 == c) {
        /* ** // << >> and their augmented forms */
        *assign = c2 == '=';
        return *assign ? 3 : 2;
    }
    if (c == '-' && c1 == '>') {
        return 2;
    }
    if (strchr("+-*/%&|^@", c) != NULL && c1 == '=') {
        *assign = 1;
        return 2;
    }
    if (strchr("<>!", c) != NULL && c1 == '=') {
        return 2;
    }
    return 1;
}

/* Lex the whole text, applying the rules. */
static void
sm_lex(sm *s)
{
    const unsigned char *p = s->p;
    size_t i = 0, n = s->n;
    while (i < n && !s->broken && !s->oom) {
        unsigned char c = p[i];
        int d = s->depth;
        if (c == '#') {
            while (i < n && p[i] != '\n' && p[i] != '\r') {
                i++;
            }
        }
        else if (c == '\\') {
            i = sm_escape(s, i); /* a line continuation */
        }
        else if (c == '\n' || c == '\r') {
            if (d == 0) {
                sm_end_statement(s);
            }
            i++;
        }
        else if (c == ' ' || c == '\t' || c == '\f') {
            i++;
        }
        else if (c == '"' || c == '\'' || sm_ident_start(c)) {
            size_t a = i, b = i;
            int f = 0, is_string = 1;
            if (c != '"' && c != '\'') {
                while (b < n && sm_ident_char(p[b])) {
                    b++;
                }
                is_string = b < n && (p[b] == '"' || p[b] == '\'') &&
                            sm_is_prefix(p, a, b, &f);
            }
            if (!is_string) {
                /* a name */
                int secret = sm_looks_secret(s, a, b);
                s->seg_secret |= secret;
                s->name_secret[d] |= (unsigned char)secret;
                s->key_secret[d] = 0;
                i = b;
                continue;
            }
            size_t content = 0, content_end = 0;
            i = sm_string(s, b, f, sm_masking(s), 0, &content, &content_end);
            int secret = !f && content_end > content &&
                         content_end - content <= SM_MAX_KEY &&
                         sm_looks_secret(s, content, content_end);
            s->seg_secret |= secret; /* d["password"] = ... */
            s->key_secret[d] = (unsigned char)(secret && s->bracket[d] == '{');
        }
        else if (c >= '0' && c <= '9') {
            while (i < n && (sm_ident_char(p[i]) || p[i] == '.')) {
                i++;
            }
            s->key_secret[d] = 0;
        }
        else {
            int assign;
            size_t len = sm_operator(s, i, &assign);
            if (c == '(' || c == '[' || c == '{') {
                sm_open(s, c);
            }
            else if (c == ')' || c == ']' || c == '}') {
                sm_close(s);
            }
            else if (c == ',') {
                sm_comma(s);
            }
            else if (c == ';' && d == 0) {
                sm_end_statement(s);
            }
            else if (assign) {
                sm_assign(s, assign == 2);
            }
            else if (c == ':' && len == 1 && d > 0 && s->bracket[d] == '{' &&
                     s->key_secret[d] && !s->masking[d]) {
                s->masking[d] = 1;
                s->active++;
            }
            if (c != ':' || len != 1) {
                s->key_secret[d] = 0;
            }
            i += len;
        }
    }
}

/* ------------------------------------------------------------ masking */

static int
sm_range_cmp(const void *a, const void *b)
{
    const sm_range *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Whether the text declares an encoding other than UTF-8 in its first two
 * lines (PEP 263): then a code point is a byte. */
static int
sm_single_byte(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (int line = 0; line < 2 && i < n; line++) {
        size_t end = i;
        while (end < n && p[end] != '\n' && p[end] != '\r') {
            end++;
        }
        size_t j = i;
        while (j < end && (p[j] == ' ' || p[j] == '\t' || p[j] == '\f')) {
            j++;
        }
        if (j < end && p[j] == '#') {
            for (size_t k = j; k + 6 < end; k++) {
                if (memcmp(p + k, "coding", 6) == 0 &&
                    (p[k + 6] == ':' || p[k + 6] == '=')) {
                    size_t v = k + 7;
                    while (v < end && (p[v] == ' ' || p[v] == '\t')) {
                        v++;
                    }
                    char name[16];
                    size_t m = 0;
                    while (
                        v < end && m < sizeof(name) - 1 &&
                        (sm_ident_char(p[v]) || p[v] == '-' || p[v] == '.')) {
                        name[m++] = (char)(p[v] | 0x20);
                        v++;
                    }
                    name[m] = '\0';
                    return !(strcmp(name, "utf-8") == 0 ||
                             strcmp(name, "utf8") == 0 ||
                             strncmp(name, "utf-8-", 6) == 0 ||
                             strncmp(name, "utf_8", 5) == 0);
                }
            }
        }
        else if (j < end) {
            return 0; /* a line of code: no cookie after it */
        }
        i = end;
        if (i < n && p[i] == '\r') {
            i++;
        }
        if (i < n && p[i] == '\n') {
            i++;
        }
    }
    return 0;
}

static int
sm_keep(unsigned char c)
{
    return c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '\\' ||
           c == '{' || c == '}';
}

static int
sm_piece(hd_srcmask *out, int32_t line, int32_t col, int why)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 16;
        struct hd_srcmask_piece *p =
            realloc(out->pieces, cap * sizeof(struct hd_srcmask_piece));
        if (p == NULL) {
            return -1;
        }
        out->pieces = p;
        out->cap = cap;
    }
    struct hd_srcmask_piece *m = &out->pieces[out->n++];
    m->line = m->end_line = line;
    m->col = m->end_col = col;
    m->why = why;
    return 0;
}

/* Rewrite text with the merged ranges masked; the pieces' positions. */
static int
sm_apply(sm *s, char *text, size_t *len, hd_srcmask *out, int single)
{
    unsigned char *t = (unsigned char *)text;
    size_t n = *len, r = 0, w = 0, k = 0;
    int32_t line = 1, col = 0;
    /* pieces first (positions do not depend on the rewriting, which
     * keeps every line break and one character per code point) */
    if (n >= 3 && t[0] == 0xef && t[1] == 0xbb && t[2] == 0xbf) {
        r = 3; /* a BOM is no column */
    }
    size_t start_r = r;
    for (int pass = 0; pass < 2; pass++) {
        r = start_r;
        w = pass == 0 ? 0 : start_r;
        line = 1;
        col = 0;
        k = 0;
        while (r < n) {
            int in = k < s->nranges && r >= s->ranges[k].start;
            if (in && r == s->ranges[k].start && pass == 0 &&
                sm_piece(out, line, col, s->ranges[k].why) < 0) {
                return -1;
            }
            unsigned char c = t[r];
            size_t clen = 1;
            if (!single && c >= 0xc0) {
                while (r + clen < n && (t[r + clen] & 0xc0) == 0x80 &&
                       clen < 4) {
                    clen++;
                }
            }
            if (c == '\n' || (c == '\r' && !(r + 1 < n && t[r + 1] == '\n'))) {
                line++;
                col = 0;
            }
            else if (c != '\r') {
                col++;
            }
            if (pass == 1) {
                if (in && !sm_keep(c)) {
                    t[w++] = '*';
                }
                else {
                    memmove(t + w, t + r, clen);
                    w += clen;
                }
            }
            r += clen;
            if (in && r >= s->ranges[k].end) {
                if (pass == 0) {
                    out->pieces[out->n - 1].end_line = line;
                    out->pieces[out->n - 1].end_col = col;
                }
                k++;
            }
        }
    }
    *len = w;
    return 0;
}

void
hd_srcmask_free(hd_srcmask *m)
{
    free(m->pieces);
    m->pieces = NULL;
    m->n = m->cap = 0;
}

int
hd_srcmask_run(const hd_redactor *r, const hd_hider *h, char *text,
               size_t *len, hd_srcmask *out)
{
    sm s;
    memset(&s, 0, sizeof(s));
    memset(out, 0, sizeof(*out));
    s.p = (const unsigned char *)text;
    s.n = *len;
    s.r = r;
    if (r != NULL && r->n > 0) {
        sm_lex(&s);
    }
    if (h != NULL && !s.oom &&
        hd_hide_bytes(h, s.p, s.n, sm_hide_visit, &s) < 0) {
        s.oom = 1; /* the rules' budget ran out: fail, mask nothing */
    }
    if (s.oom) {
        free(s.ranges);
        return -1;
    }
    if (s.nranges == 0) {
        return 0;
    }
    int single = sm_single_byte(s.p, s.n);
    /* sorted, merged, on code point boundaries */
    qsort(s.ranges, s.nranges, sizeof(sm_range), sm_range_cmp);
    size_t k = 0;
    for (size_t i = 0; i < s.nranges; i++) {
        sm_range g = s.ranges[i];
        if (!single) {
            while (g.start > 0 && (s.p[g.start] & 0xc0) == 0x80) {
                g.start--;
            }
            while (g.end < s.n && (s.p[g.end] & 0xc0) == 0x80) {
                g.end++;
            }
        }
        if (k > 0 && g.start <= s.ranges[k - 1].end) {
            if (g.end > s.ranges[k - 1].end) {
                s.ranges[k - 1].end = g.end;
            }
        }
        else {
            s.ranges[k++] = g;
        }
    }
    s.nranges = k;
    int rc = sm_apply(&s, text, len, out, single);
    free(s.ranges);
    if (rc < 0) {
        hd_srcmask_free(out);
    }
    return rc;
}

/* ------------------------------------------------------ the Python side */

PyDoc_STRVAR(mask_source_doc,
             "mask_source($module, text, patterns=(), hide=None, /)\n--\n\n"
             "text (bytes: a source file) as a dump embeds it: the literals "
             "assigned\nto names that look secret (patterns: the redaction "
             "names) and what\nhide (a Hider) hides, masked.  Returns "
             "(masked, [(line, col, end_line,\nend_col, why)...]).");

static PyObject *
srcmask_mask_source(PyObject *module, PyObject *args)
{
    Py_buffer text;
    PyObject *patterns = NULL, *hide = Py_None, *result = NULL;
    hd_redactor r = {0};
    hd_srcmask m = {NULL, 0, 0};
    (void)module;
    if (!PyArg_ParseTuple(args, "y*|OO:mask_source", &text, &patterns,
                          &hide)) {
        return NULL;
    }
    if (!hd_hide_check(hide)) {
        PyErr_SetString(PyExc_TypeError, "hide must be a Hider or None");
        goto done;
    }
    if (hd_redact_init(&r, patterns) < 0) {
        goto done;
    }
    char *copy = malloc((size_t)text.len + 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(copy, text.buf, (size_t)text.len);
    size_t len = (size_t)text.len;
    if (hd_srcmask_run(&r, hd_hide_of(hide), copy, &len, &m) < 0) {
        free(copy);
        PyErr_NoMemory();
        goto done;
    }
    PyObject *pieces = PyList_New((Py_ssize_t)m.n);
    for (size_t i = 0; pieces != NULL && i < m.n; i++) {
        const struct hd_srcmask_piece *p = &m.pieces[i];
        PyObject *t = Py_BuildValue("(iiiis)", p->line, p->col, p->end_line,
                                    p->end_col, hd_format_why_name(p->why));
        if (t == NULL) {
            Py_CLEAR(pieces);
            break;
        }
        PyList_SET_ITEM(pieces, (Py_ssize_t)i, t);
    }
    if (pieces != NULL) {
        result = Py_BuildValue("(y#N)", copy, (Py_ssize_t)len, pieces);
    }
    free(copy);
done:
    hd_srcmask_free(&m);
    hd_redact_free(&r);
    PyBuffer_Release(&text);
    return result;
}

static PyMethodDef srcmask_methods[] = {
    {"mask_source", srcmask_mask_source, METH_VARARGS, mask_source_doc},
    {NULL, NULL, 0, NULL},
};

int
hd_srcmask_init_module(PyObject *m)
{
    return PyModule_AddFunctions(m, srcmask_methods);
}
