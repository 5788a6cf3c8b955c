"""``chatserver db copy``: the embedded build's SQLite file into PostgreSQL, for a shop that
outgrows one machine (docs/operations.md, "Moving from the embedded build to PostgreSQL");
``chatserver migrate [--check]``: the database's schema migrations, applied or checked by a deploy
script (docs/operations.md, "Upgrading")."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_env import CommandParser
from .config import Settings
from .errors import StartupError, Unavailable
from .logs import redacted
from .stores import stores_for

if TYPE_CHECKING:
    from .storage.copy import CopyResult

# ``migrate --check``'s exit status when migrations are pending (0: none; 1: the check failed).
MIGRATIONS_PENDING = 3


def add_db_commands(parser: CommandParser, commands: Any) -> None:
    """Add ``db copy`` to the CLI's subcommands."""
    db = parser.subcommand(commands, "db", help="move the data between databases")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    copy = db.subcommand(db_commands, "copy",
                         help="copy the SQLite file into an empty PostgreSQL database (stop the server first)")
    copy.option("--from", dest="source", required=True, metavar="FILE",
                help="the SQLite file (migrated to this version's schema first)")
    copy.option("--to", dest="target", required=True, metavar="URL",
                help="postgresql://user:password@host:port/db, an empty database (migrated first); better from "
                     "the variable than on a command line others can see")


async def db_command(args: argparse.Namespace) -> int:
    """Run ``db copy``: 0 when every table's rows were copied, 2 when the copy was refused before
    it began, 1 when it failed or its counts differ (nothing is written then)."""
    # Imported when the command runs: asyncpg and aiosqlite, which no other command's start needs.
    from .storage.copy import CopyFailed, CopyRefused, copy_sqlite_to_postgresql

    try:
        result = await copy_sqlite_to_postgresql(Path(args.source), args.target)
    except CopyRefused as exc:
        print(f"chatserver: {exc}; nothing was copied", file=sys.stderr)
        return 2
    except Unavailable as exc:
        print(f"chatserver: {exc}; nothing was written", file=sys.stderr)
        return 1
    except CopyFailed as exc:
        print(f"chatserver: the copy stopped at {exc}; it was rolled back, nothing was written", file=sys.stderr)
        return 1
    for line in _count_lines(result):
        print(line)
    if not result.committed:
        print("chatserver: the row counts differ (marked *); the copy was rolled back, nothing was written",
              file=sys.stderr)
        return 1
    print(f"copied {args.source} to {redacted(args.target)}: every row of every table")
    return 0


def _count_lines(result: CopyResult) -> list[str]:
    """The per-table row counts as a table, a differing one marked ``*``."""
    width = max([len("table"), *(len(c.table) for c in result.counts)])
    lines = [f"{'table':{width}}  {'SQLite':>10}  {'PostgreSQL':>10}"]
    lines += [f"{c.table:{width}}  {c.sqlite:>10}  {c.postgresql:>10}{'' if c.matches else '  *'}"
              for c in result.counts]
    return lines


def add_migrate_command(parser: CommandParser, commands: Any, common: Callable[[CommandParser], None]) -> None:
    """Add ``migrate [--check]`` to the CLI's subcommands; ``common`` adds the database options."""
    migrate = parser.subcommand(commands, "migrate", help="apply the database's pending schema migrations")
    common(migrate)
    migrate.option("--check", action="store_true", default=False,
                   help=f"apply nothing: exit 0 if the schema is current, {MIGRATIONS_PENDING} if migrations are "
                        "pending")


async def migrate_command(settings: Settings, check: bool) -> int:
    """Run ``migrate``: every pending migration applied (each logged), 0. With ``check`` nothing is
    applied: 0 when the schema is current, ``MIGRATIONS_PENDING`` when it is not. A database
    that cannot be reached, or whose schema is newer than this version's, is a ``StartupError``."""
    database = stores_for(settings).database
    what = database.description
    if check and not settings.database_url and not settings.db_path.exists():
        print(f"{what} does not exist yet: every migration is pending")  # and --check creates nothing
        return MIGRATIONS_PENDING
    try:
        pending = await database.open(migrate=False)
    except Unavailable as exc:
        raise StartupError(f"{what} is unreachable ({exc.__cause__ or exc})") from None
    try:
        if check:
            if pending:
                print(f"{what}: {len(pending)} migration(s) pending: {', '.join(map(str, pending))}")
                return MIGRATIONS_PENDING
            print(f"{what}: the schema is current")
            return 0
        applied = await database.migrate()
    finally:
        await database.close()
    print(f"{what}: applied {len(applied)} migration(s){': ' if applied else ''}{', '.join(map(str, applied))}; "
          "the schema is current")
    return 0
