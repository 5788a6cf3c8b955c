"""REST routes of the contact directory: customers, their conversations, export and deletion."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from ..domain.customers import CustomerFields, check_may_change
from ..domain.models import ConversationFilter
from ..domain.patterns import NOT_BLANK, checked
from ..wire.shapes import Conversations, CustomerAnswer, CustomerExport, Customers
from ..wire.views import customer_view, export_view, record_view
from ._records import path_id
from .common import MAX_OFFSET, bool_query, current_agent, int_query, json_body, paging, require_admin
from .route import Query, Route, empty_answer, json_answer
from .services import services

log = logging.getLogger("chatserver.http.customers")

# A new customer is something to know them by, once stripped: a name, an email, a phone number
# (it has a digit) or an external_id (check_customer_fields refuses an empty one).
NewCustomer = Annotated[CustomerFields, msgspec.Meta(
    description="Fields left out are empty; null clears one. A new customer needs at least a name, an email, a "
                "phone number or an external_id.",
    extra_json_schema=checked(anyOf=[
        *({"required": [name], "properties": {name: {"type": "string", "pattern": pattern}}}
          for name, pattern in (("name", NOT_BLANK), ("phone", "[0-9]"), ("external_id", NOT_BLANK))),
        {"required": ["emails"], "properties": {"emails": {"minItems": 1}}}]))]


async def list_customers(request: web.Request) -> web.Response:
    await current_agent(request)
    query = request.query.get("q")
    customers, total = await services(request).customers.search(
        query[:254] if query else None, int_query(request, "limit", 50, 1, 200),
        int_query(request, "offset", 0, 0, MAX_OFFSET))
    return web.json_response({"customers": [customer_view(c) for c in customers], "total": total})


async def create_customer(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, NewCustomer)
    check_may_change(agent, body)
    customer = await services(request).customers.create_customer(body)
    log.info("customer created customer=%s agent=%s", customer.id, agent.id)
    return web.json_response({"customer": customer_view(customer)}, status=201)


async def get_customer(request: web.Request) -> web.Response:
    await current_agent(request)
    customer = await services(request).customers.get_customer(path_id(request, "customer_id", "customer"))
    return web.json_response({"customer": customer_view(customer)})


async def update_customer(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    customer_id = path_id(request, "customer_id", "customer")
    body = await json_body(request, CustomerFields)
    check_may_change(agent, body)
    customer = await services(request).customers.update_customer(customer_id, body)
    log.info("customer updated customer=%s agent=%s", customer.id, agent.id)
    return web.json_response({"customer": customer_view(customer)})


async def delete_customer(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    customer_id = path_id(request, "customer_id", "customer")
    force = bool_query(request, "force")
    service = services(request).chats

    async def close(conversation_id: str) -> None:
        await service.force_close(conversation_id, "customer_deleted")

    await services(request).customers.delete_customer(customer_id, close_active=close if force else None)
    log.info("customer deleted with everything held customer=%s agent=%s force=%s", customer_id, admin.id, force)
    return web.Response(status=204)


async def export_customer(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    customer_id = path_id(request, "customer_id", "customer")
    data = await services(request).customers.export_customer(customer_id)
    log.info("customer exported customer=%s agent=%s", customer_id, admin.id)
    return web.json_response(export_view(data), headers={
        "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"'})


async def customer_conversations(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    customer_id = path_id(request, "customer_id", "customer")
    records, total = await services(request).customers.list_conversations(
        agent, ConversationFilter(customer_id=customer_id), int_query(request, "limit", 50, 1, 500),
        int_query(request, "offset", 0, 0, MAX_OFFSET))
    return web.json_response({"conversations": [record_view(r) for r in records], "total": total})


_ONE = json_answer(CustomerAnswer, "Customer")
_CONVERSATIONS = json_answer(Conversations, "Conversations, newest first, and how many match in all")
CUSTOMER_ROUTES = [
    Route("GET", "/api/customers", list_customers, operation_id="listCustomers",
          summary="Search the contact directory by name, email, phone, order number or external id",
          query=(Query("q", str), *paging(200)),
          answers=(json_answer(Customers, "Customers, most recently seen first"),),
          errors=(400, 401)),
    Route("POST", "/api/customers", create_customer, operation_id="createCustomer",
          summary="Add a customer record (external_id: admins only)", body=NewCustomer,
          answers=(json_answer(CustomerAnswer, "Customer", 201),), errors=(400, 401, 403, 409)),
    Route("GET", "/api/customers/{customer_id}", get_customer, operation_id="getCustomer",
          summary="A customer record", answers=(_ONE,), errors=(401, 404)),
    Route("PATCH", "/api/customers/{customer_id}", update_customer, operation_id="updateCustomer",
          summary="Change a customer record (external_id: admins only)", body=CustomerFields, answers=(_ONE,),
          errors=(400, 401, 403, 404, 409)),
    Route("DELETE", "/api/customers/{customer_id}", delete_customer, operation_id="deleteCustomer",
          summary="Delete a customer and everything held about it, messages included (admins)",
          description="A customer with a queued or assigned chat is 409 conflict, unless force=true: then those "
                      "chats are closed first (both sides are told).",
          query=(Query("force", Literal["true", "false"]),), answers=(empty_answer("Deleted"),),
          errors=(400, 401, 403, 404, 409)),
    Route("GET", "/api/customers/{customer_id}/conversations", customer_conversations,
          operation_id="customerConversations",
          summary="A customer's conversations (agents: of customers they served)", query=paging(500),
          answers=(_CONVERSATIONS,), errors=(400, 401, 403, 404)),
    Route("GET", "/api/customers/{customer_id}/export", export_customer, operation_id="exportCustomer",
          summary="Everything held about a customer, as JSON (admins)",
          answers=(json_answer(CustomerExport, "Export"),),
          errors=(401, 403, 404)),
]
