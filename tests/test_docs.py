"""The documents name every event, error code and setting the code defines."""

from __future__ import annotations

from pathlib import Path

from chatserver import constants
from chatserver.config import env_name, settings_fields
from chatserver.errors import ALL_ERRORS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_socketio_event_is_documented() -> None:
    protocol = (DOCS / "protocol.md").read_text()
    events = {v for k, v in vars(constants).items() if k.startswith("EV_")}
    missing = sorted(e for e in events if f"`{e}`" not in protocol)
    assert not missing


def test_every_error_code_and_system_message_is_documented() -> None:
    protocol = (DOCS / "protocol.md").read_text()
    codes = {e.code for e in ALL_ERRORS} | {v for k, v in vars(constants).items() if k.startswith("SYS_")}
    assert not sorted(c for c in codes if f"`{c}`" not in protocol)


def test_every_setting_is_documented() -> None:
    configuration = (DOCS / "configuration.md").read_text()
    missing = [name for name in settings_fields() if f"`{name}`" not in configuration]
    assert not missing
    assert env_name("grace_period") == "CHATSERVER_GRACE_PERIOD"


def test_the_command_line_section_names_every_serve_flag_and_every_http_error_code() -> None:
    import argparse

    from chatserver.cli import build_parser
    from chatserver.http.views import _HTTP_CODES

    configuration = (DOCS / "configuration.md").read_text()
    usage = configuration.split("## Command line", 1)[1]
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve = commands.choices["serve"]
    flags = {flag for action in serve._actions for flag in action.option_strings if flag.startswith("--")}
    assert not sorted(f for f in flags - {"--help"} if f"[{f}" not in usage)
    protocol = (DOCS / "protocol.md").read_text()
    assert not sorted(c for c in [*_HTTP_CODES.values(), "http_error"] if f"`{c}`" not in protocol)
