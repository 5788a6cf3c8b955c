"""Command line: ``chatserver serve``, ``chatserver agent add|list|disable|enable|update|set-password``,
``chatserver customer export|delete``, ``chatserver db copy``.

Every option can also come from a ``CHATSERVER_*`` environment variable (``cli_env``, docs/configuration.md).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from .cli_customers import add_customer_commands, customer_command
from .cli_db import add_db_commands, add_migrate_command, db_command, migrate_command
from .cli_env import CommandParser, unknown_variables
from .config import Settings, env_name, load_settings, settings_fields
from .constants import listening_line, package_version
from .domain.agents import AgentChange, create_agent, do_reset_password, do_update_agent, generate_password
from .domain.models import Agent, Role
from .domain.passwords import PasswordHashing
from .domain.ports import AgentStore
from .errors import ChatError, StartupError
from .files import writable_data_dir
from .first_admin import FIRST_ADMIN_FILE, forget_first_admin_password
from .logs import configure_logging, exception_summary
from .stores import open_stores

log = logging.getLogger("chatserver")


def _common(parser: CommandParser) -> None:
    parser.setting("--data-dir", dest="data_dir", help="directory for the database and secrets (data)")
    parser.setting("--db", help="SQLite file (default: <data-dir>/chatserver.db)")
    parser.setting("--database-url", dest="database_url",
                   help="postgresql://user:password@host:port/db: PostgreSQL instead of the SQLite file")


def build_parser() -> CommandParser:
    parser = CommandParser(prog="chatserver", description="Live chat and co-browsing server")
    parser.add_argument("--version", action="version", version=f"chatserver {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = parser.subcommand(commands, "serve", help="run the server")
    _common(serve)
    serve.setting("--host")
    serve.setting("--port", type=int)
    serve.setting("--redis-url", dest="redis_url", help="redis://host:port/db for the Redis backend")
    serve.setting("--database-pool-min", dest="database_pool_min", type=int,
                  help="PostgreSQL connections each process keeps open (2)")
    serve.setting("--database-pool-max", dest="database_pool_max", type=int,
                  help="PostgreSQL connections each process opens at most (10)")
    serve.setting("--grace-period", dest="grace_period", type=float,
                  help="seconds an agent who dropped keeps their chats (60)")
    serve.setting("--default-capacity", dest="default_capacity", type=int,
                  help="chats an agent serves at once unless set per agent (3)")
    serve.setting("--allowed-origins", dest="allowed_origins",
                  help="comma-separated origins allowed to open Socket.IO connections")
    serve.setting("--departments", help="comma-separated departments chats can be routed to")
    serve.setting("--transcript-retention-days", dest="transcript_retention_days", type=float,
                  help="delete closed conversations older than this many days (0 keeps them)")
    serve.setting("--log-level", dest="log_level", help="DEBUG, INFO, WARNING, ERROR or CRITICAL (INFO)")
    serve.setting("--log-format", dest="log_format", help="text or json: one JSON object per line (text)")
    serve.setting("--metrics-port", dest="metrics_port", type=int,
                  help="serve GET /metrics (Prometheus) on this port of --metrics-host (off)")
    serve.setting("--metrics-host", dest="metrics_host", help="address of the metrics port (127.0.0.1)")
    serve.setting("--business-hours", dest="business_hours",
                  help="when live chat is open, e.g. 'mon-fri 09:00-17:00; sat 10:00-14:00' (always)")
    serve.setting("--business-timezone", dest="business_timezone", help="timezone of the business hours (UTC)")
    serve.setting("--smtp-host", dest="smtp_host", help="SMTP server for ticket answers and transcripts")
    serve.setting("--smtp-port", dest="smtp_port", type=int, help="SMTP port (587)")
    serve.setting("--smtp-from", dest="smtp_from", help="From address of outgoing mail")

    agent = parser.subcommand(commands, "agent", help="manage agents")
    agent_commands = agent.add_subparsers(dest="agent_command", required=True)
    add = agent.subcommand(agent_commands, "add", help="add an agent")
    _common(add)
    add.option("--name", required=True)
    add.option("--email", required=True)
    add.option("--password", help="prompted for (or generated with --generate-password) when omitted; "
                                  "better from the variable than on a command line others can see")
    add.option("--generate-password", dest="generate_password", action="store_true", default=False,
               help="generate a password and print it once")
    add.option("--role", choices=["agent", "admin"], default="agent")
    add.option("--capacity", type=int)
    add.option("--departments", dest="agent_departments", default="", metavar="LIST",
               help="comma-separated departments the agent serves")
    listing = agent.subcommand(agent_commands, "list", help="list agents")
    _common(listing)
    # Running servers apply these within sweep_interval seconds (they re-read agents that changed).
    for name, text in (("disable", "disable an agent: signed out everywhere, no more chats"),
                       ("enable", "enable a disabled agent again (they sign in anew)")):
        toggle = agent.subcommand(agent_commands, name, help=text)
        _common(toggle)
        toggle.option("--email", required=True)
    update = agent.subcommand(agent_commands, "update", help="change an agent's capacity or departments")
    _common(update)
    update.option("--email", required=True)
    update.option("--capacity", type=int)
    update.option("--departments", dest="agent_departments", metavar="LIST",
                  help="comma-separated departments the agent serves (empty: none)")
    password = agent.subcommand(agent_commands, "set-password",
                                help="give an agent a new password: they are signed out everywhere")
    _common(password)
    password.option("--email", required=True)
    password.option("--password", help="prompted for (twice, not shown) when omitted; better from the variable "
                                       "than on a command line others can see")
    add_customer_commands(parser, commands, _common)
    add_db_commands(parser, commands)
    add_migrate_command(parser, commands, _common)
    return parser


def _settings(command: CommandParser, args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    overrides: dict[str, Any] = {o.action.dest: getattr(args, o.action.dest)
                                 for o in command.env_options if o.setting}
    return load_settings(overrides, environ=environ)


def freeze_startup_objects() -> int:
    """Move what starting made (modules, the app, its caches: they live as long as the process)
    out of the garbage collector's reach, after collecting what is already garbage; returns how
    many objects were frozen. Each full collection then walks only what serving made since,
    not the ~70,000 objects of the start again: the full collections come more often with more
    messages in flight, so their cost grew with the connections (docs/benchmarks/chat.md)."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def serve(settings: Settings, warnings: Sequence[str] = ()) -> int:
    """Run the server until a signal stops it: 0, or 128 + the signal's number when a second
    signal stopped it at once (``serving.serve_until_signalled``). A ``StartupError`` goes to
    ``main``; any other exception is one log record (its types and stack, as every logged
    exception) and status 1."""
    configure_logging(settings.log_level, settings.log_format, settings.instance_id)
    for warning in warnings:
        log.warning("%s", warning)
    writable_data_dir(settings.data_dir)
    # The web stack (aiohttp, python-socketio, redis) is imported here, not at the top: the agent
    # and customer commands need only storage, and start in a fraction of the time without it (as
    # does a refused data directory, above).
    from .app import app_for
    from .assembly import assemble
    from .http import serving

    server = assemble(settings)
    app = app_for(server)
    base = f"http://{settings.host}:{settings.port}"

    def banner() -> None:
        print(f"{listening_line(base)} (health: {base}/healthz, API: {base}/api/openapi.json)")
        print(f"Demo shop with the chat widget: {base}/demo/")
        print(f"Agent console: {base}/console/   Help centre: {base}/help/")
        print(f"Data: {settings.data_dir.resolve()}")
        admin_file = settings.data_dir / FIRST_ADMIN_FILE
        if admin_file.exists():
            print(f"First agent (admin): sign in to the console with the email and password in {admin_file} "
                  f"(or POST {base}/api/auth/login)")
        print("Add agents with: chatserver agent add --name NAME --email EMAIL")
        sys.stdout.flush()
        freeze_startup_objects()

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(serving.serve_until_signalled(app, settings, banner, server.stores.database.close))
    except StartupError:
        raise
    except Exception as exc:
        log.critical("the server stopped on an unexpected error %s", exception_summary(exc))
        return 1


async def agent_add(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password
    generated = False
    if password is None:
        if args.generate_password or not sys.stdin.isatty():
            password, generated = generate_password(), True
        else:
            password = getpass.getpass("Password for the new agent: ")
    stores = await open_stores(settings)
    try:
        agent = await create_agent(stores.agents, PasswordHashing(settings.password_hash_cost), name=args.name,
                                   email=args.email, password=password, role=Role(args.role),
                                   capacity=args.capacity or settings.default_capacity, now=time.time(),
                                   new_id=lambda: uuid.uuid4().hex,
                                   departments=tuple(d.strip() for d in args.agent_departments.split(",")
                                                     if d.strip()))
    except ChatError as exc:
        print(f"chatserver: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await stores.database.close()
    print(f"added {agent.role} {agent.email} (id {agent.id}, capacity {agent.capacity})")
    if generated:
        print(f"password: {password}")
    return 0


async def agent_list(settings: Settings) -> int:
    stores = await open_stores(settings)
    try:
        agents = await stores.agents.list_agents()
    finally:
        await stores.database.close()
    print(f"{'email':32} {'name':24} {'role':6} {'capacity':8} {'disabled':8} departments")
    for a in agents:
        print(f"{a.email:32} {a.name:24} {a.role:6} {a.capacity:<8} {'yes' if a.disabled else 'no':8} "
              f"{','.join(a.departments) or '-'}")
    return 0


async def _change_agent(settings: Settings, email: str,
                        change: Callable[[AgentStore, Agent], Awaitable[Agent]]) -> Agent | None:
    """``change`` applied to the agent with ``email``: the agent as it is after; ``None``, with the
    reason on stderr, when there is no such agent or the change is refused."""
    stores = await open_stores(settings)
    try:
        found = await stores.agents.agent_by_email(email.lower())
        if found is None:
            print(f"chatserver: no agent with email {email!r}", file=sys.stderr)
            return None
        return await change(stores.agents, found)
    except ChatError as exc:
        print(f"chatserver: {exc.message}", file=sys.stderr)
        return None
    finally:
        await stores.database.close()


async def agent_update(settings: Settings, args: argparse.Namespace) -> int:
    if args.agent_command == "update":
        departments = None if args.agent_departments is None else \
            tuple(d.strip() for d in args.agent_departments.split(",") if d.strip())
        change = AgentChange(capacity=args.capacity, departments=departments)
    else:
        change = AgentChange(disabled=args.agent_command == "disable")
    async def update(agents: AgentStore, found: Agent) -> Agent:
        return (await do_update_agent(agents, found.id, change, by=None, known_departments=None))[1]

    agent = await _change_agent(settings, args.email, update)
    if agent is None:
        return 2
    print(f"{'disabled' if agent.disabled else 'enabled'} {agent.role} {agent.email} (capacity {agent.capacity}, "
          f"departments {','.join(agent.departments) or '-'})")
    return 0


async def agent_set_password(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            print("chatserver: give the new password in CHATSERVER_AGENT_SET_PASSWORD_PASSWORD (or run this on a "
                  "terminal to be asked for it)", file=sys.stderr)
            return 2
        password = getpass.getpass("New password: ")
        if getpass.getpass("The same again: ") != password:
            print("chatserver: the two passwords differ; nothing changed", file=sys.stderr)
            return 2
    async def reset(agents: AgentStore, found: Agent) -> Agent:
        return await do_reset_password(agents, PasswordHashing(settings.password_hash_cost), found.id, password,
                                       by=None)

    agent = await _change_agent(settings, args.email, reset)
    if agent is None:
        return 2
    print(f"new password set for {agent.role} {agent.email}; signed out everywhere")
    if forget_first_admin_password(settings.data_dir, agent.email):
        print(f"removed {settings.data_dir / FIRST_ADMIN_FILE}: it no longer holds their password")
    return 0


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command; a ``StartupError`` (or a setting refused) is one line on stderr,
    ``chatserver: error: ...``, and its exit status (errors.py)."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    command = parser.chosen(args)
    command.apply_environment(args, environ)
    warnings = unknown_variables(parser, environ, map(env_name, settings_fields()))
    try:
        try:
            settings = _settings(command, args, environ)
        except ValueError as exc:
            raise StartupError(str(exc), exit_status=2) from None
        if args.command == "serve":
            return serve(settings, warnings)
        for warning in warnings:
            print(f"chatserver: warning: {warning}", file=sys.stderr)
        if args.command == "db":
            return asyncio.run(db_command(args))
        _existing_database(settings, may_create=args.command == "migrate"
                           or (args.command == "agent" and args.agent_command == "add"))
        if args.command == "migrate":
            configure_logging(settings.log_level, settings.log_format, settings.instance_id)  # a line a migration
            return asyncio.run(migrate_command(settings, args.check))
        if args.command == "customer":
            return asyncio.run(customer_command(settings, args))
        if args.agent_command == "add":
            return asyncio.run(agent_add(settings, args))
        if args.agent_command in ("disable", "enable", "update"):
            return asyncio.run(agent_update(settings, args))
        if args.agent_command == "set-password":
            return asyncio.run(agent_set_password(settings, args))
        return asyncio.run(agent_list(settings))
    except StartupError as exc:
        print(f"chatserver: error: {exc.message}", file=sys.stderr)
        return exc.exit_status


def _existing_database(settings: Settings, *, may_create: bool) -> None:
    """The commands other than ``serve`` work on the SQLite file that is there: a mistyped
    ``--data-dir`` must not leave an empty database behind (and list nothing from it). Only
    ``agent add`` and ``migrate`` may create the file, in a data directory that exists (to add
    agents, or migrate, before the server's first start)."""
    if settings.database_url:
        return
    path = settings.db_path
    if path.is_file() or (may_create and path.parent.is_dir()):
        return
    if settings.db is None and not settings.data_dir.is_dir():
        what = "is not a directory" if settings.data_dir.exists() else "does not exist"
        raise StartupError(f"the data directory {settings.data_dir} {what} (give the one the server uses with "
                           f"--data-dir or CHATSERVER_DATA_DIR)", exit_status=2)
    raise StartupError(f"there is no database at {path} (`chatserver serve` creates it; give the server's with "
                       f"--data-dir or --db)", exit_status=2)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
