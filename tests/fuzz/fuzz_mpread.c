/* fuzz_mpread.c: libFuzzer target for the bounds-checked msgpack reader
 * (src/reader/mpread.c), the code that faces hostile files.
 *
 *   make fuzz                  build and run for FUZZ_SECONDS (60)
 *   tests/unit/test_fuzz.py    a short run in the test suite
 *
 * The input is a decompressed body: records framed one after another.
 * Besides the sanitizers' checks (no read outside the input, no undefined
 * behaviour), it checks the reader's own contract: a record that
 * hd_mpread_frame says is complete reads item by item to its end with
 * hd_mpread_next, and hd_mpread_skip of it ends exactly there.
 */
#include "reader/mpread.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t fuzz_sink; /* payload bytes are read, not optimized out */

static void
fuzz_walk_record(const uint8_t *p, size_t len)
{
    hd_mp_cur c = {p, p + len};
    uint64_t todo = 1;
    while (todo > 0) {
        hd_mp_item it;
        if (hd_mpread_next(&c, &it) < 0) {
            abort(); /* framed as complete, yet it does not read */
        }
        todo--;
        if (it.type == HD_MP_ARRAY) {
            todo += it.u;
        }
        else if (it.type == HD_MP_MAP) {
            todo += 2 * it.u;
        }
        else if (it.type == HD_MP_STR || it.type == HD_MP_BIN ||
                 it.type == HD_MP_EXT) {
            for (uint64_t i = 0; i < it.u; i++) {
                fuzz_sink += it.data[i];
            }
        }
    }
    if (c.p != p + len) {
        abort(); /* the frame and the items disagree on the end */
    }
    hd_mp_cur s = {p, p + len};
    if (hd_mpread_skip(&s) < 0 || s.p != p + len) {
        abort(); /* skip disagrees with the frame */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        size_t len = 0;
        int r = hd_mpread_frame(data + pos, size - pos, (size_t)1 << 20,
                                (uint64_t)1 << 16, &len);
        if (r != 1) {
            break;
        }
        if (len == 0 || len > size - pos) {
            abort();
        }
        fuzz_walk_record(data + pos, len);
        pos += len;
    }
    /* and whatever is left, item by item, as a damaged record would be */
    hd_mp_cur c = {data + pos, data + size};
    hd_mp_item it;
    while (c.p < c.end && hd_mpread_next(&c, &it) == 0) {
        if (c.p > c.end) {
            abort();
        }
    }
    return 0;
}
