"""Verifying bearer tokens, counting failures per client IP (REST and Socket.IO alike)."""

from __future__ import annotations

from support_api.lib.auth import Principal
from support_api.lib.errors import Unauthorized
from support_api.lib.ratelimit import RateLimited
from support_api.lib.request_context import current_meta
from support_api.lib.runtime import Runtime
from support_api.services import audit


def authenticate(rt: Runtime, token: str) -> Principal:
    """The token's principal. A valid token always passes; failures are counted per client
    IP, and once an IP is over `SUPPORT_API_RATE_LIMIT_AUTH_FAILURES` its further failures
    answer 429 instead of 401, so guessing gets slower without locking out the (often shared,
    carrier-NAT) IP's legitimate users."""
    try:
        return rt.verifier.verify(token)
    except Unauthorized:
        key = current_meta().client_ip or "unknown"
        refusal = rt.limits.exceeded("auth_failures", key)
        if refusal is None:
            try:
                rt.limits.hit("auth_failures", key)
            except RateLimited as crossed:
                refusal = crossed
        if refusal is not None:
            if rt.limits.first_notice("auth_failures", key):
                audit.record_anonymous(rt, "rate_limit.hit", {"kind": "auth_failures"})
            raise refusal from None
        raise
