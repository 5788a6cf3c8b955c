"""Command line: ``chatserver serve``, ``chatserver agent add|list|disable|enable|update``.

Every option can also come from a ``CHATSERVER_*`` environment variable (docs/configuration.md).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .app import FIRST_ADMIN_FILE, build_app
from .cli_customers import add_customer_commands, customer_command
from .config import Settings, load_settings
from .domain.agents import AgentChange, create_agent, do_update_agent, generate_password
from .domain.models import Role
from .errors import ChatError
from .logs import configure_logging
from .storage.sqlite import SQLiteStore


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", dest="data_dir", help="directory for the database and secrets (data)")
    parser.add_argument("--db", help="SQLite file (default: <data-dir>/chatserver.db)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatserver", description="Live chat and co-browsing server")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    _common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--redis-url", dest="redis_url", help="redis://host:port/db for the Redis backend")
    serve.add_argument("--grace-period", dest="grace_period", type=float,
                       help="seconds an agent who dropped keeps their chats (60)")
    serve.add_argument("--default-capacity", dest="default_capacity", type=int,
                       help="chats an agent serves at once unless set per agent (3)")
    serve.add_argument("--allowed-origins", dest="allowed_origins",
                       help="comma-separated origins allowed to open Socket.IO connections")
    serve.add_argument("--departments", help="comma-separated departments chats can be routed to")
    serve.add_argument("--transcript-retention-days", dest="transcript_retention_days", type=float,
                       help="delete closed conversations older than this many days (0 keeps them)")
    serve.add_argument("--log-level", dest="log_level")
    serve.add_argument("--business-hours", dest="business_hours",
                       help="when live chat is open, e.g. 'mon-fri 09:00-17:00; sat 10:00-14:00' (always)")
    serve.add_argument("--business-timezone", dest="business_timezone", help="timezone of the business hours (UTC)")
    serve.add_argument("--smtp-host", dest="smtp_host", help="SMTP server for ticket answers and transcripts")
    serve.add_argument("--smtp-port", dest="smtp_port", type=int, help="SMTP port (587)")
    serve.add_argument("--smtp-from", dest="smtp_from", help="From address of outgoing mail")

    agent = commands.add_parser("agent", help="manage agents")
    agent_commands = agent.add_subparsers(dest="agent_command", required=True)
    add = agent_commands.add_parser("add", help="add an agent")
    _common(add)
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--password", help="prompted for (or generated with --generate-password) when omitted")
    add.add_argument("--generate-password", action="store_true", help="generate a password and print it once")
    add.add_argument("--role", choices=["agent", "admin"], default="agent")
    add.add_argument("--capacity", type=int)
    add.add_argument("--departments", default="", help="comma-separated departments the agent serves")
    listing = agent_commands.add_parser("list", help="list agents")
    _common(listing)
    # Running servers apply these within sweep_interval seconds (they re-read agents that changed).
    for name, text in (("disable", "disable an agent: signed out everywhere, no more chats"),
                       ("enable", "enable a disabled agent again (they sign in anew)")):
        toggle = agent_commands.add_parser(name, help=text)
        _common(toggle)
        toggle.add_argument("--email", required=True)
    update = agent_commands.add_parser("update", help="change an agent's capacity or departments")
    _common(update)
    update.add_argument("--email", required=True)
    update.add_argument("--capacity", type=int)
    update.add_argument("--departments", help="comma-separated departments the agent serves (empty: none)")
    add_customer_commands(commands, _common)
    return parser


_SETTING_FLAGS = ("host", "port", "data_dir", "db", "redis_url", "grace_period", "default_capacity",
                  "transcript_retention_days",
                  "allowed_origins", "log_level", "departments", "business_hours", "business_timezone",
                  "smtp_host", "smtp_port", "smtp_from")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {name: getattr(args, name, None) for name in _SETTING_FLAGS}
    return load_settings(overrides)


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    app = build_app(settings)
    base = f"http://{settings.host}:{settings.port}"

    def banner(_: str) -> None:
        print(f"chatserver is running on {base}/ (health: {base}/healthz, API: {base}/api/openapi.json)")
        print(f"Demo shop with the chat widget: {base}/demo/")
        print(f"Agent console: {base}/console/   Help centre: {base}/help/")
        print(f"Data: {settings.data_dir.resolve()}")
        admin_file = settings.data_dir / FIRST_ADMIN_FILE
        if admin_file.exists():
            print(f"First agent (admin): sign in to the console with the email and password in {admin_file} "
                  f"(or POST {base}/api/auth/login)")
        print("Add agents with: chatserver agent add --name NAME --email EMAIL")
        sys.stdout.flush()

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop_factory = None
    web.run_app(app, host=settings.host, port=settings.port, print=banner, access_log=None,
                loop=loop_factory() if loop_factory else None)


async def _with_store(settings: Settings) -> SQLiteStore:
    store = SQLiteStore(settings.db_path)
    await store.open()
    return store


async def agent_add(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password
    generated = False
    if password is None:
        if args.generate_password or not sys.stdin.isatty():
            password, generated = generate_password(), True
        else:
            password = getpass.getpass("Password for the new agent: ")
    store = await _with_store(settings)
    try:
        agent = await create_agent(store, name=args.name, email=args.email, password=password, role=Role(args.role),
                                   capacity=args.capacity or settings.default_capacity, now=time.time(),
                                   new_id=lambda: uuid.uuid4().hex,
                                   departments=tuple(d.strip() for d in args.departments.split(",") if d.strip()))
    except ChatError as exc:
        print(f"chatserver: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await store.close()
    print(f"added {agent.role} {agent.email} (id {agent.id}, capacity {agent.capacity})")
    if generated:
        print(f"password: {password}")
    return 0


async def agent_list(settings: Settings) -> int:
    store = await _with_store(settings)
    try:
        agents = await store.list_agents()
    finally:
        await store.close()
    print(f"{'email':32} {'name':24} {'role':6} {'capacity':8} {'disabled':8} departments")
    for a in agents:
        print(f"{a.email:32} {a.name:24} {a.role:6} {a.capacity:<8} {'yes' if a.disabled else 'no':8} "
              f"{','.join(a.departments) or '-'}")
    return 0


async def agent_update(settings: Settings, args: argparse.Namespace) -> int:
    if args.agent_command == "update":
        departments = None if args.departments is None else \
            tuple(d.strip() for d in args.departments.split(",") if d.strip())
        change = AgentChange(capacity=args.capacity, departments=departments)
    else:
        change = AgentChange(disabled=args.agent_command == "disable")
    store = await _with_store(settings)
    try:
        found = await store.agent_by_email(args.email.lower())
        if found is None:
            print(f"chatserver: no agent with email {args.email!r}", file=sys.stderr)
            return 2
        _, agent = await do_update_agent(store, found.id, change, by=None, known_departments=None)
    except ChatError as exc:
        print(f"chatserver: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await store.close()
    print(f"{'disabled' if agent.disabled else 'enabled'} {agent.role} {agent.email} (capacity {agent.capacity}, "
          f"departments {','.join(agent.departments) or '-'})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"chatserver: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        serve(settings)
        return 0
    if args.command == "customer":
        return asyncio.run(customer_command(settings, args))
    if args.agent_command == "add":
        return asyncio.run(agent_add(settings, args))
    if args.agent_command in ("disable", "enable", "update"):
        return asyncio.run(agent_update(settings, args))
    return asyncio.run(agent_list(settings))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
