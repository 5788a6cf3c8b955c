"""``chatserver customer export|delete``: a customer's data from the command line (docs/customers.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

from .cli_env import CommandParser
from .config import Settings
from .domain.clock import SystemClock
from .domain.customers import CustomerService
from .errors import ChatError
from .stores import open_stores


def add_customer_commands(parser: CommandParser, commands: Any, common: Callable[[CommandParser], None]) -> None:
    """Add ``customer export`` and ``customer delete`` to the CLI's subcommands."""
    customer = parser.subcommand(commands, "customer", help="export or delete a customer's data")
    customer_commands = customer.add_subparsers(dest="customer_command", required=True)
    export = customer.subcommand(customer_commands, "export", help="print everything held about a customer as JSON")
    delete = customer.subcommand(customer_commands, "delete", help="delete a customer and everything held about it")
    for sub in (export, delete):
        common(sub)
        which = sub.one_of(required=True)
        sub.option("--id", dest="customer_id", one_of=which, help="the customer's id")
        sub.option("--external-id", dest="external_id", one_of=which, help="the shop's id of the customer")
    export.option("--output", "-o", help="write to this file (0600) instead of standard output")
    delete.option("--yes", action="store_true", default=False, help="really delete (required)")
    delete.option("--force", action="store_true", default=False,
                  help="delete even while a chat of the customer is queued or assigned (stop the server first; "
                       "while it runs, use DELETE /api/customers/ID?force=true, which closes the chats)")


async def customer_command(settings: Settings, args: argparse.Namespace) -> int:
    # Imported when a customer command runs: the views' package imports aiohttp, which no other
    # command (nor this one's --help) needs.
    from .wire.views import export_view

    stores = await open_stores(settings)
    customers = CustomerService(customers=stores.customers, conversations=stores.conversations, clock=SystemClock(),
                                new_id=lambda: uuid.uuid4().hex)
    try:
        customer_id = args.customer_id
        if args.external_id is not None:
            found = await customers.customers.customer_by_external_id(args.external_id)
            if found is None:
                print("chatserver: no customer with this external id", file=sys.stderr)
                return 2
            customer_id = found.id
        if args.customer_command == "export":
            text = json.dumps(export_view(await customers.export_customer(customer_id)), indent=2,
                              ensure_ascii=False)
            if args.output:
                fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(text + "\n")
                print(f"exported customer {customer_id} to {args.output}")
            else:
                print(text)
            return 0
        if not args.yes:
            print("chatserver: deleting cannot be undone; add --yes (or set CHATSERVER_CUSTOMER_DELETE_YES=1)",
                  file=sys.stderr)
            return 2
        await customers.delete_customer(customer_id, force=args.force)
        print(f"deleted customer {customer_id} and everything held about it")
        return 0
    except ChatError as exc:
        print(f"chatserver: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await stores.database.close()
