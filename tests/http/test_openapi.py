"""The OpenAPI document cannot drift from the code: every route the app serves is in it, and each
request body schema in it is msgspec's schema of the very struct the route's handler decodes."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chatserver.app import build_app
from chatserver.config import Settings
from chatserver.http import _openapi
from chatserver.http.openapi import ROUTES, body_limits, openapi_document
from chatserver.http.route import Route

from ..support import make_settings

# Served by the app but not REST: the widget, the console, the demo shop, the help centre's
# pages and Socket.IO.
NOT_REST = ("/socket.io/", "/widget", "/console", "/demo", "/help", "/locales")
SETTINGS = Settings(departments=("billing", "sales"), max_message_chars=500, kb_max_body_chars=9000)


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


async def test_every_route_the_app_serves_is_documented_and_nothing_else_is_served(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = build_app(settings)
    served = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    rest = {(method, path) for method, path in served if not path.startswith(NOT_REST)}
    assert rest == _documented(openapi_document(settings))
    assert len(rest) == len(ROUTES) >= 55


def _decoded_with(route: Route) -> list[Any]:
    """What the route's handler passes to ``json_body`` (from its source), resolved in its module."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(route.handler)))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id == "json_body"]
    return [eval(compile(ast.Expression(call.args[1]), "<body>", "eval"), route.handler.__globals__)
            for call in calls]


def _component(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    return dict(document["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]])


@pytest.mark.parametrize("route", [r for r in ROUTES if r.body is not None], ids=lambda r: r.operation_id)
def test_a_request_body_schema_is_the_struct_its_handler_decodes(route: Route) -> None:
    assert _decoded_with(route) == [route.body]
    document = openapi_document(SETTINGS)
    stated = document["paths"][route.path][route.method.lower()]["requestBody"]["content"]["application/json"]
    # msgspec's own schema of the type, with the server's settings put in, is what is stated.
    (own,), components = msgspec.json.schema_components([route.body], ref_template=_openapi.REF)
    assert _openapi._settle(own, SETTINGS) == stated["schema"]
    struct = _openapi._settle(components[own["$ref"].rsplit("/", 1)[1]], SETTINGS)
    if "description" in struct:  # a docstring, as written
        struct["description"] = inspect.cleandoc(struct["description"])
    assert _component(document, stated["schema"]) == struct


def test_no_handler_decodes_a_body_its_route_does_not_declare() -> None:
    for route in ROUTES:
        assert _decoded_with(route) == ([] if route.body is None else [route.body]), route.operation_id
    # And no handler outside the table reads a JSON body.
    handlers = {route.handler.__name__ for route in ROUTES}
    package = Path(inspect.getfile(_openapi)).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.AsyncFunctionDef) and any(
                    isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "json_body"
                    for call in ast.walk(node)):
                assert node.name in handlers, (module.name, node.name)


def test_a_field_bounded_by_a_setting_states_the_settings_value() -> None:
    def body(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
        schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        return _component(document, schema)["properties"]

    for settings, departments, canned, article in [
            (SETTINGS, {"type": "string", "minLength": 1, "maxLength": 64, "enum": ["billing", "sales"]}, 500, 9000),
            (Settings(), None, 4000, 20_000)]:
        document = openapi_document(settings)
        agents = body(document, "/api/agents", "post")["departments"]
        assert agents.get("items") == departments and (departments or agents["maxItems"] == 0)
        assert body(document, "/api/canned-responses", "post")["body"]["maxLength"] == canned
        assert body(document, "/api/kb/articles", "post")["body"]["maxLength"] == article
        assert "x-setting" not in str(document) and "x-checked" not in str(document)


def test_body_limits_follow_the_settings() -> None:
    assert body_limits(Settings())[("POST", "/api/kb/articles")] == 272_031
    assert body_limits(SETTINGS)[("POST", "/api/kb/articles")] == 140_031
