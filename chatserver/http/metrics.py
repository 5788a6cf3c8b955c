"""``GET /metrics``, the Prometheus page (docs/operations.md, "Metrics"), where it is served and to
whom, and the HTTP requests' own metrics.

Private by default: on the main port (a shop's public one) the page is answered only to a request
with ``Authorization: Bearer <metrics_token>``, and is not there at all (404) while no token is
set; a listener of its own (``metrics_port`` on ``metrics_host``, loopback by default) serves it
without a token and serves nothing else.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..errors import AuthRequired, InvalidToken
from ..metrics import CONTENT_TYPE, Metrics, Scraper
from .access import route_of
from .common import SOCKET_IO_PATH
from .route import Answer, Auth, Handler, Route
from .services import services

METRICS_PATH = "/metrics"
# Methods a request is counted under; any other (a client may send any word) counts as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


async def metrics_page(request: web.Request) -> web.Response:
    """The page on the main port: to the holder of the metrics token only."""
    found = services(request)
    token = found.settings.metrics_token
    if not token:
        raise web.HTTPNotFound()
    given = request.headers.get("Authorization", "")
    if not given:
        raise AuthRequired("send Authorization: Bearer <metrics_token>")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise InvalidToken("not the metrics token")
    return await _page(found.metrics)


async def _page(scraper: Scraper) -> web.Response:
    return web.Response(body=await scraper.page(), headers={"Content-Type": CONTENT_TYPE})


METRICS_ROUTES = [
    Route("GET", METRICS_PATH, metrics_page, operation_id="metrics", auth=Auth.METRICS,
          summary="Prometheus metrics of this process",
          description="The text format Prometheus scrapes (docs/operations.md, \"Metrics\"). Answered only with "
                      "the `metrics_token` setting as the bearer token; `404` while that setting is unset. The "
                      "`metrics_port` listener serves the same page without a token.",
          answers=(Answer(200, "Every metric of this process", {"text/plain": str}),), errors=(401, 404)),
]


class MetricsListener:
    """The page on a port of its own (``metrics_port`` on ``metrics_host``), without a token:
    for a private network or loopback. Started and stopped with the app (app.py)."""

    def __init__(self, scraper: Scraper, host: str, port: int) -> None:
        self.host = host
        self._port = port
        app = web.Application()

        async def page(request: web.Request) -> web.Response:
            return await _page(scraper)

        app.router.add_get(METRICS_PATH, page)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose, when asked for port 0)."""
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self._port).start()
        except BaseException:
            await self._runner.cleanup()
            raise

    async def stop(self) -> None:
        await self._runner.cleanup()


def request_metrics(metrics: Metrics) -> Middleware:
    """A middleware counting each request by route pattern (``/api/conversations/{conversation_id}``,
    never the path itself; ``-`` for none, as in the access log), method and status, and timing it.
    Socket.IO's requests are handed on untouched (views.py says why; the connection metrics count
    them)."""
    requests, durations = metrics.http_requests, metrics.http_duration

    async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = route_of(request)
            method = request.method if request.method in _METHODS else "other"
            requests.labels(route, method, str(status)).inc()
            durations.labels(route, method).observe(time.perf_counter() - started)

    @web.middleware
    def middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        if request.path == SOCKET_IO_PATH:
            return handler(request)
        return measured(request, handler)

    return middleware
