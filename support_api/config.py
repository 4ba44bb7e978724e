"""Settings from `SUPPORT_API_*` environment variables, with embedded defaults.

Importing this module must stay cheap and side-effect free: the server entry point reads
the async mode from it *before* monkey-patching, so it imports nothing but the stdlib.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **kwargs: object) -> "Settings":
        return replace(self, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        var_dir = Path(env.get("SUPPORT_API_VAR_DIR") or "var").resolve()
        database_url = env.get("SUPPORT_API_DATABASE_URL") or f"sqlite:///{var_dir / 'support_api.db'}"
        async_mode = env.get("SUPPORT_API_ASYNC_MODE") or "eventlet"
        if async_mode not in ASYNC_MODES:
            raise ConfigError(f"SUPPORT_API_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}")
        max_message_length = _int(env, "SUPPORT_API_MAX_MESSAGE_LENGTH", 4096, minimum=1)
        if max_message_length > 65536:
            raise ConfigError("SUPPORT_API_MAX_MESSAGE_LENGTH must be <= 65536")
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
        # O_EXCL: two processes starting at once agree on whichever secret was written first.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)
        return secret
