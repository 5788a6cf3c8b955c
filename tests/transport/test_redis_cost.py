"""What a chat message costs in Redis when its visitor and agent are connected to the same
process: counted with Redis's own ``INFO commandstats`` around a fixed number of messages, on a
real redis-server, so that a change that adds round trips to the message path fails here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import redis.asyncio as aioredis

from ..support import LiveServer, agent, make_settings, prechat, visitor

MESSAGES = 40
# Redis commands a message may cost (both parties on this process), over the whole exchange: a
# message is committed to the database and delivered inside the process; Redis has no part in it.
MAX_COMMANDS_PER_MESSAGE = 0.25


async def _commands(client: aioredis.Redis) -> Counter[str]:
    stats = await client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()})


async def test_a_message_between_two_local_parties_costs_no_redis_round_trip(tmp_path: Path,
                                                                              redis_url: str) -> None:
    server = LiveServer(make_settings(tmp_path, redis_url=redis_url, message_rate=10_000, message_burst=10_000))
    await server.start()
    try:
        console = await agent(server, await server.add_agent("Alice", capacity=1))
        shopper = await visitor(server)
        cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
        await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        assert (await console.call("conversation:join", {"conversation_id": cid}))["ok"]
        # A round each way first: whatever a chat's first message caches is not counted.
        for n in range(2):
            await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": f"w{n}", "body": "hi"})
            await console.call("message:send", {"conversation_id": cid, "client_msg_id": f"x{n}", "body": "ho"})
        last = (await console.call("message:send", {"conversation_id": cid, "client_msg_id": "w", "body": "."}))["seq"]
        await shopper.wait_for_seq(cid, last)

        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            before = await _commands(client)
            for n in range(MESSAGES // 2):
                sent = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": f"v{n}",
                                                           "body": f"p:{n}"})
                assert sent["ok"] and not sent["duplicate"], sent
                await console.wait_for_seq(cid, sent["seq"])
                reply = await console.call("message:send", {"conversation_id": cid, "client_msg_id": f"a{n}",
                                                            "body": f"q:{n}"})
                assert reply["seq"] == sent["seq"] + 1
                await shopper.wait_for_seq(cid, reply["seq"])
            after = await _commands(client)
        finally:
            await client.aclose()
        used = after - before
        used["info"] -= 1  # the first INFO itself
        used = +used
        print(f"Redis commands for {MESSAGES} messages: {sum(used.values())} ({dict(used.most_common())})")
        # Every message arrived once, in order, on each side.
        for party in (shopper, console):
            seqs = [m["seq"] for m in party.messages(cid)]
            assert seqs == sorted(set(seqs))
        assert sum(used.values()) <= MAX_COMMANDS_PER_MESSAGE * MESSAGES, dict(used)
    finally:
        await server.close()
