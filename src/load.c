/* load.c: placeholder until the loader lands. */
#include "heapdump.h"

int
hd_load_init_module(PyObject *m)
{
    (void)m;
    return 0;
}
