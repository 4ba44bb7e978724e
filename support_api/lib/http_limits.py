"""The outermost WSGI layer of `support-api serve`: limits that apply before the app runs.

- A request body must arrive whole within `SUPPORT_API_BODY_TIMEOUT` seconds of the headers:
  reads of `wsgi.input` run under the runtime's timeout and a late body is answered 408
  (a client trickling one byte per second used to hold a connection slot indefinitely).
- A Socket.IO long-polling POST larger than `SUPPORT_API_MAX_REQUEST_BYTES` is answered 413
  from its Content-Length, before any byte of the body is read (Engine.IO otherwise waited
  for the whole body first, and the client never got an answer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.exceptions import RequestTimeout

from support_api.config import Settings

# The server's hook (serving.py) that ends the connection after this response.
CLOSE_CONNECTION = "support_api.close_connection"
TimeoutFactory = Callable[[float, BaseException], Any]  # eventlet.Timeout / gevent.Timeout


class BodyTimeout(RequestTimeout):
    description = "The request body did not arrive in time"


class _DeadlineInput:
    """`wsgi.input` whose reads all end by one deadline."""

    def __init__(self, stream: Any, deadline: float, timeout: TimeoutFactory) -> None:
        self._stream = stream
        self._deadline = deadline
        self._timeout = timeout
        self.consumed = 0
        self.ended = False

    def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise BodyTimeout()
        with self._timeout(remaining, BodyTimeout()):
            data = method(*args)
        if isinstance(data, bytes):
            self.consumed += len(data)
            self.ended = self.ended or not data
        return data

    def read(self, *args: Any) -> bytes:
        data: bytes = self._call(self._stream.read, *args)
        return data

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._call(self._stream.readline, *args)
        return data

    def readlines(self, *args: Any) -> list[bytes]:
        data: list[bytes] = self._call(self._stream.readlines, *args)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _answer(environ: dict[str, Any], start_response: Callable[..., Any], status: str, code: str, message: str,
            details: dict[str, Any]) -> Iterable[bytes]:
    close = environ.get(CLOSE_CONNECTION)
    if close is not None:
        close()
    body = json.dumps({"error": {"code": code, "message": message, "details": details}}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Connection", "close")])
    return [body]


def protect(app: Callable[..., Any], settings: Settings, timeout: TimeoutFactory) -> Callable[..., Any]:
    body_seconds = settings.protection.body_timeout
    max_bytes = settings.max_request_bytes

    def site(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").startswith("/socket.io"):
            length = environ.get("CONTENT_LENGTH") or ""
            if length.isdigit() and int(length) > max_bytes:
                return _answer(environ, start_response, "413 Request Entity Too Large", "payload_too_large",
                               f"The body is larger than {max_bytes} bytes", {"max_bytes": max_bytes})
        stream = environ.get("wsgi.input")
        declared = int(length) if (length := environ.get("CONTENT_LENGTH") or "").isdigit() else 0
        chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        guarded = None
        if stream is not None and (declared or chunked):
            guarded = environ["wsgi.input"] = _DeadlineInput(stream, time.monotonic() + body_seconds, timeout)

        def respond(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            # A body the app never read (a 401 before parsing, say) is not waited for by the
            # server's keep-alive discard, which no deadline covers: close the connection instead.
            if guarded is not None and not guarded.ended and (chunked or guarded.consumed < declared):
                close = environ.get(CLOSE_CONNECTION)
                if close is not None:
                    close()
            return start_response(status, headers, *exc_info)

        try:
            result: Iterable[bytes] = app(environ, respond)
            return result
        except BodyTimeout:
            # Raised inside Engine.IO's own read (Flask turns it into its 408 envelope itself).
            return _answer(environ, respond, "408 Request Timeout", "request_timeout",
                           "The request body did not arrive in time", {"timeout_seconds": body_seconds})

    return site
