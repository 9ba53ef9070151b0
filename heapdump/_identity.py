"""Which record a loaded object is: its id (the record's index in
``Dump.objects``) and the address it had in the dumped process.

Below the loader (heapdump._load, which re-exports both) and the heap
analysis (heapdump._heap), which both ask.
"""

from __future__ import annotations

from heapdump import _surrogates as S


def id_of(dump, obj):
    """The id of a loaded object in dump (by identity), or None."""
    oid = S.dump_id(obj)
    if oid is not None and oid < len(dump.objects) and \
            dump.objects[oid] is obj:
        return oid
    index = getattr(dump, "_id_index", None)
    if index is None:
        index = {id(o): i for i, o in enumerate(dump.objects)}
        dump._id_index = index
    return index.get(id(obj))


def address_of(dump, obj):
    """The address a loaded object had in the dumped process, or None (a
    value written inline has no record and no address)."""
    addr = S.address(obj)
    if addr is not None:
        return addr
    oid = id_of(dump, obj)
    return None if oid is None else dump.addresses[oid]
