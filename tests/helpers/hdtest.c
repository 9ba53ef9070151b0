/* hdtest.c: a tiny extension for heapdump's tests.
 *
 * hold_gil(seconds): spins in C for that long (forever when negative)
 * without releasing the GIL, as a C extension stuck in a loop would.
 * block_without_gil(): releases the GIL and blocks in pause(2) for good,
 * as a C call that never returns to Python would.
 * segfault(): writes through a NULL pointer, as a buggy C extension would.
 * recurse(n): C recursion n deep (a stack overflow for a big n).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <time.h>
#include <unistd.h>

static PyObject *
hold_gil(PyObject *self, PyObject *arg)
{
    double seconds = PyFloat_AsDouble(arg);
    if (seconds == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    volatile unsigned long spins = 0;
    for (;;) {
        spins++;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double t = (double)(now.tv_sec - start.tv_sec) +
                   (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (seconds >= 0 && t >= seconds) {
            break;
        }
    }
    (void)self;
    Py_RETURN_NONE;
}

static PyObject *
block_without_gil(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        pause();
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *
segfault(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    volatile int *p = NULL;
    *p = 42;
    Py_RETURN_NONE;
}

static int
recurse_c(int n, volatile char *prev)
{
    volatile char pad[1024];
    pad[0] = prev ? prev[0] : 1;
    if (n <= 0) {
        return pad[0];
    }
    return recurse_c(n - 1, pad) + pad[1023];
}

static PyObject *
recurse(PyObject *self, PyObject *arg)
{
    (void)self;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromLong(recurse_c((int)n, NULL));
}

static PyMethodDef methods[] = {
    {"hold_gil", hold_gil, METH_O, NULL},
    {"block_without_gil", block_without_gil, METH_NOARGS, NULL},
    {"segfault", segfault, METH_NOARGS, NULL},
    {"recurse", recurse, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hdtest", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit_hdtest(void)
{
    return PyModule_Create(&module);
}
