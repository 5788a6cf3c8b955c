"""The load tester's managed server (loadtests/server.py): started on a port another process may
take between choosing it and binding it."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from loadtests import server as managed


async def test_a_port_taken_before_the_server_binds_it_is_given_up_for_another(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Another chatserver-like process listens on the first port chosen and says it is ready: the
    # load tester must not take it for its own (its admin is not ours: a 401 on login).
    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_get("/readyz", ready)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    taken = runner.addresses[0][1]
    # The race made certain: the first "free" port handed out is the one just taken.
    ports: Iterator[int] = iter([taken])
    choose = managed.free_loopback_port
    monkeypatch.setattr(managed, "free_loopback_port", lambda: next(ports, None) or choose())
    try:
        async with managed.ManagedServer() as target, aiohttp.ClientSession() as http:
            assert target.url != f"http://127.0.0.1:{taken}"
            async with http.post(target.url + "/api/auth/login", json={
                    "email": target.admin_email, "password": target.admin_password}) as response:
                assert response.status == 200, await response.text()
            assert target.log_path is not None and managed.PORT_TAKEN in target.log_path.read_text()
    finally:
        await runner.cleanup()

