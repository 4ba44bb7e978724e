"""The application factory: one Flask app, its Socket.IO server, and the shared runtime."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from support_api.api import attachments, health, me, messages, sessions
from support_api.config import Settings
from support_api.lib.auth import TokenVerifier
from support_api.lib.db import Database
from support_api.lib.errors import ApiError, PayloadTooLarge
from support_api.lib.events import Events
from support_api.lib.runtime import Runtime
from support_api.lib.signing import UrlSigner
from support_api.lib.storage import make_storage
from support_api.realtime import handlers

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
               429: "rate_limited"}


def _envelope(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "details": details or {}}}), status


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> tuple[Response, int]:
        return _envelope(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        limit = app.config["MAX_CONTENT_LENGTH"]
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


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. The database schema must already be migrated (`support-api db upgrade`)."""
    settings = settings or Settings.from_env()
    app = Flask("support_api")
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
    )

    for blueprint in (health.bp, sessions.bp, messages.bp, attachments.bp, me.bp):
        app.register_blueprint(blueprint, url_prefix="/v1")
    _register_errors(app)
    handlers.register(socketio)
    return app


def socketio_of(app: Flask) -> SocketIO:
    socketio: SocketIO = app.extensions["socketio"]
    return socketio
