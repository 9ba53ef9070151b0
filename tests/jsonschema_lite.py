"""A small JSON Schema validator for the tests: the subset that
docs/analysis-schema.json uses ($ref to #/$defs, oneOf, type, const, enum,
properties, required, additionalProperties: false, items, minimum,
pattern).  Raises AssertionError naming the path of the first mismatch."""

import re

_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool,
    "null": type(None), "number": (int, float), "integer": int,
}


def _is(value, name):
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def validate(value, schema, root=None, where="$"):
    root = schema if root is None else root
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        return validate(value, target, root, where)
    if "oneOf" in schema:
        errors = []
        for option in schema["oneOf"]:
            try:
                validate(value, option, root, where)
            except AssertionError as e:
                errors.append(str(e))
            else:
                return
        raise AssertionError("%s matches none of oneOf: %s"
                             % (where, "; ".join(errors)[:2000]))
    if "type" in schema:
        names = schema["type"]
        names = [names] if isinstance(names, str) else names
        assert any(_is(value, n) for n in names), \
            "%s: %r is not %s" % (where, value, names)
    if "const" in schema:
        assert value == schema["const"], "%s: %r != %r" % (
            where, value, schema["const"])
    if "enum" in schema:
        assert value in schema["enum"], "%s: %r not in %r" % (
            where, value, schema["enum"])
    if "minimum" in schema and isinstance(value, (int, float)):
        assert value >= schema["minimum"], "%s: %r < minimum" % (where,
                                                                 value)
    if "pattern" in schema and isinstance(value, str):
        assert re.search(schema["pattern"], value), \
            "%s: %r does not match %s" % (where, value, schema["pattern"])
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", ()):
            assert name in value, "%s: %r is missing" % (where, name)
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            assert not extra, "%s: undocumented keys %s" % (where,
                                                            sorted(extra))
        for name, sub in props.items():
            if name in value:
                validate(value[name], sub, root, "%s.%s" % (where, name))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], root, "%s[%d]" % (where, i))
