/* frames.c: real frame objects for the loader, built so stock pdb accepts
 * them (heapdump/_frames.py drives this).
 *
 * A dumped frame becomes a frame object created with PyFrame_New on a stub
 * code object (see heapdump/_frames.py: same name, file, first line and
 * local names as the dumped code, non-optimized, with one instruction per
 * source line).  Three things have no public API (pyversion.c does them):
 *
 *   - the instruction pointer, from which the frame reports its line
 *     (f_lineno) and its f_lasti;
 *   - f_back, the calling frame (on 3.9/3.10 PyFrame_New links the frame
 *     to whatever Python frame called us, which must be undone);
 *   - the fast slots: on 3.9 to 3.12 every f_locals access copies the fast
 *     slots into the locals dict and deletes the names whose slot is empty,
 *     so the values are copied into the slots as well.
 *
 * The version-specific lines are in pyversion.c.  Nothing here runs during
 * a dump: only the loader calls it.
 */

#include "heapdump.h"

#include <frameobject.h>

/* Copy the values of the code's local names found in the dict locals into
 * the frame's fast slots (see hd_pyversion_frame_fast_slots).  Names missing
 * from the dict leave their slot empty.  Returns 0, or -1 with an exception
 * set. Reads the dict's table (PyDict_GetItemWithError: no __getitem__ or
 * __missing__ of a subclass runs) with str keys; only a key of another
 * type with an equal hash could have its __eq__ called, and the loader's
 * locals dicts have str keys.  A locals mapping that is not a dict is left
 * alone: the stubs of non-optimized code (the only frames given one) have
 * no local names to synchronize. */
static int
frames_fill_slots(PyFrameObject *f, PyCodeObject *co, PyObject *locals)
{
    Py_ssize_t n = 0;
    PyObject **slots = hd_pyversion_frame_fast_slots(f, &n);
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
    nbytes = hd_pyversion_code_nbytes(co);
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
    hd_pyversion_frame_set_back(f, (PyFrameObject *)back);
    hd_pyversion_frame_set_lasti(f, lasti);
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
