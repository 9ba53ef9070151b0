/* hide_rules.c: the rules of a hider (hide.h): credentials of
 * well-known forms found after the prefixes the automaton meets.  Each
 * reads the value only, at most HIDE_RULE_REACH (a PEM body:
 * HIDE_PEM_REACH) past its prefix, and charges what it reads to the
 * view's budget; no allocation, no Python call (the fatal-signal dump
 * runs them).
 */
#include "hide.h"

static int
hide_rules_in_charset(Py_UCS4 c, int cs)
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
hide_rules_is_alnum(Py_UCS4 c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

static int
hide_rules_is_hex(Py_UCS4 c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* A character that ends the authority of a URL (or is not in one). */
static int
hide_rules_url_stop(Py_UCS4 c)
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
hide_rules_url(hide_view *v, Py_ssize_t e, Py_ssize_t *start, Py_ssize_t *end)
{
    if (e < 4) {
        return 0;
    }
    Py_UCS4 s = hide_at(v, e - 4); /* the scheme's last character */
    if (!(hide_rules_is_alnum(s) || s == '+' || s == '-' || s == '.')) {
        return 0;
    }
    Py_ssize_t at = -1, colon = -1, limit = v->n;
    if (limit - e > HIDE_RULE_REACH) {
        limit = e + HIDE_RULE_REACH;
    }
    for (Py_ssize_t j = e; j < limit; j++) {
        Py_UCS4 c = hide_at(v, j);
        v->budget--;
        if (hide_rules_url_stop(c)) {
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
        !(at - colon > 3 && hide_rules_is_hex(hide_at(v, colon + 2)) &&
          hide_rules_is_hex(hide_at(v, colon + 3)))) {
        return 0;
    }
    *start = colon + 1;
    *end = at;
    return 1;
}

/* "-----BEGIN " ended at e: the body of a private key, up to its
 * "-----END" (or the end of the value). */
static int
hide_rules_pem(hide_view *v, Py_ssize_t e, Py_ssize_t *start, Py_ssize_t *end)
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
hide_rules_token(hide_view *v, Py_ssize_t b, Py_ssize_t e, int token,
                 Py_ssize_t *start, Py_ssize_t *end)
{
    int cs = hide_tokens[token].charset;
    if (b > 0 && (hide_rules_is_alnum(hide_at(v, b - 1)) ||
                  hide_rules_in_charset(hide_at(v, b - 1), cs))) {
        /* inside a longer word, or a token whose run was read when its
         * own prefix was met: each run is read once */
        return 0;
    }
    /* the whole run: a token is hidden to its end, and every run is read
     * once (a prefix inside one is skipped above) */
    Py_ssize_t j = e, dots = 0, limit = v->n;
    while (j < limit && hide_rules_in_charset(hide_at(v, j), cs)) {
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
         (j < v->n && hide_rules_is_alnum(hide_at(v, j))))) {
        return 0;
    }
    if (strcmp(hide_tokens[token].prefix, "eyJ") == 0 && dots < 2) {
        return 0; /* not header.payload.signature */
    }
    *start = e;
    *end = j;
    return 1;
}

int
hd_hide_rules_apply(hide_view *v, const hide_pattern *p, Py_ssize_t b,
                    Py_ssize_t e, Py_ssize_t *start, Py_ssize_t *end)
{
    switch (p->rule) {
    case HIDE_URL: return hide_rules_url(v, e, start, end);
    case HIDE_PEM: return hide_rules_pem(v, e, start, end);
    default: return hide_rules_token(v, b, e, p->token, start, end);
    }
}
