"""REST routes of the contact directory: customers, their conversations, export and deletion
(documented in ``openapi_records.py``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..domain.customers import CustomerFields, check_may_change
from ..domain.models import ConversationFilter
from . import keys as K
from ._records import customer_view, export_view, path_id, record_view
from .common import MAX_OFFSET, bool_query, current_agent, int_query, json_body, require_admin

log = logging.getLogger("chatserver.http.customers")




async def list_customers(request: web.Request) -> web.Response:
    await current_agent(request)
    query = request.query.get("q")
    customers, total = await request.app[K.CUSTOMERS].search(
        query[:254] if query else None, int_query(request, "limit", 50, 1, 200),
        int_query(request, "offset", 0, 0, MAX_OFFSET))
    return web.json_response({"customers": [customer_view(c) for c in customers], "total": total})


async def create_customer(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, CustomerFields)
    check_may_change(agent, body)
    customer = await request.app[K.CUSTOMERS].create_customer(body)
    log.info("customer created customer=%s agent=%s", customer.id, agent.id)
    return web.json_response({"customer": customer_view(customer)}, status=201)


async def get_customer(request: web.Request) -> web.Response:
    await current_agent(request)
    customer = await request.app[K.CUSTOMERS].get_customer(path_id(request, "customer_id", "customer"))
    return web.json_response({"customer": customer_view(customer)})


async def update_customer(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    customer_id = path_id(request, "customer_id", "customer")
    body = await json_body(request, CustomerFields)
    check_may_change(agent, body)
    customer = await request.app[K.CUSTOMERS].update_customer(customer_id, body)
    log.info("customer updated customer=%s agent=%s", customer.id, agent.id)
    return web.json_response({"customer": customer_view(customer)})


async def delete_customer(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    customer_id = path_id(request, "customer_id", "customer")
    force = bool_query(request, "force")
    service = request.app[K.SERVICE]

    async def close(conversation_id: str) -> None:
        await service.force_close(conversation_id, "customer_deleted")

    await request.app[K.CUSTOMERS].delete_customer(customer_id, close_active=close if force else None)
    log.info("customer deleted with everything held customer=%s agent=%s force=%s", customer_id, admin.id, force)
    return web.Response(status=204)


async def export_customer(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    customer_id = path_id(request, "customer_id", "customer")
    data = await request.app[K.CUSTOMERS].export_customer(customer_id)
    log.info("customer exported customer=%s agent=%s", customer_id, admin.id)
    return web.json_response(export_view(data), headers={
        "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'})


async def customer_conversations(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    customer_id = path_id(request, "customer_id", "customer")
    records, total = await request.app[K.CUSTOMERS].list_conversations(
        agent, ConversationFilter(customer_id=customer_id), int_query(request, "limit", 50, 1, 500),
        int_query(request, "offset", 0, 0, MAX_OFFSET))
    return web.json_response({"conversations": [record_view(r) for r in records], "total": total})


CUSTOMER_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/api/customers", list_customers),
    ("POST", "/api/customers", create_customer),
    ("GET", "/api/customers/{customer_id}", get_customer),
    ("PATCH", "/api/customers/{customer_id}", update_customer),
    ("DELETE", "/api/customers/{customer_id}", delete_customer),
    ("GET", "/api/customers/{customer_id}/conversations", customer_conversations),
    ("GET", "/api/customers/{customer_id}/export", export_customer),
]
