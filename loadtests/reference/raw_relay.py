"""The reference raw aiohttp WebSocket relay for comparisons (``python -m loadtests.reference.raw_relay PORT``).

It speaks just enough of Engine.IO v4 / Socket.IO v4 over a WebSocket for socket.io-client with
``transports: ["websocket"]`` on the default namespace, so the comparison drives it with the same
generator as the other targets: the open packet, the namespace connect, pings, ``join`` with an
acknowledgement and ``msg`` relayed to the other members of the room. No polling, no binary, no
other namespaces. WebSockets are created with ``compress=False``: no permessage-deflate.

What it shows is the cost floor of aiohttp itself: what a relay costs without python-engineio's
and python-socketio's layers.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections import defaultdict

from aiohttp import WSMsgType, web

PING_INTERVAL_S = 25
OPEN = json.dumps({"upgrades": [], "pingInterval": PING_INTERVAL_S * 1000, "pingTimeout": 20000,
                   "maxPayload": 1000000}, separators=(",", ":"))

rooms: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)
sockets: set[web.WebSocketResponse] = set()


async def engine_io(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, autoping=True)
    await ws.prepare(request)
    sid = secrets.token_urlsafe(15)
    await ws.send_str('0{"sid":"' + sid + '",' + OPEN[1:])
    sockets.add(ws)
    joined: list[str] = []
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            text: str = message.data
            if text.startswith("42"):
                # An event, with an ack id (digits) before the JSON array when one is wanted.
                start = text.index("[")
                ack_id = text[2:start]
                event = json.loads(text[start:])
                if event[0] == "msg":
                    out = "42" + json.dumps(["msg", event[2]], separators=(",", ":"))
                    for other in rooms[event[1]]:
                        if other is not ws:
                            await other.send_str(out)
                elif event[0] == "join":
                    rooms[event[1]].add(ws)
                    joined.append(event[1])
                    if ack_id:
                        await ws.send_str("43" + ack_id + '[{"ok":true}]')
            elif text.startswith("40"):
                await ws.send_str('40{"sid":"' + secrets.token_urlsafe(15) + '"}')
            elif text == "41" or text == "1":
                break
    finally:
        sockets.discard(ws)
        for room in joined:
            rooms[room].discard(ws)
            if not rooms[room]:
                del rooms[room]
    return ws


async def _pinger(app: web.Application) -> None:
    while True:
        await asyncio.sleep(PING_INTERVAL_S)
        for ws in list(sockets):
            if not ws.closed:
                await ws.send_str("2")


async def _lifecycle(app: web.Application):  # type: ignore[no-untyped-def]
    task = asyncio.get_running_loop().create_task(_pinger(app))
    yield
    task.cancel()


def main() -> None:
    port = int(sys.argv[1])
    app = web.Application()
    app.router.add_get("/socket.io/", engine_io)
    app.cleanup_ctx.append(_lifecycle)
    import uvloop

    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
