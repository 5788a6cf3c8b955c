"""``route_name``: the Engine.IO session ids a process issues start with it, and a session id of
another process (or of none) is an unknown session here (docs/operations.md: nginx routes each
long-polling request by it)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from chatserver.config import load_settings

from ..support import LiveServer, make_settings


async def test_session_ids_carry_the_route_name_and_another_process_s_are_unknown(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, route_name="a"))
    await server.start()
    try:
        assert server.http is not None
        async with server.http.get(f"{server.url}/socket.io/?EIO=4&transport=polling") as resp:
            assert resp.status == 200
            sid = json.loads((await resp.text())[1:])["sid"]
        assert sid.startswith("a-") and len(sid) > 10, sid
        for other in ("b-" + sid[2:], sid[2:]):
            query = urllib.parse.urlencode({"EIO": "4", "transport": "polling", "sid": other})
            async with server.http.get(f"{server.url}/socket.io/?{query}") as resp:
                assert resp.status == 400
                assert (await resp.json())["error"] == {"code": "invalid_payload", "message": "unknown session"}
    finally:
        await server.close()


@pytest.mark.parametrize("route_name", ["a-b", "x" * 17, "é", "a b"])
def test_a_route_name_that_cannot_prefix_a_session_id_is_refused(route_name: str) -> None:
    with pytest.raises(ValueError, match="route_name"):
        load_settings({"route_name": route_name}, environ={})
