"""Logging set-up: one line per event, ``key=value`` fields; never message bodies or tokens."""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


def configure_logging(level: str, log_format: str = "text", instance: str | None = None) -> None:
    """Every record on stderr, one line each: ``log_format`` ``text`` (``time LEVEL logger
    message``) or ``json`` (``JsonFormatter``, naming ``instance``: by default host:pid). A
    record with an exception carries its types and stack only (``exception_summary``), whatever
    logged it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(instance) if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log carries no bodies, but query strings can carry tokens: keep it quiet
    # (the server writes its own, with each request's route: http/access.py).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (names, emails, message and note bodies)
    # at DEBUG: what is never logged stays so at every level.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    # python-socketio and python-engineio give their loggers a handler of their own (which would
    # print each error a second time, exception text and all) unless a level is set before the
    # server is built; ERROR is what they keep with logger=False.
    for name in ("socketio.server", "engineio.server"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # A thread's uncaught exception (an aiosqlite worker's, a library's) is a record too, not
    # Python's traceback (with the exception's text) in the middle of the log.
    threading.excepthook = _thread_failed


def _thread_failed(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("chatserver").error("a thread stopped on an unexpected error thread=%s", field(name),
                                          exc_info=args.exc_value)


def exception_summary(exc: BaseException) -> str:
    """What a log line may say of an unexpected exception: its type (and the types of those it
    was raised from or while handling) and where it was raised, as ``exception=Type`` and the
    stack's frames. Never its text, nor theirs: that may quote a request, an address or a
    message body (``logger.exception`` would write it, with every chained exception's text)."""
    return f"exception={exception_types(exc)}\n{exception_stack(exc)}"


def exception_types(exc: BaseException) -> str:
    """``Type <- Cause <- ...``: ``exc``'s type and those of the exceptions it was raised from or
    while handling (five at most)."""
    types = [type(exc).__name__]
    seen = {id(exc)}
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen and len(types) < 5:
        seen.add(id(cause))
        types.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    return " <- ".join(types)


def exception_stack(exc: BaseException) -> str:
    """The frames ``exc`` was raised through, without its text."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message``; a record's exception as ``exception_summary`` says."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # logging keeps the first handler's rendering of the exception on the record (exc_text)
        # and every later formatter writes that: another handler's may hold the exception's text.
        record.exc_text = None
        return super().format(record)

    def formatException(self, ei: Any) -> str:
        return exception_summary(ei[1]) if ei[1] is not None else ""


# A key=value field of a line (``field`` writes the value plain or as a JSON string), or the
# exception's types ``exception_summary`` writes.
_FIELD = re.compile(r'(?:^|(?<=\s))([A-Za-z_][A-Za-z0-9_]*)=(?:("(?:[^"\\]|\\.)*")|(\S+(?: <- \S+)*))')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(\.[0-9]+)?")
# What every JSON record has; a line's field of the same name is written with a "_" after it.
_RECORD_KEYS = frozenset({"time", "level", "logger", "message", "pid", "instance", "exception", "stack"})


def line_fields(line: str) -> dict[str, Any]:
    """The ``key=value`` fields of a log line, a value as the line writes it: a number as a
    number, a JSON string decoded, any other value as text (the first field of a name wins)."""
    fields: dict[str, Any] = {}
    for match in _FIELD.finditer(line):
        key, quoted, plain = match.groups()
        if key in fields:
            continue
        if quoted is not None:
            try:
                fields[key] = json.loads(quoted)
            except ValueError:
                fields[key] = quoted
        elif (number := _NUMBER.fullmatch(plain)) is not None:
            fields[key] = float(plain) if number.group(1) else int(plain)
        else:
            fields[key] = plain
    return fields


def default_instance() -> str:
    """The instance a process's JSON records name unless the ``instance_id`` setting does."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message`` (its first line, as the text format writes it), ``pid``, ``instance``, each of the
    message's ``key=value`` fields as a field of its own (``line_fields``), and for an exception
    ``exception`` (its types) and ``stack`` (its frames): one record, never the exception's text."""

    def __init__(self, instance: str | None = None) -> None:
        super().__init__()
        self.instance = instance or default_instance()

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        message, _, rest = text.partition("\n")
        out: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": message,
            "pid": record.process, "instance": self.instance,
        }
        for key, value in line_fields(message).items():
            if key in _RECORD_KEYS and key != "exception":
                if out.get(key) == value:
                    continue  # the line says what the record says (a pid)
                key += "_"
            out[key] = value
        stack = [rest] if rest else []
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["exception"] = exception_types(exc)
            stack.append(exception_stack(exc))
        if record.stack_info:
            stack.append(record.stack_info)
        if stack:
            out["stack"] = "\n".join(stack)
        return json.dumps(out, ensure_ascii=True, default=str)


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
