"""REST routes of agents' avatars (domain/avatars.py): the calling agent sets, reads or clears
their own picture; anyone fetches an avatar by its public URL, as this server encoded it."""

from __future__ import annotations

import logging
from typing import Annotated

import msgspec
from aiohttp import web

from ..domain.avatars import MAX_AVATAR_BYTES
from ..domain.models import ConversationStatus
from ..wire.shapes import AvatarAnswer
from ..wire.views import avatar_url
from ._records import path_id
from .common import current_agent, json_body
from .route import Answer, Auth, Route, empty_answer, json_answer
from .services import services

log = logging.getLogger("chatserver.http")

# What an avatar's answer says beside its bytes: cached for good (a new avatar has a new URL),
# never sniffed or rendered as anything but the image it is, usable by the shops' pages.
AVATAR_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Content-Disposition": "inline",
}


class AvatarBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    image: Annotated[bytes, msgspec.Meta(
        min_length=1, max_length=MAX_AVATAR_BYTES,
        description="the picture (PNG, JPEG, GIF or WebP), base64; re-encoded, cropped square and scaled to "
                    "128 px by the server, metadata left behind")]


async def _tell_shoppers(request: web.Request, agent_id: str) -> None:
    """The shoppers the agent is chatting with get their conversation again (conversation:updated),
    with the agent's new avatar_url."""
    held = await services(request).conversations.conversations_with_status([ConversationStatus.ASSIGNED], agent_id)
    for conversation in held:
        await services(request).notifier.conversation_changed(conversation, None)


async def my_avatar(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    avatar_id = await services(request).avatars.avatar_id(agent.id)
    return web.json_response({"avatar_url": avatar_url(avatar_id)})


async def set_my_avatar(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, AvatarBody)
    avatar_id = await services(request).avatars.do_set_avatar(agent.id, body.image)
    log.info("agent avatar set agent=%s", agent.id)
    await _tell_shoppers(request, agent.id)
    return web.json_response({"avatar_url": avatar_url(avatar_id)})


async def clear_my_avatar(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await services(request).avatars.do_clear_avatar(agent.id)
    log.info("agent avatar cleared agent=%s", agent.id)
    await _tell_shoppers(request, agent.id)
    return web.Response(status=204)


async def avatar_image(request: web.Request) -> web.Response:
    avatar = await services(request).avatars.image(path_id(request, "avatar_id", "avatar"))
    return web.Response(body=avatar.data, content_type=avatar.content_type, headers=AVATAR_HEADERS)


AVATAR_ROUTES = [
    Route("GET", "/api/me/avatar", my_avatar, operation_id="myAvatar",
          summary="The calling agent's avatar: where shoppers' widgets load it (null without one: initials)",
          answers=(json_answer(AvatarAnswer, "Avatar"),), errors=(401,)),
    Route("PUT", "/api/me/avatar", set_my_avatar, operation_id="setMyAvatar",
          summary="Set the calling agent's avatar from a PNG, JPEG, GIF or WebP picture (decided on its bytes). It is "
                  "decoded and encoded again (metadata left behind), cropped square and scaled to 128 px; SVG, HTML "
                  "and anything else is file_type_not_allowed, over 512 KiB or 16 MP file_too_large, and nothing "
                  "changes. The answer's URL is new; the shoppers the agent is chatting with get conversation:updated "
                  "with it",
          body=AvatarBody, answers=(json_answer(AvatarAnswer, "Set"),), errors=(400, 401, 413, 415)),
    Route("DELETE", "/api/me/avatar", clear_my_avatar, operation_id="clearMyAvatar",
          summary="Remove the calling agent's avatar (shoppers see their initials; those the agent is chatting "
                  "with get conversation:updated)",
          answers=(empty_answer("Removed"),), errors=(401,)),
    Route("GET", "/avatars/{avatar_id}", avatar_image, operation_id="avatarImage", auth=Auth.NONE,
          summary="An agent's avatar, as the server encoded it (PNG or JPEG, 128 px square); cached for good, since "
                  "a changed avatar has a new URL. Served with nosniff and a CSP that allows nothing",
          answers=(Answer(200, "The picture", {"image/png": bytes, "image/jpeg": bytes}),), errors=(404,)),
]
