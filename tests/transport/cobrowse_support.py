"""Helpers for the co-browse tests: a shopper and an agent in an assigned chat, batches of page
events as a browser would send them (msgpack, split into parts), and what the agent received."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import msgpack

from chatserver.config import Settings
from chatserver.http.openapi import openapi_document

from ..support import Client, LiveServer, agent, prechat, visitor

FULL_SNAPSHOT = 2  # rrweb's EventType.FullSnapshot
INCREMENTAL = 3


async def assigned_chat(server: LiveServer, name: str = "Alice") -> tuple[Client, Client, dict[str, Any], str]:
    """A visitor whose chat is assigned to a new agent; returns (shopper, agent, login, conversation id)."""
    login = await server.add_agent(name)
    console = await agent(server, login)
    shopper = await visitor(server)
    started = await shopper.call("chat:start", prechat(1))
    cid = started["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned"
                           and d["conversation"]["id"] == cid)
    return shopper, console, login, cid


async def active_session(shopper: Client, console: Client, cid: str) -> str:
    """The agent asks, the shopper accepts, the agent watches; returns the session id."""
    requested = await console.call("cobrowse:request", {"conversation_id": cid})
    assert requested["ok"], requested
    session_id = requested["session"]["id"]
    await shopper.wait_for("cobrowse:updated", lambda d: d["session"]["id"] == session_id)
    accepted = await shopper.call("cobrowse:respond", {"session_id": session_id, "accept": True})
    assert accepted["ok"] and accepted["session"]["status"] == "active", accepted
    joined = await console.call("cobrowse:join", {"session_id": session_id})
    assert joined["ok"], joined
    return session_id


def encode_batch(events: list[dict[str, Any]]) -> bytes:
    return msgpack.packb(events)  # type: ignore[no-any-return]


def snapshot_events(marker: str, size: int = 1000) -> list[dict[str, Any]]:
    """A meta event and a full snapshot whose text carries ``marker`` (``size`` bytes of padding)."""
    return [{"type": 4, "data": {"href": "https://shop.example/checkout", "width": 1280, "height": 800},
             "timestamp": 1},
            {"type": FULL_SNAPSHOT, "data": {"node": {"text": marker, "pad": "x" * size}}, "timestamp": 2}]


async def send_batch(shopper: Client, session_id: str, seq: int, events: list[dict[str, Any]], *,
                     snapshot: bool = False, part_size: int = 64 * 1024) -> list[dict[str, Any]]:
    """Send one batch, split into parts of ``part_size`` bytes; returns the acks."""
    data = encode_batch(events)
    parts = [data[i:i + part_size] for i in range(0, len(data), part_size)] or [b""]
    acks = []
    for index, part in enumerate(parts):
        acks.append(await shopper.call("cobrowse:events", {
            "session_id": session_id, "seq": seq, "snapshot": snapshot, "part": index, "parts": len(parts),
            "data": part}))
    return acks


def received_batches(console: Client, session_id: str) -> list[tuple[int, list[dict[str, Any]]]]:
    """What the agent's connection was sent, reassembled: ``(seq, events)`` per batch, in order."""
    batches: list[tuple[int, list[dict[str, Any]]]] = []
    pending: list[bytes] = []
    for item in console.events["cobrowse:events"]:
        if item["session_id"] != session_id:
            continue
        pending.append(bytes(item["data"]))
        if item["part"] == item["parts"] - 1:
            batches.append((item["seq"], msgpack.unpackb(b"".join(pending))))
            pending = []
    return batches



def undocumented(body: Any, schema_name: str) -> list[str]:
    """How ``body`` differs from the OpenAPI document's schema ``schema_name``: what it breaks, and
    its top-level fields the schema does not document."""
    components = openapi_document(Settings())["components"]
    validator = jsonschema_rs.Draft202012Validator({"$ref": f"#/components/schemas/{schema_name}",
                                                    "components": components})
    errors = [f"{'/'.join(map(str, error.instance_path))}: {error.message}" for error in validator.iter_errors(body)]
    documented = components["schemas"][schema_name].get("properties", {})
    return errors + [f"{name}: not in the schema" for name in body if name not in documented]
