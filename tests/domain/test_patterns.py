"""Every pattern the server checks input against, as declared to msgspec and in the OpenAPI
document: one anchored at its end refuses a final newline. msgspec checks a pattern with
``re.search``, and Python's ``$`` also matches just before a final newline, so ``^[a-z]+$`` took
``"abc\\n"`` as an id; ``$(?!\\n)`` means the end in Python and in the document's readers
(ECMAScript) alike."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

import chatserver
from chatserver.config import Settings
from chatserver.domain.identity import ExternalId
from chatserver.http.openapi import openapi_document
from chatserver.transport.schemas import Email, Id, Locale


def _structs() -> list[type[msgspec.Struct]]:
    for module in pkgutil.walk_packages(chatserver.__path__, "chatserver."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[msgspec.Struct]] = []
    todo = list(msgspec.Struct.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("chatserver."):
            try:
                msgspec.json.schema(cls)
            except TypeError:  # a struct holding a type with no schema: never decoded from input
                continue
            found.append(cls)
    return found


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_no_declared_pattern_lets_a_final_newline_through() -> None:
    structs = _structs()
    assert len(structs) > 100  # the walk found the payloads, not nothing
    _, components = msgspec.json.schema_components(structs)
    patterns = set(_patterns(components)) | set(_patterns(openapi_document(Settings())))
    anchored = {p for p in patterns if p.endswith("$") or p.endswith(r"$(?!\n)")}
    assert len(anchored) > 20
    assert sorted(p for p in anchored if not p.endswith(r"$(?!\n)")) == []


@pytest.mark.parametrize(("kind", "good"), [(Id, "c-1:a.b_c"), (Email, "a@b.co"), (Locale, "de-AT"),
                                            (ExternalId, "customer 42")])
def test_a_value_with_a_final_newline_is_refused(kind: Any, good: str) -> None:
    assert msgspec.convert(good, kind) == good
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(good + "\n", kind)
