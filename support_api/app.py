"""The application factory: one Flask app, its Socket.IO server, and the shared runtime."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from flask import Flask, Request, Response, current_app, g, jsonify, request
from flask_socketio import SocketIO
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import MapAdapter

from support_api.api import (
    admin_push,
    attachments,
    audit,
    canned_replies,
    devices,
    faq,
    guard,
    health,
    incidents,
    me,
    messages,
    operators,
    sessions,
    stats,
    transcripts,
)
from support_api.api import safety as safety_api
from support_api.config import Settings
from support_api.lib import metrics, request_context
from support_api.lib.auth import TokenVerifier
from support_api.lib.db import Database, retry_soon
from support_api.lib.errors import ApiError, Overloaded, PayloadTooLarge, release
from support_api.lib.events import Events
from support_api.lib.lifecycle import EXTENSION as LIFECYCLE
from support_api.lib.lifecycle import Lifecycle, lifecycle_of
from support_api.lib.presence import make_presence
from support_api.lib.ratelimit import RateLimited, RateLimits
from support_api.lib.runtime import Runtime
from support_api.lib.signing import UrlSigner
from support_api.lib.storage import make_storage
from support_api.realtime import gate, handlers, revocation, viewers

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
               429: "rate_limited", 408: "request_timeout"}


def _envelope(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "details": details or {}}}), status


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> tuple[Response, int]:
        response, status = _envelope(exc.status, exc.code, exc.message, exc.details)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc.details.get("retry_after"), int):
            # Every error that says when to retry says it in the header too (the contract's rule).
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response, status

    @app.errorhandler(SQLAlchemyTimeoutError)
    @app.errorhandler(DBAPIError)
    def database_unavailable(exc: Exception) -> tuple[Response, int]:
        if not retry_soon(exc):
            return unexpected(exc)
        # The pool is exhausted, or the connection died under the request (the pool is renewed
        # already): the client's retry finds a connection.
        log.warning("no usable database connection (%s): answering 503", type(exc).__name__)
        response, status = _envelope(Overloaded.status, Overloaded.code, "The server is busy; retry shortly",
                                     {"retry_after": 1})
        response.headers["Retry-After"] = "1"
        return response, status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        # The limit in force for this request: uploads raise it (request.max_content_length).
        limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
        return _envelope(413, PayloadTooLarge.code, f"The body is larger than {limit} bytes", {"max_bytes": limit})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        response, status = _envelope(status, _HTTP_CODES.get(status, "error"), exc.description or exc.name)
        # Keep the exception's own headers, e.g. the `Allow` a 405 must carry (RFC 9110 15.5.6).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return _envelope(500, "internal_error", "Something went wrong")


def _register_request_context(app: Flask) -> None:
    @app.before_request
    def begin() -> None:
        started = time.perf_counter()
        meta = request_context.RequestMeta(
            request_id=request_context.new_request_id(request.headers.get("X-Request-ID")),
            client_ip=request.remote_addr,
            received=started,
        )
        g.request_meta_token = request_context.begin(meta)
        g.request_started = started
        # Counted in flight until teardown: a draining server waits for it (serving.drain).
        lifecycle_of(current_app).enter()
        g.request_in_flight = True

    @app.after_request
    def finish(response: Response) -> Response:
        meta = request_context.current_meta()
        response.headers["X-Request-ID"] = meta.request_id
        # Path only: query strings can carry signed-URL capabilities.
        duration = time.perf_counter() - g.get("request_started", 0)
        log.info("request", extra={"method": request.method, "path": request.path, "status": response.status_code,
                                   "duration_ms": round(duration * 1000, 2)})
        # The route's rule (/v1/sessions/<session_id>), never the path: labels stay bounded.
        route = request.url_rule.rule if request.url_rule is not None else metrics.UNMATCHED_ROUTE
        metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        metrics.HTTP_DURATION.labels(route).observe(duration)
        return response

    @app.teardown_request
    def end(_exc: BaseException | None) -> None:
        token = g.pop("request_meta_token", None)
        if token is not None:
            request_context.end(token)
        if g.pop("request_in_flight", False):
            lifecycle_of(current_app).leave()


SOCKETIO_PATH = "/socket.io"  # Flask-SocketIO's default, which the apps use


class SupportApiFlask(Flask):
    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """No URL matching for Socket.IO events. Flask-SocketIO pushes a request context with
        the connection's environ for every event, and Flask matched its path against the
        routes each time: no route matched, and the NotFound kept on the request (with its
        traceback), like werkzeug's recursive matcher itself, put each event's context in
        reference cycles — ~46 objects per event that only the garbage collector frees, in
        pauses of 40–150 ms under load: the latency spikes of bench/README.md (issue 16,
        third pass). The Engine.IO middleware answers requests under this path before Flask
        sees them; one that reaches Flask anyway (`/socket.io` without the slash) gets its 404
        from the NotFound set here, never raised until then and so holding no traceback."""
        if request is not None and request.path.startswith(SOCKETIO_PATH):
            request.routing_exception = NotFound()
            return None
        return super().create_url_adapter(request)

    def handle_user_exception(self, e: Exception) -> Any:
        """Once one of the error handlers below has answered `e`, its traceback is dropped
        (lib/errors.release): kept, it held frames that held the error, ~60 objects per 4xx
        answer in reference cycles for the garbage collector. An error no handler answers
        propagates with its traceback intact."""
        response = super().handle_user_exception(e)
        release(e)
        return response


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. The database schema must already be migrated (`support-api db upgrade`)."""
    settings = settings or Settings.from_env()
    app = SupportApiFlask("support_api")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    cors: Any = list(settings.cors_origins) if settings.cors_origins else None
    if settings.cors_origins == ("*",):
        cors = "*"
    socketio = SocketIO(
        app,
        async_mode=settings.async_mode,
        message_queue=settings.redis_url,
        # Issue 10: carries room revocations between processes (realtime/revocation.py).
        client_manager=revocation.make_manager(settings.redis_url),
        cors_allowed_origins=cors,
        max_http_buffer_size=settings.max_request_bytes,
        # Mobile networks stall: a 25 s ping with 20 s grace notices a dead phone within ~45 s.
        ping_interval=25,
        ping_timeout=20,
    )
    db = Database(settings.database_url)
    app.extensions["support_api"] = Runtime(
        settings=settings, db=db, events=Events(socketio), verifier=TokenVerifier(settings),
        storage=make_storage(settings),
        signer=UrlSigner(settings.resolved_signing_secret(), settings.attachment_url_ttl),
        presence=make_presence(settings.redis_url),
        limits=RateLimits(settings),
    )
    app.extensions[LIFECYCLE] = Lifecycle()
    if settings.proxy_count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count)  # type: ignore[method-assign]

    for blueprint in (health.bp, sessions.bp, messages.bp, attachments.bp, me.bp, audit.bp,
                      devices.bp, admin_push.bp, guard.bp, operators.bp, transcripts.bp,
                      stats.bp, canned_replies.bp,
                      faq.bp, incidents.bp):
        app.register_blueprint(blueprint, url_prefix="/v1")
    # Issue 15: trust and safety (docs/safety.md).
    app.register_blueprint(safety_api.bp, url_prefix="/v1")
    # Operator console and demo app (issue 11): same origin as the API, outside /v1.
    from support_api import web

    app.register_blueprint(web.bp)
    _register_request_context(app)
    _register_errors(app)
    handlers.register(socketio, app)
    # Issue 10 (hardening): the packet gate in front of every socket event handler.
    app.extensions["support_api_gate"] = packet_gate = gate.install(socketio.server, settings.protection)
    runtime: Runtime = app.extensions["support_api"]
    # Issue 11: who else is viewing a chat (realtime/viewers.py); a revoked socket stops viewing.
    app.extensions["support_api_viewers"] = chat_viewers = viewers.Viewers(
        socketio.server, settings.redis_url, getattr(runtime.presence, "process_id", None))

    def leave_presence(sid: str, session_id: str) -> None:
        runtime.presence.leave(sid, session_id)
        chat_viewers.left(sid, session_id)

    socketio.server.manager.control_handler = revocation.Revoker(
        socketio.server, leave_presence, functools.partial(revocation.sessions_of, db),
        packet_gate.close).handle
    return app


def socketio_of(app: Flask) -> SocketIO:
    socketio: SocketIO = app.extensions["socketio"]
    return socketio
