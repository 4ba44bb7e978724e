"""Sockets whose token expired are closed at `exp`, on the process that holds them.

A socket outlives the token it connected with; without this it kept receiving the chat
after `exp`. "Expired" means what it means for REST: past `exp` plus the verifier's clock-skew
leeway (LEEWAY_SECONDS), so a socket is closed exactly when its token stops opening REST calls. One sweep per second over a heap of (expiry, sid) — not one timer per socket —
closes each such socket with `connection:closing` `{code: unauthorized, details: {reason:
expired}}`; the client refreshes its token and reconnects (docs/asyncapi.yaml).
"""

from __future__ import annotations

import heapq
import logging
import threading
from typing import TYPE_CHECKING

from support_api.lib.auth import LEEWAY_SECONDS
from support_api.realtime import connections

if TYPE_CHECKING:
    import socketio

    from support_api.realtime.gate import Gate

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0

_lock = threading.Lock()
_heap: list[tuple[int, int, str]] = []


def watch(sid: str, expires_at: int) -> None:
    with _lock:
        heapq.heappush(_heap, (expires_at + LEEWAY_SECONDS, expires_at, sid))


def due(now: float) -> list[str]:
    """Sids whose token has expired by `now` (and still belong to that token)."""
    out = []
    with _lock:
        while _heap and _heap[0][0] <= now:
            _, expires_at, sid = heapq.heappop(_heap)
            principal = connections.principal_of(sid)
            if principal is None or principal.expires_at != expires_at:
                continue  # gone, or a socket id reused by a newer connection
            out.append(sid)
    return out


def start(sio: socketio.Server, gate: Gate) -> None:
    import time

    def sweep() -> None:
        while True:
            sio.sleep(SWEEP_SECONDS)
            try:
                for sid in due(time.time()):
                    log.info("closing socket %s: its token expired", sid)
                    gate.close(sid, "unauthorized", "The token has expired; reconnect with a new one",
                               {"reason": "expired"})
            except Exception:  # noqa: BLE001 - the sweep must keep running
                log.warning("token expiry sweep failed", exc_info=True)

    sio.start_background_task(sweep)
