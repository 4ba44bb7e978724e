"""Applying rate limits to a principal's actions."""

from __future__ import annotations

from support_api.lib.auth import Principal
from support_api.lib.ratelimit import RateLimited
from support_api.lib.runtime import Runtime
from support_api.services import audit


def enforce(rt: Runtime, principal: Principal, kind: str) -> None:
    """Count one `kind` action of `principal`; refuse it (429) when over the limit.

    The refusal is audited once per minute per offender: enough to see who floods, without
    the flood itself filling the audit trail.
    """
    try:
        rt.limits.hit(kind, f"{principal.participant_type}:{principal.id}")
    except RateLimited as refusal:
        if rt.limits.first_notice(kind, f"{principal.participant_type}:{principal.id}"):
            audit.record_now(rt, principal, "rate_limit.hit", details={"kind": kind})
        raise refusal
