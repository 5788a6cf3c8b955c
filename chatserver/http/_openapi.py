"""The OpenAPI 3.1 document built from route declarations (``route.Route``): every schema is
msgspec's JSON Schema of a type the code uses, with the server's settings put in where a field
is bounded by one (``route.bounded_by``), and each body's byte limit derived from its schema."""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ..config import Settings
from ..domain.patterns import CHECKED_KEY
from ..wire.shapes import Error
from .common import MAX_JSON_BODY
from .route import SETTING_KEY, Auth, Route

REF = "#/components/schemas/{name}"
_ERROR_RESPONSE = {"$ref": "#/components/responses/Error"}
_SECURITY: dict[Auth, list[dict[str, list[str]]]] = {
    Auth.AGENT: [{"agentToken": []}],
    Auth.OPTIONAL: [{}, {"agentToken": []}],
    Auth.METRICS: [{"metricsToken": []}],
    Auth.PARTICIPANT: [{"visitorToken": []}, {"agentToken": []}],
}
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
_WRITE_METHODS = ("post", "put", "patch", "delete")
# The most bytes one character of a JSON string takes: a client that escapes all but ASCII
# (Python's json.dumps) writes one outside the BMP as "\uD83D\uDE00".
_BYTES_PER_CHAR = 12
# Room for a number (a float's repr is at most 24 characters) and for whitespace between tokens.
_NUMBER_BYTES = 32
_FORMATTING_BYTES = 16 * 1024


def _types(routes: Sequence[Route]) -> list[Any]:
    """Every type the document renders, each once (compared by equality: Annotated aliases are
    types of their own)."""
    found: list[Any] = [Error]
    for route in routes:
        candidates = [route.body, *(q.type for q in route.query),
                      *(t for answer in route.answers for t in answer.content.values())]
        found += [t for t in candidates if t is not None and t not in found]
    return found


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ERROR_RESPONSE for status in statuses}


def _operation(route: Route, schema: Callable[[Any], dict[str, Any]], settings: Settings) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": route.summary, "operationId": route.operation_id}
    if route.description:
        operation["description"] = route.description
    if route.auth in _SECURITY:
        operation["security"] = _SECURITY[route.auth]
    parameters: list[dict[str, Any]] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                                        for name in _PATH_PARAMETER.findall(route.path)]
    for query in route.query:
        parameter: dict[str, Any] = {"name": query.name, "in": "query", "schema": schema(query.type)}
        if query.description:
            parameter["description"] = query.description
        if query.required:
            parameter["required"] = True
        parameters.append(parameter)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema(route.body)}}}
    elif route.raw_body is not None:
        raw = route.raw_body
        operation["requestBody"] = {
            "required": True,
            "description": f"{raw.description}: at most {getattr(settings, raw.limit)} bytes ({raw.limit}; 413 "
                           "beyond, refused on its Content-Length or, sent chunked, as soon as that much arrived)",
            "content": {raw.media_type: {"schema": {"type": "string", "contentMediaType": raw.media_type}}}}
    responses: dict[str, Any] = {}
    for answer in route.answers:
        responses[str(answer.status)] = {"description": answer.description}
        if answer.content:
            responses[str(answer.status)]["content"] = {media: {"schema": schema(shape)}
                                                        for media, shape in answer.content.items()}
    operation["responses"] = {**responses, **_errors(*route.errors)}
    return operation


def _settle(node: Any, settings: Settings) -> Any:
    """``node`` with what the domain checks of a field stated (``patterns.checked``), and each
    field bounded by a setting (``route.bounded_by``) given its value."""
    if isinstance(node, list):
        return [_settle(item, settings) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _settle(value, settings) for key, value in node.items()}
    if node.get("type") == "array" and isinstance(node.get("items"), dict) and node["items"].get("enum") == []:
        return {"type": "array", "maxItems": 0, "description": "the server has none"}  # no value to take
    node.update(node.pop(CHECKED_KEY, {}))
    setting = node.pop(SETTING_KEY, None)
    if setting is None:
        return node
    value = getattr(settings, setting)
    if isinstance(value, int):
        node["maxLength"] = min(node.get("maxLength", value), value)
    else:
        node["enum"] = list(value)
    return node


def _most_bytes(schema: dict[str, Any], components: dict[str, Any]) -> float:
    """The longest JSON text, without whitespace, of a value ``schema`` allows (every character
    escaped); infinite when it sets no bound."""
    if "enum" in schema:
        return max(len(json.dumps(value)) for value in schema["enum"])
    if "$ref" in schema:  # what is beside a reference only narrows it
        return _most_bytes(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "anyOf" in schema and "type" not in schema and "properties" not in schema:
        return max(_most_bytes(branch, components) for branch in schema["anyOf"])  # alternatives
    kinds = schema.get("type", "object" if "properties" in schema else None)
    sizes = []
    for kind in [kinds] if isinstance(kinds, str) else kinds or []:
        if kind == "string":
            sizes.append(2 + _BYTES_PER_CHAR * schema.get("maxLength", math.inf))
        elif kind in ("integer", "number"):
            sizes.append(_NUMBER_BYTES)
        elif kind in ("boolean", "null"):
            sizes.append(len("false"))
        elif kind == "array":
            items = _most_bytes(schema["items"], components) if schema.get("maxItems") else 0
            sizes.append(2 + schema.get("maxItems", math.inf) * (items + 1))
        elif kind == "object" and schema.get("additionalProperties") is False:
            sizes.append(2 + sum(4 + _BYTES_PER_CHAR * len(name) + _most_bytes(value, components)
                                 for name, value in schema["properties"].items()))
        else:
            sizes.append(math.inf)
    return max(sizes, default=math.inf)


def body_limit(operation: dict[str, Any], components: dict[str, Any]) -> int:
    """The largest body ``operation`` takes: MAX_JSON_BODY, or room for the longest its schema
    allows (with whitespace) when that is more, so that no body the document allows is refused
    as too large, however the client encodes it."""
    if "application/json" not in operation.get("requestBody", {}).get("content", {}):
        return MAX_JSON_BODY  # no body, or one its handler reads itself (route.RawBody)
    most = _most_bytes(operation["requestBody"]["content"]["application/json"]["schema"], components)
    return MAX_JSON_BODY if math.isinf(most) else max(MAX_JSON_BODY, int(most) + _FORMATTING_BYTES)


def _with_body_limits(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """Every write operation answers 413 ``payload_too_large`` for a body over its limit
    (declared or chunked), whether it takes a body or not: the error middleware refuses it
    first. The limit is stated on each request body. Every operation that takes a JSON body
    answers 415 ``unsupported_media_type`` for a body of another ``Content-Type`` (``json_body``)."""
    for operations in paths.values():
        for method in _WRITE_METHODS:
            if method in operations:
                operation = operations[method]
                operation["responses"].update(_errors(413))
                if "application/json" in operation.get("requestBody", {}).get("content", {}):
                    operation["responses"].update(_errors(415))
                    operation["requestBody"]["description"] = (
                        f"JSON of at most {body_limit(operation, components)} bytes (413 payload_too_large beyond)")


def build_document(settings: Settings, routes: Sequence[Route]) -> dict[str, Any]:
    """The document of ``routes`` for a server with these settings (its departments and text
    limits)."""
    types = _types(routes)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)

    def schema(of: Any) -> dict[str, Any]:
        return schemas[types.index(of)]  # by equality: an Annotated alias need not hash

    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schema, settings)
    paths, components = _settle(paths, settings), _settle(components, settings)
    for component in components.values():  # msgspec takes a struct's docstring as it is written
        if "description" in component:
            component["description"] = inspect.cleandoc(component["description"])
    _with_body_limits(paths, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatserver", "version": "0.1.0",
                 "description": "REST API of the chat server. Real-time traffic uses Socket.IO: see docs/protocol.md."},
        "components": {
            "securitySchemes": {"agentToken": {"type": "http", "scheme": "bearer"},
                                "visitorToken": {"type": "http", "scheme": "bearer", "description":
                                                 "the widget's visitor token (POST /api/visitor/sessions)"},
                                "metricsToken": {"type": "http", "scheme": "bearer",
                                                 "description": "the metrics_token setting"}},
            "schemas": components,
            "responses": {"Error": {"description": "A structured error", "content": {
                "application/json": {"schema": schema(Error)}}}},
        },
        "paths": paths,
    }

