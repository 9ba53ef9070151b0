/* pyversion.c: every CPython-version-specific read the dumper makes.
 *
 * This is the one translation unit that sees CPython's internal headers
 * (Py_BUILD_CORE): interpreter frames, the instance-values layout of 3.11+,
 * generator frames.  A new CPython release should be this file's work.
 *
 * Contract for every function here: the caller holds the GIL; no Python
 * code runs, no Python object is created or released, nothing is
 * materialized (reading an instance's attributes never turns its inline
 * values into a dict, reading a frame's locals never creates f_locals).
 */
#define Py_BUILD_CORE 1
#include "heapdump.h"

#include <frameobject.h>

#if PY_VERSION_HEX >= 0x030B0000
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include "internal/pycore_code.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_object.h"
#if PY_VERSION_HEX >= 0x030D0000
#include "internal/pycore_setobject.h"
#endif
#if PY_VERSION_HEX >= 0x030D0000
#include "internal/pycore_runtime.h" /* _PyRuntime.debug_offsets */
#endif
#if PY_VERSION_HEX >= 0x030E0000
/* 3.14: _PyInterpreterFrame and the generator structs moved out of
 * pycore_frame.h / cpython/genobject.h into these (PyGenObject is an
 * incomplete type in the public headers) */
#include "internal/pycore_genobject.h"
#include "internal/pycore_interpframe.h"
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#define HD_IFRAMES 1 /* frames are _PyInterpreterFrame */
#else
#define HD_IFRAMES 0 /* frames are PyFrameObject */
#endif

/* HD_INSTR: the frame's instruction pointer; HD_FCODE: its code object,
 * or NULL when it runs something else. */
#if PY_VERSION_HEX >= 0x030E0000
/* 3.14: f_executable is a _PyStackRef, a tagged word: bit 0
 * (Py_TAG_REFCNT) marks a borrowed or immortal reference and must be
 * stripped, PyStackRef_NULL is the word 1 (not 0), and a tagged int (low
 * bits 3) is no object at all.  The header's own tests are used. */
static inline PyObject *
pyversion_stackref_object(_PyStackRef ref)
{
    if (PyStackRef_IsNull(ref) || PyStackRef_IsTaggedInt(ref)) {
        return NULL;
    }
    return PyStackRef_AsPyObjectBorrow(ref);
}

static inline PyCodeObject *
pyversion_fcode(_PyInterpreterFrame *f)
{
    PyObject *ex = pyversion_stackref_object(f->f_executable);
    return ex != NULL && PyCode_Check(ex) ? (PyCodeObject *)ex : NULL;
}
#define HD_INSTR(f) ((f)->instr_ptr)
#define HD_FCODE(f) pyversion_fcode(f)
#elif PY_VERSION_HEX >= 0x030D0000
/* 3.13: f_executable replaces f_code and may be something other than a
 * code object. */
#define HD_INSTR(f) ((f)->instr_ptr)
#define HD_FCODE(f)                                                           \
    (PyCode_Check((f)->f_executable) ? (PyCodeObject *)(f)->f_executable      \
                                     : NULL)
#elif HD_IFRAMES
#define HD_INSTR(f) ((f)->prev_instr)
#define HD_FCODE(f) ((f)->f_code)
#endif

/* ---------------------------------------------------------------- threads */

PyThreadState *
hd_pyversion_thread_first(PyInterpreterState *interp)
{
    return PyInterpreterState_ThreadHead(interp);
}

/* The native id where the thread state has it (3.11+); 0 elsewhere, where
 * walk.c reads it from threading's Thread objects instead. */
unsigned long
hd_pyversion_thread_native_id(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030B0000
    return ts->native_thread_id;
#else
    (void)ts;
    return 0;
#endif
}

int
hd_pyversion_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

int
hd_pyversion_gil_disabled(void)
{
#ifdef Py_GIL_DISABLED
    return 1;
#else
    return 0;
#endif
}

/* ------------------------------------------------- the layout, checked */

/* The offsets this file was compiled with, beside the ones the running
 * interpreter publishes for out-of-process tools (_Py_DebugOffsets, 3.13+,
 * in _PyRuntime): they differ only when the extension was built against
 * other headers than the interpreter it runs in. */
#if PY_VERSION_HEX >= 0x030D0000
/* clang-format off */
#define HD_FIELD(section, field, type, member)                                \
    {#section "." #field, offsetof(type, member),                             \
     offsetof(_Py_DebugOffsets, section.field)}
/* clang-format on */
static const struct {
    const char *name;
    size_t built;
    size_t in_offsets; /* where the running value is in _Py_DebugOffsets */
} pyversion_fields[] = {
    HD_FIELD(thread_state, current_frame, PyThreadState, current_frame),
    HD_FIELD(thread_state, thread_id, PyThreadState, thread_id),
    HD_FIELD(thread_state, native_thread_id, PyThreadState, native_thread_id),
    HD_FIELD(interpreter_frame, previous, _PyInterpreterFrame, previous),
    HD_FIELD(interpreter_frame, executable, _PyInterpreterFrame, f_executable),
    HD_FIELD(interpreter_frame, instr_ptr, _PyInterpreterFrame, instr_ptr),
    HD_FIELD(interpreter_frame, localsplus, _PyInterpreterFrame, localsplus),
    HD_FIELD(interpreter_frame, owner, _PyInterpreterFrame, owner),
    HD_FIELD(code_object, firstlineno, PyCodeObject, co_firstlineno),
    HD_FIELD(code_object, localsplusnames, PyCodeObject, co_localsplusnames),
    HD_FIELD(code_object, localspluskinds, PyCodeObject, co_localspluskinds),
    HD_FIELD(code_object, co_code_adaptive, PyCodeObject, co_code_adaptive),
#if PY_VERSION_HEX >= 0x030E0000
    /* 3.14 adds the generators to _Py_DebugOffsets */
    HD_FIELD(gen_object, gi_iframe, PyGenObject, gi_iframe),
    HD_FIELD(gen_object, gi_frame_state, PyGenObject, gi_frame_state),
#endif
};
#undef HD_FIELD
#endif

Py_ssize_t
hd_pyversion_layout_field(Py_ssize_t i, const char **name, uint64_t *built,
                          uint64_t *running)
{
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t n =
        (Py_ssize_t)(sizeof(pyversion_fields) / sizeof(pyversion_fields[0]));
    const _Py_DebugOffsets *o = &_PyRuntime.debug_offsets;
    if (memcmp(o->cookie, _Py_Debug_Cookie, sizeof(o->cookie)) != 0) {
        return -1;
    }
    if (i < 0 || i >= n) {
        return n;
    }
    *name = pyversion_fields[i].name;
    *built = pyversion_fields[i].built;
    memcpy(running, (const char *)o + pyversion_fields[i].in_offsets,
           sizeof(*running));
    return n;
#else
    (void)i;
    (void)name;
    (void)built;
    (void)running;
    return 0;
#endif
}

/* ----------------------------------------------------------------- frames */

#if HD_IFRAMES
/* An interpreter frame the dump can show: it has a code object and has
 * started (not a shim or C-stack frame, not part way through setup). */
static int
pyversion_iframe_complete(_PyInterpreterFrame *f)
{
#if PY_VERSION_HEX >= 0x030E0000
    /* 3.14: the interpreter's entry frames are FRAME_OWNED_BY_INTERPRETER
     * (3), and every owner from there up (3.14's FRAME_OWNED_BY_CSTACK,
     * 3.15's sentinel base frame at the bottom of each thread's stack)
     * runs no Python code of the program, as _PyFrame_IsIncomplete says */
    if (f->owner >= FRAME_OWNED_BY_INTERPRETER) {
        return 0;
    }
#elif PY_VERSION_HEX >= 0x030C0000
    /* 3.12, 3.13: the shim frame of a C call into the interpreter */
    if (f->owner == FRAME_OWNED_BY_CSTACK) {
        return 0;
    }
#endif
    PyCodeObject *co = HD_FCODE(f);
    if (co == NULL) {
        return 0;
    }
    if (f->owner == FRAME_OWNED_BY_GENERATOR) {
        return 1;
    }
    return HD_INSTR(f) >= _PyCode_CODE(co) + co->_co_firsttraceable;
}

/* The frame object of an interpreter frame, or NULL.  A frame that has
 * returned lives inside its frame object, whose frame_obj field CPython
 * clears when it takes the frame over: find the object around it. */
static PyFrameObject *
pyversion_iframe_object(_PyInterpreterFrame *f)
{
    if (f->owner == FRAME_OWNED_BY_FRAME_OBJECT) {
        return (PyFrameObject *)((char *)f -
                                 offsetof(PyFrameObject, _f_frame_data));
    }
    return f->frame_obj;
}

static _PyInterpreterFrame *
pyversion_first_complete(_PyInterpreterFrame *f)
{
    while (f != NULL && !pyversion_iframe_complete(f)) {
        f = f->previous;
    }
    return f;
}
#endif

hd_frame *
hd_pyversion_thread_frame(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030D0000
    return pyversion_first_complete(ts->current_frame);
#elif HD_IFRAMES
    return pyversion_first_complete(ts->cframe ? ts->cframe->current_frame
                                               : NULL);
#else
    return ts->frame;
#endif
}

hd_frame *
hd_pyversion_frame_back(hd_frame *handle)
{
#if HD_IFRAMES
    _PyInterpreterFrame *f = handle;
    if (f->owner == FRAME_OWNED_BY_FRAME_OBJECT) {
        /* a frame that has returned: its frame object kept the link */
        PyFrameObject *fo = pyversion_iframe_object(f);
        return fo && fo->f_back ? hd_pyversion_frame_of((PyObject *)fo->f_back)
                                : NULL;
    }
    return pyversion_first_complete(f->previous);
#else
    return ((PyFrameObject *)handle)->f_back;
#endif
}

hd_frame *
hd_pyversion_frame_of(PyObject *frame_obj)
{
    if (frame_obj == NULL || !PyFrame_Check(frame_obj)) {
        return NULL;
    }
#if HD_IFRAMES
    _PyInterpreterFrame *f = ((PyFrameObject *)frame_obj)->f_frame;
    if (f == NULL || HD_FCODE(f) == NULL) {
        return NULL;
    }
    return f;
#else
    return frame_obj;
#endif
}

void *
hd_pyversion_frame_key(hd_frame *handle)
{
#if HD_IFRAMES
    _PyInterpreterFrame *f = handle;
    PyFrameObject *fo = pyversion_iframe_object(f);
    if (fo != NULL) {
        return fo;
    }
    return (void *)((uintptr_t)f | HD_TAG_FRAME);
#else
    return handle;
#endif
}

int
hd_pyversion_code_position(PyCodeObject *co, int lasti, int *lineno,
                           int *end_lineno, int *col, int *end_col)
{
    *end_lineno = *col = *end_col = -1;
    *lineno = -1;
    if (lasti < 0) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030B0000
    int sl, sc, el, ec;
    if (PyCode_Addr2Location(co, lasti, &sl, &sc, &el, &ec)) {
        *lineno = sl;
        *end_lineno = el;
        *col = sc;
        *end_col = ec;
        return 0;
    }
#endif
    *lineno = PyCode_Addr2Line(co, lasti);
    return -1;
}

int
hd_pyversion_frame_info(hd_frame *handle, hd_frame_info *info)
{
    memset(info, 0, sizeof(*info));
    info->end_lineno = info->col = info->end_col = -1;
#if HD_IFRAMES
    _PyInterpreterFrame *f = handle;
    PyCodeObject *co = HD_FCODE(f);
    if (co == NULL) {
        return -1;
    }
    info->code = co;
    info->globals = f->f_globals;
    info->frame_obj = (PyObject *)pyversion_iframe_object(f);
    if (!(co->co_flags & CO_OPTIMIZED)) {
        info->locals = f->f_locals;
    }
    info->slots = f->localsplus;
    info->nvalues = co->co_nlocalsplus;
    int addr = (int)(HD_INSTR(f) - _PyCode_CODE(co));
    if (addr < 0) {
        info->lasti = -1;
        info->lineno = co->co_firstlineno;
    }
    else {
        info->lasti = addr * (int)sizeof(_Py_CODEUNIT);
        int sl;
        if (hd_pyversion_code_position(co, info->lasti, &sl, &info->end_lineno,
                                       &info->col, &info->end_col) == 0 &&
            sl < 0) {
            sl = co->co_firstlineno;
        }
        info->lineno = sl;
    }
#else
    PyFrameObject *f = handle;
    PyCodeObject *co = f->f_code;
    info->code = co;
    info->globals = f->f_globals;
    info->frame_obj = (PyObject *)f;
    if (!(co->co_flags & CO_OPTIMIZED)) {
        info->locals = f->f_locals;
    }
    info->slots = f->f_localsplus;
    info->nvalues = hd_pyversion_code_nnames(co);
#if PY_VERSION_HEX >= 0x030A0000
    info->lasti = f->f_lasti < 0 ? -1 : f->f_lasti * 2;
#else
    info->lasti = f->f_lasti;
#endif
    info->lineno = PyFrame_GetLineNumber(f);
#endif
    return 0;
}

int
hd_pyversion_frame_slot(const hd_frame_info *info, Py_ssize_t i,
                        PyObject **value, int64_t *ival)
{
    *value = NULL;
    *ival = 0;
    if (i < 0 || i >= info->nvalues) {
        return HD_SLOT_EMPTY;
    }
#if PY_VERSION_HEX >= 0x030E0000
    /* 3.14: the slots are _PyStackRef (see pyversion_stackref_object); a
     * tagged int holds its value in the word itself */
    _PyStackRef ref = ((_PyStackRef *)info->slots)[i];
    if (PyStackRef_IsTaggedInt(ref)) {
        *ival = (int64_t)PyStackRef_UntagInt(ref);
        return HD_SLOT_INT;
    }
    *value = pyversion_stackref_object(ref);
#else
    *value = ((PyObject **)info->slots)[i];
#endif
    return *value != NULL ? HD_SLOT_OBJECT : HD_SLOT_EMPTY;
}

/* ------------------------------------------------------------------ code */

Py_ssize_t
hd_pyversion_code_nnames(PyCodeObject *co)
{
#if HD_IFRAMES
    return co->co_nlocalsplus;
#else
    return PyTuple_GET_SIZE(co->co_varnames) +
           PyTuple_GET_SIZE(co->co_cellvars) +
           PyTuple_GET_SIZE(co->co_freevars);
#endif
}

PyObject *
hd_pyversion_code_name_at(PyCodeObject *co, Py_ssize_t i, int *kind)
{
#if HD_IFRAMES
    int k = (unsigned char)PyBytes_AS_STRING(co->co_localspluskinds)[i];
    int out = 0;
    if (k & CO_FAST_LOCAL) {
        out |= HD_CK_LOCAL;
    }
    if (k & CO_FAST_CELL) {
        out |= HD_CK_CELL;
    }
    if (k & CO_FAST_FREE) {
        out |= HD_CK_FREE;
    }
#ifdef CO_FAST_HIDDEN
    if (k & CO_FAST_HIDDEN) {
        out |= HD_CK_HIDDEN;
    }
#endif
    *kind = out;
    return PyTuple_GET_ITEM(co->co_localsplusnames, i);
#else
    Py_ssize_t nv = PyTuple_GET_SIZE(co->co_varnames);
    Py_ssize_t nc = PyTuple_GET_SIZE(co->co_cellvars);
    if (i < nv) {
        *kind = HD_CK_LOCAL;
        return PyTuple_GET_ITEM(co->co_varnames, i);
    }
    if (i < nv + nc) {
        *kind = HD_CK_CELL;
        return PyTuple_GET_ITEM(co->co_cellvars, i - nv);
    }
    *kind = HD_CK_FREE;
    return PyTuple_GET_ITEM(co->co_freevars, i - nv - nc);
#endif
}

PyObject *
hd_pyversion_code_qualname(PyCodeObject *co)
{
#if HD_IFRAMES
    return co->co_qualname;
#else
    return co->co_name;
#endif
}

/* ------------------------------------------------------------ generators */

/* Generators, coroutines and async generators share the head of
 * PyGenObject (_PyGenObject_HEAD): what is read here is in it. */
void
hd_pyversion_gen_names(PyObject *gen, PyObject **name, PyObject **qualname)
{
    /* 3.14: the struct is internal (pycore_interpframe_structs.h), with
     * the same two fields */
    PyGenObject *g = (PyGenObject *)gen;
    *name = g->gi_name;
    *qualname = g->gi_qualname;
}

PyCodeObject *
hd_pyversion_gen_code(PyObject *gen)
{
    PyGenObject *g = (PyGenObject *)gen;
#if PY_VERSION_HEX >= 0x030E0000
    /* 3.12+: the code stays in the frame once finished (cleared but for
     * the code), as the gi_code getter reads it */
    return HD_FCODE(&g->gi_iframe);
#elif PY_VERSION_HEX >= 0x030C0000
    return HD_FCODE((_PyInterpreterFrame *)g->gi_iframe);
#else
    return (PyCodeObject *)g->gi_code;
#endif
}

hd_frame *
hd_pyversion_gen_frame(PyObject *gen, const char **state)
{
    PyGenObject *g = (PyGenObject *)gen;
#if HD_IFRAMES
    int s = g->gi_frame_state;
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.15 renumbers the states (FRAME_CREATED is 0, FRAME_COMPLETED is
     * gone, FRAME_CLEARED is the one finished state) and adds
     * FRAME_SUSPENDED_YIELD_FROM_LOCKED: the macros of 3.13+ say it */
    if (FRAME_STATE_FINISHED(s)) {
#else
    if (s >= FRAME_COMPLETED) {
#endif
        *state = "closed";
        return NULL;
    }
    if (s == FRAME_CREATED) {
        *state = "created";
    }
    else if (s == FRAME_EXECUTING) {
        *state = "running";
    }
    else {
        *state = "suspended";
    }
#if PY_VERSION_HEX >= 0x030E0000
    /* 3.14: gi_iframe is the _PyInterpreterFrame itself, not an array of
     * words that holds one */
    return &g->gi_iframe;
#else
    return (_PyInterpreterFrame *)g->gi_iframe;
#endif
#else
    PyFrameObject *f = g->gi_frame;
    if (f == NULL || f->f_code == NULL) {
        *state = "closed";
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030A0000
    if (f->f_state == FRAME_EXECUTING) {
#else
    if (g->gi_running) {
#endif
        *state = "running";
    }
#if PY_VERSION_HEX >= 0x030A0000
    else if (f->f_state == FRAME_CREATED) {
#else
    else if (f->f_lasti == -1) {
#endif
        *state = "created";
    }
#if PY_VERSION_HEX >= 0x030A0000
    else if (_PyFrameHasCompleted(f)) {
        *state = "closed";
        return NULL;
    }
#else
    else if (f->f_stacktop == NULL) {
        *state = "closed";
        return NULL;
    }
#endif
    else {
        *state = "suspended";
    }
    return f;
#endif
}

/* -------------------------------------------------------- instance dicts */

/* The address of obj's dict pointer for a type with tp_dictoffset (not a
 * managed dict), computed as _PyObject_GetDictPtr does on 3.9 and 3.10 but
 * without the 3.11+ materialization. */
static PyObject **
pyversion_dict_slot(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    Py_ssize_t off = tp->tp_dictoffset;
    if (off == 0) {
        return NULL;
    }
    if (off < 0) {
        Py_ssize_t n = Py_SIZE(obj);
        if (n < 0) {
            n = -n;
        }
        size_t size = (size_t)tp->tp_basicsize + (size_t)n * tp->tp_itemsize;
        size = (size + SIZEOF_VOID_P - 1) & ~((size_t)SIZEOF_VOID_P - 1);
        off += (Py_ssize_t)size;
    }
    return (PyObject **)((char *)obj + off);
}

static int
pyversion_visit_dict(PyObject *dict, hd_pair_visit visit, void *arg)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    if (!PyDict_Check(dict)) {
        return -1;
    }
    while (PyDict_Next(dict, &pos, &k, &v)) {
        if (visit(k, v, arg) < 0) {
            return -1;
        }
    }
    return 0;
}

#if HD_IFRAMES
/* Inline values: slot ix of the type's shared keys holds the name. */
static int
pyversion_visit_values(PyTypeObject *tp, PyDictValues *values,
                       const uint8_t *order, int n, hd_pair_visit visit,
                       void *arg)
{
    PyDictKeysObject *keys = ((PyHeapTypeObject *)tp)->ht_cached_keys;
    if (keys == NULL || !DK_IS_UNICODE(keys)) {
        return -1;
    }
    PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(keys);
    for (int i = 0; i < n; i++) {
        int ix = order[i];
        if (ix >= keys->dk_nentries) {
            return -1;
        }
        PyObject *v = values->values[ix];
        PyObject *k = entries[ix].me_key;
        if (v == NULL || k == NULL) {
            continue;
        }
        if (visit(k, v, arg) < 0) {
            return -1;
        }
    }
    return 0;
}
#endif

int
hd_pyversion_instance_dict(PyObject *obj, hd_pair_visit visit, void *arg)
{
    PyTypeObject *tp = Py_TYPE(obj);
    (void)tp; /* unused before 3.11 */
#if PY_VERSION_HEX >= 0x030D0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        PyDictObject *dict = _PyObject_GetManagedDict(obj);
        if (dict != NULL) {
            return pyversion_visit_dict((PyObject *)dict, visit, arg);
        }
        if (!(tp->tp_flags & Py_TPFLAGS_INLINE_VALUES)) {
            return 0;
        }
        PyDictValues *values = _PyObject_InlineValues(obj);
        if (!values->valid) {
            return 0;
        }
        return pyversion_visit_values(
            tp, values, (const uint8_t *)&values->values[values->capacity],
            values->size, visit, arg);
    }
#elif PY_VERSION_HEX >= 0x030C0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
        if (_PyDictOrValues_IsValues(dorv)) {
            PyDictValues *values = _PyDictOrValues_GetValues(dorv);
            uint8_t *size_ptr = ((uint8_t *)values) - 2;
            uint8_t order[256];
            int n = *size_ptr;
            /* the i-th attribute set is at size_ptr[-(i + 1)] */
            for (int i = 0; i < n; i++) {
                order[i] = size_ptr[-(i + 1)];
            }
            return pyversion_visit_values(tp, values, order, n, visit, arg);
        }
        PyObject *dict = _PyDictOrValues_GetDict(dorv);
        return dict ? pyversion_visit_dict(dict, visit, arg) : 0;
    }
#elif PY_VERSION_HEX >= 0x030B0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        PyDictValues *values = *_PyObject_ValuesPointer(obj);
        if (values != NULL) {
            uint8_t *size_ptr = ((uint8_t *)values) - 2;
            uint8_t order[256];
            int n = *size_ptr;
            for (int i = 0; i < n; i++) {
                order[i] = size_ptr[-(i + 1)];
            }
            return pyversion_visit_values(tp, values, order, n, visit, arg);
        }
        PyObject *dict = *_PyObject_ManagedDictPointer(obj);
        return dict ? pyversion_visit_dict(dict, visit, arg) : 0;
    }
#endif
    PyObject **slot = pyversion_dict_slot(obj);
    if (slot == NULL || *slot == NULL) {
        return 0;
    }
    return pyversion_visit_dict(*slot, visit, arg);
}

/* --------------------------------------------------------- sets and ints */

int
hd_pyversion_set_next(PyObject *set, Py_ssize_t *pos, PyObject **key)
{
    Py_hash_t hash;
    return _PySet_NextEntry(set, pos, key, &hash);
}

Py_ssize_t
hd_pyversion_long_sizeof(PyObject *v)
{
    /* what int.__sizeof__ says, without calling it (it returns a new int) */
#if PY_VERSION_HEX >= 0x030C0000
    Py_ssize_t ndigits = (Py_ssize_t)(((PyLongObject *)v)->long_value.lv_tag >>
                                      _PyLong_NON_SIZE_BITS);
    return (Py_ssize_t)offsetof(PyLongObject, long_value.ob_digit) +
           (ndigits ? ndigits : 1) * (Py_ssize_t)sizeof(digit);
#else
    Py_ssize_t n = Py_SIZE(v) < 0 ? -Py_SIZE(v) : Py_SIZE(v);
    return (Py_ssize_t)offsetof(PyLongObject, ob_digit) +
           n * (Py_ssize_t)sizeof(digit);
#endif
}

size_t
hd_pyversion_long_nbytes(PyObject *v)
{
    /* bits of |v|, plus the sign bit (3.14: _PyLong_NumBits returns an
     * int64_t, -1 only on overflow, which an int in memory cannot reach) */
    size_t bits = (size_t)_PyLong_NumBits(v);
    return bits / 8 + 1;
}

Py_ssize_t
hd_pyversion_long_bytes(PyObject *v, unsigned char *buf, size_t cap)
{
    size_t n = hd_pyversion_long_nbytes(v);
    if (n > cap) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    if (_PyLong_AsByteArray((PyLongObject *)v, buf, n, 1, 1, 0) < 0) {
        return -1;
    }
#else
    if (_PyLong_AsByteArray((PyLongObject *)v, buf, n, 1, 1) < 0) {
        PyErr_Clear();
        return -1;
    }
#endif
    /* drop redundant sign bytes: keep the fewest that hold the value */
    while (n > 1 && ((buf[n - 1] == 0x00 && !(buf[n - 2] & 0x80)) ||
                     (buf[n - 1] == 0xff && (buf[n - 2] & 0x80)))) {
        n--;
    }
    return (Py_ssize_t)n;
}

PyObject *
hd_pyversion_dict_object(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    (void)tp; /* unused before 3.11 */
#if PY_VERSION_HEX >= 0x030D0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        return (PyObject *)_PyObject_GetManagedDict(obj);
    }
#elif PY_VERSION_HEX >= 0x030C0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
        return _PyDictOrValues_IsValues(dorv) ? NULL
                                              : _PyDictOrValues_GetDict(dorv);
    }
#elif PY_VERSION_HEX >= 0x030B0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        return *_PyObject_ManagedDictPointer(obj);
    }
#endif
    PyObject **slot = pyversion_dict_slot(obj);
    return slot != NULL ? *slot : NULL;
}

/* OrderedDict's object and its linked list of keys (Objects/odictobject.c,
 * private to that file; the same from 3.5 through 3.13).  Only od_first and
 * the nodes' key and next are read; the size check guards the layout. */
typedef struct pyversion_odict_node {
    PyObject *key;
    Py_hash_t hash;
    struct pyversion_odict_node *next;
    struct pyversion_odict_node *prev;
} pyversion_odict_node;

typedef struct {
    PyDictObject od_dict;
    pyversion_odict_node *od_first;
    pyversion_odict_node *od_last;
    pyversion_odict_node **od_fast_nodes;
    Py_ssize_t od_fast_nodes_size;
    void *od_resize_sentinel;
    size_t od_state;
    PyObject *od_inst_dict;
    PyObject *od_weakreflist;
} pyversion_odict;

Py_ssize_t
hd_pyversion_odict_keys(PyObject *od, PyObject **keys, Py_ssize_t max)
{
    if (PyODict_Type.tp_basicsize != (Py_ssize_t)sizeof(pyversion_odict) ||
        !PyODict_Check(od)) {
        return -1;
    }
    Py_ssize_t n = 0;
    for (pyversion_odict_node *node = ((pyversion_odict *)od)->od_first;
         node != NULL; node = node->next) {
        if (n == max || node->key == NULL) {
            return -1;
        }
        keys[n++] = node->key;
    }
    return n;
}

/* ------------------------------------------------ frames for the loader
 * Real frame objects rebuilt for pdb (frames.c): what has no public API.
 * Unlike the rest of this file these write, to frames the loader just
 * made; they never run during a dump.
 */

/* Bytes of bytecode in co (the range a valid lasti falls in). */
Py_ssize_t
hd_pyversion_code_nbytes(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
    return _PyCode_NBYTES(co);
#else
    return PyBytes_GET_SIZE(co->co_code);
#endif
}

/* Point f's instruction pointer at the instruction at byte offset lasti of
 * its code, so that f_lineno and f_lasti report that instruction.  lasti
 * is in range and even (frames_frame_new checks).  Caller holds the GIL. */
void
hd_pyversion_frame_set_lasti(PyFrameObject *f, int lasti)
{
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.13: instr_ptr is the instruction executing; f_lineno is computed
     * from it (f->f_lineno is only set while tracing). */
    _PyInterpreterFrame *iframe = f->f_frame;
    iframe->instr_ptr = _PyCode_CODE(_PyFrame_GetCode(iframe)) + lasti / 2;
    f->f_lineno = 0;
#elif PY_VERSION_HEX >= 0x030B0000
    /* 3.11, 3.12: prev_instr is the last instruction started. */
    _PyInterpreterFrame *iframe = f->f_frame;
    iframe->prev_instr = _PyCode_CODE(iframe->f_code) + lasti / 2;
    f->f_lineno = 0;
#elif PY_VERSION_HEX >= 0x030A0000
    /* 3.10: f_lasti counts code units, and a non-zero f_lineno (which
     * PyFrame_New sets to co_firstlineno) overrides the computed line. */
    f->f_lasti = lasti / 2;
    f->f_lineno = 0;
#else
    /* 3.9: f_lasti is a byte offset; f_lineno is read only when tracing. */
    f->f_lasti = lasti;
    f->f_lineno = PyCode_Addr2Line(f->f_code, lasti);
#endif
}

/* Make back (a new reference is taken; NULL for none) f's calling frame,
 * dropping whatever PyFrame_New linked.  Caller holds the GIL. */
void
hd_pyversion_frame_set_back(PyFrameObject *f, PyFrameObject *back)
{
    Py_XINCREF(back);
#if PY_VERSION_HEX >= 0x030B0000
    /* The frame owns its interpreter frame, and PyFrame_GetBack falls back
     * to ->previous when f_back is NULL: make sure that is no stale
     * pointer. */
    f->f_frame->previous = NULL;
#endif
    Py_XSETREF(f->f_back, back);
}

/* The fast-slot array of f that f_locals is synchronized from, and its
 * length, which is the stub code's number of local variables; *n is 0 where
 * f_locals does not read the slots (3.13: a non-optimized frame's f_locals
 * is its locals mapping as is).  The slots hold strong references and are
 * released with the frame.  Caller holds the GIL. */
PyObject **
hd_pyversion_frame_fast_slots(PyFrameObject *f, Py_ssize_t *n)
{
#if PY_VERSION_HEX >= 0x030D0000
    (void)f;
    *n = 0;
    return NULL;
#elif PY_VERSION_HEX >= 0x030B0000
    *n = f->f_frame->f_code->co_nlocalsplus;
    return f->f_frame->localsplus;
#else
    *n = f->f_code->co_nlocals;
    return f->f_localsplus;
#endif
}

PyObject *
hd_pyversion_tuple_alloc(PyTypeObject *cls, Py_ssize_t n)
{
    PyObject *t = cls->tp_alloc(cls, n);
#if PY_VERSION_HEX >= 0x030E0000
    /* 3.14: tuples cache their hash in ob_hash, -1 meaning not computed
     * yet; tp_alloc zeroes it, which would read as a cached hash of 0 */
    if (t != NULL) {
        ((PyTupleObject *)t)->ob_hash = -1;
    }
#endif
    return t;
}

/* ------------------------------------------------------------- heap scope
 * What a dump of the whole heap reads: object sizes as sys.getsizeof gives
 * them, attribute storage, and the cyclic GC's lists of tracked objects.
 */

#if PY_VERSION_HEX < 0x030C0000
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#include "internal/pycore_gc.h"
#include "internal/pycore_interp.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

/* What sys.getsizeof adds to __sizeof__: the GC header and (3.11+) the
 * managed dict and weakref pointers before the object.  3.9 and 3.10 ask
 * the object (tp_is_gc), 3.11 and 3.12 its type, 3.13 its type except for
 * static types themselves. */
Py_ssize_t
hd_pyversion_preheader_size(PyObject *obj)
{
#if PY_VERSION_HEX >= 0x030D0000
    if (Py_IS_TYPE(obj, &PyType_Type) &&
        !PyType_HasFeature((PyTypeObject *)obj, Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
    return (Py_ssize_t)_PyType_PreHeaderSize(Py_TYPE(obj));
#elif PY_VERSION_HEX >= 0x030B0000
    return (Py_ssize_t)_PyType_PreHeaderSize(Py_TYPE(obj));
#else
    return PyObject_IS_GC(obj) ? (Py_ssize_t)sizeof(PyGC_Head) : 0;
#endif
}

/* Bytes of an instance's attribute values that live outside its
 * __sizeof__ and outside any dict object: the values array of 3.11 and
 * 3.12 (allocated apart), the inline values of 3.13+ (inside the object,
 * past tp_basicsize).  0 when the attributes are in a dict (the caller
 * counts the dict) or there are none. */
Py_ssize_t
hd_pyversion_values_bytes(PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    (void)tp;
#if PY_VERSION_HEX >= 0x030D0000
    if ((tp->tp_flags & Py_TPFLAGS_INLINE_VALUES) &&
        _PyObject_GetManagedDict(obj) == NULL) {
        return (Py_ssize_t)_PyInlineValuesSize(tp);
    }
#elif PY_VERSION_HEX >= 0x030B0000
#if PY_VERSION_HEX >= 0x030C0000
    PyDictValues *values = NULL;
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
        if (_PyDictOrValues_IsValues(dorv)) {
            values = _PyDictOrValues_GetValues(dorv);
        }
    }
#else
    PyDictValues *values = (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)
                               ? *_PyObject_ValuesPointer(obj)
                               : NULL;
#endif
    PyDictKeysObject *keys = ((PyHeapTypeObject *)tp)->ht_cached_keys;
    if (values != NULL && keys != NULL) {
        /* new_values(): a prefix of one byte per slot and two, rounded
         * to a pointer, then a pointer per slot */
        Py_ssize_t n = keys->dk_nentries + keys->dk_usable;
        Py_ssize_t prefix = (n + 2 + (Py_ssize_t)sizeof(PyObject *) - 1) &
                            ~((Py_ssize_t)sizeof(PyObject *) - 1);
        return prefix + n * (Py_ssize_t)sizeof(PyObject *);
    }
#else
    (void)obj;
#endif
    return 0;
}

#if PY_VERSION_HEX >= 0x030C0000
typedef struct {
    hd_gc_visit visit;
    void *arg;
} pyversion_gc_ctx;

/* PyUnstable_GC_VisitObjects' callback: it holds a reference on obj */
static int
pyversion_gc_trampoline(PyObject *obj, void *arg)
{
    pyversion_gc_ctx *ctx = arg;
    return ctx->visit(obj, 1, ctx->arg);
}
#endif

/* Call visit(obj, extra, arg) for every object the cyclic GC tracks in
 * interp (the current one) until visit returns 0.  extra is the reference
 * the iteration itself holds on obj while visit runs (3.12+'s
 * PyUnstable_GC_VisitObjects takes one): obj's reference count then is
 * the program's plus extra.  visit may write records but must not create,
 * track or release a GC-tracked object.  No Python code runs. */
void
hd_pyversion_gc_visit(hd_gc_visit visit, void *arg)
{
#if PY_VERSION_HEX >= 0x030C0000
    pyversion_gc_ctx ctx = {visit, arg};
    PyUnstable_GC_VisitObjects(pyversion_gc_trampoline, &ctx);
#else
    PyInterpreterState *interp = PyInterpreterState_Get();
    struct _gc_runtime_state *gc = &interp->gc;
    struct gc_generation *gens[NUM_GENERATIONS + 1];
    for (int i = 0; i < NUM_GENERATIONS; i++) {
        gens[i] = &gc->generations[i];
    }
    gens[NUM_GENERATIONS] = &gc->permanent_generation;
    for (int i = 0; i <= NUM_GENERATIONS; i++) {
        PyGC_Head *head = &gens[i]->head;
        for (PyGC_Head *g = _PyGCHead_NEXT(head); g != head;
             g = _PyGCHead_NEXT(g)) {
            if (!visit((PyObject *)(g + 1), 0, arg)) {
                return;
            }
        }
    }
#endif
}

/* The size of a frame, generator, coroutine or async generator object as
 * its __sizeof__ gives it, without calling it; -1 for any other object.
 * From 3.11 these types have a tp_itemsize but no ob_size (they are not
 * PyVarObjects, so Py_SIZE would read a pointer): the variable part is
 * the interpreter frame's slots, as many as the code object asks for.
 * A generator's tp_basicsize ends where its embedded frame's localsplus
 * begins, whichever of the three types it is; 3.11 clears that frame's
 * code when the generator finishes, and keeps it in gi_code. */
Py_ssize_t
hd_pyversion_frame_sizeof(PyObject *obj)
{
#if HD_IFRAMES
    PyTypeObject *tp = Py_TYPE(obj);
    PyCodeObject *co;
    if (PyFrame_Check(obj)) {
        _PyInterpreterFrame *f = ((PyFrameObject *)obj)->f_frame;
        co = f != NULL ? HD_FCODE(f) : NULL;
    }
    else if (PyGen_Check(obj) || PyCoro_CheckExact(obj) ||
             PyAsyncGen_CheckExact(obj)) {
#if PY_VERSION_HEX >= 0x030C0000
        _PyInterpreterFrame *f =
            (_PyInterpreterFrame *)((char *)obj + tp->tp_basicsize -
                                    offsetof(_PyInterpreterFrame, localsplus));
        co = HD_FCODE(f);
#else
        co = ((PyGenObject *)obj)->gi_code;
#endif
    }
    else {
        return -1;
    }
    if (co == NULL) {
        return tp->tp_basicsize;
    }
    return tp->tp_basicsize +
           (Py_ssize_t)(co->co_nlocalsplus + co->co_stacksize) *
               tp->tp_itemsize;
#else
    /* 3.9, 3.10: frames are PyVarObjects, but a frame taken from the free
     * list keeps a larger ob_size than its code needs, and __sizeof__
     * counts what the code needs (f_localsplus[1] included once) */
    if (!PyFrame_Check(obj)) {
        return -1;
    }
    PyCodeObject *co = ((PyFrameObject *)obj)->f_code;
    Py_ssize_t extras = co->co_stacksize + co->co_nlocals +
                        PyTuple_GET_SIZE(co->co_cellvars) +
                        PyTuple_GET_SIZE(co->co_freevars);
    return (Py_ssize_t)sizeof(PyFrameObject) +
           (extras - 1) * (Py_ssize_t)sizeof(PyObject *);
#endif
}

/* A str's size as str.__sizeof__ computes it, without making the int it
 * returns: the object and its characters, its UTF-8 copy when it has one
 * apart, and (before 3.12) its wchar_t copy.  -1 for a legacy (not
 * compact) str, which the caller sizes by calling __sizeof__. */
Py_ssize_t
hd_pyversion_str_sizeof(PyObject *s)
{
    Py_ssize_t size, len = PyUnicode_GET_LENGTH(s);
    if (PyUnicode_IS_COMPACT_ASCII(s)) {
        size = (Py_ssize_t)sizeof(PyASCIIObject) + len + 1;
    }
    else if (PyUnicode_IS_COMPACT(s)) {
        PyCompactUnicodeObject *c = (PyCompactUnicodeObject *)s;
        size = (Py_ssize_t)sizeof(PyCompactUnicodeObject) +
               (len + 1) * (Py_ssize_t)PyUnicode_KIND(s);
        if (c->utf8 != NULL && c->utf8 != PyUnicode_DATA(s)) {
            size += c->utf8_length + 1;
        }
    }
    else {
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    PyASCIIObject *a = (PyASCIIObject *)s;
    if (a->wstr != NULL && (void *)a->wstr != PyUnicode_DATA(s)) {
        Py_ssize_t wlen = PyUnicode_IS_COMPACT_ASCII(s)
                              ? len
                              : ((PyCompactUnicodeObject *)s)->wstr_length;
        size += (wlen + 1) * (Py_ssize_t)sizeof(wchar_t);
    }
#endif
    return size;
}
