"""Settings from `SUPPORT_API_*` environment variables, with embedded defaults.

Importing this module must stay cheap and side-effect free: the server entry point reads
the async mode from it *before* monkey-patching, so it imports nothing but the stdlib.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ASYNC_MODES = ("eventlet", "gevent", "threading")


class ConfigError(ValueError):
    """A setting has a value the server cannot run with."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class RoutingSettings:
    """Operators and the queue (docs/operators.md)."""

    auto_assign: bool
    operator_capacity: int
    away_grace_seconds: int
    # An active chat whose last message is staff's or the system's and older than this closes
    # itself (0: never); the sweep runs every `auto_close_interval_seconds` (services/auto_close.py).
    auto_close_seconds: int
    auto_close_interval_seconds: int
    business_hours: dict[str, tuple[Any, ...]]  # department → lib.business_hours.Window
    # A long queue's `queue:updated` is published at most once per this many ms
    # (services/queue_fanout.py); 0 publishes at every move.
    queue_publish_interval_ms: int = 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RoutingSettings:
        from support_api.lib import business_hours  # stdlib only, like this module

        try:
            hours = business_hours.parse(env.get("SUPPORT_API_BUSINESS_HOURS") or "")
        except business_hours.HoursError as exc:
            raise ConfigError(f"SUPPORT_API_BUSINESS_HOURS: {exc}") from exc
        return cls(
            auto_assign=_bool(env, "SUPPORT_API_AUTO_ASSIGN", True),
            operator_capacity=_int(env, "SUPPORT_API_OPERATOR_CAPACITY", 5, minimum=1),
            away_grace_seconds=_int(env, "SUPPORT_API_OPERATOR_AWAY_GRACE_SECONDS", 60, minimum=0),
            auto_close_seconds=_int(env, "SUPPORT_API_AUTO_CLOSE_SECONDS", 3600, minimum=0),
            auto_close_interval_seconds=_int(env, "SUPPORT_API_AUTO_CLOSE_INTERVAL_SECONDS", 30, minimum=1),
            business_hours=hours,
            queue_publish_interval_ms=_int(env, "SUPPORT_API_QUEUE_PUBLISH_INTERVAL_MS", 1000, minimum=0),
        )


PUSH_BACKENDS = ("log", "fcm")
PUSH_PREVIEWS = ("none", "truncated")


@dataclass(frozen=True)
class PushSettings:
    """Push notifications (docs/push.md): which backend sends, and when."""

    backend: str
    fcm_credentials: Path | None
    fcm_project_id: str | None
    fcm_endpoint: str | None
    delay_seconds: int
    preview: str
    embedded: bool
    give_up_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PushSettings:
        backend = env.get("SUPPORT_API_PUSH_BACKEND") or "log"
        if backend not in PUSH_BACKENDS:
            raise ConfigError(f"SUPPORT_API_PUSH_BACKEND must be one of {', '.join(PUSH_BACKENDS)}")
        credentials = env.get("SUPPORT_API_FCM_CREDENTIALS") or None
        if backend == "fcm" and not credentials:
            raise ConfigError("SUPPORT_API_FCM_CREDENTIALS (a service-account JSON file) is required with "
                              "SUPPORT_API_PUSH_BACKEND=fcm")
        preview = env.get("SUPPORT_API_PUSH_PREVIEW") or "none"
        if preview not in PUSH_PREVIEWS:
            raise ConfigError(f"SUPPORT_API_PUSH_PREVIEW must be one of {', '.join(PUSH_PREVIEWS)}")
        endpoint = (env.get("SUPPORT_API_FCM_ENDPOINT") or "").rstrip("/") or None
        if endpoint and not endpoint.startswith(("http://", "https://")):
            raise ConfigError("SUPPORT_API_FCM_ENDPOINT must be an http:// or https:// URL")
        delay = _int(env, "SUPPORT_API_PUSH_DELAY_SECONDS", 0, minimum=0)
        # An hour at most: a chat notification later than that is no longer news.
        if delay > 3600:
            raise ConfigError("SUPPORT_API_PUSH_DELAY_SECONDS must be <= 3600")
        return cls(
            backend=backend,
            fcm_credentials=Path(credentials).resolve() if credentials else None,
            fcm_project_id=env.get("SUPPORT_API_FCM_PROJECT_ID") or None,
            fcm_endpoint=endpoint,
            delay_seconds=delay,
            preview=preview,
            embedded=_bool(env, "SUPPORT_API_PUSH_EMBEDDED", True),
            # Minutes, not hours: "an operator replied" is worthless once the user has moved on.
            give_up_seconds=_int(env, "SUPPORT_API_PUSH_GIVE_UP_SECONDS", 300, minimum=10),
        )


SELF_SERVICE_DEFAULT = ("trading", "account", "funds", "system_error", "other")


@dataclass(frozen=True)
class SelfServiceSettings:
    """FAQ search and the bot's first answer (docs/self-service.md, issue 12)."""

    # Categories whose new chats get the bot's suggestions first; `security` is left out by
    # default: a user reporting a compromised account needs a person, not an article.
    categories: tuple[str, ...] = SELF_SERVICE_DEFAULT
    # The least BM25 score (lib/faq/index.py) an article needs for the bot to offer it.
    min_score: float = 4.0
    # Insert the starter articles on the first start of `serve` (once per database).
    seed: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SelfServiceSettings:
        raw = (env.get("SUPPORT_API_SELF_SERVICE_CATEGORIES") or "").strip()
        categories = SELF_SERVICE_DEFAULT if not raw else () if raw.lower() == "none" else _list(
            env, "SUPPORT_API_SELF_SERVICE_CATEGORIES")
        known = {"trading", "account", "funds", "system_error", "security", "other"}
        unknown = [c for c in categories if c not in known]
        if unknown:
            raise ConfigError(f"SUPPORT_API_SELF_SERVICE_CATEGORIES: unknown categories {', '.join(unknown)} "
                              "(comma-separated category codes, or none)")
        try:
            min_score = float(env.get("SUPPORT_API_FAQ_BOT_MIN_SCORE") or 4.0)
        except ValueError as exc:
            raise ConfigError("SUPPORT_API_FAQ_BOT_MIN_SCORE must be a number") from exc
        return cls(categories=categories, min_score=min_score, seed=_bool(env, "SUPPORT_API_FAQ_SEED", True))


@dataclass(frozen=True)
class SafetySettings:
    """Trust and safety (docs/safety.md): the links operators may send, the exchange's official
    channels (POST /v1/verify-contact), and the window in which consecutive messages of one
    sender are read together by the guard."""

    # Domains (and their subdomains) operators may link to; any other link is `off_platform`.
    link_allowlist: tuple[str, ...] = ()
    # Official channels: domains, @handles, e-mail addresses and phone numbers.
    official_channels: tuple[str, ...] = ()
    split_window_seconds: int = 120

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SafetySettings:
        official = tuple(value.strip().lower() for value in _list(env, "SUPPORT_API_OFFICIAL_CHANNELS"))
        domains = tuple(value.strip().lower().removeprefix("www.") for value in _list(env, "SUPPORT_API_LINK_ALLOWLIST"))
        # Official domains are always allowed links.
        official_domains = tuple(value for value in official if "." in value and "@" not in value
                                 and not value.replace("+", "").replace("-", "").isdigit())
        return cls(
            link_allowlist=tuple(dict.fromkeys(domains + official_domains)),
            official_channels=official,
            split_window_seconds=_int(env, "SUPPORT_API_GUARD_SPLIT_WINDOW_SECONDS", 120, minimum=0),
        )


@dataclass(frozen=True)
class ProtectionSettings:
    """Limits that keep one client from taking the server down (README "Limits and
    protection", docs/limits.md)."""

    event_rate: str = "100/10 seconds"
    flood_limit: str = "200/10 seconds"
    typing_coalesce_ms: int = 1000
    max_sockets_per_user: int = 10
    max_pending_per_ip: int = 50
    max_inflight_events: int = 128
    header_timeout: int = 10
    body_timeout: int = 30
    idle_timeout: int = 60
    cpu_workers: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProtectionSettings:
        d = cls()
        return cls(
            event_rate=env.get("SUPPORT_API_RATE_LIMIT_EVENTS") or d.event_rate,
            flood_limit=env.get("SUPPORT_API_SOCKET_FLOOD_LIMIT") or d.flood_limit,
            typing_coalesce_ms=_int(env, "SUPPORT_API_TYPING_COALESCE_MS", d.typing_coalesce_ms),
            max_sockets_per_user=_int(env, "SUPPORT_API_MAX_SOCKETS_PER_USER", d.max_sockets_per_user, minimum=1),
            max_pending_per_ip=_int(env, "SUPPORT_API_MAX_PENDING_PER_IP", d.max_pending_per_ip, minimum=1),
            max_inflight_events=_int(env, "SUPPORT_API_MAX_INFLIGHT_EVENTS", d.max_inflight_events, minimum=1),
            header_timeout=_int(env, "SUPPORT_API_HEADER_TIMEOUT", d.header_timeout, minimum=1),
            body_timeout=_int(env, "SUPPORT_API_BODY_TIMEOUT", d.body_timeout, minimum=1),
            idle_timeout=_int(env, "SUPPORT_API_IDLE_TIMEOUT", d.idle_timeout, minimum=1),
            cpu_workers=_int(env, "SUPPORT_API_CPU_WORKERS", d.cpu_workers, minimum=1),
        )


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment. See README "Settings"."""

    var_dir: Path
    database_url: str
    jwt_secret: str | None
    jwt_public_key: str | None
    jwt_issuer: str | None
    jwt_audience: str | None
    redis_url: str | None
    async_mode: str
    host: str
    port: int
    max_connections: int
    max_message_length: int
    max_request_bytes: int
    cors_origins: tuple[str, ...]
    auto_migrate: bool
    log_level: str
    storage_backend: str
    upload_dir: Path
    s3_bucket: str | None
    s3_prefix: str
    s3_endpoint_url: str | None
    s3_region: str | None
    upload_max_bytes: int
    upload_max_pixels: int
    upload_max_dimension: int
    thumbnail_size: int
    attachments_per_message: int
    attachment_url_ttl: int
    unclaimed_attachment_ttl: int
    signing_secret: str | None
    rate_limits_enabled: bool
    rate_limits: dict[str, str]
    proxy_count: int
    push: PushSettings
    routing: RoutingSettings
    # Production (docs/production.md): how long a stopping server may take to drain, and the
    # port of its Prometheus metrics (None: no metrics endpoint).
    shutdown_grace_seconds: int
    shutdown_delay_seconds: int
    metrics_port: int | None
    metrics_host: str
    self_service: SelfServiceSettings = SelfServiceSettings()
    safety: SafetySettings = field(default_factory=SafetySettings)
    protection: ProtectionSettings = field(default_factory=ProtectionSettings)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **kwargs: object) -> Settings:
        return replace(self, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("SUPPORT_API_VAR_DIR") or "var").resolve()
        database_url = env.get("SUPPORT_API_DATABASE_URL") or f"sqlite:///{var_dir / 'support_api.db'}"
        async_mode = env.get("SUPPORT_API_ASYNC_MODE") or "eventlet"
        if async_mode not in ASYNC_MODES:
            raise ConfigError(f"SUPPORT_API_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}")
        max_message_length = _int(env, "SUPPORT_API_MAX_MESSAGE_LENGTH", 4096, minimum=1)
        if max_message_length > 65536:
            raise ConfigError("SUPPORT_API_MAX_MESSAGE_LENGTH must be <= 65536")
        storage_backend = env.get("SUPPORT_API_STORAGE") or "local"
        if storage_backend not in ("local", "s3"):
            raise ConfigError("SUPPORT_API_STORAGE must be local or s3")
        s3_bucket = env.get("SUPPORT_API_S3_BUCKET") or None
        if storage_backend == "s3" and not s3_bucket:
            raise ConfigError("SUPPORT_API_S3_BUCKET is required when SUPPORT_API_STORAGE=s3")
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            jwt_secret=env.get("SUPPORT_API_JWT_SECRET") or None,
            jwt_public_key=env.get("SUPPORT_API_JWT_PUBLIC_KEY") or None,
            jwt_issuer=env.get("SUPPORT_API_JWT_ISSUER") or None,
            jwt_audience=env.get("SUPPORT_API_JWT_AUDIENCE") or None,
            redis_url=env.get("SUPPORT_API_REDIS_URL") or None,
            async_mode=async_mode,
            host=env.get("SUPPORT_API_HOST") or "127.0.0.1",
            port=_int(env, "SUPPORT_API_PORT", 8000, minimum=0),
            max_connections=_int(env, "SUPPORT_API_MAX_CONNECTIONS", 10000, minimum=1),
            max_message_length=max_message_length,
            # A JSON body is a few KiB at most; refuse anything far larger before parsing.
            max_request_bytes=_int(env, "SUPPORT_API_MAX_REQUEST_BYTES", 256 * 1024, minimum=1024),
            cors_origins=_list(env, "SUPPORT_API_CORS_ORIGINS"),
            auto_migrate=_bool(env, "SUPPORT_API_AUTO_MIGRATE", database_url.startswith("sqlite")),
            log_level=(env.get("SUPPORT_API_LOG_LEVEL") or "INFO").upper(),
            storage_backend=storage_backend,
            upload_dir=Path(env.get("SUPPORT_API_UPLOAD_DIR") or var_dir / "uploads").resolve(),
            s3_bucket=s3_bucket,
            s3_prefix=(env.get("SUPPORT_API_S3_PREFIX") or "attachments/").lstrip("/"),
            s3_endpoint_url=env.get("SUPPORT_API_S3_ENDPOINT_URL") or None,
            s3_region=env.get("SUPPORT_API_S3_REGION") or None,
            upload_max_bytes=_int(env, "SUPPORT_API_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1024),
            # 50 MP admits a 48 MP iPhone photo; a decompression bomb claims far more.
            upload_max_pixels=_int(env, "SUPPORT_API_UPLOAD_MAX_PIXELS", 50_000_000, minimum=1),
            # WebP's own ceiling; long scrolling screenshots are tall but stay under it.
            upload_max_dimension=_int(env, "SUPPORT_API_UPLOAD_MAX_DIMENSION", 16383, minimum=16),
            thumbnail_size=_int(env, "SUPPORT_API_THUMBNAIL_SIZE", 320, minimum=16),
            attachments_per_message=_int(env, "SUPPORT_API_ATTACHMENTS_PER_MESSAGE", 5, minimum=1),
            attachment_url_ttl=_int(env, "SUPPORT_API_ATTACHMENT_URL_TTL", 900, minimum=10),
            unclaimed_attachment_ttl=_int(env, "SUPPORT_API_UNCLAIMED_ATTACHMENT_TTL", 86400, minimum=60),
            signing_secret=env.get("SUPPORT_API_SIGNING_SECRET") or None,
            rate_limits_enabled=(env.get("SUPPORT_API_RATE_LIMITS") or "on").lower() not in ("off", "0", "false", "no"),
            rate_limits={
                "messages": env.get("SUPPORT_API_RATE_LIMIT_MESSAGES") or "60/minute",
                "sessions": env.get("SUPPORT_API_RATE_LIMIT_SESSIONS") or "10/hour",
                "uploads": env.get("SUPPORT_API_RATE_LIMIT_UPLOADS") or "30/hour",
                "auth_failures": env.get("SUPPORT_API_RATE_LIMIT_AUTH_FAILURES") or "20/minute",
            },
            # How many reverse proxies in front of us append to X-Forwarded-For (0: trust none).
            proxy_count=_int(env, "SUPPORT_API_PROXY_COUNT", 0),
            push=PushSettings.from_env(env),
            routing=RoutingSettings.from_env(env),
            shutdown_grace_seconds=_int(env, "SUPPORT_API_SHUTDOWN_GRACE_SECONDS", 20, minimum=1),
            # Seconds between SIGTERM and closing the listener, readiness already 503: time for a
            # load balancer that polls /v1/health/ready to stop routing here (0 with nginx).
            shutdown_delay_seconds=_int(env, "SUPPORT_API_SHUTDOWN_DELAY_SECONDS", 0, minimum=0),
            metrics_port=_int(env, "SUPPORT_API_METRICS_PORT", 0) if env.get("SUPPORT_API_METRICS_PORT") else None,
            metrics_host=env.get("SUPPORT_API_METRICS_HOST") or env.get("SUPPORT_API_HOST") or "127.0.0.1",
            self_service=SelfServiceSettings.from_env(env),
            safety=SafetySettings.from_env(env),
            protection=ProtectionSettings.from_env(env),
        )

    def resolved_jwt_secret(self) -> str:
        """The HS256 secret: the configured one, or one created once under `var/` and reused.

        Creating it on first use keeps the two-command set-up working with no configuration,
        while tokens minted by `support-api token` stay valid across restarts.
        """
        if self.jwt_secret:
            return self.jwt_secret
        path = self.var_dir / "jwt_secret"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        # Written whole to a private file, then linked into place (a link never replaces an
        # existing file): two processes starting at once agree on whichever secret came first,
        # and neither can read the other's file before it is written (an O_EXCL create followed
        # by the write let the second process read an empty secret in between).
        draft = self.var_dir / f".jwt_secret.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_text().strip()
        finally:
            draft.unlink()
        return secret

    def resolved_signing_secret(self) -> bytes:
        """The HMAC key of signed attachment URLs: its own setting, else derived from the JWT
        secret (domain-separated, so a URL signature can never be replayed as a token)."""
        if self.signing_secret:
            return self.signing_secret.encode()
        return hmac.new(self.resolved_jwt_secret().encode(), b"support_api attachment urls", hashlib.sha256).digest()
