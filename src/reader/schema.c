/* schema.c: the field types of every record kind (docs/format.rst), the
 * one table the readers (load.c's fields(), graph.c's edges) take them
 * from.  Contract in heapdump.h (hd_schema_fields). */
#include "heapdump.h"

const char *
hd_schema_fields(int kind)
{
    switch (kind) {
    case HD_K_INT: return "v";
    case HD_K_FLOAT: return "d";
    case HD_K_COMPLEX: return "dd";
    case HD_K_STR: return "d";
    case HD_K_BYTES: return "d";
    case HD_K_BYTEARRAY: return "d";
    case HD_K_RANGE: return "vvv";
    case HD_K_SLICE: return "vvv";
    case HD_K_SINGLETON: return "d";
    case HD_K_TYPE: return "dddvVdddNV";
    case HD_K_INSTANCE: return "d";
    case HD_K_OPAQUE: return "vdVV";
    case HD_K_FUNCTION: return "dddvvvvdV";
    case HD_K_METHOD: return "vv";
    case HD_K_CFUNCTION: return "dddv";
    case HD_K_CODE: return "dddddddddd";
    case HD_K_MODULE: return "dd|v"; /* dict: 1.3 */
    case HD_K_CELL: return "v";
    case HD_K_FRAME: return "vvvvdddV";
    case HD_K_TRACEBACK: return "vddv|d"; /* position: 1.1 */
    case HD_K_EXCEPTION: return "vvvvvddV";
    case HD_K_GENERATOR: return "vdddvd";
    case HD_K_WEAKREF: return "vvv";
    case HD_K_UNREADABLE: return "d";
    case HD_R_META: return "d";
    case HD_R_LAYOUT: return "vN";
    case HD_R_CLASS: return "vdV";
    case HD_R_CUT: return "d";
    case HD_R_THREAD: return "dddddv";
    case HD_R_SOURCE: return "ddd|d"; /* redactions: 1.2 */
    case HD_R_ROOT: return "dv";
    case HD_R_TRAILER: return "d";
    case HD_R_ERROR: return "d";
    case HD_R_INLINE: return "dddd";
    default: return NULL;
    }
}
