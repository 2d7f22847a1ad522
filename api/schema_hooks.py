"""Corrections to the OpenAPI schema drf-spectacular writes (`/api/schema/`)."""

_BLANK = {"type": "string", "maxLength": 0}


def blank_alternative_as_any_of(result, generator, request, public):
    """A field that may also be blank is written `oneOf: [its rule, an empty string]`.

    `oneOf` means exactly one, and a rule that already allows "" (the phone pattern does)
    then refuses "": a generated client rejected every booking without a phone number.
    `anyOf` says what the serializer does: its rule, or blank.
    """

    def walk(node):
        if isinstance(node, dict):
            alternatives = node.get("oneOf")
            if isinstance(alternatives, list) and len(alternatives) == 2 and _BLANK in alternatives:
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
