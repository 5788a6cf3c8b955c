"""Settings: one dataclass, read from CLI flags and ``CHATSERVER_*`` environment variables.

Every field is documented in ``docs/configuration.md``; the defaults are safe for one machine.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .domain.file_checks import ALL_KINDS
from .domain.hours import parse_opening_hours
from .domain.i18n import load_languages
from .domain.knowledge import parse_page_topics
from .domain.passwords import PASSWORD_HASH_COSTS
from .files import PRIVATE_FILE, make_private_dir
from .logs import LOG_FORMATS, LOG_LEVELS
from .transport.addresses import parse_networks
from .transport.origins import NULL_ORIGIN

ENV_PREFIX = "CHATSERVER_"
# Redis's own bound on its ``databases`` setting (a server has 16 by default: an index it does not
# have is refused when the server starts, storage/redis_backend.py).
MAX_REDIS_DATABASE = 2**31 - 1
# A bearer token anyone may try against the public port: long enough not to be guessed.
METRICS_TOKEN_MIN = 16
# The built-in translations, one JSON file per language in each (docs/widget.md, "Languages").
_ROOT = Path(__file__).resolve().parents[1]
BUILTIN_LOCALES = {
    "widget": _ROOT / "client" / "locales",
    "console": _ROOT / "agent_console" / "locales",
    "server": Path(__file__).resolve().parent / "locales",
}
# An upload is held in memory while its content is checked (images are decoded): 100 MiB at most.
MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    # SQLite file; defaults to ``<data_dir>/chatserver.db``.
    db: Path | None = None
    # ``postgresql://user:password@host:port/db`` keeps everything durable in PostgreSQL (several
    # hosts share it) instead of the SQLite file; its pool holds this many connections per process.
    database_url: str | None = None
    database_pool_min: int = 2
    database_pool_max: int = 10
    # ``None`` selects the embedded in-memory broker; ``redis://...`` the Redis backend.
    redis_url: str | None = None
    # Seconds ``serve`` waits at start for Redis and PostgreSQL to answer, trying again now and
    # then (0: not at all, an unreachable one stops the start at once).
    start_timeout: float = 60.0
    # Whether ``serve`` applies pending schema migrations at start; when false it refuses to start
    # while any is pending (``chatserver migrate`` applies them: docs/operations.md, upgrades).
    migrate_on_start: bool = True
    # Signs agent and visitor tokens; generated into ``<data_dir>/secret.key`` when not given.
    secret_key: str | None = None
    agent_token_ttl: float = 12 * 3600.0
    visitor_token_ttl: float = 30 * 86400.0
    default_capacity: int = 3
    grace_period: float = 60.0
    max_message_chars: int = 4000
    # Per-connection token bucket for chat messages: sustained rate and burst.
    message_rate: float = 5.0
    message_burst: int = 20
    # Per-connection token bucket for every other event.
    event_rate: float = 20.0
    event_burst: int = 60
    # New visitor sessions per client IP per minute.
    visitor_sessions_per_minute: int = 60
    login_attempts_per_minute: int = 10
    # This many wrong passwords in a row from one client address lock that address out of the
    # account for login_lockout_seconds; login_lockout_global_failures in a row from any addresses
    # lock the account for everyone for login_lockout_global_seconds (domain/lockout.py).
    login_lockout_failures: int = 5
    login_lockout_seconds: float = 300.0
    login_lockout_global_failures: int = 20
    login_lockout_global_seconds: float = 60.0
    # Argon2id cost of agents' password hashes (auth.PASSWORD_HASH_COSTS): "full", or "minimal"
    # for tests only. Hashes made at either cost verify whatever this says.
    password_hash_cost: str = "full"
    # Origins allowed to open Socket.IO connections (besides the server's own); "*" allows any.
    allowed_origins: tuple[str, ...] = ()
    # The server's own public URLs (scheme://host[:port], as browsers reach it, e.g. behind a
    # proxy https://chat.shop.example): pages of these origins are the server's own.
    public_urls: tuple[str, ...] = ()
    # Addresses or CIDR networks of the proxies in front of the server (nginx, a load balancer):
    # only their Forwarded / X-Forwarded-For headers are believed (transport/addresses.py).
    trusted_proxies: tuple[str, ...] = ()
    max_http_buffer_size: int = 1_000_000
    # A connection that leaves more than this many bytes of the server's output unread is cut
    # (docs/protocol.md, "Clients that do not read"); it must hold a late joiner's co-browse replay.
    max_unsent_bytes: int = 40 * 1024 * 1024
    # Binary attachments one Socket.IO packet may declare (a co-browse batch carries one); their
    # bytes together are limited to max_http_buffer_size.
    max_binary_attachments: int = 1
    # Engine.IO heartbeat: the server pings every ping_interval seconds and a client that has not
    # answered within ping_timeout is gone (clients are told both, in milliseconds).
    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    # The HTTP server's edge (docs/operations.md): seconds a connection has to send a whole
    # request head, counted from when it opens or from the end of its previous response (an idle
    # keep-alive connection is closed after as long); how many connections one client address
    # (an IPv6 client's /64) may hold open, trusted proxies not counted (0: no limit); and how
    # long a stop waits for requests still being handled before cutting them.
    header_timeout: float = 15.0
    max_connections_per_address: int = 128
    shutdown_timeout: float = 5.0
    # A stop drains first (docs/operations.md): /readyz answers 503 and new Engine.IO sessions
    # are refused (503) for this many seconds while open connections keep working; then every
    # transport is closed and clients reconnect by themselves elsewhere. 5 s: a load balancer
    # that polls /readyz every 2 s sees two failures (nginx as documented needs none: it passes
    # refused handshakes on), and a stop still ends well within systemd's or Kubernetes' wait.
    drain_period: float = 5.0
    # This process's name in the Engine.IO session ids it issues ("a" -> "a-..."): a load
    # balancer routes every request of a long-polling session by it (docs/operations.md).
    # Letters and digits, up to 16; empty: no prefix.
    route_name: str = ""
    # Queue position updates to waiting visitors are coalesced to at most one per interval.
    queue_update_interval: float = 0.25
    # Departments chats can be routed to (agents belong to any of them).
    departments: tuple[str, ...] = ()
    # Chats from pages matching these fnmatch patterns are served first (as are chats whose page
    # passes checkout=true).
    checkout_url_patterns: tuple[str, ...] = ("*/checkout*", "*/payment*")
    # Seconds a department's chat waits before any agent may take it.
    department_fallback_after: float = 120.0
    # Customer records (docs/customers.md): the secret shops sign visitors' identities with (None:
    # identification is off), and how old a signed identity may be.
    identity_secret: str | None = None
    identity_max_age: float = 3600.0
    # Closed conversations older than this many days are deleted (0 keeps them), checked every
    # retention_interval seconds.
    transcript_retention_days: float = 0.0
    retention_interval: float = 3600.0
    # A queued or assigned chat without a message for this many seconds is closed (by the
    # system, checked every retention_interval), so retention can delete it in time; 0 never.
    abandoned_chat_after: float = 86400.0
    # Redis backend: key prefix, and seconds after which a silent process counts as dead.
    redis_prefix: str = "cs:"
    presence_ttl: float = 15.0
    # How often to sweep dead processes' connections and route chats past the fallback wait.
    sweep_interval: float = 2.0
    log_level: str = "INFO"
    # "text": one line per event with key=value fields; "json": one JSON object per line
    # (docs/operations.md, "Logs"), each naming the instance that wrote it (default: host:pid).
    log_format: str = "text"
    instance_id: str | None = None
    # One line per HTTP request (method, route, status, duration, client address); Socket.IO's
    # long-polling requests at DEBUG.
    access_log: bool = True
    # Prometheus metrics (docs/operations.md, "Metrics"): GET /metrics on a listener of its own at
    # metrics_host:metrics_port (none while metrics_port is unset), and on the main port for a
    # request with "Authorization: Bearer <metrics_token>" (404 there while it is unset).
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    metrics_token: str | None = None
    # Where the first admin's generated credentials are written (never logged).
    first_admin_email: str = "admin@example.com"
    # Offline service (docs/offline.md): when live chat is open, and the offline form.
    # "mon-fri 09:00-17:00; sat 10:00-14:00" in business_timezone; empty means always open.
    business_hours: str = ""
    business_timezone: str = "UTC"
    ticket_order_number_required: bool = False
    # Tickets and transcript emails a visitor may ask for per hour.
    offline_requests_per_hour: int = 10
    # A chat's transcript is emailed at most this many times, and one address gets at most
    # transcript_emails_per_address_per_day transcripts in 24 hours, whoever asks (docs/offline.md).
    transcript_emails_per_conversation: int = 2
    transcript_emails_per_address_per_day: int = 5
    # Outgoing mail (ticket answers, transcripts). Without smtp_host mail waits in the outbox.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    # "starttls" (upgrade a plain connection), "tls" (TLS from the start, port 465) or "none".
    smtp_security: str = "starttls"
    smtp_from: str = "chat@localhost"
    smtp_timeout: float = 30.0
    # Outbox of mail and webhooks: retries back off exponentially from outbox_retry_base seconds,
    # up to outbox_retry_max, and give up after outbox_max_attempts attempts.
    outbox_poll_interval: float = 5.0
    outbox_retry_base: float = 10.0
    outbox_retry_max: float = 3600.0
    outbox_max_attempts: int = 12
    # Sent and failed outbox items (which keep no contents) are deleted after this many days.
    outbox_keep_days: float = 30.0
    webhook_timeout: float = 10.0
    # Co-browsing (docs/cobrowse.md). Requests to see the page, or to control it, that the
    # shopper has not answered within cobrowse_request_timeout seconds count as declined.
    cobrowse_request_timeout: float = 60.0
    # Whether sharing continues on the shopper's next page without asking again.
    cobrowse_resume_across_pages: bool = True
    # A session whose shopper has had no connection for this many seconds ends.
    cobrowse_visitor_away_timeout: float = 120.0
    # Limits per session: the size of one part of a batch (a larger batch is split), of one
    # full snapshot, and of what is kept for late joiners (the snapshot and the batches after it:
    # past this the page is asked for a fresh snapshot, past twice this the session pauses).
    cobrowse_max_part_bytes: int = 256 * 1024
    cobrowse_max_snapshot_bytes: int = 8 * 1024 * 1024
    cobrowse_max_buffer_bytes: int = 16 * 1024 * 1024
    # Sustained bytes and batches per second a session may send, and the bursts (a snapshot
    # arrives at once); a session over them is paused with reason rate_limited.
    cobrowse_bytes_per_second: float = 512 * 1024
    cobrowse_burst_bytes: int = 12 * 1024 * 1024
    cobrowse_batches_per_second: float = 40.0
    cobrowse_batch_burst: int = 400
    # Pointer moves an agent may send per second (and twice that as a burst).
    cobrowse_pointer_rate: float = 30.0
    # Knowledge base (docs/knowledge-base.md): the longest article body (Markdown characters);
    # PATTERN=TOPIC rules giving the widget's suggestions for a page (fnmatch on its address or
    # title; a topic is a category slug or a tag); days logged searches and help-step outcomes
    # are kept (0 keeps them); logged searches and outcomes per client address per minute.
    kb_max_body_chars: int = 20_000
    kb_page_topics: tuple[str, ...] = ("*/payment*=payment", "*/checkout*=payment", "*/shipping*=shipping")
    kb_search_retention_days: float = 90.0
    kb_events_per_minute: int = 120
    # Files in conversations (docs/protocol.md, "Files"): the largest upload in bytes (10 MiB), the
    # types accepted (decided on the content: png, jpeg, gif, webp, pdf, text), how many seconds a
    # signed link to a file holds, and uploads per minute per visitor or agent (per process).
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_types: tuple[str, ...] = ("png", "jpeg", "gif", "webp", "pdf", "text")
    attachment_link_ttl: float = 300.0
    attachment_uploads_per_minute: int = 10
    # Uploads received at once by one process (each a temporary file of up to attachment_max_bytes
    # under <data_dir>/uploads); one more is refused with 503 busy and Retry-After.
    attachment_uploads_in_flight: int = 16
    # Languages (docs/widget.md, "Languages"): the language of a shopper whose page and browser
    # name none the widget has; and a directory of a shop's own translations, merged over the
    # built-in ones (widget/<language>.json, console/..., server/...), checked at start.
    default_locale: str = "en"
    locale_dir: Path | None = None

    @property
    def sends_mail(self) -> bool:
        """Whether the server sends email: without smtp_host it would only wait in the outbox."""
        return bool(self.smtp_host)

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.data_dir / "chatserver.db"

    def with_secret(self) -> Settings:
        """Return settings whose secret key is set, generating and keeping one in the data dir."""
        if self.secret_key:
            return self
        make_private_dir(self.data_dir)
        key_file = self.data_dir / "secret.key"
        if key_file.exists():
            key = key_file.read_text().strip()
        else:
            key = secrets.token_urlsafe(48)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            with os.fdopen(fd, "w") as fh:
                fh.write(key + "\n")
        return dataclasses.replace(self, secret_key=key)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _coerce(name: str, raw: Any) -> Any:
    default = _FIELDS[name].default
    annotation = str(_FIELDS[name].type)
    if raw is None:
        return None
    if "Path" in annotation:
        return Path(raw)
    if annotation == "int | None":
        return int(raw)
    if annotation.startswith("tuple"):
        if isinstance(raw, (list, tuple)):
            return tuple(str(x) for x in raw)
        return tuple(part.strip() for part in str(raw).split(",") if part.strip())
    if isinstance(default, bool):
        return str(raw).lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return str(raw)


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings: defaults, then ``CHATSERVER_*`` variables, then explicit overrides (CLI flags).

    Raises ``ValueError`` naming the variable when a value cannot be parsed.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in _FIELDS:
        raw = environ.get(env_name(name))
        if raw is not None and raw != "":
            try:
                values[name] = _coerce(name, raw)
            except ValueError as exc:
                raise ValueError(f"{env_name(name)}: {exc}") from exc
    for name, raw in (overrides or {}).items():
        if name not in _FIELDS:
            raise ValueError(f"unknown setting {name!r}")
        if raw is not None:
            values[name] = _coerce(name, raw)
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if not 0 <= settings.port <= 65535:
        raise ValueError("port must be between 0 and 65535")
    if settings.metrics_port is not None and not 0 <= settings.metrics_port <= 65535:
        raise ValueError("metrics_port must be between 0 and 65535")
    if settings.metrics_token is not None and len(settings.metrics_token) < METRICS_TOKEN_MIN:
        raise ValueError(f"metrics_token must be at least {METRICS_TOKEN_MIN} characters")
    if settings.default_capacity < 1:
        raise ValueError("default_capacity must be at least 1")
    if settings.grace_period < 0:
        raise ValueError("grace_period must not be negative")
    if settings.presence_ttl <= 0 or settings.sweep_interval <= 0:
        raise ValueError("presence_ttl and sweep_interval must be positive")
    if settings.identity_max_age <= 0 or settings.retention_interval <= 0 or settings.transcript_retention_days < 0:
        raise ValueError("identity_max_age and retention_interval must be positive, transcript_retention_days "
                         "not negative")
    if settings.abandoned_chat_after < 0:
        raise ValueError("abandoned_chat_after must not be negative (0 turns it off)")
    if settings.login_lockout_failures < 1 or settings.login_lockout_seconds < 0:
        raise ValueError("login_lockout_failures must be at least 1 and login_lockout_seconds not negative")
    if settings.login_lockout_global_failures < settings.login_lockout_failures \
            or settings.login_lockout_global_seconds < 0:
        raise ValueError("login_lockout_global_failures must be at least login_lockout_failures and "
                         "login_lockout_global_seconds not negative")
    if settings.password_hash_cost not in PASSWORD_HASH_COSTS:
        raise ValueError(f"password_hash_cost must be one of {', '.join(PASSWORD_HASH_COSTS)}")
    if settings.redis_url is not None:
        _check_redis_url(settings.redis_url)
    if settings.log_level.upper() not in LOG_LEVELS:
        raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
    if settings.log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}")
    if settings.database_url is not None and not settings.database_url.startswith(("postgresql://", "postgres://")):
        raise ValueError("database_url must start with postgresql://")
    if settings.start_timeout < 0:
        raise ValueError("start_timeout must not be negative (0: do not wait)")
    if not 1 <= settings.database_pool_min <= settings.database_pool_max:
        raise ValueError("database_pool_min must be at least 1 and at most database_pool_max")
    parse_opening_hours(settings.business_hours, settings.business_timezone)
    if settings.smtp_security not in ("starttls", "tls", "none"):
        raise ValueError("smtp_security must be starttls, tls or none")
    if min(settings.outbox_poll_interval, settings.outbox_retry_base, settings.outbox_retry_max,
           settings.webhook_timeout, settings.smtp_timeout, settings.outbox_keep_days) <= 0 \
            or settings.outbox_max_attempts < 1:
        raise ValueError("outbox and timeout settings must be positive")
    if settings.offline_requests_per_hour < 1:
        raise ValueError("offline_requests_per_hour must be at least 1")
    if settings.transcript_emails_per_conversation < 1 or settings.transcript_emails_per_address_per_day < 1:
        raise ValueError("transcript_emails_per_conversation and transcript_emails_per_address_per_day must be at "
                         "least 1")
    if min(settings.cobrowse_request_timeout, settings.cobrowse_visitor_away_timeout, settings.cobrowse_max_part_bytes,
           settings.cobrowse_max_snapshot_bytes, settings.cobrowse_max_buffer_bytes, settings.cobrowse_bytes_per_second,
           settings.cobrowse_burst_bytes, settings.cobrowse_batches_per_second, settings.cobrowse_batch_burst,
           settings.cobrowse_pointer_rate) <= 0:
        raise ValueError("co-browse timeouts and limits must be positive")
    if not 1 <= settings.max_binary_attachments <= 1000:
        raise ValueError("max_binary_attachments must be 1-1000")
    if settings.ping_interval <= 0 or settings.ping_timeout <= 0:
        raise ValueError("ping_interval and ping_timeout must be positive")
    if settings.header_timeout <= 0 or settings.shutdown_timeout < 0 or settings.max_connections_per_address < 0:
        raise ValueError("header_timeout must be positive, shutdown_timeout and max_connections_per_address not "
                         "negative")
    if not 0 <= settings.drain_period <= 3600:
        raise ValueError("drain_period must be 0-3600 seconds")
    if not re.fullmatch(r"[A-Za-z0-9]{0,16}", settings.route_name):
        raise ValueError("route_name must be up to 16 letters and digits")
    if settings.cobrowse_max_part_bytes + 4096 > settings.max_http_buffer_size:
        raise ValueError("cobrowse_max_part_bytes must leave room under max_http_buffer_size")
    if settings.max_unsent_bytes < 2 * settings.cobrowse_max_buffer_bytes + settings.max_http_buffer_size:
        # A late-joining agent's replay (up to twice cobrowse_max_buffer_bytes, and the part that
        # pushed it there) is written at once.
        raise ValueError("max_unsent_bytes must be at least 2 * cobrowse_max_buffer_bytes + max_http_buffer_size")
    if not 1 <= settings.kb_max_body_chars <= 50_000 or settings.kb_events_per_minute < 1 \
            or settings.kb_search_retention_days < 0:
        raise ValueError("kb_max_body_chars must be 1-50000, kb_events_per_minute at least 1 and "
                         "kb_search_retention_days not negative")
    parse_page_topics(settings.kb_page_topics)
    if not 1 <= settings.attachment_max_bytes <= MAX_ATTACHMENT_BYTES:
        raise ValueError(f"attachment_max_bytes must be 1-{MAX_ATTACHMENT_BYTES}")
    if not set(settings.attachment_types) <= ALL_KINDS:
        raise ValueError(f"attachment_types must be some of {', '.join(sorted(ALL_KINDS))}")
    if not 10 <= settings.attachment_link_ttl <= 86400 or settings.attachment_uploads_per_minute < 1:
        raise ValueError("attachment_link_ttl must be 10-86400 seconds and attachment_uploads_per_minute at least 1")
    if not 1 <= settings.attachment_uploads_in_flight <= 10_000:
        raise ValueError("attachment_uploads_in_flight must be 1-10000")
    load_languages(BUILTIN_LOCALES, settings.locale_dir, settings.default_locale)
    parse_networks(settings.trusted_proxies)
    if NULL_ORIGIN in settings.allowed_origins:
        raise ValueError("allowed_origins: null is the origin every sandboxed page and file shares; it cannot be "
                         "allowed")
    for url in settings.public_urls:
        if not re.fullmatch(r"https?://[^/?#\s]+", url):
            raise ValueError(f"public_urls: {url!r} is not scheme://host[:port]")
    # An origin goes into the console's Content-Security-Policy as it is (http/static.py).
    for origin in settings.allowed_origins:
        if origin != "*" and not re.fullmatch(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?", origin):
            raise ValueError(f"allowed_origins: {origin!r} is not * or scheme://host[:port]")


def _check_redis_url(url: str) -> None:
    """What redis-py would refuse only once the server starts (or take for something else): the
    scheme, the port, the database index. The messages never quote the URL (it may hold a
    password)."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("redis_url must start with redis://, rediss:// or unix://")
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = 0
    host_and_port = parts.netloc.rpartition("@")[2]
    after_host = host_and_port.partition("]")[2] if host_and_port.startswith("[") else host_and_port
    if port == 0 or (port is None and ":" in after_host):  # out of range, not a number, or empty
        raise ValueError("redis_url: the port must be a number from 1 to 65535")
    databases = urllib.parse.parse_qs(parts.query).get("db", [])
    if not databases and not url.startswith("unix://"):
        databases = [urllib.parse.unquote(parts.path).strip("/")] if parts.path.strip("/") else []
    for db in databases:
        if not db.isascii() or not db.isdigit() or int(db) > MAX_REDIS_DATABASE:
            raise ValueError(f"redis_url: the database index must be a number from 0 to {MAX_REDIS_DATABASE}")


def settings_fields() -> dict[str, dataclasses.Field[Any]]:
    return dict(_FIELDS)


# Never shown (GET /api/settings says only whether each is set). A setting whose name ends in one
# of SECRET_SUFFIXES must be listed here (a test checks it); the Redis URL may carry a password.
SECRET_SETTINGS = frozenset({"secret_key", "identity_secret", "smtp_password", "smtp_user", "redis_url",
                             "database_url", "metrics_token"})
SECRET_SUFFIXES = ("_secret", "_password", "_key", "_url", "_user", "_token")


def _shown(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def public_settings(settings: Settings) -> dict[str, Any]:
    """What admins may read of the settings: every value but the secrets', which only say whether
    they are set."""
    return {
        "email_configured": settings.sends_mail,
        "settings": [{"name": name, "env": env_name(name), "value": _shown(getattr(settings, name))}
                     for name in _FIELDS if name not in SECRET_SETTINGS],
        "secrets": [{"name": name, "env": env_name(name), "configured": bool(getattr(settings, name))}
                    for name in _FIELDS if name in SECRET_SETTINGS],
    }


__all__ = ["ENV_PREFIX", "SECRET_SETTINGS", "Settings", "env_name", "load_settings", "public_settings",
           "settings_fields"]
