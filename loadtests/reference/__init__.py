"""Reference relays a comparison loads with the same generator as chatserver: ``relay.mjs``
(Node.js socket.io 4.8) and ``raw_relay.py`` (a raw aiohttp WebSocket)."""
