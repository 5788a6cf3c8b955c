"""``chatserver db copy``: the embedded build's SQLite file into PostgreSQL, for a shop that
outgrows one machine (docs/operations.md, "Moving from the embedded build to PostgreSQL")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_env import CommandParser
from .errors import Unavailable
from .logs import redacted

if TYPE_CHECKING:
    from .storage.copy import CopyResult


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
