"""Logging set-up: one line per event, ``key=value`` fields; never message bodies or tokens."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Callable

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log carries no bodies, but query strings can carry tokens: keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (names, emails, message and note bodies)
    # at DEBUG: what is never logged stays so at every level.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def exception_summary(exc: BaseException) -> str:
    """What a log line may say of an unexpected exception: its type (and the types of those it
    was raised from or while handling) and where it was raised, as ``exception=Type`` and the
    stack's frames. Never its text, nor theirs: that may quote a request, an address or a
    message body (``logger.exception`` would write it, with every chained exception's text)."""
    types = [type(exc).__name__]
    seen = {id(exc)}
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen and len(types) < 5:
        seen.add(id(cause))
        types.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    stack = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    return f"exception={' <- '.join(types)}\n{stack}"


_PLAIN = re.compile(r"[A-Za-z0-9_.:/-]+")


def field(value: str, limit: int = 64) -> str:
    """A value a client chose (an event name, a namespace, an id) as a ``key=value`` field of a
    log line: its first ``limit`` characters, as they are when they are plain (ASCII letters,
    digits, ``_ . : / -``), else as a JSON string (every control character, quote, backslash
    and non-ASCII character escaped), so no value can end a line, forge another field or line,
    or carry a NUL or a terminal escape into the log."""
    value = value[:limit]
    if _PLAIN.fullmatch(value):
        return value
    return json.dumps(value)


class ThrottledLog:
    """Info lines a client can cause at will (a refused packet or event): at most ``per_second``
    a second, after a burst of ``burst``, so that a flood of bad input cannot fill the disk
    through the log. The lines held back are counted, and the next line written ends with
    ``dropped=N``."""

    def __init__(self, logger: logging.Logger, per_second: float = 10.0, burst: int = 100,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._per_second = per_second
        self._burst = float(burst)
        self._clock = clock
        self._allowance = float(burst)
        self._checked = clock()
        self._dropped = 0

    def info(self, message: str, *args: object) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        now = self._clock()
        self._allowance = min(self._burst, self._allowance + (now - self._checked) * self._per_second)
        self._checked = now
        if self._allowance < 1.0:
            self._dropped += 1
            return
        self._allowance -= 1.0
        if self._dropped:
            message, args = message + " dropped=%d", (*args, self._dropped)
            self._dropped = 0
        self._logger.info(message, *args)


def redacted(url: str) -> str:
    """``url`` without the password it may carry (a database's or Redis's address, for the log)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}" if user else f"{scheme}://{host}"
