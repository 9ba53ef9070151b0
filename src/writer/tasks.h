/* tasks.h: the asyncio tasks of a dump (tasks.c), for dump.c. */
#ifndef HEAPDUMP_WRITER_TASKS_H
#define HEAPDUMP_WRITER_TASKS_H

#include "heapdump.h"

/* Queue every asyncio task of interp as a root, with its coroutine and the
 * coroutines it awaits, and write a TASK record for each (docs/format.rst).
 * On 3.14+, where a finished task is in no list, it drains the walk's
 * queue (hd_pack_run) and writes the records of the C tasks met there.
 * Only in a normal dump (nothing in the stacks-only and fatal modes).
 * Caller holds the GIL with the cyclic GC disabled; no Python code runs. */
void hd_tasks_write(hd_dumper *d, PyInterpreterState *interp);

#endif /* HEAPDUMP_WRITER_TASKS_H */
