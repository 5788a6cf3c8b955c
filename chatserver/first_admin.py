"""The first admin: created on an empty database, its generated password written to
``<data_dir>/first-admin.txt`` (0600, never printed or logged)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from .config import Settings
from .domain.agents import create_agent, generate_password
from .domain.clock import Clock
from .domain.models import Role
from .domain.passwords import PasswordHashing
from .domain.ports import AgentStore
from .errors import Conflict
from .files import PRIVATE_FILE, make_private_dir

log = logging.getLogger("chatserver")

FIRST_ADMIN_FILE = "first-admin.txt"


async def ensure_first_admin(settings: Settings, agents: AgentStore, passwords: PasswordHashing, clock: Clock,
                             new_id: Callable[[], str]) -> None:
    """On an empty database, create an admin and write its password to a 0600 file (never logged)."""
    if await agents.list_agents():
        return
    password = generate_password()
    try:
        await create_agent(agents, passwords, name="Admin", email=settings.first_admin_email, password=password,
                           role=Role.ADMIN, capacity=settings.default_capacity, now=clock.now(), new_id=new_id)
    except Conflict:
        return  # another process sharing the database created it first

    path = settings.data_dir / FIRST_ADMIN_FILE
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"email: {settings.first_admin_email}\npassword: {password}\n")
    log.info("first admin created email=%s credentials_file=%s", settings.first_admin_email, path)


def forget_first_admin_password(data_dir: Path, email: str) -> bool:
    """Delete ``first-admin.txt`` once the admin it names has another password (it no longer
    holds a working one, and should not lie around); ``True`` if it was deleted."""
    path = data_dir / FIRST_ADMIN_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return False
    named = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    if named.get("email", "").strip().lower() != email.lower():
        return False
    path.unlink(missing_ok=True)
    log.info("first admin's password changed: removed credentials_file=%s", path)
    return True
