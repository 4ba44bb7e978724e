"""Who is behind each socket of this process, and the ack envelope every handler returns."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app
from marshmallow import Schema, ValidationError

from support_api.lib import request_context
from support_api.lib.db import retry_soon
from support_api.lib.auth import Principal
from support_api.lib.errors import ApiError, Overloaded, Unauthorized, ValidationFailed, field_errors, release
from support_api.lib.lifecycle import current_lifecycle

log = logging.getLogger(__name__)

R = TypeVar("R")

# sid → principal, for sockets connected to this process. Filled on connect, emptied on disconnect.
_principals: dict[str, Principal] = {}


# "<participant type>:<id>" -> that principal's sids on this process, oldest first (the socket cap).
_by_user: dict[str, list[str]] = {}


def user_key(principal: Principal) -> str:
    return f"{principal.participant_type}:{principal.id}"


def remember(sid: str, principal: Principal) -> list[str]:
    """Record a connected socket; returns the principal's sockets on this process, oldest first."""
    _principals[sid] = principal
    sids = _by_user.setdefault(user_key(principal), [])
    sids.append(sid)
    return list(sids)


def forget(sid: str) -> Principal | None:
    principal = _principals.pop(sid, None)
    if principal is not None:
        sids = _by_user.get(user_key(principal), [])
        if sid in sids:
            sids.remove(sid)
        if not sids:
            _by_user.pop(user_key(principal), None)
    return principal


def principal_of(sid: str) -> Principal | None:
    return _principals.get(sid)


def replace_principal(sid: str, principal: Principal) -> None:
    """A narrower view of the same caller (revocation): same sid, same user key."""
    if sid in _principals:
        _principals[sid] = principal


def local_sockets() -> list[tuple[str, Principal]]:
    return list(_principals.items())


def sockets_of(key: str) -> list[str]:
    return list(_by_user.get(key, []))


def socket_principal(sid: str) -> Principal:
    """Who is behind socket `sid`, with a token still valid."""
    principal = _principals.get(sid)
    if principal is None:
        raise Unauthorized("Not authenticated", {"reason": "missing"})
    if principal.expired():
        # A long-lived socket outlives its token: the client reconnects with a fresh one.
        raise Unauthorized("The token has expired; reconnect with a new one", {"reason": "expired"})
    return principal


def event_meta(client_ip: str | None) -> request_context.RequestMeta:
    """Each socket event is its own request for logs and audit entries."""
    return request_context.RequestMeta(None, client_ip, time.perf_counter())


SocketHandler = Callable[[str, Principal, dict[str, Any]], dict[str, Any]]


def acked(schema: Schema) -> Callable[[SocketHandler], Callable[..., dict[str, Any]]]:
    """Validate the payload with `schema`, call the handler with (sid, principal, data), and turn
    the outcome into `{"ok": true, ...}` or `{"ok": false, "error": {...}}` for the ack.

    The result is a python-socketio handler, `(sid, *args)`, to be registered on the server
    itself with `in_app_context` (realtime/handlers.register), not through Flask-SocketIO,
    whose wrapper builds a Flask request context for every event (a Request, URL matching, the
    session: ≈ 20 µs of each `message:send`, bench/README.md). Handlers get the socket's sid
    as an argument and use no `flask.request`."""

    def wrap(handler: SocketHandler) -> Callable[..., dict[str, Any]]:
        @functools.wraps(handler)
        def run(sid: str, *args: Any) -> dict[str, Any]:
            # Counted in flight: a draining server waits for it (serving.drain). Entered and
            # left by hand, not through two generator context managers: this runs per event.
            lifecycle = current_lifecycle()
            lifecycle.enter()
            environ = current_app.extensions["socketio"].server.get_environ(sid) or {}
            token = request_context.begin(event_meta(environ.get("REMOTE_ADDR")))
            try:
                if len(args) > 1:
                    # `emit("message:send", a, b)`: one payload per event, never a TypeError.
                    return {"ok": False, "error": ValidationFailed(
                        "Send exactly one payload object", {"reason": "arguments"}).to_dict()}
                return _run(sid, args[0] if args else None)
            finally:
                request_context.end(token)
                lifecycle.leave()

        def _run(sid: str, payload: Any) -> dict[str, Any]:
            try:
                principal = socket_principal(sid)
                if not isinstance(payload, dict):
                    raise ValidationFailed("The payload must be an object")
                try:
                    data = schema.load(payload)
                except ValidationError as exc:
                    raise ValidationFailed("The payload is not valid", {"fields": field_errors(exc.normalized_messages())}) from exc
                return {"ok": True, **handler(sid, principal, data)}
            except ApiError as exc:
                release(exc)
                return {"ok": False, "error": exc.to_dict()}
            except Exception as exc:  # noqa: BLE001 - a socket handler must always ack
                if retry_soon(exc):
                    busy = Overloaded("The server is busy; retry shortly", {"retry_after": 1})
                    return {"ok": False, "error": busy.to_dict()}
                log.exception("socket handler %s failed", handler.__name__)
                return {"ok": False, "error": {"code": "internal_error", "message": "Something went wrong",
                                               "details": {}}}

        return run

    return wrap


def in_app_context(app: Flask, handler: Callable[..., R]) -> Callable[..., R]:
    """`handler` run inside an application context of `app` (current_app, the runtime), which
    costs a sixth of the request context Flask-SocketIO would build."""

    @functools.wraps(handler)
    def run(*args: Any) -> R:
        with app.app_context():
            return handler(*args)

    return run
