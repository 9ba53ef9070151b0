/* natives.h: C types of the standard library written exactly, as NATIVE
 * records (docs/format.rst, "Native kinds"): their state read through
 * their C layout or a documented C API, never through Python code.
 *
 *   natives_types.c     the types (a table keyed by type, filled from the
 *                       modules already imported: nothing is imported),
 *                       the kind of a type (kinds.c asks it)
 *   natives.c           the record (pack.c calls it, with its pieces)
 *   natives_datetime.c  datetime, date, time, timedelta, timezone,
 *                       zoneinfo.ZoneInfo
 *   natives_decimal.c   decimal.Decimal (C _decimal)
 *   natives_re.c        re.Pattern, re.Match
 *   natives_seq.c       collections.deque, array.array
 *   natives_lock.c      _thread.lock, _thread.RLock
 *   natives_buffer.c    memoryview, the C buffer exporters
 *   natives_future.c    asyncio's C Future
 *
 * Contract: the caller holds the GIL; nothing here runs Python code,
 * creates a Python object or releases the GIL.
 */
#ifndef HEAPDUMP_WRITER_NATIVES_H
#define HEAPDUMP_WRITER_NATIVES_H

#include "heapdump.h"

/* Find the native types in the modules already imported (sys.modules,
 * read as a dict: nothing is imported or called).  Types found are kept
 * with a reference, so their addresses are never reused.  Called at
 * module init and at the first slow-path kind of each dump (not in a
 * fatal dump). */
void hd_natives_refresh(void);

/* The native kind (HD_NK_*) of tp's instances, or 0: tp is one of the
 * native types, or a chain of Python classes over one (whose extra state
 * is their instance dict and slots) when the kind allows subclasses. */
int hd_natives_kind_of_type(PyTypeObject *tp);

/* pack.c's pieces a NATIVE record is made of, which pack.c hands to
 * hd_natives_pack (natives.c is below pack.c: it calls nothing of it by
 * name): the layout of obj's attributes (its LAYOUT record written when
 * new), an object record's header with the attribute storage, the
 * layout number and values, a CUT record. */
typedef struct hd_pack_pieces {
    hd_layout *(*layout_of)(hd_dumper *d, PyObject *obj, PyTypeObject *type,
                            PyObject *const **values);
    void (*pack_header_attrs)(hd_dumper *d, int kind, size_t n, PyObject *obj);
    void (*attrs)(hd_dumper *d, PyObject *obj, const hd_layout *l,
                  PyObject *const *vals);
    void (*cut)(hd_dumper *d, Py_ssize_t original);
} hd_pack_pieces;

/* Write obj's NATIVE record: 0, or -1 with nothing written (its state
 * did not read as expected): the caller writes it as OPAQUE. */
int hd_natives_pack(hd_dumper *d, PyObject *obj, const hd_pack_pieces *p);

/* The families: the state of obj (native kind nk, base the native type
 * it is an instance of) as the array of values of its record.  With
 * write 0, only check that it reads (0 / -1, nothing written); with
 * write 1, write the array (after a check that said 0); with write 2
 * (deque, array), nothing written: the original number of items when
 * they are cut (a CUT record goes before the record), else 0. */
int hd_natives_datetime_state(hd_dumper *d, int nk, PyObject *obj, int write);
int hd_natives_decimal_state(hd_dumper *d, PyObject *obj, int write);
int hd_natives_pattern_state(hd_dumper *d, PyObject *obj, int write);
int hd_natives_match_state(hd_dumper *d, PyObject *obj, int write);
int hd_natives_seq_state(hd_dumper *d, int nk, PyTypeObject *base,
                         PyObject *obj, int write);
int hd_natives_future_state(hd_dumper *d, PyTypeObject *base, PyObject *obj,
                            int write);
int hd_natives_lock_state(hd_dumper *d, int nk, PyTypeObject *base,
                          PyObject *obj, int write);
/* memoryview, BUFFER: write 2 gives the original nbytes when cut (a
 * Py_ssize_t: a buffer may hold more than INT_MAX bytes) */
Py_ssize_t hd_natives_buffer_state(hd_dumper *d, int nk, PyObject *obj,
                                   int write);
/* The C exporter whose own bf_getbuffer gives tp's instances' buffer
 * (tp itself, or the C type under its chain of Python classes), or NULL
 * when tp's buffer is not read (natives_types.c). */
PyTypeObject *hd_natives_buffer_exporter(PyTypeObject *tp);
/* The type of native kind nk, or NULL when its module is not loaded
 * (natives_types.c). */
PyTypeObject *hd_natives_type(int nk);

#endif /* HEAPDUMP_WRITER_NATIVES_H */
