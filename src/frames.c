/* frames.c: real frame objects for the loader, built so stock pdb accepts
 * them (heapdump/_frames.py drives this).
 *
 * A dumped frame becomes a frame object created with PyFrame_New on a stub
 * code object (see heapdump/_frames.py: same name, file, first line and
 * local names as the dumped code, non-optimized, with one instruction per
 * source line).  Three things have no public API and are done here:
 *
 *   - the instruction pointer, from which the frame reports its line
 *     (f_lineno) and its f_lasti;
 *   - f_back, the calling frame (on 3.9/3.10 PyFrame_New links the frame
 *     to whatever Python frame called us, which must be undone);
 *   - the fast slots: on 3.9 to 3.12 every f_locals access copies the fast
 *     slots into the locals dict and deletes the names whose slot is empty,
 *     so the values are copied into the slots as well.
 *
 * Every CPython-version-specific line is in the section marked
 * "version-specific" below, so that it can move into pyversion.c as one
 * piece.  Nothing here runs during a dump: only the loader calls it.
 */

/* The frame layout of 3.11 and later is internal (pycore_frame.h), which
 * needs Py_BUILD_CORE.  Read the version first, so 3.9 and 3.10 compile
 * against the public headers only. */
#include <patchlevel.h>
#if PY_VERSION_HEX >= 0x030B0000
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#endif

#include "heapdump.h"

#include <frameobject.h>
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#endif

/* ------------------------------------------------------------------------
 * version-specific: everything that depends on the CPython version.
 */

/* Bytes of bytecode in co (the range a valid lasti falls in). */
static Py_ssize_t
frames_code_nbytes(PyCodeObject *co)
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
static void
frames_set_lasti(PyFrameObject *f, int lasti)
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
static void
frames_set_back(PyFrameObject *f, PyFrameObject *back)
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
static PyObject **
frames_fast_slots(PyFrameObject *f, Py_ssize_t *n)
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

/* end of the version-specific section
 * ------------------------------------------------------------------------
 */

/* Copy the values of the code's local names found in the dict locals into
 * the frame's fast slots (see frames_fast_slots).  Names missing from the
 * dict leave their slot empty.  Returns 0, or -1 with an exception set.
 * Reads the dict's table (PyDict_GetItemWithError: no __getitem__ or
 * __missing__ of a subclass runs) with str keys; only a key of another
 * type with an equal hash could have its __eq__ called, and the loader's
 * locals dicts have str keys.  A locals mapping that is not a dict is left
 * alone: the stubs of non-optimized code (the only frames given one) have
 * no local names to synchronize. */
static int
frames_fill_slots(PyFrameObject *f, PyCodeObject *co, PyObject *locals)
{
    Py_ssize_t n = 0;
    PyObject **slots = frames_fast_slots(f, &n);
    PyObject *names = NULL;

    if (n == 0 || locals == NULL || !PyDict_Check(locals)) {
        return 0;
    }
    names = PyObject_GetAttrString((PyObject *)co, "co_varnames");
    if (names == NULL) {
        return -1;
    }
    if (!PyTuple_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "co_varnames is not a tuple");
        goto error;
    }
    if (PyTuple_GET_SIZE(names) < n) {
        n = PyTuple_GET_SIZE(names);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        PyObject *value = NULL;

        if (!PyUnicode_CheckExact(name)) {
            continue;
        }
        value = PyDict_GetItemWithError(locals, name);
        if (value == NULL && PyErr_Occurred()) {
            goto error;
        }
        Py_XINCREF(value);
        Py_XSETREF(slots[i], value);
    }
    Py_DECREF(names);
    return 0;

error:
    Py_XDECREF(names);
    return -1;
}

/* _frame_new(code, globals, locals, back, lasti): a new frame object.
 *
 * code: the stub code object; globals: a dict; locals: the mapping the
 * frame's f_locals is to return (a dict for rebuilt function frames, the
 * dumped namespace for module and class bodies), or None for globals;
 * back: the calling frame or None; lasti: byte offset of the instruction
 * the frame stands at (its line is that instruction's), or -1 for the
 * first one.  Caller holds the GIL.  Returns a new reference, or NULL with
 * an exception set. */
static PyObject *
frames_frame_new(PyObject *module, PyObject *args)
{
    PyObject *code = NULL, *globals = NULL, *locals = NULL, *back = NULL;
    int lasti = -1;
    PyFrameObject *f = NULL;
    PyCodeObject *co = NULL;
    Py_ssize_t nbytes = 0;

    (void)module;
    if (!PyArg_ParseTuple(args, "O!O!OOi:_frame_new", &PyCode_Type, &code,
                          &PyDict_Type, &globals, &locals, &back, &lasti)) {
        return NULL;
    }
    co = (PyCodeObject *)code;
    if (locals == Py_None) {
        locals = NULL;
    }
    else if (!PyMapping_Check(locals)) {
        PyErr_Format(PyExc_TypeError, "locals must be a mapping, not %.100s",
                     Py_TYPE(locals)->tp_name);
        return NULL;
    }
    if (back == Py_None) {
        back = NULL;
    }
    else if (!PyFrame_Check(back)) {
        PyErr_Format(PyExc_TypeError, "back must be a frame, not %.100s",
                     Py_TYPE(back)->tp_name);
        return NULL;
    }
    if (co->co_flags & (CO_OPTIMIZED | CO_NEWLOCALS)) {
        /* An optimized frame's f_locals would not be the given mapping. */
        PyErr_SetString(PyExc_ValueError,
                        "the code must not be optimized (CO_OPTIMIZED or "
                        "CO_NEWLOCALS set)");
        return NULL;
    }
    nbytes = frames_code_nbytes(co);
    if (lasti == -1) {
        lasti = 0;
    }
    if (lasti < 0 || lasti >= nbytes || lasti % 2 != 0) {
        PyErr_Format(PyExc_ValueError,
                     "lasti %d is not an instruction offset of the code "
                     "(%zd bytes)",
                     lasti, nbytes);
        return NULL;
    }

    f = PyFrame_New(PyThreadState_Get(), co, globals, locals);
    if (f == NULL) {
        return NULL;
    }
    frames_set_back(f, (PyFrameObject *)back);
    frames_set_lasti(f, lasti);
    if (frames_fill_slots(f, co, locals) < 0) {
        goto error;
    }
    return (PyObject *)f;

error:
    Py_XDECREF(f);
    return NULL;
}

static PyMethodDef frames_methods[] = {
    {"_frame_new", frames_frame_new, METH_VARARGS,
     "_frame_new($module, code, globals, locals, back, lasti, /)\n--\n\n"
     "A frame object on code (a non-optimized stub code object) with these\n"
     "globals and locals, calling frame back (or None), standing at the\n"
     "instruction at byte offset lasti.  The locals found in a dict are\n"
     "also copied into the frame's fast slots.  For heapdump._frames."},
    {NULL, NULL, 0, NULL},
};

int
hd_frames_init_module(PyObject *m)
{
    return PyModule_AddFunctions(m, frames_methods);
}
