"""Logging set-up: one line per event, ``key=value`` fields; never message bodies or tokens."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log carries no bodies, but query strings can carry tokens: keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
