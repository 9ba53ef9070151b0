/* module.c: heapdump._heapdump, module state and init. */
#include "heapdump.h"

int
hd_dump_init_module(PyObject *m)
{
    (void)m;
    return 0;
}

static int
module_exec(PyObject *m)
{
    if (PyModule_AddStringConstant(m, "FORMAT_VERSION", HD_FORMAT_VERSION) <
        0) {
        return -1;
    }
    if (hd_dump_init_module(m) < 0 || hd_load_init_module(m) < 0 ||
        hd_frames_init_module(m) < 0) {
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "heapdump._heapdump",
    .m_doc = "The C core of heapdump: the dumper and the loader.",
    .m_size = 0,
    .m_slots = module_slots,
};

PyMODINIT_FUNC
PyInit__heapdump(void)
{
    return PyModuleDef_Init(&module_def);
}
