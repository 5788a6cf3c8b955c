"""POSTs outbox webhook items to their endpoints, signed (see ``domain/webhooks.py``)."""

from __future__ import annotations

import aiohttp
import msgspec

from ..domain.clock import Clock
from ..domain.outbox import DeliveryFailed, OutboxItem, PermanentFailure
from ..domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookEvent,
    WebhookStore,
    sign,
)

_decoder = msgspec.json.Decoder(WebhookEvent)


class WebhookPoster:
    def __init__(self, store: WebhookStore, clock: Clock, timeout: float) -> None:
        self.store = store
        self.clock = clock
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout),
                                              headers={"User-Agent": "chatserver-webhooks/1"})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, item: OutboxItem) -> None:
        assert self._session is not None, "poster not started"
        endpoint = await self.store.webhook(item.target)
        if endpoint is None:
            raise PermanentFailure("the endpoint was removed")
        body = item.payload.encode()
        event = _decoder.decode(body)
        timestamp = str(int(self.clock.now()))
        headers = {"Content-Type": "application/json", EVENT_HEADER: event.type, DELIVERY_HEADER: item.id,
                   TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body)}
        try:
            async with self._session.post(endpoint.url, data=body, headers=headers, allow_redirects=False) as resp:
                await resp.read()
                if not 200 <= resp.status < 300:
                    raise DeliveryFailed(f"HTTP {resp.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryFailed(f"POST failed: {type(exc).__name__}") from exc
