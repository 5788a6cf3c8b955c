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
