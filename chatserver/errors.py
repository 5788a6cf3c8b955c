"""The error hierarchy. Each error has a stable ``code`` clients can switch on (see docs/protocol.md)."""

from __future__ import annotations

from typing import Any


class ChatError(Exception):
    """Base of every error reported to a client as ``{"error": {"code", "message"}}``."""

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class InvalidPayload(ChatError):
    code = "invalid_payload"
    http_status = 400


class UnknownEvent(ChatError):
    code = "unknown_event"
    http_status = 400


class MessageTooLong(ChatError):
    code = "message_too_long"
    http_status = 413


class RateLimited(ChatError):
    code = "rate_limited"
    http_status = 429


class AuthRequired(ChatError):
    code = "auth_required"
    http_status = 401


class InvalidToken(ChatError):
    code = "invalid_token"
    http_status = 401


class TokenExpired(ChatError):
    code = "token_expired"
    http_status = 401


class InvalidCredentials(ChatError):
    code = "invalid_credentials"
    http_status = 401


class AccountLocked(ChatError):
    """Too many wrong passwords for one account: its logins are refused for a while."""

    code = "account_locked"
    http_status = 429


class Forbidden(ChatError):
    code = "forbidden"
    http_status = 403


class NotFound(ChatError):
    """Also used for conversations that exist but are not the caller's, so ids cannot be probed."""

    code = "not_found"
    http_status = 404


class ConversationClosed(ChatError):
    code = "conversation_closed"
    http_status = 409


class ConversationNotClosed(ChatError):
    code = "conversation_not_closed"
    http_status = 409


class AlreadyTaken(ChatError):
    code = "already_taken"
    http_status = 409


class AtCapacity(ChatError):
    code = "at_capacity"
    http_status = 409


class Conflict(ChatError):
    code = "conflict"
    http_status = 409


class Unavailable(ChatError):
    """A backing service (Redis) cannot be reached right now; nothing was changed."""

    code = "unavailable"
    http_status = 503


class Busy(ChatError):
    """The server takes no more of this kind of request at the moment (``details.retry_after``
    seconds, also the HTTP ``Retry-After``): try again then."""

    code = "busy"
    http_status = 503


class EmailNotConfigured(ChatError):
    """The server sends no mail (no ``smtp_host``): what would be emailed is refused, not queued."""

    code = "email_not_configured"
    http_status = 503


class PayloadTooLarge(ChatError):
    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(ChatError):
    """A REST body that is not declared ``application/json`` (what a cross-site form or a
    ``text/plain`` request sends without a CORS preflight)."""

    code = "unsupported_media_type"
    http_status = 415


class FileTooLarge(ChatError):
    """An attachment over ``attachment_max_bytes`` (``details.limit``), or an image over the pixel
    cap (a decompression bomb): nothing was stored."""

    code = "file_too_large"
    http_status = 413


class FileTypeNotAllowed(ChatError):
    """An attachment whose content is not of an allowed type (decided on the bytes, never on the
    name or the client's ``Content-Type``): nothing was stored."""

    code = "file_type_not_allowed"
    http_status = 415


class CobrowseStateError(ChatError):
    """The co-browse session is not in a state that allows this (``details`` say which it is in)."""

    code = "cobrowse_state"
    http_status = 409


class ControlNotGranted(ChatError):
    """The agent acted on the shopper's page without the shopper's consent to remote control."""

    code = "control_not_granted"
    http_status = 403


class InvalidIdentity(ChatError):
    """A shop's signed customer identity that is forged, malformed, or not accepted here."""

    code = "invalid_identity"
    http_status = 401


class IdentityExpired(ChatError):
    """A genuine signed identity past its lifetime: the shop should sign a fresh one."""

    code = "identity_expired"
    http_status = 401


class StartupError(Exception):
    """A command cannot start with what it was given. Not a client's error: ``cli.main`` prints it
    as one line, ``chatserver: error: <message>``, on stderr, never a traceback, and exits with
    ``exit_status``: 2 for a value refused before anything was tried (a setting, a URL), 1 for
    what the machine or a service refused (the port, the data directory, the database, Redis).
    The message says what and where; never a secret."""

    def __init__(self, message: str, *, exit_status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_status = exit_status


ALL_ERRORS: tuple[type[ChatError], ...] = (
    ChatError,
    InvalidPayload,
    UnknownEvent,
    MessageTooLong,
    RateLimited,
    AuthRequired,
    InvalidToken,
    TokenExpired,
    InvalidCredentials,
    AccountLocked,
    Forbidden,
    NotFound,
    ConversationClosed,
    ConversationNotClosed,
    AlreadyTaken,
    AtCapacity,
    Conflict,
    Unavailable,
    Busy,
    PayloadTooLarge,
    UnsupportedMediaType,
    FileTooLarge,
    FileTypeNotAllowed,
    CobrowseStateError,
    ControlNotGranted,
    InvalidIdentity,
    IdentityExpired,
)
