"""Who is asking from where, for logs and audit entries: the request id and client IP.

REST requests take the client's `X-Request-ID` when it is sane, or get a new one; every
Socket.IO event gets its own. Both are kept in a context variable (per greenlet/thread).
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")


class RequestMeta:
    """Who is asking: a request's or a socket event's id, client IP and arrival time."""

    __slots__ = ("_request_id", "client_ip", "received")

    def __init__(self, request_id: str | None, client_ip: str | None, received: float = 0.0) -> None:
        # None: made up on first use. Most socket events never log nor audit anything, and a
        # uuid4 (a getrandom system call) per event was measurable on the send path.
        self._request_id = request_id
        self.client_ip = client_ip
        # time.perf_counter() when the request or event arrived (0.0: not a request), for
        # support_api_message_store_seconds (lib/metrics.py).
        self.received = received

    @property
    def request_id(self) -> str:
        if self._request_id is None:
            self._request_id = new_request_id()
        return self._request_id


_current: contextvars.ContextVar[RequestMeta | None] = contextvars.ContextVar("request_meta", default=None)


def new_request_id(offered: str | None = None) -> str:
    """The client's id when it looks like one (so they can quote it to support), else a new one."""
    if offered and _SANE_REQUEST_ID.match(offered):
        return offered
    return uuid.uuid4().hex


def current_meta() -> RequestMeta:
    return _current.get() or RequestMeta(request_id="-", client_ip=None)


def begin(meta: RequestMeta) -> contextvars.Token[RequestMeta | None]:
    return _current.set(meta)


def end(token: contextvars.Token[RequestMeta | None]) -> None:
    _current.reset(token)


@contextmanager
def scoped(meta: RequestMeta) -> Iterator[RequestMeta]:
    token = begin(meta)
    try:
        yield meta
    finally:
        end(token)
