"""The layers hold (docs/architecture.md, "Layers"): every import of every module of chatserver/,
read with ast (``TYPE_CHECKING`` and function-level imports included), goes only in a direction
the table below allows. A new module must be given a layer here; an import that breaks the table
fails with the module, the line and the rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "chatserver"

# Which layer a module is in: the longest matching name wins.
LAYER_OF = {
    # The shared kernel: error codes, event names and Redis keys, log-line helpers, private files.
    "chatserver.errors": "kernel",
    "chatserver.constants": "kernel",
    "chatserver.logs": "kernel",
    "chatserver.files": "kernel",
    # The metric families (prometheus-client): the domain and storage report through protocols of
    # their own, which it implements; transport and http count with it directly.
    "chatserver.metrics": "metrics",
    "chatserver.domain": "domain",
    "chatserver.storage": "storage",
    "chatserver.wire": "wire",
    # The network edge that HTTP and Socket.IO share (no Socket.IO in them): a request's client
    # address, allowed origins, per-address limits, the connection counter.
    "chatserver.transport.addresses": "edge",
    "chatserver.transport.origins": "edge",
    "chatserver.transport.ratelimit": "edge",
    "chatserver.transport.connections": "edge",
    "chatserver.transport": "transport",
    "chatserver.http": "http",
    "chatserver.outgoing": "outgoing",
    "chatserver.config": "settings",
    # The composition root and start-up: they build and wire the rest, so they may import anything.
    "chatserver": "root",
    "chatserver.__main__": "root",
    "chatserver.app": "root",
    "chatserver.cli": "root",
    "chatserver.cli_customers": "root",
    "chatserver.cli_db": "root",
    "chatserver.cli_env": "root",
    "chatserver.first_admin": "root",
    "chatserver.assembly": "root",
    "chatserver.backend": "root",
    "chatserver.stores": "root",
    "chatserver.loops": "root",
    "chatserver.monitoring": "root",
}

# What each layer may import besides itself: transport and http reach storage only through the
# domain's ports, never a storage module; the domain sees nothing outside itself but the kernel.
MAY_IMPORT: dict[str, set[str]] = {
    "kernel": set(),
    "domain": {"kernel"},
    "edge": {"kernel"},
    "storage": {"domain", "kernel"},
    "wire": {"domain", "kernel"},
    "outgoing": {"domain", "kernel"},
    "settings": {"domain", "edge", "kernel"},
    "metrics": {"kernel"},
    "transport": {"domain", "wire", "edge", "settings", "kernel", "metrics"},
    "http": {"domain", "wire", "edge", "settings", "kernel", "metrics"},
    "root": {"kernel", "domain", "storage", "wire", "edge", "transport", "http", "outgoing", "settings", "metrics"},
}

# Frameworks (web, Socket.IO, database drivers) a layer must not import: the domain's rules and the
# wire's shapes are plain code, testable without a server or a database.
FRAMEWORKS = {"aiohttp", "socketio", "engineio", "redis", "aiosqlite", "asyncpg"}
NO_FRAMEWORKS: dict[str, set[str]] = {
    "kernel": FRAMEWORKS,
    "domain": FRAMEWORKS,
    "wire": FRAMEWORKS,
    "edge": FRAMEWORKS,
    "settings": FRAMEWORKS,
    "metrics": FRAMEWORKS,
    "storage": {"aiohttp", "socketio", "engineio"},
}

# Imports that break the table today, each with why; keep this short. Every entry must still be
# needed (test_every_exception_is_still_needed), so fixing one means deleting it here.
EXCEPTIONS = {
    # REST handlers reach connected sockets through parts of the Socket.IO side: a token checked
    # as the socket's is (connect), an agent's sessions told of an account change (agent_sessions),
    # the queue snapshot (queue_views), canned-response and other notices (notifier). Ports for
    # these in the domain would remove all four.
    ("chatserver.http.services", "chatserver.transport.connect"),
    ("chatserver.http.services", "chatserver.transport.agent_sessions"),
    ("chatserver.http.services", "chatserver.transport.queue_views"),
    ("chatserver.http.services", "chatserver.transport.notifier"),
    # Changing the first admin's password deletes the file that held it (start-up code).
    ("chatserver.http.agents", "chatserver.first_admin"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(name: str, source: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) of every import in ``source``, relative ones resolved; a name
    imported from a package counts as its submodule when it is one (``from . import keys``)."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if is_module(submodule) else base))
    return found


def layer_of(name: str) -> str | None:
    # "chatserver" itself names the package's __init__.py only, not every module under it.
    prefixes = [p for p in LAYER_OF if name == p or (name.startswith(p + ".") and p != "chatserver")]
    return LAYER_OF[max(prefixes, key=len)] if prefixes else None


def violations(name: str, source: str, *, is_package: bool = False) -> list[str]:
    """What in ``source`` (the text of module ``name``) breaks the table, one line each."""
    layer = layer_of(name)
    if layer is None:
        return [f"{name} has no layer: add it to LAYER_OF in tests/test_layers.py"]
    found = []
    for line, imported in imports(name, source, is_package=is_package):
        top = imported.split(".")[0]
        if top == "chatserver":
            target = layer_of(imported)
            if target != layer and target not in MAY_IMPORT[layer] and (name, imported) not in EXCEPTIONS:
                found.append(f"{name}:{line} imports {imported}: {layer} may not import {target}")
        elif top in NO_FRAMEWORKS.get(layer, set()):
            found.append(f"{name}:{line} imports {imported}: no {top} in {layer}")
    return found


def modules() -> list[tuple[str, Path]]:
    return sorted((module_name(path), path) for path in PACKAGE.rglob("*.py"))


def test_every_import_goes_in_an_allowed_direction() -> None:
    found = [v for name, path in modules()
             for v in violations(name, path.read_text(), is_package=path.name == "__init__.py")]
    assert found == []


def test_every_exception_is_still_needed() -> None:
    used = {(name, imported) for name, path in modules()
            for _, imported in imports(name, path.read_text(), is_package=path.name == "__init__.py")}
    assert EXCEPTIONS - used == set()


@pytest.mark.parametrize(("name", "source", "expected"), [
    ("chatserver.domain.example", "from ..transport import hub\n",
     "chatserver.domain.example:1 imports chatserver.transport.hub: domain may not import transport"),
    ("chatserver.domain.example", "if TYPE_CHECKING:\n    from ..wire.views import note_view\n",
     "chatserver.domain.example:2 imports chatserver.wire.views: domain may not import wire"),
    ("chatserver.storage.sqlite.example", "from ...http.common import paging\n",
     "chatserver.storage.sqlite.example:1 imports chatserver.http.common: storage may not import http"),
    ("chatserver.http.example", "from ..storage.sqlite import open_sqlite\n",
     "chatserver.http.example:1 imports chatserver.storage.sqlite: http may not import storage"),
    ("chatserver.wire.example", "def f() -> None:\n    from aiohttp import web\n",
     "chatserver.wire.example:2 imports aiohttp: no aiohttp in wire"),
    ("chatserver.example", "import os\n",
     "chatserver.example has no layer: add it to LAYER_OF in tests/test_layers.py"),
])
def test_an_import_against_the_table_is_found(name: str, source: str, expected: str) -> None:
    assert violations(name, source) == [expected]


def test_what_the_table_allows_is_not_reported() -> None:
    assert violations("chatserver.http.example", "from . import keys as K\nfrom ..wire.views import note_view\n"
                      "from ..transport.addresses import Network\nfrom ..config import Settings\n") == []
    assert violations("chatserver.domain.example", "import msgspec\nfrom .. import constants as C\n") == []
