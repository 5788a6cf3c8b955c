"""Log helpers (chatserver/logs.py), and what the server's log may hold: never a message body, a
shopper's name or email, at any level."""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import socketio

from chatserver.logs import (
    JsonFormatter,
    TextFormatter,
    ThrottledLog,
    configure_logging,
    exception_summary,
    field,
    line_fields,
    redacted,
)

from .processes import ServerProcess


@pytest.mark.parametrize("value", ["message:send", "/visitor", "a1-b_2.c", "x" * 64])
def test_plain_values_are_written_as_they_are(value: str) -> None:
    assert field(value) == value


@pytest.mark.parametrize("value", ["", "two words", "x\ny", "nul\x00", "\x1b[0m", "tab\t", "a=b", 'quote"',
                                   "back\\slash", "caf\u00e9", "\u2028", "\ud800", "\x85"])
def test_other_values_are_one_quoted_ascii_token(value: str) -> None:
    written = field(value)
    assert written.isascii() and written.isprintable()  # no line break, NUL or escape sequence
    assert written.startswith('"') and written.endswith('"') and json.loads(written) == value


def test_an_address_in_the_log_never_shows_the_password() -> None:
    assert redacted("postgresql://chat:s3cret@db:5432/chat") == "postgresql://chat@db:5432/chat"
    assert redacted("postgresql://db/chat") == "postgresql://db/chat"
    assert redacted("redis://:s3cret@cache:6379/0") == "redis://cache:6379/0"


def test_long_values_are_cut() -> None:
    assert field("x" * 100) == "x" * 64
    assert json.loads(field("\n" * 100, limit=10)) == "\n" * 10

NAME = "Zebulon Quartermaine"
EMAIL = "zebulon.q@example.org"
QUESTION = "Where is parcel QX-7731?"
BODY = "my card ends 4242 and lives at 12 Wisteria Lane"


async def test_at_debug_level_the_log_holds_no_body_name_or_email(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, None, CHATSERVER_LOG_LEVEL="DEBUG").start()
    try:
        async with aiohttp.ClientSession() as http, http.post(server.url + "/api/visitor/sessions") as resp:
            token = (await resp.json())["token"]
        shopper = socketio.AsyncClient(reconnection=False)
        await shopper.connect(server.url, namespaces=["/visitor"], auth={"token": token}, transports=["websocket"])
        try:
            started = await shopper.call("chat:start", {"name": NAME, "email": EMAIL, "question": QUESTION},
                                         namespace="/visitor", timeout=10)
            cid = started["conversation"]["id"]
            sent = await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "m-1", "body": BODY},
                                      namespace="/visitor", timeout=10)
            assert sent["ok"] and not sent["duplicate"], sent
        finally:
            await shopper.disconnect()
    finally:
        server.stop()
    log = server.log.read_text()
    assert "INFO chatserver.transport disconnected namespace=/visitor" in log
    for secret in (NAME, EMAIL, QUESTION, BODY, "4242", token):
        assert secret not in log, f"{secret!r} is in the log"


def test_debug_level_is_debug_for_everything_but_what_logs_parameters() -> None:
    root, quiet = logging.getLogger(), logging.getLogger("aiosqlite")
    handlers, level, quiet_level = root.handlers[:], root.level, quiet.level
    try:
        configure_logging("DEBUG")
        assert logging.getLogger("chatserver.transport").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("aiosqlite").isEnabledFor(logging.INFO)
        assert logging.getLogger("aiosqlite").isEnabledFor(logging.WARNING)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        quiet.setLevel(quiet_level)


def test_refusal_lines_are_throttled_and_say_how_many_were_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chatserver.test")
    now = [0.0]
    throttled = ThrottledLog(logging.getLogger("chatserver.test"), per_second=2.0, burst=3, clock=lambda: now[0])
    for n in range(10):
        throttled.info("refused n=%d", n)
    assert [r.getMessage() for r in caplog.records] == ["refused n=0", "refused n=1", "refused n=2"]
    now[0] += 0.5  # one line's worth
    throttled.info("refused n=%d", 10)
    throttled.info("refused n=%d", 11)
    assert [r.getMessage() for r in caplog.records][3:] == ["refused n=10 dropped=7"]
    now[0] += 10.0
    throttled.info("refused n=%d", 12)
    assert caplog.records[-1].getMessage() == "refused n=12 dropped=1"


def test_a_lines_fields_are_read_as_written() -> None:
    line = ('connected namespace=/visitor visitor=ab12 count=3 ratio=-0.25 name="two words\\nand a line" '
            'exception=RuntimeError <- KeyError and=9x count=4 not a=field')
    assert line_fields(line) == {"namespace": "/visitor", "visitor": "ab12", "count": 3, "ratio": -0.25,
                                 "name": "two words\nand a line", "exception": "RuntimeError <- KeyError",
                                 "and": "9x", "a": "field"}
    assert line_fields("plain words, no fields") == {}


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    return logging.LogRecord("chatserver.test", logging.ERROR, __file__, 1, message, args,
                             (type(exc), exc, exc.__traceback__) if exc is not None else None)


def _raised() -> ValueError:
    try:
        try:
            raise KeyError(BODY)
        except KeyError:
            raise ValueError(f"while handling {BODY}") from None
    except ValueError as exc:
        return exc


def test_a_json_record_is_one_line_with_its_fields_time_zone_process_and_instance() -> None:
    line = JsonFormatter("web-7").format(_record("request refused route=%s status=%d pid=%d level=x", "/api", 429, 1))
    assert "\n" not in line and line.isascii()
    record = json.loads(line)
    assert datetime.datetime.fromisoformat(record["time"]).utcoffset() == datetime.timedelta(0)
    assert {k: record[k] for k in ("level", "logger", "message", "pid", "instance", "route", "status")} == {
        "level": "ERROR", "logger": "chatserver.test", "message": "request refused route=/api status=429 pid=1 level=x",
        "pid": os.getpid(), "instance": "web-7", "route": "/api", "status": 429}
    # A field named as one of the record's own keeps its value under another name.
    assert (record["pid_"], record["level_"]) == (1, "x")
    assert JsonFormatter().instance == f"{socket.gethostname()}:{os.getpid()}"


def test_an_exception_is_one_record_with_its_types_and_stack_never_its_text() -> None:
    exc = _raised()
    for record in (json.loads(JsonFormatter().format(_record("write failed jobs=%d", 2, exc=exc))),
                   json.loads(JsonFormatter().format(_record("write failed %s", exception_summary(exc))))):
        assert record["message"].startswith("write failed ")
        assert record["exception"] == "ValueError <- KeyError"
        assert "test_logs.py" in record["stack"] and "_raised" in record["stack"]
        assert BODY not in json.dumps(record)
    record = _record("write failed jobs=%d", 2, exc=exc)
    assert BODY in logging.Formatter().format(record)  # another handler's rendering, kept on the record...
    text = TextFormatter().format(record)  # ...is not what this one writes
    assert text.split("\n")[0].endswith(" ERROR chatserver.test write failed jobs=2")
    assert text.split("\n")[1] == "exception=ValueError <- KeyError" and "_raised" in text and BODY not in text


def test_a_threads_uncaught_exception_is_a_record_without_its_text() -> None:
    probe = ("import threading\n"
             "from chatserver.logs import configure_logging\n"
             "configure_logging('INFO', 'json')\n"
             "def fail():\n"
             f"    raise RuntimeError({BODY!r})\n"
             "worker = threading.Thread(target=fail, name='worker-1')\n"
             "worker.start()\n"
             "worker.join()\n")
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    [record] = [json.loads(line) for line in ran.stderr.splitlines()]
    assert (record["level"], record["thread"], record["exception"]) == ("ERROR", "worker-1", "RuntimeError")
    assert "fail" in record["stack"] and BODY not in ran.stderr


def test_an_error_python_socketio_logs_is_written_once() -> None:
    # python-socketio and python-engineio add a handler of their own to their loggers unless a
    # level is set: every error of theirs would be written twice, the second time with its text.
    probe = ("import logging, socketio\n"
             "from chatserver.logs import configure_logging\n"
             "configure_logging('INFO', 'json')\n"
             "socketio.AsyncServer(async_mode='aiohttp', logger=False, engineio_logger=False)\n"
             "for name in ('socketio.server', 'engineio.server'):\n"
             "    try:\n"
             f"        raise RuntimeError({BODY!r})\n"
             "    except RuntimeError:\n"
             "        logging.getLogger(name).exception('handler error')\n")
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    records = [json.loads(line) for line in ran.stderr.splitlines()]
    assert [(r["logger"], r["exception"]) for r in records] == [("socketio.server", "RuntimeError"),
                                                              ("engineio.server", "RuntimeError")]
    assert BODY not in ran.stderr
