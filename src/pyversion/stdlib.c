/* stdlib.c: the private structs of standard-library C types (stdlib.h).
 *
 * The structs below mirror the leading fields of those in CPython's
 * Modules/_collectionsmodule.c, Modules/_datetimemodule.c and _sre's
 * sre.h, unchanged from 3.9 to 3.15; a release that changes them is this
 * file's work.
 * What cannot be checked against the type is checked against the values'
 * invariants, and a failed check leaves the object opaque.
 */
#include "stdlib.h"

#include <stddef.h>
#include <string.h>

/* dequeobject's head (Modules/_collectionsmodule.c): the fields before
 * maxlen are the block pointers, the indices and the mutation count. */
typedef struct {
    PyObject_VAR_HEAD void *leftblock;
    void *rightblock;
    Py_ssize_t leftindex;
    Py_ssize_t rightindex;
    size_t state;
    Py_ssize_t maxlen;
} stdlib_deque_head;

int
hd_stdlib_deque_maxlen(PyObject *dq, Py_ssize_t *maxlen)
{
    PyTypeObject *tp = Py_TYPE(dq);
    if (tp->tp_basicsize < (Py_ssize_t)sizeof(stdlib_deque_head)) {
        return -1;
    }
    const stdlib_deque_head *h = (const stdlib_deque_head *)dq;
    Py_ssize_t n = Py_SIZE(dq);
    /* a deque never holds more than its maxlen; its indices are within a
     * block (64 slots from 3.x on, 62 before: under 128) */
    if (n < 0 || h->leftblock == NULL || h->rightblock == NULL ||
        h->leftindex < 0 || h->leftindex >= 128 || h->rightindex < -1 ||
        h->rightindex >= 128 || h->maxlen < -1 ||
        (h->maxlen >= 0 && n > h->maxlen)) {
        return -1;
    }
    *maxlen = h->maxlen;
    return 0;
}

/* PyDateTime_TimeZone (Modules/_datetimemodule.c). */
typedef struct {
    PyObject_HEAD PyObject *offset;
    PyObject *name;
} stdlib_timezone;

int
hd_stdlib_timezone_fields(PyObject *tz, PyTypeObject *delta_type,
                          PyObject **offset, PyObject **name)
{
    PyTypeObject *tp = Py_TYPE(tz);
    if (tp->tp_basicsize != (Py_ssize_t)sizeof(stdlib_timezone) ||
        strcmp(tp->tp_name, "datetime.timezone") != 0) {
        return -1;
    }
    const stdlib_timezone *t = (const stdlib_timezone *)tz;
    if (t->offset == NULL || !Py_IS_TYPE(t->offset, delta_type) ||
        (t->name != NULL && !PyUnicode_CheckExact(t->name))) {
        return -1;
    }
    *offset = t->offset;
    *name = t->name;
    return 0;
}

/* arrayobject's head and arraydescr's (Modules/arraymodule.c). */
typedef struct {
    char typecode;
    int itemsize;
} stdlib_arraydescr;

typedef struct {
    PyObject_VAR_HEAD char *ob_item;
    Py_ssize_t allocated;
    const stdlib_arraydescr *ob_descr;
} stdlib_array_head;

char
hd_stdlib_array_typecode(PyObject *arr, Py_ssize_t itemsize)
{
    if (Py_TYPE(arr)->tp_basicsize < (Py_ssize_t)sizeof(stdlib_array_head)) {
        return 0;
    }
    const stdlib_arraydescr *descr =
        ((const stdlib_array_head *)arr)->ob_descr;
    if (descr == NULL || descr->itemsize != itemsize || descr->typecode == 0 ||
        strchr("bBuwhHiIlLqQfd", descr->typecode) == NULL) {
        return 0;
    }
    return descr->typecode;
}

/* MatchObject (sre.h; Modules/_sre/sre.h from 3.11): a variable-size
 * object whose items are the marks, two per group. */
typedef struct {
    PyObject_VAR_HEAD PyObject *string;
    PyObject *regs;
    PyObject *pattern;
    Py_ssize_t pos, endpos;
    Py_ssize_t lastindex;
    Py_ssize_t groups;
    Py_ssize_t mark[1];
} stdlib_match;

const PyMemberDef *
hd_stdlib_member(PyTypeObject *tp, const char *name, int type)
{
    for (const PyMemberDef *m = tp->tp_members; m && m->name; m++) {
        if (strcmp(m->name, name) == 0 && m->type == type) {
            return m;
        }
    }
    return NULL;
}

/* The offset of tp's member name of that type, or -1. */
static Py_ssize_t
stdlib_member_offset(PyTypeObject *tp, const char *name, int type)
{
    const PyMemberDef *m = hd_stdlib_member(tp, name, type);
    return m != NULL ? m->offset : -1;
}

int
hd_stdlib_match_fields(PyObject *m, PyObject **string, PyObject **pattern,
                       Py_ssize_t pos_endpos_last[3], Py_ssize_t *groups,
                       const Py_ssize_t **marks)
{
    PyTypeObject *tp = Py_TYPE(m);
    /* the layout, checked against what the type says of itself: its
     * sizes and the offsets of the members it declares */
    if (strcmp(tp->tp_name, "re.Match") != 0 ||
        tp->tp_basicsize != (Py_ssize_t)sizeof(stdlib_match) ||
        tp->tp_itemsize != (Py_ssize_t)sizeof(Py_ssize_t) ||
        stdlib_member_offset(tp, "string", T_OBJECT) !=
            (Py_ssize_t)offsetof(stdlib_match, string) ||
        stdlib_member_offset(tp, "re", T_OBJECT) !=
            (Py_ssize_t)offsetof(stdlib_match, pattern) ||
        stdlib_member_offset(tp, "pos", T_PYSSIZET) !=
            (Py_ssize_t)offsetof(stdlib_match, pos) ||
        stdlib_member_offset(tp, "endpos", T_PYSSIZET) !=
            (Py_ssize_t)offsetof(stdlib_match, endpos)) {
        return -1;
    }
    const stdlib_match *o = (const stdlib_match *)m;
    /* and the values' invariants: a mark pair per group, the whole match
     * among them, every mark within the string's slice */
    if (o->groups < 1 || Py_SIZE(m) != 2 * o->groups || o->string == NULL ||
        o->pattern == NULL || o->pos < 0 || o->endpos < o->pos ||
        o->lastindex < -1 || o->lastindex >= o->groups) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < o->groups; i++) {
        Py_ssize_t a = o->mark[2 * i], b = o->mark[2 * i + 1];
        if (!((a == -1 && b == -1) || (0 <= a && a <= b && b <= o->endpos))) {
            return -1;
        }
    }
    *string = o->string;
    *pattern = o->pattern;
    pos_endpos_last[0] = o->pos;
    pos_endpos_last[1] = o->endpos;
    pos_endpos_last[2] = o->lastindex;
    *groups = o->groups;
    *marks = o->mark;
    return 0;
}
