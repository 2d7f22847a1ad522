"""The served OpenAPI schema (`/api/schema/`) held against real requests.

A client generated from the schema refuses whatever the schema forbids, so every request
the service accepts (2xx) must be valid in the schema, and every answer it gives in
return must match the answer the schema documents. `SchemaCheckedClient` checks both for
each request a test sends; the API tests' `anon` and `api` clients are such clients.
"""

import json
import re
from functools import cache

import jsonschema
from django.test import Client
from rest_framework.test import APIClient

METHODS = ("get", "put", "post", "delete", "patch")


@cache
def served_schema() -> dict:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    return response.json()


def operations() -> set[str]:
    """Every operation of the served schema, as `METHOD /path`."""
    return {
        f"{method.upper()} {path}"
        for path, item in served_schema()["paths"].items()
        for method in item
        if method in METHODS
    }


def _json_schema(node):
    """OpenAPI 3.0's schema objects in plain JSON Schema: `nullable` becomes a null type."""
    if isinstance(node, list):
        return [_json_schema(value) for value in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _components() -> dict:
    return _json_schema(served_schema().get("components", {}))


def _validate(schema: dict, instance, what: str) -> None:
    document = {**_json_schema(schema), "components": _components()}
    validator = jsonschema.Draft4Validator(
        document, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.path))
    assert not errors, f"{what} does not match the served schema:\n" + "\n".join(
        f"  at {'/'.join(map(str, error.path)) or '(top)'}: {error.message}" for error in errors
    )


@cache
def _templates() -> list[tuple[re.Pattern, str]]:
    found = []
    for path in served_schema()["paths"]:
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path))
        # Literal paths before templated ones: /calendars/google/connect/ is not {id}.
        found.append((path.count("{"), re.compile(f"^{pattern}$"), path))
    return [(pattern, path) for _, pattern, path in sorted(found, key=lambda t: t[0])]


def operation_of(method: str, path: str) -> tuple[str, dict] | None:
    for pattern, template in _templates():
        if pattern.match(path):
            operation = served_schema()["paths"][template].get(method.lower())
            return (f"{method.upper()} {template}", operation) if operation else None
    return None


def check_exchange(method: str, path: str, body: bytes, content_type: str, response) -> None:
    """An accepted request is valid in the served schema; a documented answer matches it."""
    path = path.split("?", 1)[0]
    if not path.startswith("/api/v1/"):
        return
    found = operation_of(method, path)
    if found is None:
        assert response.status_code in (404, 405), f"{method} {path} is not in the schema"
        return
    label, operation = found
    if 200 <= response.status_code < 300:
        request_schema = (
            operation.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema")
        )
        if request_schema and body and content_type.startswith("application/json"):
            _validate(request_schema, json.loads(body), f"The accepted request body of {label}")
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, f"{label} answered {response.status_code}, undocumented"
        response_schema = documented.get("content", {}).get("application/json", {}).get("schema")
        if response_schema:
            _validate(response_schema, response.json(), f"The {response.status_code} of {label}")


class SchemaCheckedClient(APIClient):
    """An APIClient whose every exchange is held against the served schema."""

    def generic(self, method, path, data="", content_type="application/octet-stream", **extra):
        response = super().generic(method, path, data, content_type, **extra)
        body = data.encode() if isinstance(data, str) else bytes(data or b"")
        check_exchange(method, path, body, content_type or "", response)
        return response
