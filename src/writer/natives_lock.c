/* natives_lock.c: _thread.lock (threading.Lock) and _thread.RLock
 * (threading.RLock's C class) as NATIVE records (natives.h).
 *
 *   LOCK   [held]: true when the lock was held
 *   RLOCK  [owner, count]: owner the ident of the thread holding it (as
 *          threading.get_ident() gives it) or nil when free, count how
 *          many times that thread holds it (0 when free)
 *
 * The state is read through the C layout of this version
 * (pyversion/locks.c, which checks the type's name and size): a lock
 * whose layout is not known stays opaque.  Nothing acquires, releases or
 * waits for the lock.
 */
#include "natives.h"

#include "pyversion/locks.h"

#define PK(d) (&(d)->pk)

/* An unsigned value as an ext 1 INT (a thread ident may be past
 * INT64_MAX: then nine bytes, the last 0, keep it positive). */
static void
lock_uint(hd_dumper *d, unsigned long long v)
{
    if (v <= (unsigned long long)INT64_MAX) {
        hd_encode_int64(d, (int64_t)v);
        return;
    }
    unsigned char buf[9];
    for (int i = 0; i < 8; i++) {
        buf[i] = (unsigned char)(v >> (8 * i));
    }
    buf[8] = 0;
    msgpack_pack_ext_with_body(PK(d), buf, sizeof(buf), HD_EXT_INT);
}

int
hd_natives_lock_state(hd_dumper *d, int nk, PyTypeObject *base, PyObject *obj,
                      int write)
{
    if (nk == HD_NK_LOCK) {
        int held;
        if (hd_locks_lock_held(obj, base, &held) < 0) {
            return -1;
        }
        if (write == 1) {
            msgpack_pack_array(PK(d), 1);
            if (held) {
                msgpack_pack_true(PK(d));
            }
            else {
                msgpack_pack_false(PK(d));
            }
        }
        return 0;
    }
    unsigned long long owner, count;
    if (hd_locks_rlock_state(obj, base, &owner, &count) < 0) {
        return -1;
    }
    if (write == 1) {
        msgpack_pack_array(PK(d), 2);
        if (count == 0) {
            msgpack_pack_nil(PK(d));
        }
        else {
            lock_uint(d, owner);
        }
        lock_uint(d, count);
    }
    return 0;
}
