/* natives_re.c: re.Pattern and re.Match (_sre's) as NATIVE records
 * (natives.h).  A pattern is read from the C members _sre declares; a
 * match from its struct (pyversion/stdlib.c), checked against the same
 * members and against its values' invariants.
 *
 * States (docs/format.rst, "Native kinds"):
 *   PATTERN  [pattern, flags]
 *   MATCH    [string, pattern, pos, endpos, lastindex, marks...]: the
 *            (start, end) of each group, the whole match first
 */
#include "natives.h"
#include "pyversion/stdlib.h"

#define PK(d) (&(d)->pk)

/* PATTERN: [pattern, flags]: its source (a str or bytes value, whole:
 * one longer than max_string leaves the pattern opaque, a cut pattern
 * being another pattern) and its flags, read from the members _sre
 * declares ("pattern", "flags"). */
int
hd_natives_pattern_state(hd_dumper *d, PyObject *obj, int write)
{
    PyTypeObject *tp = Py_TYPE(obj);
    const PyMemberDef *mp = hd_stdlib_member(tp, "pattern", T_OBJECT);
    const PyMemberDef *mf = hd_stdlib_member(tp, "flags", T_INT);
    if (mp == NULL || mf == NULL) {
        return -1;
    }
    PyObject *src = *(PyObject **)((char *)obj + mp->offset);
    int flags = *(const int *)((const char *)obj + mf->offset);
    Py_ssize_t n = src == NULL                 ? -1
                   : PyUnicode_CheckExact(src) ? PyUnicode_GET_LENGTH(src)
                   : PyBytes_CheckExact(src)   ? PyBytes_GET_SIZE(src)
                                               : -1;
    Py_ssize_t max = d->limits.max_string;
    if (n < 0 || (max >= 0 && n > max)) {
        return -1;
    }
    if (!write) {
        return 0;
    }
    msgpack_pack_array(PK(d), 2);
    hd_walk_value(d, src); /* a value: what the hider hides stays hidden */
    hd_encode_int64(d, flags);
    return 0;
}

/* MATCH: the matched string is a value, whole (a str or bytes of at most
 * max_string; any other, or a longer one, leaves the match opaque: its
 * groups would be slices of a string the file does not hold), the
 * pattern a value, then the slice, the last group's index and the marks.
 * Nothing is called: the marks are the engine's, read from the struct. */
int
hd_natives_match_state(hd_dumper *d, PyObject *obj, int write)
{
    PyObject *string, *pattern;
    Py_ssize_t pel[3], groups;
    const Py_ssize_t *marks;
    if (hd_stdlib_match_fields(obj, &string, &pattern, pel, &groups, &marks) <
        0) {
        return -1;
    }
    Py_ssize_t n = PyUnicode_CheckExact(string) ? PyUnicode_GET_LENGTH(string)
                   : PyBytes_CheckExact(string) ? PyBytes_GET_SIZE(string)
                                                : -1;
    Py_ssize_t max = d->limits.max_string;
    if (n < 0 || (max >= 0 && n > max) || pel[1] > n ||
        hd_natives_kind_of_type(Py_TYPE(pattern)) != HD_NK_PATTERN) {
        return -1;
    }
    if (!write) {
        return 0;
    }
    msgpack_pack_array(PK(d), (size_t)(5 + 2 * groups));
    hd_walk_value(d, string); /* a value: what the hider hides stays hidden */
    hd_walk_value(d, pattern);
    hd_encode_int64(d, pel[0]);
    hd_encode_int64(d, pel[1]);
    hd_encode_int64(d, pel[2]);
    for (Py_ssize_t i = 0; i < 2 * groups; i++) {
        hd_encode_int64(d, marks[i]);
    }
    return 0;
}
