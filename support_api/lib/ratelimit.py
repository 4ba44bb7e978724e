"""Rate limits per user/operator (and failed authentication per IP), shared by REST and
Socket.IO. Counters live in Redis when `SUPPORT_API_REDIS_URL` is set, so every server
process counts together; in memory otherwise. Built on the `limits` package (the engine of
Flask-Limiter), with its sliding window counter: the previous window's count, weighted by how
much of it still overlaps the last minute, plus the current one's, so a burst at a window edge
cannot double the limit. Two counters per key, unlike a moving window's one timestamp per hit
(which cost a measurable share of a send's CPU to keep and expire, bench/README.md).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from support_api.config import ConfigError, Settings
from support_api.lib import metrics, redis_pool
from support_api.lib.errors import ApiError

KINDS = ("messages", "sessions", "uploads", "auth_failures")


SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """`limits`' memory storage, swept for expired counters once a second instead of every
    10 ms. A counter read after its expiry is dropped on that read anyway (`get`); the sweep
    only frees keys nobody reads again, so a coarser one changes no count. The 10 ms sweep was
    a new timer thread and a scan of every key a hundred times a second: 3-5 % of the
    server's CPU under load (bench/README.md, issue 16). Overrides a private hook of
    limits 5.8 (name-mangled `__schedule_expiry`): pinned exactly in pyproject.toml, and
    tests/test_limits_and_audit.py checks the hook is still the one called."""

    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self.timer = threading.Timer(SWEEP_SECONDS, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True
            self.timer.start()


def storage(uri: str | None) -> Storage:
    """Redis when configured (every process counts together), else this process's memory."""
    if not uri:
        return SweptMemoryStorage()
    # A blocking pool: every sender of a burst counts at once (lib/redis_pool.py).
    return storage_from_string(uri, key_prefix="support_api_rl", connection_pool=redis_pool.pool(uri))


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    @property
    def retry_after(self) -> int:
        return int(self.details["retry_after"])


@dataclass(frozen=True)
class Hit:
    kind: str
    key: str


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self._items: dict[str, RateLimitItem] = {}
        for kind, text in settings.rate_limits.items():
            try:
                self._items[kind] = parse(text)
            except ValueError as exc:
                raise ConfigError(f"SUPPORT_API_RATE_LIMIT_{kind.upper()} is not a limit like '60/minute': {text!r}") from exc
        self._limiter = SlidingWindowCounterRateLimiter(storage(settings.redis_url))
        # One audit entry per offender per minute is enough to see a flood without writing one.
        self._notice = parse("1/minute")

    def _refusal(self, kind: str, key: str) -> RateLimited:
        item = self._items[kind]
        reset_at = self._limiter.get_window_stats(item, kind, key).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return RateLimited(f"Too many {kind.replace('_', ' ')}; try again in {retry_after} s",
                           {"kind": kind, "limit": str(item), "retry_after": retry_after})

    def hit(self, kind: str, key: str) -> None:
        """Count one event; raise RateLimited when it goes over the limit."""
        if self.enabled and not self._limiter.hit(self._items[kind], kind, key):
            metrics.RATE_LIMITED.labels(kind).inc()
            raise self._refusal(kind, key)

    def exceeded(self, kind: str, key: str) -> RateLimited | None:
        """The refusal if `key` is already over its limit, without counting anything."""
        if self.enabled and not self._limiter.test(self._items[kind], kind, key):
            metrics.RATE_LIMITED.labels(kind).inc()
            return self._refusal(kind, key)
        return None

    def first_notice(self, kind: str, key: str) -> bool:
        """True once per minute per offender: whether this refusal should be audited."""
        return self._limiter.hit(self._notice, "notice", kind, key)
