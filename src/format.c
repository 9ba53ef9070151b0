/* format.c: the tables of format.h's lists (names, field types, the
 * default limits), generated from the lists.  No Python. */
#include "format.h"

#include <stddef.h>

const char *
hd_format_kind_name(int kind)
{
    switch (kind) {
#define FORMAT_NAME_(name, n, fields)                                         \
    case n: return #name;
        HD_OBJECT_KINDS(FORMAT_NAME_)
        HD_OTHER_KINDS(FORMAT_NAME_)
#undef FORMAT_NAME_
    default: return NULL;
    }
}

const char *
hd_format_fields(int kind)
{
    switch (kind) {
#define FORMAT_FIELDS_(name, n, fields)                                       \
    case n: return fields;
        HD_OBJECT_KINDS(FORMAT_FIELDS_)
        HD_OTHER_KINDS(FORMAT_FIELDS_)
#undef FORMAT_FIELDS_
    default: return NULL;
    }
}

const char *
hd_format_why_name(int why)
{
    switch (why) {
#define FORMAT_WHY_(name, n, text)                                            \
    case n: return text;
        HD_WHYS(FORMAT_WHY_)
#undef FORMAT_WHY_
    default: return "value";
    }
}

const char *
hd_format_scope_name(int scope)
{
    switch (scope) {
#define FORMAT_SCOPE_(name, n, text)                                          \
    case n: return text;
        HD_SCOPES(FORMAT_SCOPE_)
#undef FORMAT_SCOPE_
    default: return NULL;
    }
}

const hd_default_limits hd_format_defaults[2] = {
#define FORMAT_FRAMES_(name, frames, heap) .name = frames,
#define FORMAT_HEAP_(name, frames, heap) .name = heap,
    [HD_SCOPE_FRAMES] = {HD_DEFAULT_LIMITS(FORMAT_FRAMES_)},
    [HD_SCOPE_HEAP] = {HD_DEFAULT_LIMITS(FORMAT_HEAP_)},
#undef FORMAT_FRAMES_
#undef FORMAT_HEAP_
};
