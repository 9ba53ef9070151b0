/* stdlib.h: reads of the private C structs of standard-library types
 * that no public header describes (stdlib.c), for writer/natives*.c.
 * Each one checks what it can (the type's name and tp_basicsize, the
 * values' own invariants) and says -1 when the object does not look as
 * expected: the caller then writes it as an opaque object.  Caller holds
 * the GIL; nothing here runs Python code or creates an object.
 */
#ifndef HEAPDUMP_PYVERSION_STDLIB_H
#define HEAPDUMP_PYVERSION_STDLIB_H

#include "heapdump.h"

/* datetime.h's tzinfo accessors, which 3.9's lacks (the struct fields
 * they read are the documented ones of every version), for a file that
 * included datetime.h first. */
#if defined(PyDateTime_IMPORT) && !defined(PyDateTime_DATE_GET_TZINFO)
#define PyDateTime_DATE_GET_TZINFO(o)                                         \
    (((_PyDateTime_BaseTZInfo *)(o))->hastzinfo                               \
         ? ((PyDateTime_DateTime *)(o))->tzinfo                               \
         : Py_None)
#define PyDateTime_TIME_GET_TZINFO(o)                                         \
    (((_PyDateTime_BaseTZInfo *)(o))->hastzinfo                               \
         ? ((PyDateTime_Time *)(o))->tzinfo                                   \
         : Py_None)
#endif

/* A collections.deque's maxlen (-1: unbounded) into *maxlen.  0, or -1
 * when the struct does not read as a deque's. */
int hd_stdlib_deque_maxlen(PyObject *dq, Py_ssize_t *maxlen);

/* A datetime.timezone's offset (a timedelta, borrowed) and name (a str or
 * NULL, borrowed).  delta_type: datetime.timedelta.  0, or -1. */
int hd_stdlib_timezone_fields(PyObject *tz, PyTypeObject *delta_type,
                              PyObject **offset, PyObject **name);

/* An array.array's typecode (its buffer format does not tell 'u' from
 * 'w'), checked against the item size its buffer gave.  The typecode, or
 * 0 when the struct does not read as an array's. */
char hd_stdlib_array_typecode(PyObject *arr, Py_ssize_t itemsize);

/* The C member name of type tp, of that member type (T_OBJECT, T_INT...),
 * or NULL. */
const PyMemberDef *hd_stdlib_member(PyTypeObject *tp, const char *name,
                                    int type);

/* An re.Match's fields (_sre's MatchObject): its string and pattern
 * (borrowed), pos, endpos, lastindex (-1: none), and its number of
 * groups, the whole match included, with their (start, end) marks (-1, -1
 * for a group that did not take part) in *marks (borrowed, 2 * groups).
 * 0, or -1 when the struct does not read as a match's. */
int hd_stdlib_match_fields(PyObject *m, PyObject **string, PyObject **pattern,
                           Py_ssize_t pos_endpos_last[3], Py_ssize_t *groups,
                           const Py_ssize_t **marks);

#endif /* HEAPDUMP_PYVERSION_STDLIB_H */
