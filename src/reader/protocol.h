/* protocol.h: the loader's protocol with Python, in one table: every
 * attribute of the support object (heapdump/_load.py's _Builder) that
 * the C loader reads or calls.  load.c fetches each one once, when a
 * Loader is made, into LoaderObject.support_attrs (a missing one, or a
 * call that is not callable, fails there, naming it); the loader's files
 * then use hd_decode_call(L, HD_CB_<name>, args) or HD_SUPPORT(L, name),
 * never a name in a string.  _heapdump.LOADER_CALLBACKS exports the
 * table ((name, parameters or None), in this order), and
 * tests/unit/test_loader_protocol.py checks it against _load.py's
 * LOADER_PROTOCOL, the Python side's declaration with each contract.
 *
 * X(name, params, returns): params is the call's parameter list, or
 * NULL for a value read as it is.
 */
#ifndef HEAPDUMP_PROTOCOL_H
#define HEAPDUMP_PROTOCOL_H

#define HD_LOADER_CALLBACKS(X)                                                \
    /* values */                                                              \
    X(HeapdumpError, NULL, "the exception class a malformed file raises")     \
    X(UNBOUND, NULL, "the sentinel an unset slot decodes as")                 \
    X(PENDING, NULL, "the sentinel for an object not built yet")              \
    X(cut_classes, NULL, "dict: kind -> the class a cut value is made as")    \
    X(shell_classes, NULL, "dict: kind -> the class of a kind's shell")       \
    /* calls */                                                               \
    X(lost, "oid", "the placeholder for an id no record defines")             \
    X(omitted, "module, qualname, size, *rest", "an OMITTED placeholder")     \
    X(redacted, "module, qualname, size, *rest", "a REDACTED placeholder")    \
    X(unreadable, "oid, addr, reason", "an UNREADABLE placeholder")           \
    X(unknown, "kind, oid, addr", "the placeholder of an unknown kind")       \
    X(class_for, "type_id, type_obj, kind", "the class of an instance")       \
    X(make_type, "oid, fields", "the class made from a TYPE record")          \
    X(make_code, "oid, fields", "the code object of a CODE record")           \
    X(make_function, "oid, fields", "the function of a FUNCTION record")      \
    X(make_native, "oid, fields", "the object of a NATIVE record")

/* HD_CB_<name>: the index of an entry in LoaderObject.support_attrs */
enum {
#define HD_CB_ENUM_(name, params, returns) HD_CB_##name,
    HD_LOADER_CALLBACKS(HD_CB_ENUM_)
#undef HD_CB_ENUM_
        HD_CB_COUNT
};

#endif /* HEAPDUMP_PROTOCOL_H */
