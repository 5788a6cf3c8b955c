"""REST routes of the service itself: its index, liveness and readiness."""

from __future__ import annotations

from aiohttp import web

from ..wire.shapes import Health, Index, Readiness
from .common import SOCKET_IO_PATH
from .route import Auth, Route, json_answer
from .services import services


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    for name, ping in (("database", services(request).conversations.ping), ("routing", services(request).readiness)):
        try:
            await ping()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
    if services(request).draining():
        checks["process"] = "draining"  # stopping: a load balancer sends new clients elsewhere
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ready" if ready else "not_ready", "checks": checks},
                             status=200 if ready else 503)


async def index(request: web.Request) -> web.Response:
    return web.json_response({
        "name": "chatserver",
        "health": "/healthz",
        "ready": "/readyz",
        "openapi": "/api/openapi.json",
        "socketio": {"path": SOCKET_IO_PATH, "namespaces": ["/visitor", "/agent"]},
    })


HEALTH_ROUTES = [
    Route("GET", "/", index, operation_id="index", auth=Auth.NONE, summary="Service index",
          answers=(json_answer(Index, "Links to the API"),)),
    Route("GET", "/healthz", healthz, operation_id="healthz", auth=Auth.NONE, summary="Liveness: the process is up",
          answers=(json_answer(Health, "Alive"),)),
    Route("GET", "/readyz", readyz, operation_id="readyz", auth=Auth.NONE,
          summary="Readiness: storage and routing state reachable, and the process not stopping",
          answers=(json_answer(Readiness, "Ready"), json_answer(Readiness, "Not ready, with the failing checks", 503))),
]
