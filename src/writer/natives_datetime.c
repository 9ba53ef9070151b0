/* natives_datetime.c: the datetime types and zoneinfo.ZoneInfo as NATIVE
 * records (natives.h), read with datetime.h's accessors (macros over the
 * documented structs: PyDateTime_GET_YEAR...), which call nothing, and
 * stdlib.c for timezone's two fields.
 *
 * States (docs/format.rst, "Native kinds"):
 *   DATETIME   [year, month, day, hour, minute, second, microsecond,
 *               tzinfo, fold]
 *   DATE       [year, month, day]
 *   TIME       [hour, minute, second, microsecond, tzinfo, fold]
 *   TIMEDELTA  [days, seconds, microseconds]
 *   TIMEZONE   [offset, name]: a timedelta and a str value or nil
 *   ZONEINFO   [key]: a str value or nil
 *   TZINFO     []: datetime.tzinfo itself has no state (a Python
 *              subclass's is its instance dict, the record's attributes)
 * tzinfo is a value (nil when none).
 */
#include "natives.h"

#include <string.h>

#include <datetime.h>

#include "pyversion/stdlib.h"

#define PK(d) (&(d)->pk)

/* The ZoneInfo's key: its "key" member (T_OBJECT_EX, read-only), found
 * in the type's member table; NULL when there is none.  *ok: 0 when the
 * type has no such member. */
static PyObject *
datetime_zoneinfo_key(PyObject *zi, int *ok)
{
    PyTypeObject *tp = hd_natives_type(HD_NK_ZONEINFO);
    *ok = 0;
    for (PyMemberDef *m = tp ? tp->tp_members : NULL; m && m->name; m++) {
        if (strcmp(m->name, "key") == 0 && m->type == T_OBJECT_EX) {
            PyObject *key = *(PyObject **)((char *)zi + m->offset);
            *ok = key == NULL || key == Py_None || PyUnicode_CheckExact(key);
            return key == Py_None ? NULL : key;
        }
    }
    return NULL;
}

static void
datetime_tzinfo(hd_dumper *d, PyObject *tz)
{
    if (tz == NULL || tz == Py_None) {
        msgpack_pack_nil(PK(d));
    }
    else {
        hd_walk_value(d, tz);
    }
}

int
hd_natives_datetime_state(hd_dumper *d, int nk, PyObject *obj, int write)
{
    PyObject *offset = NULL, *name = NULL, *key = NULL;
    if (nk == HD_NK_TIMEZONE) {
        PyTypeObject *delta = hd_natives_type(HD_NK_TIMEDELTA);
        if (delta == NULL ||
            hd_stdlib_timezone_fields(obj, delta, &offset, &name) < 0) {
            return -1;
        }
    }
    else if (nk == HD_NK_ZONEINFO) {
        int ok;
        key = datetime_zoneinfo_key(obj, &ok);
        if (!ok) {
            return -1;
        }
    }
    if (!write) {
        return 0;
    }
    msgpack_packer *pk = PK(d);
    (void)PyDateTimeAPI; /* datetime.h's: never imported here */
    switch (nk) {
    case HD_NK_DATETIME:
        msgpack_pack_array(pk, 9);
        hd_encode_int64(d, PyDateTime_GET_YEAR(obj));
        hd_encode_int64(d, PyDateTime_GET_MONTH(obj));
        hd_encode_int64(d, PyDateTime_GET_DAY(obj));
        hd_encode_int64(d, PyDateTime_DATE_GET_HOUR(obj));
        hd_encode_int64(d, PyDateTime_DATE_GET_MINUTE(obj));
        hd_encode_int64(d, PyDateTime_DATE_GET_SECOND(obj));
        hd_encode_int64(d, PyDateTime_DATE_GET_MICROSECOND(obj));
        datetime_tzinfo(d, PyDateTime_DATE_GET_TZINFO(obj));
        hd_encode_int64(d, PyDateTime_DATE_GET_FOLD(obj));
        break;
    case HD_NK_DATE:
        msgpack_pack_array(pk, 3);
        hd_encode_int64(d, PyDateTime_GET_YEAR(obj));
        hd_encode_int64(d, PyDateTime_GET_MONTH(obj));
        hd_encode_int64(d, PyDateTime_GET_DAY(obj));
        break;
    case HD_NK_TIME:
        msgpack_pack_array(pk, 6);
        hd_encode_int64(d, PyDateTime_TIME_GET_HOUR(obj));
        hd_encode_int64(d, PyDateTime_TIME_GET_MINUTE(obj));
        hd_encode_int64(d, PyDateTime_TIME_GET_SECOND(obj));
        hd_encode_int64(d, PyDateTime_TIME_GET_MICROSECOND(obj));
        datetime_tzinfo(d, PyDateTime_TIME_GET_TZINFO(obj));
        hd_encode_int64(d, PyDateTime_TIME_GET_FOLD(obj));
        break;
    case HD_NK_TIMEDELTA:
        msgpack_pack_array(pk, 3);
        hd_encode_int64(d, PyDateTime_DELTA_GET_DAYS(obj));
        hd_encode_int64(d, PyDateTime_DELTA_GET_SECONDS(obj));
        hd_encode_int64(d, PyDateTime_DELTA_GET_MICROSECONDS(obj));
        break;
    case HD_NK_TIMEZONE:
        msgpack_pack_array(pk, 2);
        hd_walk_value(d, offset);
        if (name == NULL) {
            msgpack_pack_nil(pk);
        }
        else {
            hd_walk_value(d, name); /* a value: the hider sees it */
        }
        break;
    case HD_NK_TZINFO: msgpack_pack_array(pk, 0); break;
    default: /* HD_NK_ZONEINFO */
        msgpack_pack_array(pk, 1);
        if (key == NULL) {
            msgpack_pack_nil(pk);
        }
        else {
            hd_walk_value(d, key);
        }
        break;
    }
    return 0;
}
