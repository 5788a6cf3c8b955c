"""Every private name of a dependency the server uses, with the shape it relies on.

The server subclasses python-socketio's and python-engineio's servers and sockets, takes a
WebSocket off aiohttp's request handler, and runs its SQLite batches on aiosqlite's worker
thread. Each use of a name the dependency does not promise to keep is listed here and checked
against the installed version; an upgrade that changes one fails with "update <our module>
before upgrading <package>". The pins in pyproject.toml are exact for these packages because of
this list. A subclass's own private names must not shadow the base class's by accident: only the
overrides listed here may.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import aiosqlite
import engineio
import pytest
import socketio
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from engineio import async_socket

from chatserver.transport import engineio_socket
from chatserver.transport.engineio_socket import LeanSocket
from chatserver.transport.socketio_server import ChatSocketServer


@dataclass(frozen=True)
class Use:
    package: str  # the distribution, as pinned in pyproject.toml
    user: str  # our module that relies on it
    what: str  # the name and the shape relied on
    check: Callable[[], bool]

    def __str__(self) -> str:
        return self.what


def _params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def _coroutine_with(owner: type, name: str, params: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        function = owner.__dict__.get(name)
        return inspect.iscoroutinefunction(function) and _params(function)[:len(params)] == params

    return check


def _eio_server() -> Any:
    return engineio.AsyncServer(async_mode="aiohttp")


def _engineio_async_table() -> bool:
    table = _eio_server()._async
    return (isinstance(table, dict) and callable(table.get("websocket")) and callable(table.get("translate_request"))
            and "_async['translate_request']" in inspect.getsource(engineio.AsyncServer.handle_request))


def _engineio_driver_gets_the_bound_handler() -> bool:
    # AsyncSocket._upgrade_websocket calls _async["websocket"](self._websocket_handler, server) and
    # awaits the result with the environ; UncompressedWebSocket reads the socket from __self__.
    source = inspect.getsource(async_socket.AsyncSocket._upgrade_websocket)
    return ("_async['websocket'](" in source and "self._websocket_handler, self.server)" in source
            and "await ws(environ)" in source)


def _socketio_registers_its_eio_handlers() -> bool:
    sio = ChatSocketServer(async_mode="aiohttp", max_unsent_bytes=2**26, max_binary_attachments=1)
    handlers = sio.eio.handlers
    return (handlers.get("connect") == sio._handle_eio_connect and handlers.get("message") == sio._handle_eio_message
            and handlers.get("disconnect") == sio._handle_eio_disconnect)


def _socket_class_can_be_swapped() -> bool:
    # ChatSocketServer turns each new python-engineio socket into a LeanSocket by assigning
    # __class__: their layouts must stay the same (no __slots__ added to the base).
    socket = async_socket.AsyncSocket(_eio_server(), "sid")
    socket.__class__ = LeanSocket
    return isinstance(socket, LeanSocket)


def _request_handler_keeps_the_tail() -> bool:
    async def probe() -> bool:
        handler = web.Server(lambda request: None)()  # type: ignore[arg-type, return-value]
        handler.transport = None  # what direct_ws.accept does before connection_lost(None)
        return isinstance(getattr(handler, "_message_tail", None), bytes) and isinstance(handler, RequestHandler)

    return asyncio.run(probe())


def _aiosqlite_runs_functions_on_its_thread() -> bool:
    async def probe() -> bool:
        async with aiosqlite.connect(":memory:") as db:
            conn = db._conn
            return isinstance(conn, sqlite3.Connection) and await db._execute(lambda c, n: n + 1, conn, 1) == 2

    return asyncio.run(probe())


def _argparse_internals() -> bool:
    parser = argparse.ArgumentParser()
    parser.add_subparsers(dest="command")
    parser.add_argument("--flag", action="store_true")
    return (any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
            and any(isinstance(a, argparse._StoreTrueAction) for a in parser._actions))


SIO = socketio.AsyncServer
USES = [
    Use("python-socketio", "chatserver/transport/socketio_server.py",
        "AsyncServer registers _handle_eio_connect/_handle_eio_message/_handle_eio_disconnect as its "
        "Engine.IO handlers (so the overrides receive every Engine.IO event)", _socketio_registers_its_eio_handlers),
    Use("python-socketio", "chatserver/transport/socketio_server.py",
        "AsyncServer._handle_eio_connect(eio_sid, environ)",
        _coroutine_with(SIO, "_handle_eio_connect", ["self", "eio_sid", "environ"])),
    Use("python-socketio", "chatserver/transport/socketio_server.py",
        "AsyncServer._handle_eio_disconnect(eio_sid, reason)",
        _coroutine_with(SIO, "_handle_eio_disconnect", ["self", "eio_sid", "reason"])),
    Use("python-socketio", "chatserver/transport/socketio_server.py",
        "AsyncServer._handle_eio_message(eio_sid, data)",
        _coroutine_with(SIO, "_handle_eio_message", ["self", "eio_sid", "data"])),
    Use("python-socketio", "chatserver/transport/socketio_server.py",
        "AsyncServer._handle_connect(eio_sid, namespace, data): answers CONNECT / CONNECT_ERROR",
        _coroutine_with(SIO, "_handle_connect", ["self", "eio_sid", "namespace", "data"])),
    Use("python-socketio", "chatserver/transport/socketio_server.py",
        "AsyncServer._handle_disconnect(eio_sid, namespace, reason)",
        _coroutine_with(SIO, "_handle_disconnect", ["self", "eio_sid", "namespace", "reason"])),
    Use("python-socketio", "chatserver/transport/socketio_server.py",
        "AsyncServer._handle_ack(eio_sid, namespace, id, data)",
        _coroutine_with(SIO, "_handle_ack", ["self", "eio_sid", "namespace", "id", "data"])),
    Use("python-socketio", "chatserver/transport/socketio_server.py",
        "AsyncServer._handle_event(eio_sid, namespace, id, data) (overridden with the same arguments, and an "
        "optional sid after them)",
        _coroutine_with(SIO, "_handle_event", ["self", "eio_sid", "namespace", "id", "data"])),
    Use("python-engineio", "chatserver/transport/engineio_socket.py, chatserver/transport/engineio_http.py",
        "AsyncServer._async: a dict whose 'websocket' driver and 'translate_request' function are replaced, "
        "and handle_request reads translate_request from it", _engineio_async_table),
    Use("python-engineio", "chatserver/transport/engineio_socket.py",
        "AsyncSocket._upgrade_websocket calls _async['websocket'](self._websocket_handler, server) and awaits it "
        "with the environ (the driver reads the socket from the bound handler's __self__)",
        _engineio_driver_gets_the_bound_handler),
    Use("python-engineio", "chatserver/transport/socketio_server.py",
        "AsyncSocket instances can become LeanSocket by assigning __class__", _socket_class_can_be_swapped),
    Use("aiohttp", "chatserver/transport/direct_ws.py",
        "RequestHandler._message_tail (bytes the parser read past the request) and a settable "
        "RequestHandler.transport slot", _request_handler_keeps_the_tail),
    Use("aiosqlite", "chatserver/storage/sqlite/database.py, chatserver/storage/sqlite/_reader.py",
        "Connection._conn (the sqlite3.Connection) and Connection._execute(fn, *args) running fn on the "
        "connection's thread", _aiosqlite_runs_functions_on_its_thread),
    Use("python (argparse)", "chatserver/cli_env.py",
        "ArgumentParser._actions holding argparse._SubParsersAction and argparse._StoreTrueAction instances",
        _argparse_internals),
]


def _installed(package: str) -> str:
    return "python" if package.startswith("python (") else version(package)


@pytest.mark.parametrize("use", USES, ids=str)
def test_each_private_name_still_has_the_shape_we_rely_on(use: Use) -> None:
    assert use.check(), (f"update {use.user} before upgrading {use.package} (installed {_installed(use.package)}): "
                         f"{use.what} no longer holds")


# A subclass may override these private names of its base class, on purpose; any other private
# name it defines must be its own (an upgrade adding a method of the same name to the base would
# be silently overridden).
OVERRIDES: dict[type, tuple[type, set[str]]] = {
    ChatSocketServer: (socketio.AsyncServer, {"_handle_eio_connect", "_handle_eio_disconnect", "_handle_eio_message",
                                              "_handle_event"}),
    LeanSocket: (async_socket.AsyncSocket, set()),
    engineio_socket.UncompressedWebSocket: (object, set()),
}


@pytest.mark.parametrize("subclass", list(OVERRIDES), ids=lambda c: c.__name__)
def test_our_subclasses_shadow_no_private_name_of_their_base_by_accident(subclass: type) -> None:
    base, allowed = OVERRIDES[subclass]
    ours = {name for name in vars(subclass) if name.startswith("_") and not name.startswith("__")}
    shadowed = {name for name in ours if hasattr(base, name)} - allowed
    assert not shadowed, (f"update {subclass.__module__} before upgrading the package of {base.__qualname__}: "
                          f"{sorted(shadowed)} now also exist on {base.__qualname__}")
    assert allowed <= ours, f"{sorted(allowed - ours)} are no longer overridden: drop them from OVERRIDES"
